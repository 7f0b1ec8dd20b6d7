"""Synthetic CT/MRI segmentation cases that look like real scans, and colour pictures.

Each case is a body-shaped ellipsoid with a fat shell, one or more ellipsoidal "organs" per foreground
class, unlabelled distractors (bone-like bright blobs), partial-volume blur, a smooth bias and noise.
Volumes are written as NIfTI with a realistic, non-RAS, anisotropic affine, and the sizes vary between
cases, so that they are not multiples of a network's total stride. The ``rgb`` modality colours a 2D MRI-like
case as an endoscopy picture (reddish tissue, a paler, yellower "polyp" for the one foreground class).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CLASS_NAMES", "SyntheticCase", "SyntheticSpec", "make_case"]

#: Names given to foreground classes 1..K in ``dataset.json`` (cycled beyond the list).
CLASS_NAMES = ("organ", "lesion", "vessel", "gland", "node", "cyst")

# Mean intensities per foreground class: CT in Hounsfield units, MRI in arbitrary scanner units.
_CT_TISSUE, _CT_FAT, _CT_AIR, _CT_BONE = 40.0, -100.0, -1000.0, 700.0
_CT_CLASS_HU = (150.0, 260.0, 360.0, -40.0, 95.0, 10.0)
_MR_TISSUE, _MR_FAT, _MR_BONE = 300.0, 700.0, 60.0
_MR_CLASS = (520.0, 900.0, 140.0, 420.0, 1100.0, 1300.0)
#: RGB colours (0..1) of tissue and of the foreground class in ``rgb`` pictures.
_RGB_TISSUE, _RGB_CLASS = np.array([0.85, 0.42, 0.38]), np.array([0.95, 0.72, 0.5])
_MODALITIES = ("ct", "mri", "rgb")


@dataclass(frozen=True)
class SyntheticSpec:
    """Settings of a synthetic data set.

    Args:
        spatial_dims: 2 for images, 3 for volumes.
        num_classes: number of foreground classes K; labels take values 0..K.
        modality: ``"ct"`` (int16 Hounsfield units), ``"mri"`` (float32, smooth multiplicative bias) or ``"rgb"``
            (uint8 colour pictures, 2D and one foreground class: written as RGB PNG with a 0/255 mask).
        size_mm: nominal field of view per axis in millimetres (in-plane, in-plane[, through-plane]).

    Raises:
        ValueError: when an argument is out of range.
    """

    spatial_dims: int = 3
    num_classes: int = 2
    modality: str = "ct"
    size_mm: tuple[float, ...] = (96.0, 96.0, 72.0)

    def __post_init__(self) -> None:
        if self.spatial_dims not in (2, 3):
            raise ValueError(f"`spatial_dims` must be 2 or 3, got {self.spatial_dims!r}")
        if not 1 <= self.num_classes <= len(CLASS_NAMES):
            raise ValueError(f"`num_classes` must be in 1..{len(CLASS_NAMES)}, got {self.num_classes!r}")
        if self.modality not in _MODALITIES:
            raise ValueError(f"`modality` must be one of {_MODALITIES}, got {self.modality!r}")
        if self.modality == "rgb" and (self.spatial_dims, self.num_classes) != (2, 1):
            raise ValueError(
                "`modality` 'rgb' makes 2D pictures with one foreground class (0/255 masks); got "
                f"spatial_dims={self.spatial_dims}, num_classes={self.num_classes}"
            )
        if len(self.size_mm) < self.spatial_dims or min(self.size_mm) <= 0:
            raise ValueError(f"`size_mm` needs {self.spatial_dims} positive entries, got {self.size_mm!r}")


@dataclass(frozen=True)
class SyntheticCase:
    """One generated case.

    Attributes:
        image: intensities, shape ``(X, Y[, Z])``; int16 HU for CT, float32 for MRI; ``(X, Y, 3)`` uint8 for RGB.
        label: class map with values 0..K, uint8, same shape.
        affine: 4x4 voxel-to-world (RAS+ millimetres, as NIfTI stores it).
    """

    image: np.ndarray
    label: np.ndarray
    affine: np.ndarray


def _random_affine(rng: np.random.Generator, spacing: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A scanner-like affine: LPS/LAS/RPS axis flips, a small in-plane tilt, an arbitrary origin."""
    flips = [(-1.0, -1.0, 1.0), (-1.0, 1.0, 1.0), (1.0, -1.0, 1.0)][rng.integers(3)]
    angle = np.deg2rad(rng.uniform(-8.0, 8.0))
    rot = np.array([[np.cos(angle), -np.sin(angle), 0.0], [np.sin(angle), np.cos(angle), 0.0], [0.0, 0.0, 1.0]])
    full_spacing = np.ones(3)
    full_spacing[: len(spacing)] = spacing
    linear = rot @ np.diag(np.asarray(flips) * full_spacing)
    affine = np.eye(4)
    affine[:3, :3] = linear
    centre = np.zeros(3)
    centre[: len(shape)] = (np.asarray(shape) - 1) / 2.0
    affine[:3, 3] = rng.uniform(-30.0, 30.0, size=3) - linear @ centre
    return affine


def _grid_mm(shape: tuple[int, ...], spacing: np.ndarray) -> list[np.ndarray]:
    """Voxel centre coordinates in millimetres, origin at the volume centre, one array per axis."""
    axes = [(np.arange(n) - (n - 1) / 2.0) * s for n, s in zip(shape, spacing, strict=True)]
    return list(np.meshgrid(*axes, indexing="ij"))


def _ellipsoid(grid: list[np.ndarray], centre: np.ndarray, radii: np.ndarray, angle: float) -> np.ndarray:
    """Boolean mask of an ellipsoid rotated by ``angle`` about the last axis (in-plane for 2D)."""
    d = [g - c for g, c in zip(grid, centre, strict=True)]
    u = d[0] * np.cos(angle) + d[1] * np.sin(angle)
    v = -d[0] * np.sin(angle) + d[1] * np.cos(angle)
    rr = (u / radii[0]) ** 2 + (v / radii[1]) ** 2
    if len(d) == 3:
        rr = rr + (d[2] / radii[2]) ** 2
    return np.asarray(rr <= 1.0)


def _smooth_field(rng: np.random.Generator, grid: list[np.ndarray], extent: np.ndarray) -> np.ndarray:
    """A smooth random field in about [-1, 1]: a few low-frequency cosines over the field of view."""
    field = np.zeros(grid[0].shape)
    for _ in range(3):
        freq = rng.uniform(0.3, 1.0, size=len(grid)) * np.pi / extent
        phase = rng.uniform(0, 2 * np.pi)
        field += np.cos(sum(f * g for f, g in zip(freq, grid, strict=True)) + phase)
    return field / 3.0


def _blur(volume: np.ndarray, sigma_vox: float) -> np.ndarray:
    """Separable Gaussian blur (partial-volume effect) with reflecting borders."""
    radius = max(1, round(3 * sigma_vox))
    x = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (x / sigma_vox) ** 2)
    kernel /= kernel.sum()
    out = volume.astype(np.float32)
    for axis in range(out.ndim):
        padded = np.pad(out, [(radius, radius) if a == axis else (0, 0) for a in range(out.ndim)], mode="reflect")
        out = np.apply_along_axis(lambda line: np.convolve(line, kernel, mode="valid"), axis, padded)
    return out.astype(np.float32)


def _sample_geometry(rng: np.random.Generator, spec: SyntheticSpec) -> tuple[np.ndarray, tuple[int, ...]]:
    """Per-case anisotropic spacing (thicker through-plane) and the matching, varying, shape."""
    dims = spec.spatial_dims
    spacing = np.array([rng.uniform(1.1, 1.5)] * 2 + ([rng.uniform(2.0, 3.0)] if dims == 3 else []))
    if dims == 2:
        spacing = spacing * 0.6
    scale = rng.uniform(0.85, 1.15, size=dims)
    shape = tuple(round(f * m / s) for f, m, s in zip(scale, spec.size_mm[:dims], spacing, strict=True))
    return spacing, shape


def _paint_body(rng: np.random.Generator, grid: list[np.ndarray], extent: np.ndarray, ct: bool) -> tuple:
    """Intensity image with air, a body ellipsoid and its fat shell; returns (image, body mask)."""
    body_radii = extent / 2.0 * rng.uniform(0.78, 0.9, size=len(grid))
    body = _ellipsoid(grid, np.zeros(len(grid)), body_radii, rng.uniform(-0.2, 0.2))
    inner = _ellipsoid(grid, np.zeros(len(grid)), body_radii - rng.uniform(4.0, 8.0), 0.0)
    image = np.full(grid[0].shape, _CT_AIR if ct else 0.0, dtype=np.float32)
    image[body] = _CT_FAT if ct else _MR_FAT
    image[inner] = _CT_TISSUE if ct else _MR_TISSUE
    return image, inner


def _place(rng: np.random.Generator, grid: list[np.ndarray], inside: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """An ellipsoid mask of the given radii whose centre lies inside ``inside``, well within it."""
    candidates = np.argwhere(inside)
    for _ in range(20):
        idx = tuple(candidates[rng.integers(len(candidates))])
        centre = np.array([g[idx] for g in grid])
        mask = _ellipsoid(grid, centre, radii, rng.uniform(0, np.pi))
        if mask.any() and inside[mask].mean() > 0.98:
            return mask
    return mask


def _colour(rng: np.random.Generator, image: np.ndarray, label: np.ndarray, field: np.ndarray) -> np.ndarray:
    """An MRI-like 2D image ``(X, Y)`` as an endoscopy-like picture ``(X, Y, 3)`` uint8: brightness from the image,
    hue from the label (tissue reddish, the foreground paler and yellower), light falling off towards one side."""
    brightness = np.clip(image / np.percentile(image, 99.5), 0.0, 1.0) * (0.8 + 0.2 * field)
    hue = np.where(label[..., None] > 0, _RGB_CLASS, _RGB_TISSUE) * rng.uniform(0.9, 1.1, size=3)
    rgb = 255.0 * brightness[..., None] * hue + rng.normal(0.0, 4.0, size=(*image.shape, 3))
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def make_case(rng: np.random.Generator, spec: SyntheticSpec) -> SyntheticCase:
    """Generate one case.

    Args:
        rng: the random generator (the caller seeds it, so data sets are reproducible).
        spec: data set settings.

    Returns:
        The image, its label map (every class 1..K present) and its affine (RGB pictures: pixel spacing 1).
    """
    ct = spec.modality == "ct"
    spacing, shape = _sample_geometry(rng, spec)
    grid = _grid_mm(shape, spacing)
    extent = np.asarray(shape) * spacing
    image, body = _paint_body(rng, grid, extent, ct)
    label = np.zeros(shape, dtype=np.uint8)
    for _ in range(rng.integers(1, 3)):  # unlabelled bright distractors (bone-like)
        mask = _place(rng, grid, body, rng.uniform(3.0, 6.0, size=spec.spatial_dims))
        image[mask] = _CT_BONE if ct else _MR_BONE
    for cls in range(1, spec.num_classes + 1):
        base = (_CT_CLASS_HU if ct else _MR_CLASS)[(cls - 1) % len(_CT_CLASS_HU)]
        lo, hi = (12.0, 20.0) if cls == 1 else (6.0, 11.0)  # class 1: a large organ; others smaller
        for _ in range(1 if cls == 1 else rng.integers(1, 3)):
            free = body & (label == 0)
            mask = _place(rng, grid, free, rng.uniform(lo, hi, size=spec.spatial_dims))
            image[mask] = base + rng.normal(0, 10.0 if ct else 25.0)
            label[mask] = cls
    image = _blur(image, sigma_vox=0.6)
    field = _smooth_field(rng, grid, extent)
    if ct:
        image = image + 15.0 * field + rng.normal(0.0, 18.0, size=shape)
        image = np.clip(np.round(image), -1024, 3071).astype(np.int16)
    else:
        image = image * (1.0 + 0.25 * field) + rng.normal(0.0, 25.0, size=shape)
        image = np.clip(image, 0.0, None).astype(np.float32)
    if spec.modality == "rgb":  # pictures: no patient geometry, one pixel a unit
        return SyntheticCase(image=_colour(rng, image, label, field), label=label, affine=np.eye(4))
    return SyntheticCase(image=image, label=label, affine=_random_affine(rng, spacing, shape))
