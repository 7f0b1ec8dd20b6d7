"""Datalists from the layouts medical imaging data come in, and deterministic train/validation splits.

:func:`load_cases` reads any of these and returns ``[{"image": path, "label": path}, ...]`` with absolute paths:

- a Medical Segmentation Decathlon ``dataset.json`` (or its folder): the ``training``/``test`` lists, paths
  relative to the file; test entries may be plain strings;
- a JSON file holding a list of ``{"image": ..., "label": ...}`` dicts (paths relative to the file);
- a CSV file with ``image`` and ``label`` columns (paths relative to the file);
- a folder with an image folder and a label folder (``imagesTr/labelsTr``, ``images/labels``, ``image/label``
  or ``images/masks`` as Kvasir-SEG has them), or one folder holding both, images paired with labels by name and a
  label suffix:
  ``case_0001.nii.gz`` <-> ``case_0001_seg.nii.gz`` (suffix ``"_seg"``) or ``image/7.png`` <-> ``label/7.png``
  (suffix ``""``).

Missing files are not an error here: the datalist names them and :func:`attn_seg.data.validate_cases` reports
them with the rest.
"""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from attn_seg.data.readers import READABLE_SUFFIXES, image_files
from attn_seg.data.synthesize import DATASET_JSON
from attn_seg.files import atomic_write_json

__all__ = [
    "FOLDER_PAIRS",
    "LABEL_SUFFIXES",
    "declared_num_classes",
    "load_cases",
    "pair_folders",
    "write_split",
]

#: Sub-folder names recognised as (images, labels) pairs, in order of preference.
FOLDER_PAIRS = (
    ("imagesTr", "labelsTr"), ("images", "labels"), ("image", "label"), ("images", "masks"), ("imgs", "masks"),
)
#: Label-name suffixes tried when none is given (``""``: same name in the label folder).
LABEL_SUFFIXES = ("", "_seg", "_label", "_labels", "_mask", "_gt")


def _split_name(name: str) -> tuple[str, str]:
    """``"case_1.nii.gz"`` -> ``("case_1", ".nii.gz")``; files of unknown type get ``("", "")``."""
    lower = name.lower()
    for suffix in READABLE_SUFFIXES:
        if lower.endswith(suffix):
            return name[: -len(suffix)], name[-len(suffix) :]
    return "", ""


def _label_for(stem: str, ext: str, label_dir: Path, suffix: str) -> Path:
    """The label file of an image: same ending first, then any readable ending; the expected name if none."""
    for candidate_ext in (ext, *READABLE_SUFFIXES):
        candidate = label_dir / f"{stem}{suffix}{candidate_ext}"
        if candidate.exists():
            return candidate
    return label_dir / f"{stem}{suffix}{ext}"


def _guess_suffix(images: list[Path], label_dir: Path, same_folder: bool) -> str:
    """The label suffix under which most images have a label file."""
    counts: Counter[str] = Counter()
    for suffix in LABEL_SUFFIXES:
        if same_folder and not suffix:
            continue
        for image in images:
            stem, ext = _split_name(image.name)
            counts[suffix] += _label_for(stem, ext, label_dir, suffix).exists()
    best = max(counts.values(), default=0)
    return next((s for s in LABEL_SUFFIXES if counts.get(s) == best and best > 0), "_seg" if same_folder else "")


def pair_folders(
    image_dir: str | os.PathLike[str],
    label_dir: str | os.PathLike[str] | None = None,
    *,
    label_suffix: str | None = None,
) -> list[dict]:
    """Pair images with labels by file name.

    Args:
        image_dir: folder of images.
        label_dir: folder of labels; ``None``: the labels sit next to the images and are told apart by suffix.
        label_suffix: text between an image's name and its ending in the label's name (``"_seg"`` pairs
            ``a.nii.gz`` with ``a_seg.nii.gz``); ``None`` picks the one of :data:`LABEL_SUFFIXES` that pairs most.

    Returns:
        One ``{"image", "label"}`` per image, sorted by name; a label that does not exist keeps its expected path.

    Raises:
        FileNotFoundError: when a folder is missing or holds no image file.
        ValueError: when ``label_dir`` is ``image_dir`` and ``label_suffix`` is ``""``.
    """
    images_path = Path(image_dir).expanduser().absolute()
    labels_path = images_path if label_dir is None else Path(label_dir).expanduser().absolute()
    same_folder = labels_path == images_path
    if same_folder and label_suffix == "":
        raise ValueError(f"`label_suffix` must not be empty when images and labels share the folder {images_path}")
    for folder in (images_path, labels_path):
        if not folder.is_dir():
            raise FileNotFoundError(f"folder {folder} does not exist")
    files = image_files(images_path)
    suffix = _guess_suffix(files, labels_path, same_folder) if label_suffix is None else label_suffix
    if same_folder:  # files named like labels are not images
        files = [f for f in files if not _split_name(f.name)[0].endswith(suffix)]
    if not files:
        raise FileNotFoundError(f"folder {images_path} holds no image file ({', '.join(READABLE_SUFFIXES)})")
    cases = []
    for image in files:
        stem, ext = _split_name(image.name)
        cases.append({"image": str(image), "label": str(_label_for(stem, ext, labels_path, suffix))})
    return cases


def _resolve(value: Any, base: Path, where: str) -> str | list[str]:
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return [str((base / v).absolute()) for v in value]  # several files stacked as channels
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: expected a path, got {value!r}")
    return str((base / Path(value).expanduser()).absolute())


def _entries(items: Any, base: Path, where: str) -> list[dict]:
    if not isinstance(items, list):
        raise ValueError(f"{where}: expected a list of cases, got {type(items).__name__}")
    cases = []
    for i, item in enumerate(items):
        entry = {"image": item} if isinstance(item, str) else item
        if not isinstance(entry, dict) or "image" not in entry:
            raise ValueError(f"{where}: entry {i} must be a path or a dict with an 'image' key, got {item!r}")
        case = dict(entry)
        for key in ("image", "label"):
            if key in case:
                case[key] = _resolve(case[key], base, f"{where} entry {i} {key!r}")
        cases.append(case)
    return cases


def _from_json(path: Path, key: str) -> list[dict]:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
    if isinstance(content, list):
        return _entries(content, path.parent, str(path))
    if not isinstance(content, dict) or key not in content:
        found = sorted(content) if isinstance(content, dict) else type(content).__name__
        raise ValueError(f"{path} has no {key!r} list (found {found})")
    return _entries(content[key], path.parent, f"{path} {key!r}")


def _from_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    columns = {c.strip().lower(): c for c in (rows[0].keys() if rows else [])}
    if "image" not in columns:
        raise ValueError(f"{path} needs a header row with an 'image' column (and 'label'), got {sorted(columns)}")
    cases = []
    for i, row in enumerate(rows, start=2):
        case = {k: row[columns[k]].strip() for k in ("image", "label") if k in columns and row[columns[k]]}
        cases.append({k: _resolve(v, path.parent, f"{path} line {i} {k!r}") for k, v in case.items()})
    return cases


def load_cases(
    source: str | os.PathLike[str], *, key: str = "training", label_suffix: str | None = None
) -> list[dict]:
    """Read a datalist from any supported layout (see the module docstring), detecting which one it is.

    Args:
        source: a ``dataset.json``/JSON list/CSV file, or a data set folder.
        key: the list of a Decathlon ``dataset.json`` to read (``"training"``, ``"test"``, ``"validation"``).
        label_suffix: for folder layouts, the label-name suffix (``None``: detected).

    Returns:
        The cases, ``{"image": path, "label": path}`` with absolute paths (may be empty: validation reports it).

    Raises:
        FileNotFoundError: when ``source`` does not exist or is a folder in no known layout.
        ValueError: when a JSON/CSV file is malformed.
    """
    path = Path(source).expanduser().absolute()
    if path.is_file():
        if path.suffix.lower() == ".csv":
            return _from_csv(path)
        return _from_json(path, key)
    if not path.is_dir():
        raise FileNotFoundError(f"data set {path} does not exist")
    if (path / DATASET_JSON).is_file():
        return _from_json(path / DATASET_JSON, key)
    for images, labels in FOLDER_PAIRS:
        if (path / images).is_dir() and (path / labels).is_dir():
            return pair_folders(path / images, path / labels, label_suffix=label_suffix)
    if any(_split_name(p.name)[0] for p in path.iterdir()):
        return pair_folders(path, None, label_suffix=label_suffix)
    pairs = ", ".join(f"{a}/+{b}/" for a, b in FOLDER_PAIRS)
    raise FileNotFoundError(
        f"data set folder {path} has no {DATASET_JSON}, no image/label folders ({pairs}) and no image files"
    )


def declared_num_classes(source: str | os.PathLike[str]) -> int | None:
    """Number of classes, background included, declared by a Decathlon ``labels`` map; ``None`` if none."""
    path = Path(source).expanduser().absolute()
    manifest = path / DATASET_JSON if path.is_dir() else path
    if manifest.suffix.lower() != ".json" or not manifest.is_file():
        return None
    try:
        labels = json.loads(manifest.read_text(encoding="utf-8")).get("labels")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return None
    if not isinstance(labels, dict) or not labels:
        return None
    try:
        return max(int(k) for k in labels) + 1
    except ValueError:
        return None


def write_split(
    train: list[dict], val: list[dict], out: str | os.PathLike[str], *, overwrite: bool = False, **info: Any
) -> Path:
    """Write a split as JSON (``{"training": [...], "validation": [...], **info}``), atomically.

    The file reads back with ``load_cases(out)`` and ``load_cases(out, key="validation")``.

    Args:
        train: training cases.
        val: validation cases.
        out: the JSON file to write.
        overwrite: replace an existing file; otherwise an existing file is an error.
        info: extra JSON-serialisable entries, e.g. ``seed=0, fold=1``.

    Returns:
        The path written.

    Raises:
        FileExistsError: when ``out`` exists and ``overwrite`` is false.
    """
    path = Path(out).expanduser().absolute()
    if path.exists() and not overwrite:
        raise FileExistsError(f"split file {path} already exists; pass overwrite=True to replace it")
    return atomic_write_json({"training": train, "validation": val, **info}, path)
