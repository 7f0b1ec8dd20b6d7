"""Augmentation sets for training: flips, 90-degree rotations, affine warps, zooms, intensity, colour and contrast
changes."""

from __future__ import annotations

import math
from collections.abc import Sequence

from monai.transforms import (
    MapTransform,
    RandAdjustContrastd,
    RandAffined,
    RandFlipd,
    RandGaussianNoised,
    RandRotate90d,
    RandScaleIntensityd,
    RandShiftIntensityd,
)
from monai.utils import look_up_option

__all__ = ["AUGMENTATION_SETS", "augmentation"]

#: The sets :func:`augmentation` can combine.
AUGMENTATION_SETS = ("flip", "rot90", "affine", "zoom", "intensity", "colour", "contrast")
#: The sets that change the image only (the others move image and label alike).
_IMAGE_ONLY = ("intensity", "colour", "contrast")


def _spatial(
    name: str, keys: list[str], spatial_dims: int, prob: float, flip_axes: Sequence[int]
) -> list[MapTransform]:
    modes = ["nearest" if k == "label" else "bilinear" for k in keys]
    if name == "flip":
        return [RandFlipd(keys, prob=prob, spatial_axis=axis) for axis in flip_axes]
    if name == "rot90":  # in-plane only: through-plane spacing is often coarser
        return [RandRotate90d(keys, prob=prob, max_k=3, spatial_axes=(0, 1))]
    if name == "zoom":  # objects seen from nearer or farther: scale by up to 25 %, no rotation
        return [RandAffined(keys, prob=prob, scale_range=[0.25] * spatial_dims, mode=modes, padding_mode="zeros")]
    rotate = [math.radians(15.0)] + ([0.0, 0.0] if spatial_dims == 3 else [])
    return [
        RandAffined(keys, prob=prob, rotate_range=rotate, scale_range=[0.1] * spatial_dims, mode=modes,
                    padding_mode="zeros")
    ]


def _flip_axes(flip_axes: Sequence[int] | None, spatial_dims: int) -> list[int]:
    if flip_axes is None:
        return list(range(spatial_dims))
    axes = [int(a) for a in flip_axes]
    if any(not 0 <= a < spatial_dims for a in axes):
        raise ValueError(f"`flip_axes` must hold spatial axes in [0, {spatial_dims}), got {list(flip_axes)!r}")
    return axes


def augmentation(
    sets: Sequence[str] = ("flip", "intensity"),
    *,
    spatial_dims: int = 3,
    prob: float = 0.5,
    keys: Sequence[str] = ("image", "label"),
    flip_axes: Sequence[int] | None = None,
) -> list[MapTransform]:
    """Random augmentations for training; labels follow spatial changes with nearest-neighbour interpolation.

    Args:
        sets: any of :data:`AUGMENTATION_SETS`: ``flip`` (each axis), ``rot90`` (in-plane), ``affine`` (in-plane
            rotation up to 15 degrees and scaling by up to 10 %), ``zoom`` (scaling by up to 25 %, no rotation),
            ``intensity`` (scale and shift by up to 10 %; image only), ``colour`` (each channel scaled by up to
            15 % and shifted by up to 0.1 on its own: a colour cast on RGB; image only), ``contrast`` (gamma in
            [0.7, 1.5] and Gaussian noise, std 0.02; image only).
        spatial_dims: 2 or 3.
        prob: probability of each transform.
        keys: case keys; the first is the image.
        flip_axes: the spatial axes ``flip`` mirrors (``None``: all). Leave out an axis along which left and
            right, or front and back, carry meaning for the labels (e.g. anterior/posterior hippocampus).

    Returns:
        The transforms, in the order of ``sets``.

    Raises:
        ValueError: when a set name is unknown (with a suggestion), or ``spatial_dims``/``prob``/``flip_axes`` is out
            of range.
    """
    if spatial_dims not in (2, 3):
        raise ValueError(f"`spatial_dims` must be 2 or 3, got {spatial_dims!r}")
    if not 0.0 <= prob <= 1.0:
        raise ValueError(f"`prob` must be in [0, 1], got {prob!r}")
    keys = list(keys)
    axes = _flip_axes(flip_axes, spatial_dims)
    steps: list[MapTransform] = []
    for name in sets:
        chosen = look_up_option(name, AUGMENTATION_SETS)
        steps += _image_only(chosen, keys[0], prob) if chosen in _IMAGE_ONLY else _spatial(
            chosen, keys, spatial_dims, prob, axes)
    return steps


def _image_only(name: str, image: str, prob: float) -> list[MapTransform]:
    if name == "intensity":
        return [RandScaleIntensityd(image, factors=0.1, prob=prob), RandShiftIntensityd(image, offsets=0.1, prob=prob)]
    if name == "colour":  # a colour cast: each channel scaled and shifted on its own (grey images: one channel)
        return [RandScaleIntensityd(image, factors=0.15, prob=prob, channel_wise=True),
                RandShiftIntensityd(image, offsets=0.1, prob=prob, channel_wise=True)]
    return [RandAdjustContrastd(image, gamma=(0.7, 1.5), prob=prob), RandGaussianNoised(image, std=0.02, prob=prob)]
