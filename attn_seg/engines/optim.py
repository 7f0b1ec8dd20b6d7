"""Optimisers and learning-rate schedules by name, and the MONAI handler that steps a schedule."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from monai.handlers import LrScheduleHandler
from monai.optimizers import Novograd, WarmupCosineSchedule
from monai.utils import look_up_option

__all__ = ["OPTIMIZERS", "SCHEDULERS", "ScheduleHandler", "build_optimizer", "build_scheduler"]

OPTIMIZERS = ("adamw", "sgd", "novograd")
SCHEDULERS = ("constant", "poly", "cosine", "plateau")


def build_optimizer(
    name: str,
    params: Iterable[torch.nn.Parameter] | Iterable[dict[str, Any]],
    *,
    lr: float,
    weight_decay: float = 1e-5,
    momentum: float = 0.99,
    **kwargs: Any,
) -> torch.optim.Optimizer:
    """An optimiser by name.

    Args:
        name: ``adamw`` (``torch.optim.AdamW``), ``sgd`` (SGD with Nesterov momentum, as nnU-Net) or ``novograd``
            (``monai.optimizers.Novograd``).
        params: the parameters (or parameter groups) to optimise.
        lr: initial learning rate, > 0.
        weight_decay: weight decay, >= 0.
        momentum: SGD momentum (``sgd`` only).
        kwargs: further arguments of the optimiser class.

    Returns:
        The optimiser.

    Raises:
        ValueError: for an unknown ``name`` or an out-of-range ``lr``/``weight_decay``.
    """
    name = look_up_option(name, OPTIMIZERS)
    if not lr > 0:
        raise ValueError(f"`lr` must be > 0, got {lr!r}")
    if weight_decay < 0:
        raise ValueError(f"`weight_decay` must be >= 0, got {weight_decay!r}")
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, **kwargs)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=True, **kwargs)
    return Novograd(params, lr=lr, weight_decay=weight_decay, **kwargs)


def build_scheduler(
    name: str,
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    warmup_epochs: int = 0,
    power: float = 0.9,
    patience: int = 5,
    factor: float = 0.5,
) -> Any:
    """A learning-rate schedule stepped once per epoch.

    Args:
        name: ``constant``; ``poly`` (``lr * (1 - epoch / epochs) ** power``, nnU-Net's); ``cosine`` (linear
            warm-up for ``warmup_epochs``, then cosine decay to 0 at ``epochs``, MONAI's
            ``WarmupCosineSchedule``); ``plateau`` (``ReduceLROnPlateau`` on the validation key metric, higher is
            better: multiply by ``factor`` after ``patience`` validations without improvement).
        optimizer: the optimiser.
        epochs: total training epochs, >= 1.
        warmup_epochs: warm-up epochs (``cosine``), ``0 <= warmup_epochs < epochs``.
        power: exponent of ``poly``.
        patience: validations without improvement before ``plateau`` lowers the rate.
        factor: ``plateau``'s multiplier, in (0, 1).

    Returns:
        A ``torch.optim.lr_scheduler`` object.

    Raises:
        ValueError: for an unknown ``name`` or an out-of-range argument.
    """
    name = look_up_option(name, SCHEDULERS)
    if epochs < 1:
        raise ValueError(f"`epochs` must be >= 1, got {epochs!r}")
    if not 0 <= warmup_epochs < epochs:
        raise ValueError(f"`warmup_epochs` must be in [0, epochs={epochs}), got {warmup_epochs!r}")
    if name == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    if name == "poly":
        return torch.optim.lr_scheduler.PolynomialLR(optimizer, total_iters=epochs, power=power)
    if name == "cosine":
        return WarmupCosineSchedule(optimizer, warmup_steps=warmup_epochs, t_total=epochs)
    if not 0 < factor < 1:
        raise ValueError(f"`factor` must be in (0, 1), got {factor!r}")
    return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=factor, patience=patience)


class ScheduleHandler:
    """Step a schedule from :func:`build_scheduler` once per epoch, through MONAI's ``LrScheduleHandler``.

    Attach it to the trainer. A ``ReduceLROnPlateau`` is attached to the validator instead and stepped with its
    ``metric_name`` after each validation, so it never sees a stale metric when validation is not every epoch.

    Args:
        scheduler: from :func:`build_scheduler`.
        validator: the evaluator whose metric drives ``plateau``; ``None`` where no ``plateau`` schedule is used.
        metric_name: the validation metric, e.g. ``"val_mean_dice"``.
    """

    def __init__(self, scheduler: Any, validator: Any = None, metric_name: str = "val_mean_dice") -> None:
        self.plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
        if self.plateau and validator is None:
            raise ValueError("a `plateau` schedule needs the `validator` whose metric it follows")
        step = (lambda _: validator.state.metrics[metric_name]) if self.plateau else None
        self.handler = LrScheduleHandler(scheduler, print_lr=False, step_transform=step or (lambda _: ()))
        self.validator = validator

    def attach(self, trainer: Any) -> None:
        """Attach to ``trainer`` (or, for ``plateau``, to the validator)."""
        self.handler.attach(self.validator if self.plateau else trainer)
