"""Training through MONAI's Ignite engines: losses, optimisers and schedules by name, mixed precision,
kill-safe checkpoints with resume, run history and the few handlers MONAI lacks.

Bundle configs reference these as ``$attn_seg.engines.build_loss(...)`` or ``"_target_":
"attn_seg.engines.AtomicCheckpointSaver"``; from Python, :func:`bundle_workflow` runs a bundle's config.
"""

from __future__ import annotations

from attn_seg.engines.checkpoint import (
    AtomicCheckpointSaver,
    AtomicDiskSaver,
    ResumeLoader,
    RNGState,
    atomic_torch_save,
    latest_checkpoint,
    resume_checkpoint,
)
from attn_seg.engines.flags import check_flag, compile_flag
from attn_seg.engines.handlers import EarlyStopOnValidation, PerClassMetrics
from attn_seg.engines.history import TrainingHistory
from attn_seg.engines.losses import LOSSES, build_loss
from attn_seg.engines.optim import OPTIMIZERS, SCHEDULERS, ScheduleHandler, build_optimizer, build_scheduler
from attn_seg.engines.precision import (
    PRECISIONS,
    Autocast,
    amp_kwargs,
    autocast_network,
    resolve_precision,
    uses_engine_amp,
)
from attn_seg.engines.record import RECORD_FILE, TrainingRecord, check_record, read_record, trained_network
from attn_seg.engines.runs import PromoteBest, bundle_runs_dir, latest_run, training_run
from attn_seg.engines.workflow import bundle_workflow

__all__ = [
    "LOSSES",
    "OPTIMIZERS",
    "PRECISIONS",
    "RECORD_FILE",
    "SCHEDULERS",
    "AtomicCheckpointSaver",
    "AtomicDiskSaver",
    "Autocast",
    "EarlyStopOnValidation",
    "PerClassMetrics",
    "PromoteBest",
    "RNGState",
    "ResumeLoader",
    "ScheduleHandler",
    "TrainingHistory",
    "TrainingRecord",
    "amp_kwargs",
    "atomic_torch_save",
    "autocast_network",
    "build_loss",
    "build_optimizer",
    "build_scheduler",
    "bundle_runs_dir",
    "bundle_workflow",
    "check_flag",
    "check_record",
    "compile_flag",
    "latest_checkpoint",
    "latest_run",
    "read_record",
    "resolve_precision",
    "resume_checkpoint",
    "trained_network",
    "training_run",
    "uses_engine_amp",
]
