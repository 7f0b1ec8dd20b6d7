"""Small handlers MONAI lacks: per-class metric scalars, and early stopping wired from the trainer side."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from ignite.engine import Engine, Events
from monai.handlers import EarlyStopHandler, stopping_fn_from_metric

__all__ = ["EarlyStopOnValidation", "PerClassMetrics"]


class PerClassMetrics:
    """Split a per-class metric (e.g. MONAI ``MeanDice(reduction="mean_batch")``) into one scalar per class.

    Attach it to an evaluator *before* its logging handlers: at each epoch end it replaces
    ``state.metrics[metric_name]`` (a tensor ``(K,)``) by ``state.metrics[f"{prefix}{name}"]`` for each class, so
    that ``StatsHandler``, ``TensorBoardStatsHandler`` and MLflow log one curve per class.

    Args:
        metric_name: the per-class metric's name.
        class_names: one name per class in the metric, e.g. ``["organ", "lesion"]``.
        prefix: prefix of the scalar names; defaults to ``metric_name`` without a trailing ``"per_class"``.

    Raises:
        ValueError: when ``class_names`` is empty.
    """

    def __init__(self, metric_name: str, class_names: Sequence[str], prefix: str | None = None) -> None:
        if not class_names:
            raise ValueError(f"`class_names` must name at least one class, got {class_names!r}")
        self.metric_name = metric_name
        self.class_names = [str(name) for name in class_names]
        self.prefix = metric_name.removesuffix("per_class") if prefix is None else prefix

    def attach(self, engine: Engine) -> None:
        """Register on ``engine``'s epoch end."""
        engine.add_event_handler(Events.EPOCH_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        """Replace the per-class tensor by scalars."""
        values = torch.as_tensor(engine.state.metrics.pop(self.metric_name)).flatten()
        if values.numel() != len(self.class_names):
            raise ValueError(
                f"metric {self.metric_name!r} has {values.numel()} classes but `class_names` names "
                f"{len(self.class_names)}: {self.class_names}"
            )
        for name, value in zip(self.class_names, values.tolist(), strict=True):
            engine.state.metrics[f"{self.prefix}{name}"] = value


class EarlyStopOnValidation:
    """Stop training when a validation metric stops improving (MONAI's ``EarlyStopHandler``, patience counted in
    validations).

    Attach it to the trainer: it hooks the early-stop handler onto ``validator`` with that trainer, which a bundle
    config cannot do directly (trainer and validator would reference each other).

    Args:
        validator: the evaluator that computes ``metric_name``.
        patience: validations without improvement before training stops, >= 1.
        metric_name: the validation metric, higher is better.
        min_delta: the least change that counts as an improvement.

    Raises:
        ValueError: when ``patience`` < 1.
    """

    def __init__(self, validator: Any, patience: int, metric_name: str = "val_mean_dice", min_delta: float = 0.0):
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"`patience` must be an int >= 1, got {patience!r}")
        self.validator = validator
        self.handler = EarlyStopHandler(patience, stopping_fn_from_metric(metric_name), min_delta=min_delta)

    def attach(self, trainer: Engine) -> None:
        """Bind to ``trainer`` and watch the validator."""
        self.handler.set_trainer(trainer)
        self.handler.attach(self.validator)
