"""Evaluation: per-class metrics of predicted label maps against references, and the evaluation report."""

from __future__ import annotations

from attn_seg.evaluation.cases import CaseFiles, LoadedCase, case_name, cases_from_datalist, load_case, pair_cases
from attn_seg.evaluation.logs import read_scalars
from attn_seg.evaluation.metrics import (
    METRIC_NAMES,
    STATUSES,
    ClassMetrics,
    case_metrics,
    class_metrics,
    fov_diagonal_mm,
)
from attn_seg.evaluation.report import BOX_METRICS, pick_cases, write_report
from attn_seg.evaluation.summary import (
    CSV_COLUMNS,
    case_scores,
    class_names_from_dataset,
    evaluate_cases,
    infer_classes,
    summarise,
    write_metrics_csv,
    write_summary_json,
)

__all__ = [
    "BOX_METRICS",
    "CSV_COLUMNS",
    "METRIC_NAMES",
    "STATUSES",
    "CaseFiles",
    "ClassMetrics",
    "LoadedCase",
    "case_metrics",
    "case_name",
    "case_scores",
    "cases_from_datalist",
    "class_metrics",
    "class_names_from_dataset",
    "evaluate_cases",
    "fov_diagonal_mm",
    "infer_classes",
    "load_case",
    "pair_cases",
    "pick_cases",
    "read_scalars",
    "summarise",
    "write_metrics_csv",
    "write_report",
    "write_summary_json",
]
