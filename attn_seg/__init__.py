"""attn-seg: Attention U-Net segmentation of CT and MRI volumes, built on MONAI."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
