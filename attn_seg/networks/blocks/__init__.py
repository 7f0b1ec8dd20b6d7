"""Building blocks of the networks: convolution stages, attention gates, encoder, decoder, heads."""

from __future__ import annotations

from attn_seg.networks.blocks.attention_gate import GATING_MODES, AttentionGate
from attn_seg.networks.blocks.convolutions import ConvNormAct, ConvStage, InstanceNorm, ResidualUnit
from attn_seg.networks.blocks.decoder import UPSAMPLE_MODES, AttentionDecoder, DecoderStage, UpSample
from attn_seg.networks.blocks.encoder import UNetEncoder
from attn_seg.networks.blocks.heads import SegmentationHeads

__all__ = [
    "GATING_MODES",
    "UPSAMPLE_MODES",
    "AttentionDecoder",
    "AttentionGate",
    "ConvNormAct",
    "ConvStage",
    "DecoderStage",
    "InstanceNorm",
    "ResidualUnit",
    "SegmentationHeads",
    "UNetEncoder",
    "UpSample",
]
