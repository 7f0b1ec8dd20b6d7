"""Score paired cases, summarise per class, and write ``metrics.csv`` and ``summary.json``."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from attn_seg.data.sources import class_names_from_dataset
from attn_seg.evaluation.cases import CaseFiles, load_case
from attn_seg.evaluation.metrics import METRIC_NAMES, STATUSES, case_metrics

__all__ = [
    "CSV_COLUMNS",
    "case_scores",
    "class_names_from_dataset",
    "evaluate_cases",
    "infer_classes",
    "summarise",
    "write_metrics_csv",
    "write_summary_json",
]

#: Columns of ``metrics.csv``: one row per case and class.
CSV_COLUMNS = ("case", "class", "class_name", *METRIC_NAMES, "status")


def infer_classes(cases: Sequence[CaseFiles]) -> dict[int, str]:
    """Classes ``1..K`` where ``K`` is the largest value in any label or prediction, named ``class <v>``.

    Raises:
        ValueError: when every label and prediction is empty.
    """
    top = 0
    for files in cases:
        loaded = load_case(CaseFiles(files.case, files.pred, files.label))
        top = max(top, int(loaded.label.max(initial=0)), int(loaded.pred.max(initial=0)))
    if top == 0:
        raise ValueError("every label and prediction is empty (all 0); give the classes to score with --classes")
    return {v: f"class {v}" for v in range(1, top + 1)}


def evaluate_cases(
    cases: Sequence[CaseFiles],
    classes: Mapping[int, str],
    *,
    tolerance_mm: float = 2.0,
    empty_distance_mm: float | None = None,
) -> list[dict[str, Any]]:
    """Metrics of every case and class.

    Args:
        cases: paired files (see :func:`attn_seg.evaluation.pair_cases`).
        classes: ``{label value: name}`` of the classes to score.
        tolerance_mm: NSD tolerance in mm.
        empty_distance_mm: HD95/ASD when one mask is empty; ``None``: the field-of-view diagonal.

    Returns:
        One row per case and class with the keys of :data:`CSV_COLUMNS`.

    Raises:
        ValueError: when there are no cases or classes, or a case's geometry does not match.
    """
    if not cases or not classes:
        raise ValueError(f"nothing to evaluate: {len(cases)} case(s), {len(classes)} class(es)")
    rows = []
    for files in cases:
        loaded = load_case(CaseFiles(files.case, files.pred, files.label))
        scores = case_metrics(loaded.pred, loaded.label, loaded.spacing, classes, tolerance_mm=tolerance_mm,
                              empty_distance_mm=empty_distance_mm)
        for value, metrics in scores.items():
            rows.append({"case": files.case, "class": value, "class_name": classes[value], **metrics.as_dict()})
    return rows


def case_scores(rows: Sequence[Mapping[str, Any]], metric: str = "dice") -> dict[str, float]:
    """Mean of ``metric`` over the classes of each case: ``{case: score}``, in case order."""
    per_case: dict[str, list[float]] = {}
    for row in rows:
        per_case.setdefault(row["case"], []).append(float(row[metric]))
    return {case: float(np.mean(values)) for case, values in per_case.items()}


def _stats(values: np.ndarray) -> dict[str, float]:
    return {
        "mean": float(values.mean()),
        "median": float(np.median(values)),
        "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        "min": float(values.min()),
        "max": float(values.max()),
    }


def summarise(rows: Sequence[Mapping[str, Any]], *, tolerance_mm: float) -> dict[str, Any]:
    """Mean, median, sample standard deviation, min and max of every metric per class, and status counts.

    Args:
        rows: rows of :func:`evaluate_cases`.
        tolerance_mm: the NSD tolerance used (recorded in the summary).

    Returns:
        ``{"cases": n, "nsd_tolerance_mm": t, "classes": {name: {"value": v, "metrics": {metric: stats},
        "status": {status: count}}}, "mean_dice": m}`` (``mean_dice``: mean over classes of the class means).
    """
    classes: dict[str, Any] = {}
    for name in dict.fromkeys(row["class_name"] for row in rows):
        mine = [row for row in rows if row["class_name"] == name]
        classes[name] = {
            "value": int(mine[0]["class"]),
            "metrics": {m: _stats(np.asarray([float(r[m]) for r in mine])) for m in METRIC_NAMES},
            "status": {s: sum(r["status"] == s for r in mine) for s in STATUSES},
        }
    return {
        "cases": len({row["case"] for row in rows}),
        "nsd_tolerance_mm": tolerance_mm,
        "mean_dice": float(np.mean([c["metrics"]["dice"]["mean"] for c in classes.values()])),
        "classes": classes,
    }


def write_metrics_csv(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write the rows of :func:`evaluate_cases` as CSV (columns :data:`CSV_COLUMNS`, floats to 6 digits)."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()})
    return path


def write_summary_json(summary: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write :func:`summarise`'s result as indented JSON."""
    path = Path(path)
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return path
