"""Segmentation losses by name (MONAI's), with class weights and deep supervision."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from monai.losses import (
    DeepSupervisionLoss,
    DiceCELoss,
    DiceFocalLoss,
    DiceLoss,
    FocalLoss,
    GeneralizedDiceLoss,
    TverskyLoss,
)
from monai.utils import look_up_option
from torch.nn.modules.loss import _Loss

__all__ = ["LOSSES", "build_loss"]

#: Loss names and MONAI classes. All take logits ``(B, K, *S)`` and an integer label map ``(B, 1, *S)``.
LOSSES: dict[str, type[_Loss]] = {
    "dice": DiceLoss,
    "dice_ce": DiceCELoss,
    "dice_focal": DiceFocalLoss,
    "focal": FocalLoss,
    "tversky": TverskyLoss,
    "generalized_dice": GeneralizedDiceLoss,
}
#: Losses whose MONAI class takes per-class weights (``weight``).
_WEIGHTED = frozenset({"dice", "dice_ce", "dice_focal", "focal"})


def _defaults(name: str) -> dict[str, Any]:
    """Arguments that make every loss take logits and an integer label map."""
    if name == "focal":
        return {"to_onehot_y": True, "use_softmax": True}
    return {"to_onehot_y": True, "softmax": True}


def build_loss(
    name: str,
    *,
    class_weights: Sequence[float] | None = None,
    deep_supervision: bool = False,
    deep_supervision_weights: str | Sequence[float] = "exp",
    **kwargs: Any,
) -> _Loss:
    """A MONAI segmentation loss by name, for softmax logits and integer labels.

    Args:
        name: one of ``dice``, ``dice_ce``, ``dice_focal``, ``focal``, ``tversky``, ``generalized_dice``.
        class_weights: one weight per class, background included (``dice``, ``dice_ce``, ``dice_focal``,
            ``focal``); ``None`` weighs classes equally.
        deep_supervision: wrap in :class:`monai.losses.DeepSupervisionLoss`, for networks that return a list of
            logits in training mode (full resolution first); a plain tensor is also accepted.
        deep_supervision_weights: ``DeepSupervisionLoss``'s ``weight_mode`` (``"exp"``, ``"same"``,
            ``"two"``) or explicit weights per level.
        kwargs: further arguments of the MONAI loss, e.g. ``alpha``/``beta`` for ``tversky``, ``gamma`` for
            ``focal``, ``lambda_dice``/``lambda_ce`` for ``dice_ce``; they override the defaults
            (``to_onehot_y=True`` and softmax).

    Returns:
        The loss module.

    Raises:
        ValueError: for an unknown ``name`` (with the closest names), class weights that are not positive, or
            class weights given to a loss that takes none.
    """
    name = look_up_option(name, tuple(LOSSES))
    args = {**_defaults(name), **kwargs}
    if class_weights is not None:
        if name not in _WEIGHTED:
            raise ValueError(f"`class_weights` is not supported by loss {name!r}; use one of {sorted(_WEIGHTED)}")
        weights = [float(w) for w in class_weights]
        if not weights or min(weights) < 0:
            raise ValueError(f"`class_weights` must be non-negative numbers, one per class, got {class_weights!r}")
        args["weight"] = torch.tensor(weights)
    loss = LOSSES[name](**args)
    if not deep_supervision:
        return loss
    if isinstance(deep_supervision_weights, str):
        return DeepSupervisionLoss(loss, weight_mode=deep_supervision_weights)
    return DeepSupervisionLoss(loss, weights=[float(w) for w in deep_supervision_weights])
