"""The run's history: per-epoch loss, learning rate and validation metrics, kept in checkpoints and on disk."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import ignite.distributed as idist
import torch
from ignite.engine import Engine, Events
from monai.handlers import from_engine

from attn_seg.files import atomic_write_json

__all__ = ["TrainingHistory"]



class TrainingHistory:
    """Per-epoch history of a training run, kept in checkpoints and written to ``history.json``.

    Attach it to the trainer. Each epoch it records the mean training loss and the learning rate (also put into the
    trainer's ``state.metrics["lr"]``, so the logging handlers write a learning-rate curve); after each validation
    the validator's scalar metrics. As a stateful object (``state_dict``/``load_state_dict``) it goes
    into the checkpoint, so a resumed run continues the same history, and on loading it gives the validator
    back its best metric so far (MONAI engines track ``state.best_metric``).

    Args:
        validator: the evaluator whose metrics to record; ``None`` records training only.
        output_file: where to write the history as JSON after each epoch (rank 0 only); ``None`` writes nothing.
    """

    def __init__(self, validator: Engine | None = None, output_file: str | os.PathLike[str] | None = None) -> None:
        self.validator = validator
        self.output_file = Path(output_file) if output_file is not None else None
        self.epochs: list[dict[str, Any]] = []
        self._losses: list[float] = []
        self._lr = math.nan
        self._trainer: Engine | None = None

    def attach(self, engine: Engine) -> None:
        """Register on the trainer (and on the validator's completion)."""
        self._trainer = engine
        engine.add_event_handler(Events.EPOCH_STARTED, self._epoch_started)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._iteration)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._epoch)
        if self.validator is not None:
            self.validator.add_event_handler(Events.COMPLETED, self._validated)

    def _epoch_started(self, engine: Engine) -> None:
        optimizer = getattr(engine, "optimizer", None)
        self._lr = float(optimizer.param_groups[0]["lr"]) if optimizer is not None else math.nan
        if optimizer is not None:  # an epoch-level metric, so that StatsHandler, TensorBoard and MLflow log it
            engine.state.metrics["lr"] = self._lr

    def _iteration(self, engine: Engine) -> None:
        self._losses.append(float(from_engine(["loss"], first=True)(engine.state.output)))

    def _row(self, epoch: int) -> dict[str, Any]:
        """This epoch's row (validation may run before or after the epoch's own handlers)."""
        if not self.epochs or self.epochs[-1]["epoch"] != epoch:
            self.epochs.append({"epoch": epoch})
        return self.epochs[-1]

    def _epoch(self, engine: Engine) -> None:
        row = self._row(engine.state.epoch)
        row["iterations"] = engine.state.iteration
        row["train_loss"] = sum(self._losses) / len(self._losses) if self._losses else math.nan
        row["lr"] = self._lr  # the rate this epoch trained with (schedulers step at the epoch's end)
        self._losses.clear()
        self._write()

    def _validated(self, validator: Engine) -> None:
        if self._trainer is None:
            return
        row = self._row(self._trainer.state.epoch)
        for name, value in validator.state.metrics.items():
            if isinstance(value, (int, float)) or (torch.is_tensor(value) and value.numel() == 1):
                row[name] = float(value)
        self._write()

    def _write(self) -> None:
        if self.output_file is None or idist.get_rank() != 0:
            return
        atomic_write_json({"epochs": self.epochs}, self.output_file, indent=1)

    def state_dict(self) -> dict[str, Any]:
        """The history so far (plain numbers, loadable with ``weights_only=True``)."""
        return {"epochs": [dict(row) for row in self.epochs]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the history, and the validator's best metric and its epoch."""
        self.epochs = [dict(row) for row in state["epochs"]]
        key = getattr(getattr(self.validator, "state", None), "key_metric_name", None)
        if self.validator is None or key is None:
            return
        scored = [(row[key], row["epoch"]) for row in self.epochs if key in row]
        if scored:
            best, epoch = max(scored)
            engine_state: Any = self.validator.state  # MONAI's engines add best_metric(_epoch) to ignite's State
            engine_state.best_metric = best
            engine_state.best_metric_epoch = epoch
