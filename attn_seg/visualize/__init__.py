"""Pictures: overlays of predictions and truth, attention heat maps, box plots, training and study charts (Agg)."""

from __future__ import annotations

from attn_seg.visualize.overlays import (
    CLASS_COLOURS,
    CT_WINDOW,
    VIEWS,
    class_colour,
    overlay_heatmap,
    overlay_labels,
    slice_through,
    to_ras,
    view,
    view_aspect,
    window,
)
from attn_seg.visualize.panels import HEATMAP_CMAP, case_panel, save_figure
from attn_seg.visualize.plots import box_plots, curve_groups, training_curves
from attn_seg.visualize.studies import metric_by_setting, validation_curves

__all__ = [
    "CLASS_COLOURS",
    "CT_WINDOW",
    "HEATMAP_CMAP",
    "VIEWS",
    "box_plots",
    "case_panel",
    "class_colour",
    "curve_groups",
    "metric_by_setting",
    "overlay_heatmap",
    "overlay_labels",
    "save_figure",
    "slice_through",
    "to_ras",
    "training_curves",
    "validation_curves",
    "view",
    "view_aspect",
    "window",
]
