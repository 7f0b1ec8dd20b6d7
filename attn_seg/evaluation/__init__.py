"""Evaluation: scores of predicted label maps against references."""

from __future__ import annotations

from attn_seg.evaluation.scores import dice_per_class, score_folder

__all__ = ["dice_per_class", "score_folder"]
