"""Charts: metric box plots per class and training curves (loss, learning rate, validation Dice per class)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from attn_seg.visualize.overlays import class_colour

__all__ = ["box_plots", "curve_groups", "training_curves"]

_GROUPS = (
    ("loss", re.compile(r"loss", re.IGNORECASE), "iteration"),
    ("learning rate", re.compile(r"(^|[_/])(lr|learning_rate)($|[_/])", re.IGNORECASE), "step"),
    ("Dice and validation", re.compile(r"^val|dice", re.IGNORECASE), "epoch"),
)


def box_plots(
    values: Mapping[str, Mapping[str, Sequence[float]]], *, titles: Mapping[str, str] | None = None
) -> Figure:
    """One box plot per metric, a box per class with every case drawn as a dot.

    Args:
        values: ``{metric: {class name: [value per case]}}``, classes in legend order (class 1 first).
        titles: axis title per metric (default: the metric name).

    Returns:
        The figure.

    Raises:
        ValueError: when ``values`` is empty.
    """
    if not values:
        raise ValueError("`values` is empty: nothing to plot")
    fig = Figure(figsize=(3.0 * len(values), 3.4), layout="constrained")
    axes = fig.subplots(1, len(values), squeeze=False)[0]
    rng = np.random.default_rng(0)  # fixed jitter: the same data give the same picture
    for ax, (metric, per_class) in zip(axes, values.items(), strict=True):
        names = list(per_class)
        data = [np.asarray(per_class[n], dtype=float) for n in names]
        boxes = ax.boxplot(data, patch_artist=True, widths=0.55, showfliers=False)
        ax.set_xticks(range(1, len(names) + 1), names)
        for i, (box, points) in enumerate(zip(boxes["boxes"], data, strict=True)):
            box.set_facecolor((*class_colour(i + 1), 0.45))
            ax.scatter(i + 1 + rng.uniform(-0.12, 0.12, len(points)), points, s=12, color="black", zorder=3)
        ax.set_title((titles or {}).get(metric, metric), fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.set_label(metric)
    return fig


def curve_groups(tags: Sequence[str]) -> dict[str, list[str]]:
    """Sort scalar tags into the panels of :func:`training_curves`: loss, learning rate, Dice and validation, other."""
    groups: dict[str, list[str]] = {}
    for tag in sorted(tags):
        group = next((name for name, pattern, _ in _GROUPS if pattern.search(tag)), "other")
        groups.setdefault(group, []).append(tag)
    order = [name for name, _, _ in _GROUPS] + ["other"]
    return {name: groups[name] for name in order if name in groups}


def _smooth(values: np.ndarray, weight: float = 0.8) -> np.ndarray:
    """Exponential moving average, as TensorBoard draws it."""
    out, last = np.empty_like(values), values[0]
    for i, v in enumerate(values):
        last = weight * last + (1 - weight) * v
        out[i] = last
    return out


def _plot_group(ax: Axes, group: str, tags: list[str], scalars: Mapping[str, Sequence[tuple[int, float]]]) -> None:
    for i, tag in enumerate(tags):
        steps = np.asarray([s for s, _ in scalars[tag]], dtype=float)
        values = np.asarray([v for _, v in scalars[tag]], dtype=float)
        colour = f"C{i}"
        if group == "loss" and len(values) > 20:
            ax.plot(steps, values, color=colour, alpha=0.25, linewidth=0.8)
            ax.plot(steps, _smooth(values), color=colour, linewidth=1.5, label=f"{tag} (smoothed)")
        else:
            ax.plot(steps, values, color=colour, marker="o" if len(values) < 30 else None, markersize=3,
                    linewidth=1.5, label=tag)
    if group == "learning rate" and all(v > 0 for t in tags for _, v in scalars[t]):
        ax.set_yscale("log")
    ax.set_xlabel(next((x for name, _, x in _GROUPS if name == group), "step"))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(group, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_label(group)


def training_curves(scalars: Mapping[str, Sequence[tuple[int, float]]]) -> Figure:
    """Training curves: one panel per group of scalar tags (loss, learning rate, validation, other).

    Args:
        scalars: ``{tag: [(step, value), ...]}``, e.g. from :func:`attn_seg.evaluation.read_scalars`; every tag
            present is drawn, grouped by name (``*loss*``; ``lr``/``learning_rate``; ``val*`` or ``*dice*``; rest).

    Returns:
        The figure.

    Raises:
        ValueError: when no tag has any value.
    """
    present = {tag: points for tag, points in scalars.items() if len(points)}
    if not present:
        raise ValueError("no scalar values to plot (empty or missing logs)")
    groups = curve_groups(list(present))
    fig = Figure(figsize=(4.2 * len(groups), 3.3), layout="constrained")
    axes = fig.subplots(1, len(groups), squeeze=False)[0]
    for ax, (group, tags) in zip(axes, groups.items(), strict=True):
        _plot_group(ax, group, tags, present)
    return fig
