"""Preprocessing presets for CT, MRI and colour pictures, 2D and 3D: deterministic steps first, random steps apart.

A preset is a :class:`TransformSet` of ``deterministic`` steps (load, orient, resample, normalise: cached by
``CacheDataset``). A bundle's ``train.json`` appends the random steps (patch sampling and augmentation from
:mod:`attn_seg.transforms`, training only) with an expression; validation and inference use the deterministic
steps alone.

- ``ct``: clip Hounsfield units to a window and scale it to [0, 1];
- ``mri``: z-score over the non-zero voxels of each channel (the background outside the head stays 0);
- ``rgb``: colour pictures of any size (endoscopy, dermoscopy, photographs): resized to one fixed size, each colour
  channel z-scored over the picture.

Every preset takes ``label_threshold`` for masks stored as greys (0/255, noisy when JPEG): label 1 where the value is
at least the threshold (MONAI's ``AsDiscreted(threshold=...)``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from monai.data import MetaTensor
from monai.transforms import (
    AsDiscreted,
    Compose,
    EnsureTyped,
    Lambdad,
    LoadImaged,
    MapLabelValued,
    MapTransform,
    NormalizeIntensityd,
    Orientationd,
    Resized,
    ScaleIntensityRanged,
    Spacingd,
)
from monai.utils import MetaKeys, look_up_option

from attn_seg.data.readers import MedicalImageReader

__all__ = ["PRESETS", "TransformSet", "ct_preset", "loading", "mri_preset", "preset", "rgb_preset"]

#: Names accepted by :func:`preset`.
PRESETS = ("ct", "mri", "rgb")


@dataclass
class TransformSet:
    """A preset's deterministic transforms (cacheable: load, orient, resample, normalise). Training adds the random
    ones after them (:func:`~attn_seg.transforms.patch_sampling`, :func:`~attn_seg.transforms.augmentation`)."""

    deterministic: list[MapTransform]

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
    label_threshold: float | None = None,
) -> list[MapTransform]:
    """Load any supported format channel-first, orient it, optionally resample it and threshold or remap labels.

    Args:
        keys: case keys to load; ``"label"``, when present, is read as a label map (one channel: a grey mask saved
            as a colour picture is merged, other colour labels are refused) and resampled with nearest neighbours.
        spatial_dims: 2 or 3; ``axcodes`` is cut to this many letters.
        axcodes: target orientation, e.g. ``"RAS"`` (default) or ``"LPS"``.
        pixdim: target spacing in millimetres per spatial axis; ``None`` keeps the native spacing.
        label_map: label values to replace, e.g. ``{255: 1}`` for 0/255 masks.
        label_threshold: label 1 where ``value >= label_threshold``, else 0 (e.g. 128 for noisy JPEG masks),
            before ``label_map``; ``None`` keeps the values.

    Returns:
        ``[LoadImaged (images), (LoadImaged (label)), Orientationd, (AsDiscreted), (Spacingd), (MapLabelValued)]``.

    Raises:
        ValueError: when ``spatial_dims`` or ``pixdim`` is invalid.
    """
    _check_dims(spatial_dims, pixdim)
    keys = list(keys)
    images = [k for k in keys if k != "label"]
    steps: list[MapTransform] = []
    if images:
        steps.append(LoadImaged(images, reader=MedicalImageReader, ensure_channel_first=True, image_only=True))
    if "label" in keys:  # an instance: MONAI would hand a class's keyword arguments to its own readers too
        label_reader = cast(Any, MedicalImageReader(label=True))  # LoadImaged's annotation names classes only
        steps.append(LoadImaged("label", reader=label_reader, ensure_channel_first=True, image_only=True))
    steps.append(Orientationd(keys, axcodes=axcodes[:spatial_dims], labels=None))
    if label_threshold is not None and "label" in keys:
        steps.append(AsDiscreted("label", threshold=float(label_threshold)))
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
    label_threshold: float | None = None,
) -> TransformSet:
    """CT: load, orient, resample, clip ``hu_window`` and scale it to [0, 1].

    Args:
        spatial_dims: 2 or 3.
        pixdim: target spacing (mm); ``None`` keeps the native spacing.
        hu_window: ``(low, high)`` Hounsfield units kept, e.g. ``(-200, 400)`` soft tissue, ``(-1000, 400)`` lung.
        keys: case keys; the first is the image.
        axcodes: target orientation.
        label_map: label values to replace.
        label_threshold: label 1 where ``value >= label_threshold`` (see :func:`loading`).

    Returns:
        The deterministic transforms (add random ones with :mod:`attn_seg.transforms.sampling`/``augment``).

    Raises:
        ValueError: when an argument is invalid.
    """
    low, high = (float(v) for v in hu_window)
    if not low < high:
        raise ValueError(f"`hu_window` must be (low, high) with low < high, got {tuple(hu_window)!r}")
    steps = loading(keys, spatial_dims=spatial_dims, axcodes=axcodes, pixdim=pixdim, label_map=label_map,
                    label_threshold=label_threshold)
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
    label_threshold: float | None = None,
) -> TransformSet:
    """MRI: load, orient, resample, z-score each channel over its non-zero voxels.

    Args:
        spatial_dims: 2 or 3.
        pixdim: target spacing (mm); ``None`` keeps the native spacing.
        keys: case keys; the first is the image.
        axcodes: target orientation.
        label_map: label values to replace.
        label_threshold: label 1 where ``value >= label_threshold`` (see :func:`loading`).

    Returns:
        The deterministic transforms.

    Raises:
        ValueError: when an argument is invalid.
    """
    steps = loading(keys, spatial_dims=spatial_dims, axcodes=axcodes, pixdim=pixdim, label_map=label_map,
                    label_threshold=label_threshold)
    steps += [
        NormalizeIntensityd(next(iter(keys)), nonzero=True, channel_wise=True),
        EnsureTyped(list(keys), track_meta=True),
    ]
    return TransformSet(steps)


def _channels_first_meta(image: MetaTensor) -> MetaTensor:
    """Record that a loaded colour picture's channel axis is first now: ``original_channel_dim`` "no_channel".

    Predictions inherit the image's meta. With the picture's ``-1`` there, MONAI 1.6.1 counts one spatial axis too
    few for the squeezed 2D label map its writers save (``resample=False``) and fails in ``spatial_resample``
    (Project-MONAI/MONAI#9068); the pixels are not touched.
    """
    image.meta[MetaKeys.ORIGINAL_CHANNEL_DIM] = "no_channel"
    return image


def rgb_preset(
    *,
    spatial_size: Sequence[int],
    keys: Sequence[str] = ("image", "label"),
    label_map: Mapping[int, int] | None = None,
    label_threshold: float | None = None,
) -> TransformSet:
    """Colour pictures of any size: load ``(3, X, Y)``, resize to ``spatial_size``, z-score each colour channel.

    Pictures carry no pixel spacing worth resampling to, and their sizes vary (endoscopy: 332 to 1920 pixels
    wide), so every picture is resized to one size (bilinear with anti-aliasing; labels nearest neighbour). Each
    of R, G, B is then z-scored over the whole picture (dark borders included), so that lighting and camera
    differences between pictures count less. MONAI's ``Invertd`` resizes predictions back to the picture's size.

    Args:
        spatial_size: the size every picture is resized to, ``(X, Y)`` (the bundles' ``roi_size``).
        keys: case keys; the first is the image.
        label_map: label values to replace.
        label_threshold: label 1 where ``value >= label_threshold`` (128 for 0/255 masks, noisy when JPEG).

    Returns:
        The deterministic transforms.

    Raises:
        ValueError: when ``spatial_size`` does not have 2 positive entries.
    """
    size = [int(s) for s in spatial_size]
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"`spatial_size` needs 2 positive entries (X, Y), got {list(spatial_size)!r}")
    keys = list(keys)
    steps = loading(keys, spatial_dims=2, axcodes="RA", label_map=label_map, label_threshold=label_threshold)
    steps += [
        Lambdad(keys[0], _channels_first_meta),
        Resized(keys, spatial_size=size, mode=["nearest" if k == "label" else "bilinear" for k in keys],
                anti_aliasing=[k != "label" for k in keys]),
        NormalizeIntensityd(keys[0], channel_wise=True),
        EnsureTyped(keys, track_meta=True),
    ]
    return TransformSet(steps)


def preset(name: str, **kwargs: object) -> TransformSet:
    """The preset called ``name`` (``"ct"``, ``"mri"`` or ``"rgb"``; a near miss gets a suggestion) with options."""
    chosen = look_up_option(name, PRESETS)
    build = {"ct": ct_preset, "mri": mri_preset, "rgb": rgb_preset}[chosen]
    return build(**kwargs)  # type: ignore[operator]
