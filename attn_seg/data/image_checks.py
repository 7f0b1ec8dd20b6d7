"""Checks of an image header before its voxels are read: what ``check-data``, training and ``attn-seg predict``
refuse, each with the file and the cause.

An image is refused when an axis is empty, its voxels are complex, its affine cannot map voxels to millimetres
(singular or not finite), it declares more voxels than its file can hold (uncompressed NIfTI), or its voxels as
float32 would not fit the memory budget (a corrupt header declaring 3000^3 voxels fails here, not with a bare
``MemoryError`` half-way through).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from attn_seg.data.readers import ImageHeader

__all__ = ["default_memory_budget", "header_problem", "may_be_nonfinite", "nonfinite_problem"]

#: Smallest ``|det|`` of an affine's linear part (cubic millimetres per voxel) taken as invertible.
MIN_VOXEL_VOLUME = 1e-9


def default_memory_budget() -> int:
    """Half this machine's physical memory, in bytes: the most one image's float32 voxels may take."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) // 2
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows): 8 GiB
        return 8 << 30


def _dtype(text: str) -> np.dtype | None:
    try:
        return np.dtype(text)
    except TypeError:  # SimpleITK's names for types numpy lacks, e.g. "vector of 8-bit unsigned integer"
        return None


def may_be_nonfinite(header: ImageHeader) -> bool:
    """Whether the stored voxels can hold NaN or Inf: floating types, and types numpy does not name; integers
    cannot, so their voxels need no finiteness pass once loaded (MONAI loads them as float32 all the same)."""
    dtype = _dtype(header.dtype)
    return dtype is None or dtype.kind in "fc"


def nonfinite_problem(role: str, path: str | os.PathLike[str], array: np.ndarray) -> str:
    """What is wrong with the voxels of ``array`` read from ``path``: NaN or infinite values (counted); ``""``
    when there are none or the array cannot hold them (integer types). ``role`` names it (``"image"``)."""
    if not np.issubdtype(array.dtype, np.floating):
        return ""
    nan, inf = int(np.isnan(array).sum()), int(np.isinf(array).sum())
    if not nan and not inf:
        return ""
    return f"{role} {path} has {nan} NaN and {inf} infinite voxels (of {array.size})"


def _affine_problem(header: ImageHeader) -> str:
    linear = np.asarray(header.affine, dtype=float)[:-1, :-1]
    if not np.isfinite(header.affine).all():
        return f"{header.path} has a non-finite affine {header.affine.tolist()}"
    if abs(float(np.linalg.det(linear))) < MIN_VOXEL_VOLUME:
        return (f"{header.path} has a singular affine (a zero or repeated column: voxels cannot be placed in "
                f"millimetres): {np.round(header.affine, 4).tolist()}")
    return ""


def _size_problem(header: ImageHeader, dtype: np.dtype | None, memory_budget: int) -> str:
    voxels = math.prod(header.shape) * max(1, header.channels)
    need = voxels * 4
    if need > memory_budget:
        return (f"{header.path} declares {'x'.join(map(str, header.shape))} voxels: {need / 1e9:.1f} GB as float32, "
                f"more than the memory budget of {memory_budget / 1e9:.1f} GB (a corrupt header?)")
    path = Path(header.path)
    if dtype is not None and path.name.lower().endswith(".nii") and path.is_file():
        stored, size = voxels * dtype.itemsize, path.stat().st_size
        if size < stored:
            return f"{header.path} declares {stored} bytes of voxels but the file holds {size} (truncated?)"
    return ""


def header_problem(header: ImageHeader, memory_budget: int | None = None) -> str:
    """What makes the image behind ``header`` impossible to segment, or ``""``.

    Args:
        header: the image header (:func:`attn_seg.data.readers.read_header`).
        memory_budget: the most bytes the image's voxels may take as float32; default
            :func:`default_memory_budget`.

    Returns:
        One line naming the file and the cause; empty when the header is usable.
    """
    if not header.shape or min(header.shape) < 1:
        return f"{header.path} has an empty axis: shape {tuple(header.shape)}"
    dtype = _dtype(header.dtype)
    if (dtype is not None and dtype.kind == "c") or "complex" in header.dtype.lower():
        return f"{header.path} holds complex voxels ({header.dtype}); save the magnitude (real values) to segment it"
    return _affine_problem(header) or _size_problem(header, dtype, memory_budget or default_memory_budget())
