"""attn-seg: Attention U-Net segmentation of CT and MRI volumes, built on MONAI.

Subpackages load on first use, so ``import attn_seg`` stays light and bundle expressions such as
``$attn_seg.data.ensure_dataset(...)`` work after a plain ``$import attn_seg``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["__version__", "bundles", "data", "evaluation", "networks", "visualize"]

__version__ = "0.1.0"

_SUBMODULES = frozenset(
    {"bundles", "data", "engines", "evaluation", "inference", "networks", "transforms", "visualize"}
)


def __getattr__(name: str) -> ModuleType:
    if name in _SUBMODULES:
        return importlib.import_module(f"attn_seg.{name}")
    raise AttributeError(f"module 'attn_seg' has no attribute {name!r}")
