"""Evaluation: per-class metrics of predicted label maps against references, and reports."""

from __future__ import annotations

from attn_seg.evaluation.metrics import (
    METRIC_NAMES,
    STATUSES,
    ClassMetrics,
    case_metrics,
    class_metrics,
    fov_diagonal_mm,
)
from attn_seg.evaluation.scores import dice_per_class, score_folder

__all__ = [
    "METRIC_NAMES",
    "STATUSES",
    "ClassMetrics",
    "case_metrics",
    "class_metrics",
    "dice_per_class",
    "fov_diagonal_mm",
    "score_folder",
]
