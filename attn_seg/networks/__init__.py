"""Segmentation networks (``nets``) and their building blocks (``blocks``).

``AttentionUNet`` is the network the bundles use; ``AttentionGate``, ``UNetEncoder``,
``AttentionDecoder`` and ``SegmentationHeads`` are its parts, usable on their own.
"""

from __future__ import annotations

from attn_seg.networks.blocks import (
    AttentionDecoder,
    AttentionGate,
    ConvNormAct,
    ConvStage,
    InstanceNorm,
    ResidualUnit,
    SegmentationHeads,
    UNetEncoder,
    UpSample,
)
from attn_seg.networks.nets import AttentionUNet

__all__ = [
    "AttentionDecoder",
    "AttentionGate",
    "AttentionUNet",
    "ConvNormAct",
    "ConvStage",
    "InstanceNorm",
    "ResidualUnit",
    "SegmentationHeads",
    "UNetEncoder",
    "UpSample",
]
