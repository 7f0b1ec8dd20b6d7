"""Random patch sampling for training: around labels (positive/negative), by class, or 2D slices of volumes."""

from __future__ import annotations

from collections.abc import Sequence

from monai.transforms import MapTransform, RandCropByLabelClassesd, RandCropByPosNegLabeld, SpatialPadd, SqueezeDimd
from monai.utils import look_up_option

__all__ = ["SAMPLING_MODES", "patch_sampling", "slice_sampling"]

#: ``"posneg"``: patches centred on foreground ``pos`` times for ``neg`` times background;
#: ``"classes"``: patch centres drawn per class with ``ratios`` (rare classes get patches too).
SAMPLING_MODES = ("posneg", "classes")


def patch_sampling(
    roi_size: Sequence[int],
    *,
    mode: str = "posneg",
    num_samples: int = 2,
    pos: float = 2.0,
    neg: float = 1.0,
    num_classes: int | None = None,
    ratios: Sequence[float] | None = None,
    keys: Sequence[str] = ("image", "label"),
) -> list[MapTransform]:
    """Pad to at least ``roi_size``, then draw ``num_samples`` patches per case.

    Args:
        roi_size: patch size per spatial axis.
        mode: one of :data:`SAMPLING_MODES`.
        num_samples: patches per case and epoch.
        pos: weight of foreground-centred patches (``"posneg"``).
        neg: weight of background-centred patches (``"posneg"``).
        num_classes: classes including background (``"classes"``; needed unless ``ratios`` is given).
        ratios: relative frequency of each class as patch centre (``"classes"``); default equal.
        keys: case keys; ``"label"`` must be one of them.

    Returns:
        ``[SpatialPadd, RandCropByPosNegLabeld | RandCropByLabelClassesd]``.

    Raises:
        ValueError: when an argument is invalid.
    """
    chosen = look_up_option(mode, SAMPLING_MODES)
    if num_samples < 1:
        raise ValueError(f"`num_samples` must be at least 1, got {num_samples!r}")
    if "label" not in keys:
        raise ValueError(f"`keys` must include 'label' for patch sampling, got {list(keys)!r}")
    keys = list(keys)
    steps: list[MapTransform] = [SpatialPadd(keys, spatial_size=list(roi_size))]
    if chosen == "posneg":
        steps.append(RandCropByPosNegLabeld(keys, "label", list(roi_size), pos=pos, neg=neg, num_samples=num_samples))
        return steps
    if ratios is None and num_classes is None:
        raise ValueError("mode='classes' needs `num_classes` or `ratios`")
    steps.append(
        RandCropByLabelClassesd(
            keys, "label", list(roi_size), ratios=None if ratios is None else list(ratios),
            num_classes=num_classes, num_samples=num_samples, warn=False,
        )
    )
    return steps


def slice_sampling(
    roi_size: Sequence[int],
    *,
    axis: int = 2,
    num_samples: int = 4,
    pos: float = 1.0,
    neg: float = 1.0,
    keys: Sequence[str] = ("image", "label"),
) -> list[MapTransform]:
    """2D training on 3D volumes: draw 2D patches from slices across ``axis``, foreground-weighted.

    Put it after a 3D preset (``spatial_dims=3``); the patches come out as ``(C, H, W)``, ready for a 2D net.
    At inference use :func:`attn_seg.transforms.slice_inferer` to predict slice by slice and stack the result.

    Args:
        roi_size: 2D patch size ``(H, W)`` over the two axes other than ``axis``.
        axis: the spatial axis the slices cut across (2: axial slices of a RAS volume).
        num_samples: slices drawn per volume and epoch.
        pos: weight of slices centred on foreground.
        neg: weight of slices centred on background.
        keys: case keys.

    Returns:
        ``[SpatialPadd, RandCropByPosNegLabeld, SqueezeDimd]`` with a patch one voxel thick across ``axis``.

    Raises:
        ValueError: when ``roi_size`` is not 2D or ``axis`` is not 0, 1 or 2.
    """
    if len(roi_size) != 2:
        raise ValueError(f"`roi_size` must be a 2D patch size (H, W), got {list(roi_size)!r}")
    if axis not in (0, 1, 2):
        raise ValueError(f"`axis` must be 0, 1 or 2 (a spatial axis of a volume), got {axis!r}")
    size = list(roi_size)
    size.insert(axis, 1)
    steps = patch_sampling(size, mode="posneg", num_samples=num_samples, pos=pos, neg=neg, keys=keys)
    return [*steps, SqueezeDimd(list(keys), dim=axis + 1)]
