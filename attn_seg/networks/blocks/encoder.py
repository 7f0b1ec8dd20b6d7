"""U-Net encoder: one :class:`ConvStage` per resolution level, returning every level's features."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import torch
from torch import nn

from attn_seg.networks.blocks.convolutions import ConvStage, inference_without_autograd
from attn_seg.networks.utils import (
    LayerSpec,
    check_dropout,
    check_layer_spec,
    check_positive_int,
    check_spatial_dims,
    ensure_tuple_dims,
)

__all__ = ["UNetEncoder"]


def _check_channels_strides(
    channels: Sequence[int], strides: Sequence[Sequence[int] | int], spatial_dims: int
) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    if isinstance(channels, str | bytes) or not isinstance(channels, Sequence):
        raise TypeError(f"`channels` must be a sequence of ints, got {channels!r}")
    if len(channels) < 2:
        raise ValueError(f"`channels` needs at least 2 entries (one per resolution level), got {len(channels)}")
    if isinstance(strides, str | bytes) or not isinstance(strides, Sequence):
        raise TypeError(f"`strides` must be a sequence (one entry per down-sampling), got {strides!r}")
    if len(strides) != len(channels) - 1:
        raise ValueError(f"`strides` needs {len(channels) - 1} entries (len(channels) - 1), got {len(strides)}")
    chans = tuple(check_positive_int("channels", c) for c in channels)
    strds = tuple(ensure_tuple_dims("strides", s, spatial_dims) for s in strides)
    return chans, strds


class UNetEncoder(nn.Module):
    """Contracting path of a U-Net.

    Level 0 keeps the input resolution; level ``k >= 1`` starts with a convolution of stride ``strides[k-1]``.
    The decoder reads every setting (channels, strides, kernel size, norm, act, dropout, residual units)
    from this module, so they are given once.

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels ``C_in``.
        channels: channels per level, finest first, e.g. ``(16, 32, 64, 128, 256)``.
        strides: ``len(channels) - 1`` down-sampling factors, each an int or one per spatial dim
            (e.g. ``(2, 2, 1)`` to keep a thin slab's depth).
        kernel_size: odd kernel size, an int or one per spatial dim.
        norm: MONAI norm name or ``(name, kwargs)``; ``None`` for none.
        act: MONAI activation name or ``(name, kwargs)``; ``None`` for none.
        dropout: dropout probability after each activation.
        num_res_units: 0 for two plain conv units per level, ``n > 0`` for ``n`` residual units.

    Raises:
        ValueError: for inconsistent ``channels``/``strides`` or out-of-range values.
        TypeError: for arguments of the wrong type.
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        channels: Sequence[int],
        strides: Sequence[Sequence[int] | int],
        *,
        kernel_size: Sequence[int] | int = 3,
        norm: LayerSpec = "instance",
        act: LayerSpec = "relu",
        dropout: float = 0.0,
        num_res_units: int = 0,
    ) -> None:
        super().__init__()
        self.spatial_dims = check_spatial_dims(spatial_dims)
        self.in_channels = check_positive_int("in_channels", in_channels)
        self.channels, self.strides = _check_channels_strides(channels, strides, spatial_dims)
        self.kernel_size = ensure_tuple_dims("kernel_size", kernel_size, spatial_dims)
        if any(k % 2 == 0 for k in self.kernel_size):
            raise ValueError(f"`kernel_size` must be odd (same padding), got {kernel_size}")
        self.norm = check_layer_spec("norm", norm, "norm")
        self.act = check_layer_spec("act", act, "act")
        self.dropout = check_dropout(dropout)
        self.num_res_units = check_positive_int("num_res_units", num_res_units, minimum=0)
        # product of the strides per spatial dim: the network pads its input to a multiple of it
        self.total_stride = [math.prod(s) for s in zip(*self.strides, strict=True)]
        stage_strides: list[tuple[int, ...]] = [(1,) * spatial_dims, *self.strides]
        c_in = [in_channels, *self.channels[:-1]]
        self.stages = nn.ModuleList(
            ConvStage(
                spatial_dims,
                c_in[i],
                self.channels[i],
                stride=stage_strides[i],
                **self.stage_kwargs(),
            )
            for i in range(len(self.channels))
        )

    def stage_kwargs(self) -> dict:
        """Keyword arguments shared by every :class:`ConvStage` (the decoder builds its stages with them)."""
        return {
            "kernel_size": self.kernel_size,
            "norm": self.norm,
            "act": self.act,
            "dropout": self.dropout,
            "num_res_units": self.num_res_units,
        }

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Encode ``x``.

        Args:
            x: ``(B, C_in, *S)`` with ``S`` a multiple of ``total_stride`` (the product of the strides per dim).

        Returns:
            One feature map per level, finest first: ``(B, channels[k], *S / prod(strides[:k]))``; the last
            is the bottleneck, the others are the skip connections.
        """
        if not torch.jit.is_scripting():  # noqa: SIM102 (a static branch: TorchScript does not compile its body)
            if inference_without_autograd():
                return self._forward_lean(x)
        features: list[torch.Tensor] = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features

    @torch.jit.unused
    def _forward_lean(self, x: torch.Tensor) -> list[torch.Tensor]:
        """:meth:`forward` without autograd: the norms work in place on each convolution's output."""
        features: list[torch.Tensor] = []
        for stage in self.stages:
            x = cast(ConvStage, stage).forward_lean([x])
            features.append(x)
        return features
