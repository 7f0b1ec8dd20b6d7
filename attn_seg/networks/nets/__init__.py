"""Networks: one public network per module."""

from __future__ import annotations

from attn_seg.networks.nets.attention_unet import AttentionUNet

__all__ = ["AttentionUNet"]
