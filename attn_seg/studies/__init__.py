"""Studies: loss, gate and network comparisons over bundle config overrides, run and resumed with Optuna."""

from __future__ import annotations

from attn_seg.studies.case_scores import CaseScores, read_case_scores
from attn_seg.studies.checks import check_study
from attn_seg.studies.pictures import attention_pictures, best_row
from attn_seg.studies.results import (
    case_score_rows,
    collect_rows,
    paired_comparisons,
    summarise_settings,
    write_results,
)
from attn_seg.studies.runner import (
    StudyRun,
    open_study,
    recover_stale_trials,
    remaining_trials,
    run_study,
    storage_url,
    trial_config,
)
from attn_seg.studies.spec import SAMPLERS, Choice, Parameter, Replicate, StudySpec, load_study, parse_study
from attn_seg.studies.stats import PairedComparison, bootstrap_interval, compare_paired, wilcoxon_p
from attn_seg.studies.trial import TrialOutcome, read_history, run_training

__all__ = [
    "SAMPLERS",
    "CaseScores",
    "Choice",
    "PairedComparison",
    "Parameter",
    "Replicate",
    "StudyRun",
    "StudySpec",
    "TrialOutcome",
    "attention_pictures",
    "best_row",
    "bootstrap_interval",
    "case_score_rows",
    "check_study",
    "collect_rows",
    "compare_paired",
    "load_study",
    "open_study",
    "paired_comparisons",
    "parse_study",
    "read_case_scores",
    "read_history",
    "recover_stale_trials",
    "remaining_trials",
    "run_study",
    "run_training",
    "storage_url",
    "summarise_settings",
    "trial_config",
    "wilcoxon_p",
    "write_results",
]
