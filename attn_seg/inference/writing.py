"""Write predictions as NIfTI in the input's own geometry, atomically: a temporary sibling renamed into place.

Output names in the output folder, for an input ``<case>.<ext>``:

- ``<case>_seg.nii.gz``: the label map, uint8 (uint16 beyond 255 classes), the input's affine and header;
- ``<case>_probs.nii.gz``: class probabilities in [0, 1], channels on the last axis (``(*S, K)``; a 2D input
  gets ``(H, W, 1, K)`` so that the channel axis is always the fourth);
- ``<case>_attn_g<k>.nii.gz``: the attention map of gate ``k`` (gated levels counted finest first), in [0, 1]
  (several heads on a last axis as for probabilities).

NIfTI has no float16 type: probabilities and attention maps are stored as uint16 with NIfTI scaling
(``scl_slope``), 2 bytes a voxel like float16 and finer (steps of ~1.5e-5); nibabel's ``get_fdata`` and MONAI's
``LoadImage`` read them back as floats in [0, 1].

A file is written under a hidden temporary name and renamed into place only when complete
(:func:`attn_seg.files.atomic_path`), so a killed run leaves no half-written output under a real name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from attn_seg.data.naming import PROBS, SEG, attention_kind, output_name
from attn_seg.files import atomic_path

__all__ = ["Geometry", "atomic_save", "output_paths", "read_geometry"]

_NIFTI_SUFFIXES = (".nii.gz", ".nii")


def output_paths(out_dir: Path, case: str, *, probs: bool = False, attention_gates: int = 0) -> dict[str, Path]:
    """The files a case gets: ``{"seg": ..., ["probs": ...], ["attn_g0": ...], ...}``."""
    kinds = [SEG, *([PROBS] if probs else []), *(attention_kind(k) for k in range(attention_gates))]
    return {kind: out_dir / output_name(case, kind) for kind in kinds}


@dataclass
class Geometry:
    """Where an input's voxels lie: its spatial shape, 4x4 affine and, for NIfTI inputs, its header."""

    shape: tuple[int, ...]
    affine: np.ndarray
    header: Any | None = None


def _affine_4x4(affine: np.ndarray) -> np.ndarray:
    """Embed a 2D (3x3) affine in 3D, as NIfTI stores it."""
    if affine.shape == (4, 4):
        return affine
    full = np.eye(4)
    full[:2, :2], full[:2, 3] = affine[:2, :2], affine[:2, 2]
    return full


def read_geometry(path: str | os.PathLike[str], affine: np.ndarray, shape: tuple[int, ...]) -> Geometry:
    """The geometry outputs are written in.

    Args:
        path: the input file; a NIfTI file lends its own affine and header (codes, units, description).
        affine: the reader's RAS affine for other formats (``(S + 1, S + 1)``).
        shape: the input's spatial shape.

    Returns:
        The geometry.
    """
    if str(path).lower().endswith(_NIFTI_SUFFIXES):
        img: Any = nib.load(str(path))
        header = img.header.copy()
        return Geometry(tuple(int(s) for s in img.shape[: len(shape)]), np.asarray(img.affine, dtype=float), header)
    return Geometry(tuple(shape), _affine_4x4(np.asarray(affine, dtype=float)), None)


def _image(array: np.ndarray, geometry: Geometry) -> nib.Nifti1Image:
    """A NIfTI image in ``geometry``. Float arrays (probabilities, attention, in [0, 1]) are stored as uint16
    with NIfTI scaling (``scl_slope``), as NIfTI has no float16: 2 bytes a voxel, read back as floats."""
    header = geometry.header.copy() if geometry.header is not None else nib.Nifti1Header()
    stored = np.dtype(np.uint16) if array.dtype.kind == "f" else array.dtype
    header.set_data_dtype(stored)
    image = nib.Nifti1Image(array, geometry.affine, header)
    if array.dtype.kind == "f":
        image.header.set_slope_inter(None, None)  # nibabel picks the scaling that fits the values when saving
    else:
        image.header.set_slope_inter(1.0, 0.0)  # the input's scaling (e.g. CT int16 -> HU) is not the labels'
    return image


def atomic_save(array: np.ndarray, geometry: Geometry, path: Path) -> None:
    """Save ``array`` as NIfTI in ``geometry`` at ``path``, through a hidden temporary file renamed into place.

    Args:
        array: voxels, spatial axes first (as the input's), then any channel axis.
        geometry: the input's geometry.
        path: the ``.nii.gz`` file to write.
    """
    with atomic_path(path) as tmp:
        nib.save(_image(array, geometry), str(tmp))
