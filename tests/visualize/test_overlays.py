"""Overlays and slice orientation, checked pixel by pixel."""

from __future__ import annotations

import numpy as np
import pytest

from attn_seg.visualize import (
    CT_WINDOW,
    class_colour,
    overlay_heatmap,
    overlay_labels,
    slice_through,
    to_ras,
    view,
    view_aspect,
    window,
)


def test_overlay_labels_blends_class_colours_only_where_labelled() -> None:
    grey = np.full((4, 5), 0.2, dtype=np.float32)
    labels = np.zeros((4, 5), dtype=np.int64)
    labels[1, 1:3], labels[3, 4] = 1, 2
    rgb = overlay_labels(grey, labels, alpha=0.5)
    assert rgb.shape == (4, 5, 3)
    np.testing.assert_allclose(rgb[1, 1], 0.5 * 0.2 + 0.5 * np.asarray(class_colour(1)), atol=1e-6)
    np.testing.assert_allclose(rgb[3, 4], 0.5 * 0.2 + 0.5 * np.asarray(class_colour(2)), atol=1e-6)
    np.testing.assert_allclose(rgb[labels == 0], 0.2, atol=1e-6)


def test_overlay_heatmap_is_more_opaque_where_hot() -> None:
    grey = np.full((1, 2), 0.5, dtype=np.float32)
    rgb = overlay_heatmap(grey, np.asarray([[0.0, 1.0]]), cmap="gray", max_alpha=0.7)
    # "gray" maps heat h to grey h: 0.75 * 0.5 + 0.25 * 0 at h = 0, 0.3 * 0.5 + 0.7 * 1 at h = 1.
    np.testing.assert_allclose(rgb[0, 0], 0.375, atol=1e-6)
    np.testing.assert_allclose(rgb[0, 1], 0.85, atol=1e-6)


def test_views_are_in_radiological_order() -> None:
    """A marker at the patient's right-anterior-superior corner (LPS-stored volume) shows where a reader expects."""
    volume = np.zeros((4, 5, 6))
    volume[0, 0, 5] = 1  # LPS storage: voxel x = 0 is the most right, y = 0 the most anterior; z = 5 superior
    affine = np.diag([-2.0, -1.0, 3.0, 1.0])
    ras, spacing = to_ras(volume, affine)
    assert spacing == (2.0, 1.0, 3.0)
    assert ras[3, 4, 5] == 1
    axial = view(ras, "axial", 5)
    assert axial.shape == (5, 4)
    assert axial[0, 0] == 1
    coronal = view(ras, "coronal", 4)
    assert coronal.shape == (6, 4)
    assert coronal[0, 0] == 1
    sagittal = view(ras, "sagittal", 3)
    assert sagittal.shape == (6, 5)
    assert sagittal[0, 0] == 1
    assert view_aspect(spacing, "axial") == 0.5
    assert view_aspect(spacing, "coronal") == 1.5
    assert view_aspect(spacing, "sagittal") == 3.0


def test_slice_through_takes_the_fullest_slice() -> None:
    mask = np.zeros((6, 6, 6), dtype=bool)
    mask[1:3, 1:4, 4] = True
    mask[2, 2, 1] = True
    assert slice_through(mask, 2) == 4
    assert slice_through(np.zeros((6, 6, 7), dtype=bool), 2) == 3


def test_window_uses_a_soft_tissue_window_for_ct() -> None:
    ct = np.asarray([-1000.0, CT_WINDOW[0], 50.0, CT_WINDOW[1], 900.0])
    np.testing.assert_allclose(window(ct, ct.shape), [0.0, 0.0, 0.5, 1.0, 1.0])
    assert window(None, (2, 3)).shape == (2, 3)
    with pytest.raises(ValueError, match="view name"):
        view(np.zeros((2, 2, 2)), "oblique", 0)
