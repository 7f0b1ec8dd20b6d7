"""Score label maps written to disk against reference labels."""

from __future__ import annotations

import math
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from monai.metrics import compute_dice
from monai.networks.utils import one_hot

__all__ = ["dice_per_class", "score_folder"]


def dice_per_class(pred: np.ndarray, label: np.ndarray, num_classes: int) -> list[float]:
    """Dice of each foreground class between two label maps.

    Args:
        pred: predicted class map, shape ``(X, Y[, Z])``.
        label: reference class map, same shape.
        num_classes: number of classes including background.

    Returns:
        Dice of classes ``1..num_classes-1``; ``nan`` where a class is absent from both maps (MONAI's
        ``ignore_empty`` convention), ``0.0`` where it is in only one.

    Raises:
        ValueError: when the shapes differ.
    """
    if pred.shape != label.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from label shape {label.shape}")
    p = one_hot(torch.as_tensor(pred.astype(np.int64))[None, None], num_classes)
    y = one_hot(torch.as_tensor(label.astype(np.int64))[None, None], num_classes)
    return [float(v) for v in compute_dice(p, y, include_background=False)[0]]


def score_folder(
    pred_dir: str | os.PathLike[str], label_files: list[str], num_classes: int, postfix: str = "seg"
) -> list[dict]:
    """Dice per case for predictions named ``<case>_<postfix>.nii.gz`` against their label files.

    Args:
        pred_dir: folder of predicted label maps.
        label_files: reference label files; a case's name is its file name.
        num_classes: number of classes including background.
        postfix: the postfix the predictor added to each case name.

    Returns:
        One dict per case: ``case``, ``dice`` (list per foreground class) and ``mean_dice``.

    Raises:
        FileNotFoundError: when a prediction is missing.
        ValueError: when a prediction's shape or affine differs from its label's.
    """
    rows = []
    for label_file in label_files:
        case = Path(label_file).name.removesuffix(".gz").removesuffix(".nii")
        pred_file = Path(pred_dir) / f"{case}_{postfix}.nii.gz"
        if not pred_file.is_file():
            raise FileNotFoundError(f"prediction {pred_file} for label {label_file} is missing")
        pred_img, label_img = nib.nifti1.load(pred_file), nib.nifti1.load(label_file)
        if not np.allclose(pred_img.affine, label_img.affine, atol=1e-3):
            raise ValueError(f"prediction {pred_file} has a different affine from label {label_file}")
        dice = dice_per_class(np.asarray(pred_img.dataobj), np.asarray(label_img.dataobj), num_classes)
        present = [d for d in dice if not math.isnan(d)]
        rows.append({"case": case, "dice": dice, "mean_dice": float(np.mean(present)) if present else math.nan})
    return rows
