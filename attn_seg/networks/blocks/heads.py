"""Segmentation heads: a 1x1 convolution to class logits per decoder level."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.layers.factories import Conv
from torch import nn

__all__ = ["SegmentationHeads"]


class SegmentationHeads(nn.Module):
    """One 1x1 convolution per decoder level, finest first.

    All heads are always built, so a checkpoint holds the same keys whether deep supervision is used or not;
    without deep supervision only the first (full-resolution) head runs.

    Args:
        spatial_dims: 2 or 3.
        channels: the decoder's channels per level, finest first.
        out_channels: number of output channels (classes) ``K``.
    """

    def __init__(self, spatial_dims: int, channels: Sequence[int], out_channels: int) -> None:
        super().__init__()
        conv_type = Conv[Conv.CONV, spatial_dims]
        self.heads = nn.ModuleList(conv_type(c, out_channels, kernel_size=1) for c in channels)

    def forward(self, features: list[torch.Tensor], all_levels: bool) -> list[torch.Tensor]:
        """Map decoder features to logits.

        Args:
            features: decoder features, finest first, ``(B, channels[k], *S_k)``.
            all_levels: apply every head (deep supervision) or only the finest.

        Returns:
            Logits ``(B, K, *S_k)``, finest first; one tensor unless ``all_levels``.
        """
        logits: list[torch.Tensor] = []
        for k, head in enumerate(self.heads):
            if k == 0 or all_levels:
                logits.append(head(features[k]))
        return logits
