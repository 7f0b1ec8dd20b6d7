"""Where a bundle's cases come from: a datalist file, a data set folder in any layout, or synthetic data.

Bundles call :func:`bundle_cases` as ``"$attn_seg.data.bundle_cases(@dataset_dir, @datalist_file, ...)"``, so one
override (``--dataset_dir /data/Task09_Spleen`` or ``--datalist_file /data/split.json``) points them at real data.
Only the bundle's own default location (``synthetic_dir``) is ever filled with synthetic data: a ``dataset_dir``
that the user names and that is missing or empty is an error naming it, never a silent synthetic run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from attn_seg.data.layouts import load_cases
from attn_seg.data.synthesize import DATASET_JSON, ensure_dataset

__all__ = ["bundle_cases", "bundle_class_names", "class_names_from_dataset", "dataset_folder"]


def _absolute(path: str | os.PathLike[str]) -> Path:
    return Path(path).expanduser().absolute()


def dataset_folder(
    dataset_dir: str | os.PathLike[str],
    synthetic_dir: str | os.PathLike[str] | None = None,
    *,
    spatial_dims: int = 3,
    num_classes: int = 2,
    modality: str = "ct",
) -> str:
    """``dataset_dir`` as an absolute path; the bundle's default location is filled with synthetic data first.

    Args:
        dataset_dir: the data set folder a run reads.
        synthetic_dir: the bundle's default location; when ``dataset_dir`` is this folder and it is missing or
            empty, a synthetic data set is written there (:func:`~attn_seg.data.ensure_dataset`).
        spatial_dims: 2 or 3, for a synthesised set.
        num_classes: foreground classes of a synthesised set.
        modality: ``"ct"`` or ``"mri"``, for a synthesised set.

    Returns:
        The folder, absolute.

    Raises:
        FileNotFoundError: when ``dataset_dir`` is not the default location and is missing or empty.
    """
    path = _absolute(dataset_dir)
    holds_data = path.is_dir() and any(path.iterdir())
    if holds_data or path.is_file():
        return str(path)
    if synthetic_dir is not None and path == _absolute(synthetic_dir):
        return ensure_dataset(path, spatial_dims=spatial_dims, num_classes=num_classes, modality=modality)
    state = "is empty" if path.is_dir() else "does not exist"
    raise FileNotFoundError(
        f"dataset_dir {path} {state}; point --dataset_dir at a data set folder (Decathlon dataset.json, "
        "imagesTr/labelsTr, image/label, ...) or leave it out to use the bundle's synthetic data"
    )


def bundle_cases(
    dataset_dir: str | os.PathLike[str],
    datalist_file: str | os.PathLike[str] | None = None,
    *,
    synthetic_dir: str | os.PathLike[str] | None = None,
    key: str = "training",
    label_suffix: str | None = None,
    spatial_dims: int = 3,
    num_classes: int = 2,
    modality: str = "ct",
) -> list[dict]:
    """The cases of a bundle run, with absolute paths.

    Args:
        dataset_dir: a data set folder in any layout :func:`~attn_seg.data.load_cases` reads (Decathlon
            ``dataset.json``, ``imagesTr/labelsTr``, ``image/label``, side-by-side ``_seg`` files, ...).
        datalist_file: a Decathlon ``dataset.json``, a JSON list or a CSV of cases; when given, ``dataset_dir``
            is not read.
        synthetic_dir: the bundle's default location, filled with synthetic data when it is ``dataset_dir`` and
            missing or empty (see :func:`dataset_folder`).
        key: the list of a ``dataset.json`` to read (``"training"``, ``"test"``, ...).
        label_suffix: for folder layouts, the label-name suffix (``None``: detected).
        spatial_dims: 2 or 3, for a synthesised set.
        num_classes: foreground classes of a synthesised set.
        modality: ``"ct"`` or ``"mri"``, for a synthesised set.

    Returns:
        The cases, ``{"image": path, "label": path}`` (``{"image": path}`` for lists without labels).

    Raises:
        FileNotFoundError: when ``datalist_file`` is missing, ``dataset_dir`` is missing or empty (and not the
            default location), or holds files in no known layout.
        ValueError: when a datalist file is malformed.
    """
    if datalist_file:
        return load_cases(datalist_file, key=key, label_suffix=label_suffix)
    path = dataset_folder(dataset_dir, synthetic_dir, spatial_dims=spatial_dims, num_classes=num_classes,
                          modality=modality)
    return load_cases(path, key=key, label_suffix=label_suffix)


def class_names_from_dataset(folder: str | os.PathLike[str]) -> dict[int, str] | None:
    """Foreground class names from a Decathlon ``dataset.json``'s ``labels``.

    Args:
        folder: a ``dataset.json`` file, or a folder whose (or whose parent's) ``dataset.json`` is read.

    Returns:
        ``{value: name}`` of the foreground classes in value order, or ``None`` where no such file names them.
    """
    path = Path(folder)
    candidates = [path] if path.suffix == ".json" else [path / DATASET_JSON, path.parent / DATASET_JSON]
    for candidate in candidates:
        if candidate.is_file():
            try:
                labels = json.loads(candidate.read_text(encoding="utf-8")).get("labels")
            except (json.JSONDecodeError, AttributeError):
                return None
            if isinstance(labels, dict):
                names = {int(k): str(v) for k, v in labels.items() if str(k).isdigit() and int(k) > 0}
                return dict(sorted(names.items())) or None
    return None


def bundle_class_names(
    class_names: Sequence[str] | None,
    dataset_dir: str | os.PathLike[str] | None,
    datalist_file: str | os.PathLike[str] | None,
    num_classes: int,
) -> list[str]:
    """The foreground class names of a bundle run: the ``class_names`` setting, else the data set's own names.

    Args:
        class_names: names given in the config (``None``: read them from the data set).
        dataset_dir: the data set folder (its ``dataset.json`` ``labels``).
        datalist_file: a datalist file; when it is a ``dataset.json``, its ``labels`` win over ``dataset_dir``'s.
        num_classes: classes including the background.

    Returns:
        ``num_classes - 1`` names; ``class 1``, ``class 2``, ... where neither the setting nor the data set
        names the classes.

    Raises:
        ValueError: when ``class_names`` or the data set's ``labels`` name another number of classes.
    """
    wanted = num_classes - 1
    if class_names is not None:
        names = [str(n) for n in class_names]
        if len(names) != wanted:
            raise ValueError(f"`class_names` needs {wanted} names (num_classes - 1), got {len(names)}: {names}")
        return names
    for source in (datalist_file, dataset_dir):
        found = class_names_from_dataset(source) if source else None
        if found is None:
            continue
        if sorted(found) != list(range(1, wanted + 1)):
            raise ValueError(
                f"the data set's {DATASET_JSON} ({source}) names classes {found}, but `num_classes` is "
                f"{num_classes}; set --num_classes {max(found) + 1} or give `class_names`"
            )
        return list(found.values())
    return [f"class {c}" for c in range(1, wanted + 1)]
