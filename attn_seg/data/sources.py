"""Where a bundle's cases come from: a datalist file, a data set folder in any layout, or synthetic data.

Bundles call :func:`bundle_cases` as ``"$attn_seg.data.bundle_cases(@dataset_dir, @datalist_file, ...)"``, so one
override (``--dataset_dir /data/Task09_Spleen`` or ``--datalist_file /data/split.json``) points them at real data.
"""

from __future__ import annotations

import os
from pathlib import Path

from attn_seg.data.layouts import load_cases
from attn_seg.data.synthesize import ensure_dataset

__all__ = ["bundle_cases"]


def bundle_cases(
    dataset_dir: str | os.PathLike[str],
    datalist_file: str | os.PathLike[str] | None = None,
    *,
    key: str = "training",
    label_suffix: str | None = None,
    spatial_dims: int = 3,
    num_classes: int = 2,
    modality: str = "ct",
) -> list[dict]:
    """The cases of a bundle run, with absolute paths.

    Args:
        dataset_dir: a data set folder in any layout :func:`~attn_seg.data.load_cases` reads (Decathlon
            ``dataset.json``, ``imagesTr/labelsTr``, ``image/label``, side-by-side ``_seg`` files, ...). A missing or
            empty folder is filled with a synthetic data set first (the bundles' built-in default).
        datalist_file: a Decathlon ``dataset.json``, a JSON list or a CSV of cases; when given, ``dataset_dir``
            is not read.
        key: the list of a ``dataset.json`` to read (``"training"``, ``"test"``, ...).
        label_suffix: for folder layouts, the label-name suffix (``None``: detected).
        spatial_dims: 2 or 3, for a synthesised set.
        num_classes: foreground classes of a synthesised set.
        modality: ``"ct"`` or ``"mri"``, for a synthesised set.

    Returns:
        The cases, ``{"image": path, "label": path}`` (``{"image": path}`` for lists without labels).

    Raises:
        FileNotFoundError: when ``datalist_file`` is missing, or ``dataset_dir`` holds files in no known layout.
        ValueError: when a datalist file is malformed.
    """
    if datalist_file:
        return load_cases(datalist_file, key=key, label_suffix=label_suffix)
    path = Path(dataset_dir).expanduser().absolute()
    if not path.exists() or (path.is_dir() and not any(path.iterdir())):
        ensure_dataset(path, spatial_dims=spatial_dims, num_classes=num_classes, modality=modality)
    return load_cases(path, key=key, label_suffix=label_suffix)
