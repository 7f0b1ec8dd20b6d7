"""Studies: loss, gate and network comparisons over bundle config overrides, run and resumed with Optuna."""

from __future__ import annotations

from attn_seg.studies.case_scores import CaseScores, read_case_scores
from attn_seg.studies.checks import check_study
from attn_seg.studies.claims import supersede_trials, superseded_trials
from attn_seg.studies.pictures import attention_pictures, best_row
from attn_seg.studies.results import (
    case_score_rows,
    collect_rows,
    paired_comparisons,
    summarise_settings,
    superseded_rows,
    write_results,
)
from attn_seg.studies.runner import (
    StudyRun,
    machine_name,
    open_study,
    other_machine_trials,
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
    "machine_name",
    "open_study",
    "other_machine_trials",
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
    "supersede_trials",
    "superseded_rows",
    "superseded_trials",
    "trial_config",
    "wilcoxon_p",
    "write_results",
]
