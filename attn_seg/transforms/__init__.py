"""Transform presets: CT/MRI/colour-picture preprocessing for 2D and 3D, patch sampling, augmentation, 2D-from-3D."""

from __future__ import annotations

from attn_seg.transforms.augment import AUGMENTATION_SETS, augmentation
from attn_seg.transforms.presets import PRESETS, TransformSet, ct_preset, loading, mri_preset, preset, rgb_preset
from attn_seg.transforms.sampling import SAMPLING_MODES, patch_sampling, slice_sampling
from attn_seg.transforms.slices import slice_inferer, stack_slices

__all__ = [
    "AUGMENTATION_SETS",
    "PRESETS",
    "SAMPLING_MODES",
    "TransformSet",
    "augmentation",
    "ct_preset",
    "loading",
    "mri_preset",
    "patch_sampling",
    "preset",
    "rgb_preset",
    "slice_inferer",
    "slice_sampling",
    "stack_slices",
]
