"""Slices in radiological display order and colour overlays of label maps and heat maps, as RGB arrays.

Everything here is plain numpy, so that what a picture shows can be checked pixel by pixel. Volumes are first
turned to RAS+ axis order (:func:`to_ras`); :func:`view` then cuts a slice and orders it as radiologists read it:
axial and coronal with the patient's right on the viewer's left and anterior/superior at the top, sagittal
with anterior on the left.
"""

from __future__ import annotations

from collections.abc import Mapping

import nibabel as nib
import numpy as np
from matplotlib import colormaps

__all__ = [
    "CLASS_COLOURS",
    "CT_WINDOW",
    "VIEWS",
    "class_colour",
    "overlay_heatmap",
    "overlay_labels",
    "slice_through",
    "to_ras",
    "view",
    "view_aspect",
    "window",
]

#: RGB colours of foreground classes 1, 2, ... (cycled): red, green, blue, yellow, magenta, cyan.
CLASS_COLOURS = ((0.95, 0.15, 0.15), (0.1, 0.85, 0.2), (0.2, 0.45, 1.0), (1.0, 0.85, 0.0), (0.9, 0.2, 0.9),
                 (0.0, 0.85, 0.9))
#: Views of a 3D volume: name, the RAS axis held fixed, and the edge letters (left, right, top, bottom).
VIEWS: dict[str, tuple[int, tuple[str, str, str, str]]] = {
    "axial": (2, ("R", "L", "A", "P")),
    "coronal": (1, ("R", "L", "S", "I")),
    "sagittal": (0, ("A", "P", "S", "I")),
}


def class_colour(value: int) -> tuple[float, float, float]:
    """Colour of class ``value`` (1-based; cycled)."""
    return CLASS_COLOURS[(int(value) - 1) % len(CLASS_COLOURS)]


def to_ras(volume: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, tuple[float, ...]]:
    """Reorder (transpose and flip, no resampling) a 3D volume's axes to the closest RAS+ order.

    Args:
        volume: array ``(X, Y, Z)`` in the file's voxel order.
        affine: its 4x4 voxel-to-world matrix (RAS+ mm).

    Returns:
        The reordered array and its voxel size in mm along the new axes.
    """
    ornt = nib.orientations.io_orientation(affine)
    ras = nib.orientations.apply_orientation(volume, ornt)
    new_affine = affine @ nib.orientations.inv_ornt_aff(ornt, volume.shape)
    return np.ascontiguousarray(ras), tuple(float(s) for s in nib.affines.voxel_sizes(new_affine))


def slice_through(mask: np.ndarray, axis: int) -> int:
    """Index along ``axis`` of the slice holding most of ``mask`` (the middle slice when it is empty)."""
    other = tuple(a for a in range(mask.ndim) if a != axis)
    counts = np.count_nonzero(mask, axis=other)
    return int(np.argmax(counts)) if counts.any() else mask.shape[axis] // 2


def view(volume: np.ndarray, name: str, index: int) -> np.ndarray:
    """A slice of a RAS+ volume, ``(rows, cols)`` in display order (see the module docstring).

    Args:
        volume: array ``(X, Y, Z)`` in RAS+ order, or a 2D image ``(X, Y)`` (then ``name`` is ignored and the
            picture is shown as stored: rows are Y, columns X).
        name: ``"axial"``, ``"coronal"`` or ``"sagittal"``.
        index: the slice index along the fixed axis.
    """
    if volume.ndim == 2:
        return volume.T
    if name == "axial":
        return volume[::-1, ::-1, index].T
    if name == "coronal":
        return volume[::-1, index, ::-1].T
    if name == "sagittal":
        return volume[index, ::-1, ::-1].T
    raise ValueError(f"view name must be one of {list(VIEWS)}, got {name!r}")


def view_aspect(spacing: tuple[float, ...], name: str) -> float:
    """Pixel height over width of a view, so that millimetres look square."""
    if len(spacing) == 2:
        return spacing[1] / spacing[0]
    rows, cols = {"axial": (1, 0), "coronal": (2, 0), "sagittal": (2, 1)}[name]
    return spacing[rows] / spacing[cols]


#: Display window for CT in Hounsfield units (abdominal soft tissue: width 400, level 50).
CT_WINDOW = (-150.0, 250.0)


def window(image: np.ndarray | None, shape: tuple[int, ...], limits: tuple[float, float] | None = None) -> np.ndarray:
    """Grey values in ``[0, 1]`` for display.

    Args:
        image: intensities, or ``None`` (then black, zeros of ``shape``).
        shape: shape of the result without an image.
        limits: intensities shown as black and white; ``None``: :data:`CT_WINDOW` for images that look like CT
            in Hounsfield units (minimum below -500, i.e. air), else the 0.5 and 99.5 percentiles.

    Returns:
        float32 array in ``[0, 1]``.
    """
    if image is None:
        return np.zeros(shape, dtype=np.float32)
    if limits is None:
        looks_ct = float(image.min()) < -500.0
        lo, hi = CT_WINDOW if looks_ct else (float(v) for v in np.percentile(image, (0.5, 99.5)))
    else:
        lo, hi = limits
    if hi <= lo:
        return np.zeros(image.shape, dtype=np.float32)
    return np.clip((image.astype(np.float32) - lo) / (hi - lo), 0.0, 1.0)


def overlay_labels(grey: np.ndarray, labels: np.ndarray, alpha: float = 0.5,
                   colours: Mapping[int, tuple[float, float, float]] | None = None) -> np.ndarray:
    """Blend class colours over a grey picture: ``(1 - alpha) * grey + alpha * colour`` where ``labels == c``.

    Args:
        grey: values in ``[0, 1]``, shape ``(H, W)``.
        labels: class map, same shape; 0 stays grey.
        alpha: opacity of the colours.
        colours: colour per class value; default :func:`class_colour`.

    Returns:
        RGB array ``(H, W, 3)`` in ``[0, 1]``.
    """
    rgb = np.repeat(grey[..., None], 3, axis=-1).astype(np.float32)
    for value in np.unique(labels):
        if value == 0:
            continue
        colour = np.asarray((colours or {}).get(int(value), class_colour(int(value))), dtype=np.float32)
        where = labels == value
        rgb[where] = (1.0 - alpha) * rgb[where] + alpha * colour
    return np.clip(rgb, 0.0, 1.0)


def overlay_heatmap(grey: np.ndarray, heat: np.ndarray, cmap: str = "jet", max_alpha: float = 0.7) -> np.ndarray:
    """Blend a heat map in ``[0, 1]`` over a grey picture: opacity 0.25 where the heat is 0, ``max_alpha`` at 1.

    Args:
        grey: values in ``[0, 1]``, shape ``(H, W)``.
        heat: values in ``[0, 1]``, same shape (e.g. an attention map).
        cmap: matplotlib colour map of the heat.
        max_alpha: opacity where the heat is 1.

    Returns:
        RGB array ``(H, W, 3)`` in ``[0, 1]``.
    """
    heat = np.clip(heat, 0.0, 1.0).astype(np.float32)
    colour = colormaps[cmap](heat)[..., :3].astype(np.float32)
    alpha = (0.25 + (max_alpha - 0.25) * heat)[..., None]
    return np.clip((1.0 - alpha) * grey[..., None] + alpha * colour, 0.0, 1.0)
