"""Charts of a study: a metric per setting (every trial a dot) and validation curves coloured by setting."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

__all__ = ["metric_by_setting", "validation_curves"]

_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive",
            "tab:cyan", "tab:gray")


def _settings(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    names: list[str] = []
    for row in rows:
        if str(row["setting"]) not in names:
            names.append(str(row["setting"]))
    return names


def metric_by_setting(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> Figure:
    """One panel per metric column: a dot per trial and the mean (bar) per setting.

    Args:
        rows: trial rows with ``"setting"`` and the ``columns``.
        columns: metric names to plot, e.g. ``["last_val_mean_dice"]``.

    Raises:
        ValueError: when there are no rows or columns.
    """
    if not rows or not columns:
        raise ValueError(f"nothing to plot: {len(rows)} rows, columns {list(columns)}")
    names = _settings(rows)
    fig = Figure(figsize=(max(4.0, 1.1 * len(names) + 1.5) * len(columns), 3.8), layout="constrained")
    axes = fig.subplots(1, len(columns), squeeze=False)[0]
    rng = np.random.default_rng(0)  # fixed jitter: the same results give the same picture
    for ax, column in zip(axes, columns, strict=True):
        for i, name in enumerate(names):
            values = [float(r[column]) for r in rows if str(r["setting"]) == name and r.get(column) is not None]
            if not values:
                continue
            ax.scatter(i + rng.uniform(-0.1, 0.1, len(values)), values, s=16, color="black", zorder=3)
            ax.hlines(np.mean(values), i - 0.3, i + 0.3, color=_COLOURS[i % len(_COLOURS)], linewidth=2.5)
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=7)
        ax.set_title(column, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.set_label(column)
    return fig


def validation_curves(curves: Mapping[int, tuple[str, Sequence[Mapping[str, Any]]]], metric: str) -> Figure:
    """Validation ``metric`` against epoch, a line per trial, one colour per setting.

    Args:
        curves: ``{trial number: (setting, history rows)}``; rows without ``metric`` are skipped.
        metric: the history key to draw, e.g. ``"val_mean_dice"``.
    """
    fig = Figure(figsize=(7.0, 4.0), layout="constrained")
    ax = fig.subplots()
    names = _settings([{"setting": s} for s, _ in curves.values()])
    drawn: set[str] = set()
    for setting, history in curves.values():
        points = [(row["epoch"], row[metric]) for row in history if metric in row]
        if not points:
            continue
        epochs, values = zip(*points, strict=True)
        colour = _COLOURS[names.index(setting) % len(_COLOURS)]
        ax.plot(epochs, values, color=colour, alpha=0.8, linewidth=1.2, label=None if setting in drawn else setting)
        drawn.add(setting)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(fontsize=7, loc="lower right")
    return fig
