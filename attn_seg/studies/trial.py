"""One trial of a study: a bundle's training run with config overrides, in this process, under a budget."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ignite.engine import Engine, Events
from ignite.handlers import TimeLimit

from attn_seg.engines import bundle_workflow
from attn_seg.studies.case_scores import CaseScores

__all__ = ["TrialOutcome", "read_history", "run_training"]

#: ``report(step, value) -> prune?``: called after each validation with the trainer's epoch.
Reporter = Callable[[int, float], bool]


@dataclass
class TrialOutcome:
    """What a trial's training did."""

    pruned: bool
    timed_out: bool
    epochs: int
    wall_s: float
    history: list[dict[str, Any]] = field(default_factory=list)
    checkpoint: str | None = None


class _Pruning:
    """After each validation, hand the metric to the reporter and stop training when it says prune."""

    def __init__(self, trainer: Engine, metric: str, reporter: Reporter | None) -> None:
        self.trainer = trainer
        self.metric = metric
        self.reporter = reporter
        self.pruned = False
        self.steps: set[int] = set()

    def __call__(self, validator: Engine) -> None:
        if self.metric not in validator.state.metrics:
            found = sorted(validator.state.metrics)
            raise KeyError(f"study metric {self.metric!r} is not among the validator's metrics {found}")
        step = int(self.trainer.state.epoch)
        if step in self.steps:
            return
        self.steps.add(step)
        if self.reporter is None:
            return
        value = float(validator.state.metrics[self.metric])
        if math.isfinite(value) and self.reporter(step, value):
            self.pruned = True
            self.trainer.terminate()


class _TimeLimit(TimeLimit):
    """Ignite's ``TimeLimit`` that remembers whether it stopped the run."""

    fired = False

    def __call__(self, engine: Engine) -> None:
        running = not engine.should_terminate
        super().__call__(engine)
        self.fired = self.fired or (running and bool(engine.should_terminate))


class _FitToTime:
    """Fit the run's epochs and its learning-rate schedule to a wall-time budget, after every epoch.

    With ``e`` epochs done in ``t`` seconds, the run plans ``e + floor((budget - t) / (t / e))`` epochs: the trainer's
    ``max_epochs`` and the length of a ``cosine`` (``WarmupCosineSchedule.t_total``) or ``poly``
    (``PolynomialLR.total_iters``) schedule are set to it, so a network that is slower per epoch still ends its
    schedule (a fully decayed rate) when the budget ends rather than being cut mid-schedule. The budget's
    ``TimeLimit`` stays as the hard stop.
    """

    def __init__(self, trainer: Engine, scheduler: Any, seconds: float) -> None:
        self.trainer = trainer
        self.scheduler = scheduler
        self.seconds = seconds
        self.start = 0.0

    def attach(self) -> None:
        self.trainer.add_event_handler(Events.STARTED, self._started)
        self.trainer.add_event_handler(Events.EPOCH_COMPLETED, self)

    def _started(self, _: Engine) -> None:
        self.start = time.perf_counter()

    def __call__(self, engine: Engine) -> None:
        done = int(engine.state.epoch)
        elapsed = time.perf_counter() - self.start
        more = int(max(0.0, self.seconds - elapsed) * done // max(elapsed, 1e-9))  # epochs that fit at this pace
        planned = max(done, min(int(engine.state.max_epochs or done), done + more))
        engine.state.max_epochs = planned
        if hasattr(self.scheduler, "t_total"):  # MONAI's WarmupCosineSchedule
            self.scheduler.t_total = planned
        elif hasattr(self.scheduler, "total_iters"):  # torch's PolynomialLR
            self.scheduler.total_iters = planned


def _loggers() -> list[logging.Logger]:
    """The root logger and every logger with its own handlers (MONAI's do not propagate), Optuna's aside."""
    named = [lg for name, lg in logging.root.manager.loggerDict.items()
             if isinstance(lg, logging.Logger) and lg.handlers and not name.startswith("optuna")]
    return [logging.getLogger(), *named]


@contextlib.contextmanager
def _log_to(path: Path) -> Iterator[None]:
    """Send log records to ``path``; the console keeps warnings and errors only (and Optuna's trial lines)."""
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s"))
    loggers = _loggers()
    consoles = [(h, h.level) for lg in loggers for h in lg.handlers
                if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]
    receivers = [lg for lg in loggers if lg is logging.getLogger() or not lg.propagate]
    for logger in receivers:
        logger.addHandler(file_handler)
    for handler, level in consoles:
        handler.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        for logger in receivers:
            logger.removeHandler(file_handler)
        file_handler.close()
        for handler, level in consoles:
            handler.setLevel(level)


def read_history(output_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The per-epoch rows of a run's ``history.json`` (empty when the run wrote none)."""
    path = Path(output_dir) / "history.json"
    if not path.is_file():
        return []
    return list(json.loads(path.read_text(encoding="utf-8")).get("epochs", []))


def _validate_last_epoch(trainer: Engine, validator: Engine, pruning: _Pruning) -> None:
    """Validate the final weights when the last epoch was not validated (time limit, odd interval)."""
    if not pruning.pruned and trainer.state.epoch not in pruning.steps and trainer.state.epoch > 0:
        validator.run(trainer.state.epoch)  # type: ignore[arg-type]  # MONAI's run(global_epoch)


def run_training(
    bundle: str | os.PathLike[str],
    config_files: Sequence[str],
    overrides: Mapping[str, Any],
    trial_dir: str | os.PathLike[str],
    *,
    metric: str,
    reporter: Reporter | None = None,
    minutes: float | None = None,
) -> TrialOutcome:
    """Train a bundle once with overrides, writing checkpoints and history under ``trial_dir``.

    The bundle's ``ckpt_dir`` and ``output_dir`` are set to ``trial_dir/models`` and ``trial_dir/eval``; the log
    goes to ``trial_dir/train.log``. The final weights are always validated, so the last history row with
    ``metric`` scores them, and ``trial_dir/eval/case_scores.csv`` holds their per-case values of ``metric``.

    Args:
        bundle: the bundle folder.
        config_files: config files merged in order (paths, or names in the bundle's ``configs/``).
        overrides: config ids and values.
        trial_dir: the trial's folder (created).
        metric: the validator metric reported to ``reporter``, e.g. ``"val_mean_dice"``.
        reporter: called after each validation; returning True stops training (pruned).
        minutes: the training's wall-time budget: the epochs and a ``cosine`` or ``poly`` schedule are fitted to it
            after each epoch, and ignite's ``TimeLimit`` (whole seconds, at least 1) stops it there at the latest;
            ``None``: no limit, the bundle's epochs.

    Returns:
        The outcome, with the history and the path of the best checkpoint.
    """
    out = Path(trial_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = {**dict(overrides), "ckpt_dir": str(out / "models"), "output_dir": str(out / "eval")}
    workflow = bundle_workflow(bundle, config_files, "train", settings)
    with _log_to(out / "train.log"):
        workflow.initialize()
    trainer = workflow.parser.get_parsed_content("train#trainer")
    validator = workflow.parser.get_parsed_content("validate#evaluator")
    pruning = _Pruning(trainer, metric, reporter)
    validator.add_event_handler(Events.COMPLETED, pruning)
    CaseScores(metric, out / "eval").attach(validator)
    trainer.add_event_handler(Events.COMPLETED, _validate_last_epoch, validator, pruning)
    limit = _TimeLimit(max(1, round(minutes * 60.0))) if minutes else None  # ignite counts whole seconds
    if limit is not None:
        trainer.add_event_handler(Events.ITERATION_COMPLETED, limit)
        scheduler = workflow.parser.get_parsed_content("lr_scheduler") if "lr_scheduler" in workflow.parser else None
        _FitToTime(trainer, scheduler, float(limit.limit_sec)).attach()
    with _log_to(out / "train.log"):  # again: initialising made loggers of its own (MONAI's StatsHandler)
        start = time.perf_counter()
        workflow.run()
        wall = time.perf_counter() - start
        workflow.finalize()
    timed_out = limit is not None and limit.fired
    best = out / "models" / "model.pt"
    return TrialOutcome(
        pruned=pruning.pruned,
        timed_out=timed_out,
        epochs=int(trainer.state.epoch),
        wall_s=wall,
        history=read_history(out / "eval"),
        checkpoint=str(best) if best.is_file() else None,
    )
