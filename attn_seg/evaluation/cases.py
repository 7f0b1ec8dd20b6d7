"""Pair prediction files with their references (and images, attention maps) by name, and load them checked.

Naming (the inference writer's convention): a prediction ``<case>_seg.nii.gz`` (or ``<case>.nii.gz``) pairs with
the label ``<case>.nii.gz``; the image is ``<case>.nii.gz`` or ``<case>_0000.nii.gz`` (nnU-Net); attention maps
are ``<case>_attn_g<k>.nii.gz``, one per gate, finest first. Probability maps (``<case>_probs.*``) are skipped.
Any format the readers know works the same way (2D PNG labels too). Pictures are read as picture data sets store
them: a 0/255 PNG mask, and any 8-bit JPEG mask (noisy from compression), in grey or in equal colour channels, is read
as 0/1, foreground where the value is above 127; a colour image is shown in grey (the mean of its channels).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from attn_seg.data.naming import ATTENTION, SEG, case_name, parse_output
from attn_seg.data.readers import ImageHeader, image_files, is_picture, read_image, read_label

__all__ = ["CaseFiles", "LoadedCase", "case_name", "cases_from_datalist", "load_case", "pair_cases"]

_AFFINE_TOLERANCE_MM = 1e-3


@dataclass(frozen=True)
class CaseFiles:
    """The files of one case.

    Attributes:
        case: the case name (file name without suffix).
        pred: predicted label map.
        label: reference label map.
        image: the image (overlay background), if known.
        attention: attention maps, one per gate, finest first.
    """

    case: str
    pred: Path
    label: Path
    image: Path | None = None
    attention: tuple[Path, ...] = ()


@dataclass(frozen=True)
class LoadedCase:
    """One case read from disk, geometry checked.

    Attributes:
        case: the case name.
        pred: predicted class map, ``(X, Y[, Z])`` int64.
        label: reference class map, same shape.
        image: image intensities (float32, same shape) or ``None``.
        attention: attention maps in ``[0, 1]`` (float32, same shape), finest gate first.
        affine: voxel-to-world matrix (RAS+ mm) shared by all of them.
        spacing: voxel size in mm per axis.
    """

    case: str
    pred: np.ndarray
    label: np.ndarray
    image: np.ndarray | None
    attention: list[np.ndarray]
    affine: np.ndarray
    spacing: tuple[float, ...]


def _images(folder: Path, what: str) -> list[Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"{what} folder {folder} does not exist")
    return image_files(folder)


def _predictions(pred_dir: Path) -> dict[str, Path]:
    preds: dict[str, Path] = {}
    for path in _images(pred_dir, "prediction"):
        case, kind = parse_output(path)
        if kind != SEG:  # probabilities, attention maps
            continue
        if case in preds:
            raise ValueError(f"case {case!r} has two predictions: {preds[case]} and {path}; keep one")
        preds[case] = path
    if not preds:
        raise FileNotFoundError(f"prediction folder {pred_dir} holds no label maps (<case>_seg.nii.gz)")
    return preds


def _attention_files(folder: Path | None) -> dict[str, dict[int, Path]]:
    found: dict[str, dict[int, Path]] = {}
    for path in _images(folder, "attention") if folder is not None else []:
        case, kind = parse_output(path)
        if kind.startswith(ATTENTION):
            found.setdefault(case, {})[int(kind.removeprefix(ATTENTION))] = path
    return found


def _image_for(case: str, images: dict[str, Path]) -> Path | None:
    return images.get(case) or images.get(f"{case}_0000")


def pair_cases(
    pred_dir: str | os.PathLike[str],
    label_dir: str | os.PathLike[str],
    *,
    image_dir: str | os.PathLike[str] | None = None,
    attention_dir: str | os.PathLike[str] | None = None,
) -> list[CaseFiles]:
    """Pair every prediction with its label by case name.

    Args:
        pred_dir: folder of ``<case>_seg.*`` (or ``<case>.*``) label maps.
        label_dir: folder of ``<case>.*`` references.
        image_dir: folder of the images (optional; overlays are drawn on black without it).
        attention_dir: folder of ``<case>_attn_g<k>.*`` maps (optional; ``None`` looks in ``pred_dir``).

    Returns:
        One :class:`CaseFiles` per case, sorted by name.

    Raises:
        FileNotFoundError: when a folder is missing or empty, or a prediction or label has no partner.
        ValueError: when a case has two predictions, or its gates are not numbered 0..G-1.
    """
    pred_root, label_root = Path(pred_dir), Path(label_dir)
    preds = _predictions(pred_root)
    labels = {case_name(p): p for p in _images(label_root, "label")}
    images = {case_name(p): p for p in _images(Path(image_dir), "image")} if image_dir is not None else {}
    attention = _attention_files(Path(attention_dir) if attention_dir is not None else pred_root)
    unlabelled = sorted(set(preds) - set(labels))
    if unlabelled:
        raise FileNotFoundError(f"prediction {preds[unlabelled[0]]} has no label {label_root}/{unlabelled[0]}.* "
                                f"({len(unlabelled)} prediction(s) without a label)")
    missing = sorted(set(labels) - set(preds))
    if missing:
        raise FileNotFoundError(f"label {labels[missing[0]]} has no prediction {pred_root}/{missing[0]}_seg.* "
                                f"({len(missing)} label(s) without a prediction)")
    cases = []
    for case in sorted(preds):
        gates = attention.get(case, {})
        if sorted(gates) != list(range(len(gates))):
            raise ValueError(
                f"attention maps of case {case!r} are numbered {sorted(gates)}; expected 0..{len(gates) - 1}"
            )
        cases.append(CaseFiles(case, preds[case], labels[case], _image_for(case, images),
                               tuple(gates[g] for g in sorted(gates))))
    return cases


def cases_from_datalist(
    datalist: Sequence[Mapping[str, Any]],
    pred_dir: str | os.PathLike[str],
    *,
    attention_dir: str | os.PathLike[str] | None = None,
    postfix: str = "seg",
) -> list[CaseFiles]:
    """Pair a datalist's ``{"image", "label"}`` entries with predictions named after their images.

    Used where the labels folder holds more cases than were predicted (a bundle's validation split).

    Args:
        datalist: entries with ``image`` and ``label`` paths (e.g. a bundle's ``@split[1]``).
        pred_dir: folder of ``<image case>_<postfix>.*`` predictions.
        attention_dir: folder of ``<case>_attn_g<k>.*`` maps (``None``: ``pred_dir``).
        postfix: the postfix the writer added to each case name.

    Returns:
        One :class:`CaseFiles` per entry, in datalist order.

    Raises:
        FileNotFoundError: when an entry's prediction is missing.
        ValueError: when an entry lacks ``image`` or ``label``.
    """
    root = Path(pred_dir)
    preds = {case_name(p): p for p in _images(root, "prediction")}
    attention = _attention_files(Path(attention_dir) if attention_dir is not None else root)
    cases = []
    for entry in datalist:
        if not isinstance(entry.get("image"), (str, os.PathLike)) or not entry.get("label"):
            raise ValueError(f"datalist entry {dict(entry)} needs one 'image' and one 'label' path")
        case = case_name(entry["image"])
        pred = preds.get(f"{case}_{postfix}") or preds.get(case)
        if pred is None:
            raise FileNotFoundError(f"image {entry['image']} has no prediction {root}/{case}_{postfix}.*")
        gates = attention.get(case, {})
        cases.append(CaseFiles(case, pred, Path(entry["label"]), Path(entry["image"]),
                               tuple(gates[g] for g in sorted(gates))))
    return cases


def _binary_picture_mask(array: np.ndarray, path: Path) -> np.ndarray:
    """A mask stored as an 8-bit picture -> 0/1 (foreground above 127): a PNG (lossless) whose values are 0 and 255
    only, and any JPEG (lossy: its values lie near 0 and 255, and in between at edges). Other label maps as they are.
    """
    if array.dtype != np.uint8 or not is_picture(path):
        return array
    jpeg = str(path).lower().endswith((".jpg", ".jpeg"))
    if jpeg or set(np.unique(array).tolist()) <= {0, 255}:
        return (array > 127).astype(np.uint8)
    return array


def _read_spatial(path: Path, role: str = "label") -> tuple[np.ndarray, ImageHeader]:
    """A file's array without channel axes: label maps one channel (pictures' 0/255 masks as 0/1), images in grey.

    Args:
        path: the file.
        role: ``"label"`` (labels and predictions: :func:`~attn_seg.data.readers.read_label`), ``"image"`` (a colour
            picture becomes the mean of its channels) or ``"attention"``.

    Raises:
        ValueError: when a label or attention map has more than one channel.
    """
    array, header = read_label(path) if role == "label" else read_image(path)
    spatial = header.affine.shape[0] - 1
    if array.ndim > spatial and role == "image" and header.channels > 1:
        array = array.reshape(*array.shape[:spatial], -1).mean(axis=-1)
    if array.ndim > spatial:  # drop a trailing channel axis of size 1
        if int(np.prod(array.shape[spatial:])) != 1:
            raise ValueError(f"{path} has shape {array.shape}; expected a single-channel {spatial}D image")
        array = array.reshape(array.shape[:spatial])
    return (_binary_picture_mask(array, path) if role == "label" else array), header


def _as_label_map(array: np.ndarray, path: Path) -> np.ndarray:
    rounded = np.rint(array)
    if not np.array_equal(rounded, array) or rounded.min(initial=0) < 0:
        raise ValueError(f"{path} is not a label map: it holds non-integer or negative values")
    return rounded.astype(np.int64)


def _as_unit(array: np.ndarray) -> np.ndarray:
    """Attention coefficients in ``[0, 1]``: floats clipped; integers above 1 (e.g. 0..255) scaled by the type's max."""
    if np.issubdtype(array.dtype, np.integer) and array.max(initial=0) > 1:
        return (array / np.iinfo(array.dtype).max).astype(np.float32)
    return np.clip(array.astype(np.float32), 0.0, 1.0)


def _check_geometry(path: Path, array: np.ndarray, header: ImageHeader, ref: Path, ref_array: np.ndarray,
                    ref_header: ImageHeader) -> None:
    if array.shape != ref_array.shape:
        raise ValueError(f"{path} has shape {array.shape} but label {ref} has {ref_array.shape}")
    if not np.allclose(header.affine, ref_header.affine, atol=_AFFINE_TOLERANCE_MM):
        raise ValueError(f"{path} has a different affine (orientation, spacing or origin) from label {ref}:\n"
                         f"{np.round(header.affine, 4)}\nvs\n{np.round(ref_header.affine, 4)}")


def load_case(files: CaseFiles) -> LoadedCase:
    """Read a case's files and check that they share the label's shape and affine.

    Args:
        files: the case's files.

    Returns:
        The arrays, with the label's affine and spacing.

    Raises:
        FileNotFoundError, attn_seg.data.ImageReadError: when a file is missing or unreadable (or a colour label).
        ValueError: when a file's shape or affine differs from the label's, or a label map is not integer.
    """
    label, label_header = _read_spatial(files.label)
    label = _as_label_map(label, files.label)
    others: list[np.ndarray] = []
    roles = ("label", "image", *["attention"] * len(files.attention))
    for path, role in zip((files.pred, files.image, *files.attention), roles, strict=True):
        if path is None:
            continue
        array, header = _read_spatial(path, role)
        _check_geometry(path, array, header, files.label, label, label_header)
        others.append(array)
    pred = _as_label_map(others.pop(0), files.pred)
    image = others.pop(0).astype(np.float32) if files.image is not None else None
    attention = [_as_unit(a) for a in others]
    return LoadedCase(files.case, pred, label, image, attention, label_header.affine, label_header.spacing)
