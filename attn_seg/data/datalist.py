"""Datalists: which image/label files make up training, validation and test sets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from attn_seg.data.readers import READABLE_SUFFIXES, image_files

__all__ = ["DICOM_SUFFIX", "image_inputs", "list_images", "split_datalist"]

#: The ending of DICOM files: a folder holding them is one DICOM series, read as one volume.
DICOM_SUFFIX = ".dcm"


def split_datalist(
    items: list[dict], val_fraction: float, seed: int = 0, *, fold: int | None = None, num_folds: int = 5
) -> tuple[list[dict], list[dict]]:
    """Split cases into training and validation sets, deterministically for a given seed.

    Without ``fold``, a random ``val_fraction`` of the cases goes to validation. With ``fold``, the seeded
    permutation is cut into ``num_folds`` near-equal parts and part ``fold`` is the validation set (k-fold
    cross-validation: every case is validated exactly once over the folds; ``val_fraction`` is then unused).

    Args:
        items: the cases.
        val_fraction: share of cases for validation, in (0, 1); at least one case goes to each side.
        seed: seed of the permutation.
        fold: the validation fold, in ``[0, num_folds)``; ``None`` for a plain split.
        num_folds: number of folds, at least 2 and at most the number of cases.

    Returns:
        ``(train, val)``, each in the original order of ``items``.

    Raises:
        ValueError: when ``val_fraction`` is outside (0, 1), there are fewer than 2 cases, or ``fold`` /
            ``num_folds`` are out of range.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"`val_fraction` must be in (0, 1), got {val_fraction!r}")
    if len(items) < 2:
        raise ValueError(f"need at least 2 cases to split into training and validation, got {len(items)}")
    order = np.random.default_rng(seed).permutation(len(items))
    if fold is None:
        n_val = min(len(items) - 1, max(1, round(len(items) * val_fraction)))
        val_idx = set(order[:n_val].tolist())
    else:
        val_idx = set(_fold_indices(order, fold, num_folds))
    train = [item for i, item in enumerate(items) if i not in val_idx]
    val = [item for i, item in enumerate(items) if i in val_idx]
    return train, val


def _fold_indices(order: np.ndarray, fold: int, num_folds: int) -> list[int]:
    """The indices of fold ``fold`` of ``num_folds`` near-equal parts of ``order``."""
    if isinstance(num_folds, bool) or not isinstance(num_folds, int) or not 2 <= num_folds <= len(order):
        raise ValueError(f"`num_folds` must be an int in [2, {len(order)}] (the number of cases), got {num_folds!r}")
    if isinstance(fold, bool) or not isinstance(fold, int) or not 0 <= fold < num_folds:
        raise ValueError(f"`fold` must be an int in [0, {num_folds - 1}], got {fold!r}")
    return np.array_split(order, num_folds)[fold].tolist()


def _dicom_slices(folder: Path) -> list[Path]:
    """The DICOM files (``.dcm``, any case) directly in ``folder``, hidden names left out."""
    return [p for p in image_files(folder) if p.name.lower().endswith(DICOM_SUFFIX)]


def image_inputs(folder: str | os.PathLike[str]) -> list[Path]:
    """What a folder of images holds to segment, each read as one image (files are not opened here).

    - A folder holding DICOM files (``.dcm``) is one DICOM series: ``[folder]``, read as one volume and named
      after the folder.
    - Otherwise its image files (:func:`~attn_seg.data.readers.image_files`) and its sub-folders that hold DICOM
      files (one series each), sorted by name. Hidden names are left out.

    Args:
        folder: the folder.

    Returns:
        Absolute paths, sorted by name; empty when the folder holds no image.

    Raises:
        FileNotFoundError: when ``folder`` is not a folder.
        ValueError: when DICOM files lie beside other images (a series is read whole: give it a folder of its own);
            the message names the folder and some of the other files.
    """
    path = Path(folder).expanduser().absolute()
    if not path.is_dir():
        raise FileNotFoundError(f"input folder {path} does not exist")
    files = image_files(path)
    slices = _dicom_slices(path)
    if slices:
        others = [p.name for p in files if p not in slices]
        if others:
            raise ValueError(f"input folder {path} holds DICOM files ({len(slices)} .dcm, read as one series) beside "
                             f"other images ({', '.join(others[:3])}{', ...' if len(others) > 3 else ''}); give the "
                             f"series a folder of its own")
        return [path]
    series = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".") and _dicom_slices(p)]
    return sorted([*files, *series], key=lambda p: p.name)


def list_images(folder: str | os.PathLike[str]) -> list[dict]:
    """List the images of a folder as an inference datalist (``inference.json``'s ``datalist``).

    Args:
        folder: a folder of images, or of DICOM series folders, or one DICOM series (what :func:`image_inputs`
            lists, as ``attn-seg predict`` reads them).

    Returns:
        One ``{"image": path}`` per image file or DICOM series folder, sorted by name.

    Raises:
        FileNotFoundError: when ``folder`` is missing or holds no image.
        ValueError: when DICOM files lie beside other images.
    """
    path = Path(folder).expanduser().absolute()
    images = image_inputs(path)
    if not images:
        raise FileNotFoundError(f"input folder {path} holds no image file ({', '.join(READABLE_SUFFIXES)}) and no "
                                f"DICOM series folder")
    return [{"image": str(p)} for p in images]
