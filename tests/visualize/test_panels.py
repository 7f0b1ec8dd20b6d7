"""Case panels, box plots and curves rendered to PNG and read back: non-blank, structure where it should be."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

from attn_seg.data import SyntheticSpec, make_case
from attn_seg.visualize import (
    box_plots,
    case_panel,
    curve_groups,
    metric_by_setting,
    save_figure,
    to_ras,
    training_curves,
    validation_curves,
    view,
)


def _tile(fig: Figure, png: np.ndarray, name: str) -> np.ndarray:
    """The pixels of the axes labelled ``name`` in the saved PNG (same dpi, no tight bounding box)."""
    ax = next(a for a in fig.axes if a.get_label() == name)
    box = ax.get_window_extent()
    height = png.shape[0]
    rows = slice(round(height - box.y1) + 1, round(height - box.y0) - 1)
    return png[rows, round(box.x0) + 1 : round(box.x1) - 1, :3]


def _red(rgb: np.ndarray) -> np.ndarray:
    return (rgb[..., 0] - rgb[..., 1] > 0.25) & (rgb[..., 0] - rgb[..., 2] > 0.25)


def _centroid(mask: np.ndarray) -> np.ndarray:
    return np.argwhere(mask).mean(axis=0) / np.asarray(mask.shape)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    case = make_case(np.random.default_rng(5), SyntheticSpec())
    heat = (case.label > 0).astype(np.float32)
    fig = case_panel(case.label, case.label, case.affine, image=case.image, attention=[heat, heat * 0.5],
                     class_names={1: "organ", 2: "lesion"}, title="test case")
    path = save_figure(fig, tmp_path_factory.mktemp("panel") / "panel.png")
    return case, fig, imread(path)


def test_panel_is_not_blank_and_has_all_tiles(rendered: tuple) -> None:
    _, fig, png = rendered
    assert png.std() > 0.1
    labels = {a.get_label() for a in fig.axes}
    for column in ("image", "truth", "prediction", "gate 0", "gate 1"):
        assert {f"{column}/axial", f"{column}/coronal", f"{column}/sagittal"} <= labels


@pytest.mark.parametrize("plane", ["axial", "coronal", "sagittal"])
def test_overlay_pixels_sit_where_the_label_is(rendered: tuple, plane: str) -> None:
    """Red (class 1) pixels cover the same share and centre of the truth tile as the organ does of its slice."""
    case, fig, png = rendered
    ras, _ = to_ras(case.label, case.affine)
    axis = {"axial": 2, "coronal": 1, "sagittal": 0}[plane]
    index = int(fig.axes[[a.get_label() for a in fig.axes].index(f"image/{plane}")].get_ylabel().split()[-1])
    assert index == int(np.argmax(np.count_nonzero(ras > 0, axis=tuple(a for a in range(3) if a != axis))))
    organ = view(ras, plane, index) == 1
    truth, image = _red(_tile(fig, png, f"truth/{plane}")), _red(_tile(fig, png, f"image/{plane}"))
    assert not image.any()
    assert truth.mean() == pytest.approx(organ.mean(), rel=0.15)
    np.testing.assert_allclose(_centroid(truth), _centroid(organ), atol=0.04)
    assert _red(_tile(fig, png, f"prediction/{plane}")).mean() == pytest.approx(organ.mean(), rel=0.2)


def test_attention_tiles_are_heat_coloured(rendered: tuple) -> None:
    """Gate 0 is 1 on the foreground (jet: dark red), 0 elsewhere; gate 1 is 0.5 there (jet: green, not red)."""
    case, fig, png = rendered
    ras, _ = to_ras(case.label, case.affine)
    index = int(fig.axes[[a.get_label() for a in fig.axes].index("image/axial")].get_ylabel().split()[-1])
    foreground = view(ras, "axial", index) > 0
    hot = _red(_tile(fig, png, "gate 0/axial"))
    assert hot.mean() == pytest.approx(foreground.mean(), rel=0.15)
    np.testing.assert_allclose(_centroid(hot), _centroid(foreground), atol=0.04)
    assert _red(_tile(fig, png, "gate 1/axial")).mean() < 0.01


def test_panel_without_image_or_attention_and_in_2d(tmp_path: Path) -> None:
    case = make_case(np.random.default_rng(1), SyntheticSpec(spatial_dims=2, size_mm=(96.0, 80.0)))
    affine = np.eye(3)
    fig = case_panel(case.label, np.zeros_like(case.label), affine)
    assert {a.get_label() for a in fig.axes} >= {"image/image", "truth/image", "prediction/image"}
    png = imread(save_figure(fig, tmp_path / "p.png"))
    assert _red(_tile(fig, png, "truth/image")).mean() == pytest.approx((case.label == 1).mean(), rel=0.15)
    assert not _red(_tile(fig, png, "prediction/image")).any()
    with pytest.raises(ValueError, match="one 2D/3D shape"):
        case_panel(case.label, case.label[:-1], affine)


def test_box_plots_and_curves_are_not_blank(tmp_path: Path) -> None:
    boxes = box_plots({"dice": {"organ": [0.9, 0.8, 0.95], "lesion": [0.5, 0.7]}, "hd95_mm": {"organ": [1, 2]}})
    assert [a.get_label() for a in boxes.axes] == ["dice", "hd95_mm"]
    assert imread(save_figure(boxes, tmp_path / "b.png")).std() > 0.05
    scalars = {"train_loss": [(i, 1.0 / i) for i in range(1, 40)], "lr": [(1, 0.01), (2, 0.005)],
               "val_mean_dice": [(1, 0.3), (2, 0.6)], "val_dice_class1": [(1, 0.4), (2, 0.7)], "misc": [(1, 2.0)]}
    curves = training_curves(scalars)
    assert [a.get_label() for a in curves.axes] == ["loss", "learning rate", "Dice and validation", "other"]
    assert imread(save_figure(curves, tmp_path / "c.png")).std() > 0.05
    assert curve_groups(["val_dice_class2", "learning_rate", "train_loss"]) == {
        "loss": ["train_loss"], "learning rate": ["learning_rate"], "Dice and validation": ["val_dice_class2"]}
    with pytest.raises(ValueError, match="no scalar values"):
        training_curves({"train_loss": []})


def test_gate_names_title_the_attention_columns() -> None:
    case = make_case(np.random.default_rng(1), SyntheticSpec(spatial_dims=2, size_mm=(64.0, 64.0)))
    heat = np.full(case.label.shape, 0.5, dtype=np.float32)
    fig = case_panel(case.label, case.label, np.eye(3), attention=[heat, heat], gate_names=["level 1", "level 3"])
    labels = {a.get_label() for a in fig.axes}
    assert {"level 1/image", "level 3/image"} <= labels
    assert "gate 0/image" not in labels
    with pytest.raises(ValueError, match=r"`gate_names` needs one name per attention map \(2\)"):
        case_panel(case.label, case.label, np.eye(3), attention=[heat, heat], gate_names=["level 1"])


def test_study_charts_are_not_blank(tmp_path: Path) -> None:
    rows = [{"setting": s, "last_val_mean_dice": v} for s, v in [("a", 0.8), ("a", 0.82), ("b", 0.9)]]
    fig = metric_by_setting(rows, ["last_val_mean_dice"])
    assert [a.get_label() for a in fig.axes] == ["last_val_mean_dice"]
    assert imread(save_figure(fig, tmp_path / "m.png")).std() > 0.05
    history = [{"epoch": e, "val_mean_dice": 0.5 + 0.1 * e} for e in range(1, 4)]
    curves = validation_curves({0: ("a", history), 1: ("b", history[:2]), 2: ("b", [])}, "val_mean_dice")
    assert [t.get_text() for t in curves.axes[0].get_legend().get_texts()] == ["a", "b"]
    assert imread(save_figure(curves, tmp_path / "v.png")).std() > 0.05
    with pytest.raises(ValueError, match="nothing to plot"):
        metric_by_setting([], ["x"])
