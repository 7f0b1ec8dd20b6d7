"""Per-class segmentation metrics in millimetres: Dice, IoU, HD95, ASD, normalised surface Dice, volumes.

Overlap metrics come from MONAI (``compute_dice``, ``compute_iou``), distances from MONAI's
``compute_hausdorff_distance(percentile=95)``, ``compute_average_surface_distance`` and ``compute_surface_dice``,
all with the voxel spacing, so every distance is in millimetres. MONAI's definitions, which the tests check by
hand:

- the *surface* of a mask is its voxels removed by one binary erosion (6-connected in 3D, 4-connected in 2D;
  the image border counts as outside);
- a distance is the Euclidean distance (in mm) from a surface voxel centre to the nearest surface voxel centre
  of the other mask;
- HD95 is symmetric: the larger of the two directed 95th percentiles (linear interpolation);
- ASD is symmetric: the mean of both directed distance sets pooled together;
- NSD at tolerance ``t``: surface voxels of both masks within ``t`` mm of the other surface, over all surface
  voxels of both masks.

**Empty masks** never give NaN or infinity; each case and class carries a ``status``:

========================  ===================  ====  ====  ===============  ====  =============================
status                    truth / prediction   Dice  IoU   HD95, ASD        NSD   volume difference
========================  ===================  ====  ====  ===============  ====  =============================
``ok``                    both present         computed                           pred - truth
``both_empty``            both empty           1.0   1.0   0.0              1.0   0.0
``pred_empty`` (missed)   truth only           0.0   0.0   FOV diagonal     0.0   - truth volume
``truth_empty`` (false +) prediction only      0.0   0.0   FOV diagonal     0.0   + prediction volume
========================  ===================  ====  ====  ===============  ====  =============================

"FOV diagonal" is the diagonal of the image's field of view in mm (``sqrt(sum((n_i * s_i)^2))``), the worst
distance the image allows, unless ``empty_distance_mm`` gives another value.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from monai.metrics import (
    compute_average_surface_distance,
    compute_dice,
    compute_hausdorff_distance,
    compute_iou,
    compute_surface_dice,
)

__all__ = [
    "METRIC_NAMES",
    "STATUSES",
    "ClassMetrics",
    "case_metrics",
    "class_metrics",
    "fov_diagonal_mm",
]

#: Metric fields of :class:`ClassMetrics`, in table order.
METRIC_NAMES = ("dice", "iou", "hd95_mm", "asd_mm", "nsd", "volume_truth_ml", "volume_pred_ml", "volume_diff_ml")
#: Status of a case and class: both masks present, both empty, prediction empty, truth empty.
STATUSES = ("ok", "both_empty", "pred_empty", "truth_empty")


@dataclass(frozen=True)
class ClassMetrics:
    """Metrics of one class in one case (distances in mm, volumes in millilitres).

    Attributes:
        dice: Dice coefficient.
        iou: intersection over union (Jaccard index).
        hd95_mm: symmetric 95th-percentile Hausdorff distance.
        asd_mm: symmetric average surface distance.
        nsd: normalised surface Dice at the tolerance given to :func:`class_metrics`.
        volume_truth_ml: volume of the reference mask.
        volume_pred_ml: volume of the predicted mask.
        volume_diff_ml: ``volume_pred_ml - volume_truth_ml``.
        status: one of :data:`STATUSES` (see the module docstring for the values it implies).
    """

    dice: float
    iou: float
    hd95_mm: float
    asd_mm: float
    nsd: float
    volume_truth_ml: float
    volume_pred_ml: float
    volume_diff_ml: float
    status: str

    def as_dict(self) -> dict[str, float | str]:
        """The fields as a plain dict."""
        return asdict(self)


def fov_diagonal_mm(shape: Sequence[int], spacing: Sequence[float]) -> float:
    """Diagonal of an image's field of view in mm: ``sqrt(sum((n_i * s_i)^2))``."""
    return float(math.sqrt(sum((n * s) ** 2 for n, s in zip(shape, spacing, strict=True))))


def _check_inputs(pred: np.ndarray, truth: np.ndarray, spacing: Sequence[float], tolerance_mm: float) -> None:
    if pred.shape != truth.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from truth shape {truth.shape}")
    if pred.ndim not in (2, 3):
        raise ValueError(f"masks must be 2D or 3D, got {pred.ndim} dimensions (shape {pred.shape})")
    if len(spacing) != pred.ndim or min(spacing) <= 0:
        raise ValueError(f"`spacing` needs {pred.ndim} positive values (mm per voxel), got {tuple(spacing)}")
    if not (math.isfinite(tolerance_mm) and tolerance_mm >= 0):
        raise ValueError(f"`tolerance_mm` must be a finite distance >= 0, got {tolerance_mm!r}")


def _distances(p: torch.Tensor, y: torch.Tensor, spacing: list[float], tolerance_mm: float) -> tuple[float, ...]:
    """HD95, ASD and NSD of two non-empty ``(1, 1, *S)`` masks, through MONAI."""
    with warnings.catch_warnings():  # MONAI 1.5+ passes its own deprecated `always_return_as_numpy` internally
        warnings.filterwarnings("ignore", message=".*always_return_as_numpy.*", category=FutureWarning)
        hd95 = compute_hausdorff_distance(p, y, include_background=True, percentile=95, spacing=spacing)
        asd = compute_average_surface_distance(p, y, include_background=True, symmetric=True, spacing=spacing)
        nsd = compute_surface_dice(p, y, [tolerance_mm], include_background=True, spacing=spacing)
    return float(hd95[0, 0]), float(asd[0, 0]), float(nsd[0, 0])


def class_metrics(
    pred: np.ndarray,
    truth: np.ndarray,
    spacing: Sequence[float],
    *,
    tolerance_mm: float = 2.0,
    empty_distance_mm: float | None = None,
) -> ClassMetrics:
    """Metrics of one binary mask against its reference.

    Args:
        pred: predicted mask, shape ``(X, Y[, Z])``; non-zero is foreground.
        truth: reference mask, same shape.
        spacing: voxel size in mm along each axis.
        tolerance_mm: distance within which a surface counts as correct for NSD.
        empty_distance_mm: HD95 and ASD when exactly one mask is empty; ``None``: the field-of-view diagonal.

    Returns:
        The metrics, with the empty-mask conventions of the module docstring.

    Raises:
        ValueError: when shapes differ, the masks are not 2D/3D, or spacing or tolerance are invalid.
    """
    _check_inputs(pred, truth, spacing, tolerance_mm)
    p_mask, y_mask = np.asarray(pred) != 0, np.asarray(truth) != 0
    voxel_ml = float(np.prod(spacing)) / 1000.0
    v_pred, v_truth = float(p_mask.sum()) * voxel_ml, float(y_mask.sum()) * voxel_ml
    volumes = {"volume_truth_ml": v_truth, "volume_pred_ml": v_pred, "volume_diff_ml": v_pred - v_truth}
    if not p_mask.any() or not y_mask.any():
        if not p_mask.any() and not y_mask.any():
            return ClassMetrics(1.0, 1.0, 0.0, 0.0, 1.0, **volumes, status="both_empty")
        far = fov_diagonal_mm(p_mask.shape, spacing) if empty_distance_mm is None else float(empty_distance_mm)
        status = "pred_empty" if y_mask.any() else "truth_empty"
        return ClassMetrics(0.0, 0.0, far, far, 0.0, **volumes, status=status)
    p = torch.as_tensor(p_mask)[None, None].float()
    y = torch.as_tensor(y_mask)[None, None].float()
    dice = float(compute_dice(p, y, include_background=True)[0, 0])
    iou = float(compute_iou(p, y, include_background=True)[0, 0])
    hd95, asd, nsd = _distances(p, y, [float(s) for s in spacing], tolerance_mm)
    return ClassMetrics(dice, iou, hd95, asd, nsd, **volumes, status="ok")


def case_metrics(
    pred: np.ndarray,
    truth: np.ndarray,
    spacing: Sequence[float],
    classes: Sequence[int] | Mapping[int, str],
    *,
    tolerance_mm: float = 2.0,
    empty_distance_mm: float | None = None,
) -> dict[int, ClassMetrics]:
    """Metrics of every requested class of a label map against its reference label map.

    Args:
        pred: predicted class map, shape ``(X, Y[, Z])``, integer values.
        truth: reference class map, same shape.
        spacing: voxel size in mm along each axis.
        classes: label values to score (e.g. ``[1, 2]``), or a mapping whose keys are the values.
        tolerance_mm: NSD tolerance in mm.
        empty_distance_mm: HD95 and ASD when exactly one mask is empty; ``None``: the field-of-view diagonal.

    Returns:
        ``{class value: ClassMetrics}`` in the order of ``classes``.

    Raises:
        ValueError: as :func:`class_metrics`, or when ``classes`` is empty.
    """
    values = list(classes)
    if not values:
        raise ValueError("`classes` is empty; give the label values to score, e.g. [1, 2]")
    return {
        int(c): class_metrics(pred == c, truth == c, spacing, tolerance_mm=tolerance_mm,
                              empty_distance_mm=empty_distance_mm)
        for c in values
    }
