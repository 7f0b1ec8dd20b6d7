"""Metrics on hand-made masks whose values are worked out by hand (see each test's docstring)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from attn_seg.evaluation import case_metrics, class_metrics, fov_diagonal_mm

N, K = 10, 2  # cube side and offset, in voxels


def _cubes(axis: int, shape: tuple[int, ...] = (20, 20, 20)) -> tuple[np.ndarray, np.ndarray]:
    """Truth: a cube of side N at [3, 13); prediction: the same cube moved K voxels along ``axis``."""
    truth = np.zeros(shape, dtype=np.uint8)
    truth[tuple(slice(3, 3 + N) for _ in shape)] = 1
    return np.roll(truth, K, axis=axis), truth


@pytest.mark.parametrize(
    ("axis", "spacing", "hd95", "asd_sum", "nsd_hits"),
    [
        (0, (2.0, 1.0, 1.0), 4.0, 592.0, 372),
        (2, (1.0, 1.0, 3.0), 6.0, 828.0, 336),
    ],
)
def test_cubes_offset_by_k_voxels(
    axis: int, spacing: tuple[float, ...], hd95: float, asd_sum: float, nsd_hits: int
) -> None:
    """Two 10^3 cubes, one moved k = 2 voxels of size s along ``axis`` (other spacings 1 mm).

    Dice = (n - k) / n = 0.8; IoU = (n - k) / (n + k) = 2/3. Each cube's surface (voxels removed by one
    erosion) has 10^3 - 8^3 = 488 voxels; both directions are mirror images, so one suffices. Distances from
    the moved cube's surface to the fixed cube's surface:

    - far face (100 voxels, 2 layers outside the fixed cube): 2s;
    - ring of the side faces 1 layer outside (36 voxels): s;
    - rings of side faces inside the fixed cube's extent (8 x 36 = 288): 0, they lie on its faces;
    - near face interior (8 x 8 = 64), 2 layers inside: min(2s, m1, m2), m_i = distance to the side faces
      in {1, 2, 3, 4} (each twice per axis), so min(m1, m2) sums to 64 + 36 + 16 + 4 = 120 mm (s >= 2).

    HD95: the 95th percentile of 488 sorted values lies at rank 0.95 * 487 = 462.65, inside the top 100 (all
    2s), so HD95 = 2s. ASD = (100 * 2s + 36 * s + 120) / 488. NSD at 2 mm counts distances <= 2 mm:
    288 + 48 (near face, min <= 2: 64 - 16) + 36 (ring, only when s <= 2).
    """
    pred, truth = _cubes(axis)
    m = class_metrics(pred, truth, spacing, tolerance_mm=2.0)
    assert m.status == "ok"
    assert m.dice == pytest.approx(0.8, abs=1e-6)
    assert m.iou == pytest.approx(2 / 3, abs=1e-6)
    assert m.hd95_mm == pytest.approx(hd95, abs=1e-5)
    assert m.asd_mm == pytest.approx(asd_sum / 488, rel=1e-6)
    assert m.nsd == pytest.approx(nsd_hits / 488, rel=1e-6)
    voxel_ml = math.prod(spacing) / 1000
    assert m.volume_truth_ml == pytest.approx(1000 * voxel_ml)
    assert m.volume_diff_ml == pytest.approx(0.0)


def test_nsd_tolerance_counts_distances_up_to_it() -> None:
    """Same cubes, s = 2 mm on the shift axis, tolerance 1 mm: 288 zeros + 64 - 36 = 28 near-face ones."""
    pred, truth = _cubes(0)
    assert class_metrics(pred, truth, (2.0, 1.0, 1.0), tolerance_mm=1.0).nsd == pytest.approx(316 / 488, rel=1e-6)


def test_squares_in_2d() -> None:
    """2D: 10 x 10 squares moved 2 pixels of 2 mm along x; 100 - 64 = 36 edge pixels per square.

    Distances: far edge 10 x 4 mm, 2 ring pixels x 2 mm, 16 zeros, near edge interior 8 pixels of
    min(4, {1, 2, 3, 4, 4, 3, 2, 1}) = 20 mm: ASD = (40 + 4 + 20) / 36 = 16/9; HD95 rank 0.95 * 35 = 33.25 lies
    in the top 10 (4 mm).
    """
    pred, truth = _cubes(0, shape=(20, 20))
    m = class_metrics(pred, truth, (2.0, 1.0))
    assert m.dice == pytest.approx(0.8, abs=1e-6)
    assert m.hd95_mm == pytest.approx(4.0, abs=1e-5)
    assert m.asd_mm == pytest.approx(16 / 9, rel=1e-6)
    assert m.volume_truth_ml == pytest.approx(100 * 2.0 / 1000)


def test_hd95_ignores_one_distant_voxel() -> None:
    """A perfect cube plus one stray voxel 6 mm beyond its face (1 mm voxels).

    Prediction surface: 488 zeros and one 6 mm (the stray voxel is its own surface); truth surface: 488 zeros.
    HD95 = 0 (the 95th percentile of the first set is 0); ASD = 6 / 977; Dice = 2000 / 2001; NSD = 976 / 977;
    volume difference +1 voxel = +0.001 ml.
    """
    _, truth = _cubes(0)
    pred = truth.copy()
    pred[18, 8, 8] = 1
    m = class_metrics(pred, truth, (1.0, 1.0, 1.0))
    assert m.hd95_mm == pytest.approx(0.0, abs=1e-6)
    assert m.asd_mm == pytest.approx(6 / 977, rel=1e-6)
    assert m.dice == pytest.approx(2000 / 2001, rel=1e-6)
    assert m.nsd == pytest.approx(976 / 977, rel=1e-6)
    assert m.volume_diff_ml == pytest.approx(0.001)


def test_empty_masks_follow_the_documented_convention() -> None:
    """Both empty: perfect; one empty: Dice 0, NSD 0, distances = field-of-view diagonal, no NaN."""
    _, truth = _cubes(0)
    empty = np.zeros_like(truth)
    spacing = (2.0, 1.0, 1.0)
    diagonal = math.sqrt(40.0**2 + 20.0**2 + 20.0**2)
    assert fov_diagonal_mm(truth.shape, spacing) == pytest.approx(diagonal)
    both = class_metrics(empty, empty, spacing)
    assert (both.status, both.dice, both.iou, both.hd95_mm, both.asd_mm, both.nsd) == ("both_empty", 1, 1, 0, 0, 1)
    missed = class_metrics(empty, truth, spacing)
    assert (missed.status, missed.dice, missed.iou, missed.nsd) == ("pred_empty", 0, 0, 0)
    assert missed.hd95_mm == missed.asd_mm == pytest.approx(diagonal)
    assert missed.volume_diff_ml == pytest.approx(-2.0)
    false_positive = class_metrics(truth, empty, spacing, empty_distance_mm=100.0)
    assert false_positive.status == "truth_empty"
    assert (false_positive.hd95_mm, false_positive.asd_mm, false_positive.dice) == (100.0, 100.0, 0.0)
    assert false_positive.volume_diff_ml == pytest.approx(2.0)


def test_case_metrics_scores_each_class_of_a_label_map() -> None:
    pred, truth = _cubes(0)
    pred_map = pred.copy()
    truth_map = truth.copy()
    truth_map[15:18, 15:18, 15:18] = 2  # class 2 only in the truth: missed
    out = case_metrics(pred_map, truth_map, (1.0, 1.0, 1.0), {1: "organ", 2: "lesion", 3: "vessel"})
    assert list(out) == [1, 2, 3]
    assert out[1].dice == pytest.approx(0.8, abs=1e-6)
    assert out[2].status == "pred_empty"
    assert out[3].status == "both_empty"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pred": np.zeros((4, 4, 4)), "truth": np.zeros((4, 4, 5))}, "shape"),
        ({"pred": np.zeros(4), "truth": np.zeros(4)}, "2D or 3D"),
        ({"spacing": (1.0, 1.0)}, "spacing"),
        ({"spacing": (1.0, 0.0, 1.0)}, "spacing"),
        ({"tolerance_mm": -1.0}, "tolerance_mm"),
    ],
)
def test_invalid_arguments(kwargs: dict, match: str) -> None:
    args = {"pred": np.zeros((4, 4, 4)), "truth": np.zeros((4, 4, 4)), "spacing": (1.0, 1.0, 1.0)}
    args.update(kwargs)
    tolerance = args.pop("tolerance_mm", 2.0)
    with pytest.raises(ValueError, match=match):
        class_metrics(args["pred"], args["truth"], args["spacing"], tolerance_mm=tolerance)
