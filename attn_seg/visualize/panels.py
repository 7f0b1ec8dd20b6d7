"""A case at a glance: image, truth and prediction overlays and attention heat maps on three slices.

Figures are built with matplotlib's object API (``matplotlib.figure.Figure``, rendered by Agg), never pyplot,
so nothing ever opens a window or needs a display.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from attn_seg.visualize.overlays import (
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

__all__ = ["HEATMAP_CMAP", "case_panel", "save_figure"]

#: Colour map of the attention heat maps.
HEATMAP_CMAP = "jet"
_TILE_INCHES = 2.4


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 100) -> Path:
    """Write a figure as PNG (Agg) and return the path."""
    path = Path(path)
    fig.savefig(path, dpi=dpi, facecolor=fig.get_facecolor())
    return path


def _edge_letters(ax: Axes, letters: tuple[str, str, str, str]) -> None:
    style: dict[str, Any] = {"transform": ax.transAxes, "color": "yellow", "fontsize": 7, "fontweight": "bold"}
    left, right, top, bottom = letters
    ax.text(0.02, 0.5, left, ha="left", va="center", **style)
    ax.text(0.98, 0.5, right, ha="right", va="center", **style)
    ax.text(0.5, 0.98, top, ha="center", va="top", **style)
    ax.text(0.5, 0.02, bottom, ha="center", va="bottom", **style)


def _view_height(shape: tuple[int, ...], spacing: tuple[float, ...], name: str) -> float:
    """Height over width of a view in millimetres (1.0 is square)."""
    if len(shape) == 2:
        return shape[1] * spacing[1] / (shape[0] * spacing[0])
    rows, cols = {"axial": (1, 0), "coronal": (2, 0), "sagittal": (2, 1)}[name]
    return shape[rows] * spacing[rows] / (shape[cols] * spacing[cols])


def _prepare(volumes: dict[str, np.ndarray], affine: np.ndarray) -> tuple[dict[str, np.ndarray], tuple[float, ...]]:
    """Turn every 3D volume to RAS+ order; 2D images stay as they are."""
    first = next(iter(volumes.values()))
    if first.ndim == 2:
        linear = affine[:-1, :-1]
        return volumes, tuple(float(s) for s in np.sqrt((linear**2).sum(axis=0)))[:2]
    out: dict[str, np.ndarray] = {}
    spacing: tuple[float, ...] = (1.0, 1.0, 1.0)
    for key, volume in volumes.items():
        out[key], spacing = to_ras(volume, affine)
    return out, spacing


def _tiles(vols: dict[str, np.ndarray], grey: np.ndarray, name: str, index: int, gates: int) -> list[np.ndarray]:
    """RGB tiles of one view: image, truth, prediction, then one heat map per gate."""
    g = view(grey, name, index)
    tiles = [np.repeat(g[..., None], 3, axis=-1), overlay_labels(g, view(vols["label"], name, index)),
             overlay_labels(g, view(vols["pred"], name, index))]
    tiles += [overlay_heatmap(g, view(vols[f"attn{k}"], name, index), HEATMAP_CMAP) for k in range(gates)]
    return tiles


def _legend(fig: Figure, class_names: Mapping[int, str], gates: int, heat_axes: list[Axes]) -> None:
    handles = [Patch(color=class_colour(v), label=f"{v}: {n}") for v, n in class_names.items()]
    handles.append(Patch(facecolor="none", edgecolor="white", label="truth outline (prediction column)"))
    legend = fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 4), fontsize=8,
                        facecolor="0.15", labelcolor="white", edgecolor="0.15")
    legend.set_label("legend")
    if gates:
        bar = fig.colorbar(ScalarMappable(Normalize(0.0, 1.0), HEATMAP_CMAP), ax=heat_axes, shrink=0.6)
        bar.set_label("attention coefficient", color="white")
        bar.ax.tick_params(colors="white", labelsize=8)
        bar.ax.set_label("colorbar")


def case_panel(
    label: np.ndarray,
    pred: np.ndarray,
    affine: np.ndarray,
    *,
    image: np.ndarray | None = None,
    attention: Sequence[np.ndarray] = (),
    class_names: Mapping[int, str] | None = None,
    title: str = "",
    gate_names: Sequence[str] | None = None,
) -> Figure:
    """Image, truth and prediction overlays and attention heat maps, on slices through the structure.

    Rows are the axial, coronal and sagittal slices through the most truth voxels (one row for 2D); columns are
    the image, the truth overlay, the prediction overlay (with the truth outlined in white) and one heat map per
    attention gate, finest first. Each axes carries the label ``"<column>/<view>"`` (``ax.get_label()``), e.g.
    ``"truth/axial"``, ``"gate 0/sagittal"``.

    Args:
        label: reference class map ``(X, Y[, Z])`` in file voxel order.
        pred: predicted class map, same shape.
        affine: voxel-to-world matrix (RAS+ mm) of the arrays.
        image: intensities, same shape (black background without it).
        attention: attention maps in ``[0, 1]``, same shape, finest gate first.
        class_names: names of the classes shown in the legend; default ``class <v>`` for the values present.
        title: figure title.
        gate_names: column titles of the attention maps (default ``gate 0``, ``gate 1``, ...), e.g. the skip level
            of each gate when not every level is gated.

    Returns:
        The figure (render it with :func:`save_figure`).

    Raises:
        ValueError: when the arrays' shapes differ or they are not 2D/3D, or ``gate_names`` does not name every
            map.
    """
    if gate_names is not None and len(gate_names) != len(attention):
        raise ValueError(f"`gate_names` needs one name per attention map ({len(attention)}), got {list(gate_names)}")
    shapes = {a.shape for a in (label, pred, *attention, *([image] if image is not None else []))}
    if len(shapes) != 1 or label.ndim not in (2, 3):
        raise ValueError(f"label, prediction, image and attention maps need one 2D/3D shape, got {sorted(shapes)}")
    vols = {"label": label, "pred": pred, "grey": window(image, label.shape)}
    vols.update({f"attn{k}": a for k, a in enumerate(attention)})
    vols, spacing = _prepare(vols, affine)
    names = dict(class_names) if class_names else {int(v): f"class {v}" for v in np.unique(label) if v}
    views = list(VIEWS) if label.ndim == 3 else ["image"]
    gate_columns = list(gate_names) if gate_names is not None else [f"gate {k}" for k in range(len(attention))]
    columns = ["image", "truth", "prediction", *gate_columns]
    shape = vols["label"].shape
    heights = [_view_height(shape, spacing, name) for name in views]
    fig = Figure(figsize=(_TILE_INCHES * len(columns) + (1.0 if attention else 0.2), _TILE_INCHES * sum(heights) + 1.0),
                 layout="constrained", facecolor="black")
    axes = fig.subplots(len(views), len(columns), squeeze=False, gridspec_kw={"height_ratios": heights})
    truth_mask = vols["label"] > 0 if (vols["label"] > 0).any() else vols["pred"] > 0
    for row, name in enumerate(views):
        axis = VIEWS[name][0] if label.ndim == 3 else 0
        index = slice_through(truth_mask, axis) if label.ndim == 3 else 0
        for col, tile in enumerate(_tiles(vols, vols["grey"], name, index, len(attention))):
            ax = axes[row, col]
            ax.imshow(tile, aspect=view_aspect(spacing, name) if label.ndim == 3 else 1.0, interpolation="nearest")
            ax.set_label(f"{columns[col]}/{name}")
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 2:
                for value in names:
                    truth = view(vols["label"], name, index) == value
                    if truth.any() and not truth.all():
                        ax.contour(truth, levels=[0.5], colors="white", linewidths=0.7)
            if row == 0:
                ax.set_title(columns[col], color="white", fontsize=10)
            if col == 0:
                ax.set_ylabel(f"{name} {index}" if label.ndim == 3 else "", color="white", fontsize=9)
            if label.ndim == 3:
                _edge_letters(ax, VIEWS[name][1])
    _legend(fig, names, len(attention), list(axes[:, 3:].ravel()))
    if title:
        fig.suptitle(title, color="white", fontsize=11)
    return fig
