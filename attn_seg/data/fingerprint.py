"""Dataset fingerprint, after nnU-Net's: what the data look like, and the patch size and spacing it suggests.

The fingerprint summarises an :class:`~attn_seg.data.validation.Inspection`: case count, shapes, spacings,
orientations, foreground intensity percentiles, label values and class balance. Its suggestions follow nnU-Net's
rules of thumb in a CPU-sized form: the target spacing is the median spacing; the patch (``roi_size``) is the
median shape at that spacing, rounded down to a multiple of the network's total stride and shrunk (largest
axis first) until it holds at most ``max_patch_voxels`` voxels.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from attn_seg.data.validation import Inspection

__all__ = ["DEFAULT_MAX_PATCH_VOXELS", "fingerprint", "format_fingerprint", "suggest_roi_size"]

#: Patch-size caps that keep a batch of 2 patches trainable in a few GB of CPU memory.
DEFAULT_MAX_PATCH_VOXELS = {2: 512 * 512, 3: 96 * 96 * 64}
_PERCENTILES = (0.5, 5.0, 50.0, 95.0, 99.5)


def suggest_roi_size(shape: tuple[float, ...], *, divisor: int = 16, max_voxels: int) -> list[int]:
    """A patch size no larger than ``shape`` (except up to one ``divisor``), multiple of ``divisor``, capped.

    Args:
        shape: the typical image shape (voxels at the target spacing).
        divisor: the network's total stride; every axis becomes a multiple of it.
        max_voxels: the most voxels a patch may hold.

    Returns:
        One size per axis.

    Raises:
        ValueError: when ``divisor`` or ``max_voxels`` is not positive.
    """
    if divisor < 1 or max_voxels < divisor ** len(shape):
        raise ValueError(f"need divisor >= 1 and max_voxels >= divisor**{len(shape)}, got {divisor}, {max_voxels}")
    roi = [max(divisor, int(s // divisor) * divisor) for s in shape]
    while int(np.prod(roi)) > max_voxels:  # shrink the axis covering most of the image, keeping the aspect
        coverage = [r / max(s, 1.0) if r > divisor else -1.0 for r, s in zip(roi, shape, strict=True)]
        roi[int(np.argmax(coverage))] -= divisor
    return roi


def _axis_stats(values: np.ndarray) -> dict[str, list[float]]:
    return {
        "min": np.min(values, axis=0).tolist(),
        "median": np.median(values, axis=0).tolist(),
        "max": np.max(values, axis=0).tolist(),
    }


def _intensity(samples: list[np.ndarray]) -> dict[str, float]:
    voxels = np.concatenate(samples) if samples else np.zeros(0)
    if not voxels.size:
        return {}
    stats = {f"p{p:g}": float(v) for p, v in zip(_PERCENTILES, np.percentile(voxels, _PERCENTILES), strict=True)}
    stats.update(mean=float(voxels.mean()), std=float(voxels.std()), min=float(voxels.min()), max=float(voxels.max()))
    return stats


def _labels(inspection: Inspection) -> dict[str, Any]:
    voxels: Counter[int] = Counter()
    present: Counter[int] = Counter()
    for case in inspection.cases:
        voxels.update(case.label_counts)
        present.update(v for v, n in case.label_counts.items() if n)
    total = sum(voxels.values()) or 1
    return {
        "values": sorted(voxels),
        "voxel_fraction": {str(v): voxels[v] / total for v in sorted(voxels)},
        "cases_with_class": {str(v): present[v] for v in sorted(present)},
    }


def fingerprint(
    inspection: Inspection, *, divisor: int = 16, max_patch_voxels: int | None = None, preset: str | None = None
) -> dict[str, Any]:
    """Summarise the valid cases of an inspection and suggest ``pixdim`` and ``roi_size``.

    Args:
        inspection: the result of :func:`attn_seg.data.inspect_cases`.
        divisor: the network's total stride (``prod(strides)``); ``roi_size`` is a multiple of it.
        max_patch_voxels: cap on the patch size; default :data:`DEFAULT_MAX_PATCH_VOXELS` for the dimensionality.
        preset: ``"ct"`` adds a suggested HU window (foreground 0.5-99.5 percentiles, as nnU-Net clips CT).

    Returns:
        A JSON-serialisable dict.
    """
    dims = inspection.spatial_dims
    result: dict[str, Any] = {
        "num_cases": len(inspection.cases),
        "num_problems": len(inspection.problems),
        "spatial_dims": dims,
    }
    if not inspection.cases:
        return result
    shapes = np.array([c.shape for c in inspection.cases], dtype=float)
    spacings = np.array([c.spacing for c in inspection.cases], dtype=float)
    target = np.median(spacings, axis=0)
    resampled = np.median(shapes * spacings / target, axis=0)
    cap = max_patch_voxels or DEFAULT_MAX_PATCH_VOXELS[dims]
    intensity = _intensity([c.foreground for c in inspection.cases])
    result.update(
        shape=_axis_stats(shapes),
        spacing=_axis_stats(spacings),
        orientations=dict(Counter(c.orientation for c in inspection.cases).most_common()),
        channels=sorted({c.channels for c in inspection.cases}),
        foreground_intensity=intensity,
        labels=_labels(inspection),
        suggested={
            "pixdim": [round(float(s), 4) for s in target],
            "roi_size": suggest_roi_size(tuple(resampled), divisor=divisor, max_voxels=cap),
            "anisotropic": bool(target.max() > 3 * target.min()),
        },
    )
    if preset == "ct" and intensity:
        result["suggested"]["hu_window"] = [round(intensity["p0.5"], 1), round(intensity["p99.5"], 1)]
    return result


def _row(values: list[float]) -> str:
    return " x ".join(f"{v:g}" for v in values)


def format_fingerprint(fp: dict[str, Any]) -> str:
    """The fingerprint as a few readable lines, as ``attn-seg check-data`` prints it."""
    lines = [f"cases: {fp['num_cases']} valid, {fp['num_problems']} problem(s); {fp['spatial_dims']}D"]
    if not fp["num_cases"]:
        return "\n".join(lines)
    for key, unit in (("shape", "voxels"), ("spacing", "mm")):
        stats = fp[key]
        lines.append(
            f"{key} ({unit}): median {_row(stats['median'])}, min {_row(stats['min'])}, max {_row(stats['max'])}"
        )
    lines.append("orientations: " + ", ".join(f"{k} x{n}" for k, n in fp["orientations"].items()))
    if fp["foreground_intensity"]:
        it = fp["foreground_intensity"]
        pct = ", ".join(f"{k} {it[k]:.4g}" for k in ("p0.5", "p5", "p50", "p95", "p99.5"))
        lines.append(f"foreground intensity: {pct}; mean {it['mean']:.4g}, std {it['std']:.4g}")
    labels = fp["labels"]
    if labels["values"]:
        balance = ", ".join(f"{v}: {100 * f:.3g}%" for v, f in labels["voxel_fraction"].items())
        lines.append(f"label values: {labels['values']}; voxels per class: {balance}")
        lines.append("cases containing class: " + ", ".join(f"{v}: {n}" for v, n in labels["cases_with_class"].items()))
    s = fp["suggested"]
    text = f"suggested: pixdim {s['pixdim']}, roi_size {s['roi_size']}"
    if "hu_window" in s:
        text += f", hu_window {s['hu_window']}"
    if s["anisotropic"]:
        text += " (anisotropic spacing: consider a 2D net on slices, or pixdim nearer the finest axis)"
    lines.append(text)
    return "\n".join(lines)
