"""Preprocessing presets for CT and MRI, 2D and 3D: deterministic steps first, random steps apart.

A preset is a :class:`TransformSet`: ``deterministic`` (load, orient, resample, normalise: cached by
``CacheDataset``/``PersistentDataset``) and ``random`` (patch sampling and augmentation, training only).
``train()`` and ``eval()`` compose them; a bundle can list the two parts separately and join them with an
expression, as ``train.json`` does.

- ``ct``: clip Hounsfield units to a window and scale it to [0, 1];
- ``mri``: z-score over the non-zero voxels of each channel (the background outside the head stays 0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from monai.transforms import (
    Compose,
    EnsureTyped,
    LoadImaged,
    MapLabelValued,
    MapTransform,
    NormalizeIntensityd,
    Orientationd,
    ScaleIntensityRanged,
    Spacingd,
)
from monai.utils import look_up_option

from attn_seg.data.readers import MedicalImageReader

__all__ = ["PRESETS", "TransformSet", "ct_preset", "loading", "mri_preset", "preset"]

#: Names accepted by :func:`preset`.
PRESETS = ("ct", "mri")


@dataclass
class TransformSet:
    """Transforms split into a deterministic part (cacheable) and a random part (training only)."""

    deterministic: list[MapTransform]
    random: list[MapTransform] = field(default_factory=list)

    def train(self) -> Compose:
        """Deterministic then random transforms."""
        return Compose([*self.deterministic, *self.random])

    def eval(self) -> Compose:
        """Deterministic transforms only, for validation and inference."""
        return Compose(list(self.deterministic))


def _check_dims(spatial_dims: int, pixdim: Sequence[float] | None) -> None:
    if spatial_dims not in (2, 3):
        raise ValueError(f"`spatial_dims` must be 2 or 3, got {spatial_dims!r}")
    if pixdim is not None and (len(pixdim) != spatial_dims or min(pixdim) <= 0):
        raise ValueError(f"`pixdim` needs {spatial_dims} positive entries (spatial_dims), got {list(pixdim)!r}")


def loading(
    keys: Sequence[str] = ("image", "label"),
    *,
    spatial_dims: int = 3,
    axcodes: str = "RAS",
    pixdim: Sequence[float] | None = None,
    label_map: Mapping[int, int] | None = None,
) -> list[MapTransform]:
    """Load any supported format channel-first, orient it, optionally resample it and remap label values.

    Args:
        keys: case keys to load; ``"label"``, when present, is resampled with nearest-neighbour interpolation.
        spatial_dims: 2 or 3; ``axcodes`` is cut to this many letters.
        axcodes: target orientation, e.g. ``"RAS"`` (default) or ``"LPS"``.
        pixdim: target spacing in millimetres per spatial axis; ``None`` keeps the native spacing.
        label_map: label values to replace, e.g. ``{255: 1}`` for 0/255 masks.

    Returns:
        ``[LoadImaged, Orientationd, (Spacingd), (MapLabelValued)]``.

    Raises:
        ValueError: when ``spatial_dims`` or ``pixdim`` is invalid.
    """
    _check_dims(spatial_dims, pixdim)
    keys = list(keys)
    steps: list[MapTransform] = [
        LoadImaged(keys, reader=MedicalImageReader, ensure_channel_first=True, image_only=True),
        Orientationd(keys, axcodes=axcodes[:spatial_dims], labels=None),
    ]
    if pixdim is not None:
        modes = ["nearest" if k == "label" else "bilinear" for k in keys]
        steps.append(Spacingd(keys, pixdim=list(pixdim), mode=modes))
    if label_map and "label" in keys:
        steps.append(MapLabelValued("label", list(label_map), list(label_map.values())))
    return steps


def ct_preset(
    *,
    spatial_dims: int = 3,
    pixdim: Sequence[float] | None = None,
    hu_window: Sequence[float] = (-200.0, 400.0),
    keys: Sequence[str] = ("image", "label"),
    axcodes: str = "RAS",
    label_map: Mapping[int, int] | None = None,
) -> TransformSet:
    """CT: load, orient, resample, clip ``hu_window`` and scale it to [0, 1].

    Args:
        spatial_dims: 2 or 3.
        pixdim: target spacing (mm); ``None`` keeps the native spacing.
        hu_window: ``(low, high)`` Hounsfield units kept, e.g. ``(-200, 400)`` soft tissue, ``(-1000, 400)`` lung.
        keys: case keys; the first is the image.
        axcodes: target orientation.
        label_map: label values to replace.

    Returns:
        The deterministic transforms (add random ones with :mod:`attn_seg.transforms.sampling`/``augment``).

    Raises:
        ValueError: when an argument is invalid.
    """
    low, high = (float(v) for v in hu_window)
    if not low < high:
        raise ValueError(f"`hu_window` must be (low, high) with low < high, got {tuple(hu_window)!r}")
    steps = loading(keys, spatial_dims=spatial_dims, axcodes=axcodes, pixdim=pixdim, label_map=label_map)
    image = next(iter(keys))
    steps += [
        ScaleIntensityRanged(image, a_min=low, a_max=high, b_min=0.0, b_max=1.0, clip=True),
        EnsureTyped(list(keys), track_meta=True),
    ]
    return TransformSet(steps)


def mri_preset(
    *,
    spatial_dims: int = 3,
    pixdim: Sequence[float] | None = None,
    keys: Sequence[str] = ("image", "label"),
    axcodes: str = "RAS",
    label_map: Mapping[int, int] | None = None,
) -> TransformSet:
    """MRI: load, orient, resample, z-score each channel over its non-zero voxels.

    Args:
        spatial_dims: 2 or 3.
        pixdim: target spacing (mm); ``None`` keeps the native spacing.
        keys: case keys; the first is the image.
        axcodes: target orientation.
        label_map: label values to replace.

    Returns:
        The deterministic transforms.

    Raises:
        ValueError: when an argument is invalid.
    """
    steps = loading(keys, spatial_dims=spatial_dims, axcodes=axcodes, pixdim=pixdim, label_map=label_map)
    steps += [
        NormalizeIntensityd(next(iter(keys)), nonzero=True, channel_wise=True),
        EnsureTyped(list(keys), track_meta=True),
    ]
    return TransformSet(steps)


def preset(name: str, **kwargs: object) -> TransformSet:
    """The preset called ``name`` (``"ct"`` or ``"mri"``; a near miss gets a suggestion) with its options."""
    chosen = look_up_option(name, PRESETS)
    return ct_preset(**kwargs) if chosen == "ct" else mri_preset(**kwargs)  # type: ignore[arg-type]
