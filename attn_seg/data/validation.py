"""Validate a datalist before training: every malformed case found, one line per problem, file and cause named.

Two passes keep it cheap: headers of every file first (existence, readability, dimensions, shape and affine of
image vs label), then the arrays of the cases whose headers passed (NaN/Inf voxels, label values). The second
pass also collects the per-case statistics that :mod:`attn_seg.data.fingerprint` summarises.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from attn_seg.data.channels import IN_CHANNELS_SETTING, channel_problem
from attn_seg.data.image_checks import header_problem, nonfinite_problem
from attn_seg.data.readers import ImageHeader, ImageReadError, is_picture, read_header, read_image, read_label

__all__ = ["CaseStats", "DataValidationError", "Inspection", "inspect_cases", "validate_cases"]


class DataValidationError(ValueError):
    """Raised by :func:`validate_cases`; ``problems`` holds one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} problem(s) in the data:\n" + "\n".join(self.problems))


@dataclass
class CaseStats:
    """What the array pass learnt about one valid case.

    Attributes:
        image: image path.
        label: label path, or ``None`` for unlabelled cases.
        shape: spatial shape.
        spacing: voxel size in millimetres per spatial axis.
        orientation: axis codes, e.g. ``"LPS"``.
        channels: image channels.
        label_counts: voxels per label value (after ``label_map``).
        foreground: a random sample of image intensities (channel 0) inside the foreground (label > 0).
    """

    image: str
    label: str | None
    shape: tuple[int, ...]
    spacing: tuple[float, ...]
    orientation: str
    channels: int = 1
    label_counts: dict[int, int] = field(default_factory=dict)
    foreground: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))


@dataclass
class Inspection:
    """Result of :func:`inspect_cases`: statistics of the valid cases and the problems of the others."""

    cases: list[CaseStats]
    problems: list[str]
    spatial_dims: int


def _path_text(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def _entry_problems(cases: Sequence[Any], require_labels: bool) -> list[str]:
    problems = []
    for i, case in enumerate(cases):
        if not isinstance(case, Mapping) or "image" not in case:
            problems.append(f"datalist entry {i} has no 'image' key: {case!r}")
        elif require_labels and not case.get("label"):
            problems.append(f"datalist entry {i} (image {_path_text(case['image'])}) has no 'label'")
    for key in ("image", "label"):
        names = Counter(
            str(Path(_path_text(c[key])).absolute()) for c in cases if isinstance(c, Mapping) and c.get(key)
        )
        problems += [f"{key} {name} is listed {n} times (duplicate entry)" for name, n in names.items() if n > 1]
    return problems


def _header(role: str, path: Any, problems: list[str]) -> ImageHeader | None:
    if isinstance(path, list):  # several files stacked as channels: check the first, the others must match
        headers = [_header(role, p, problems) for p in path]
        return None if any(h is None for h in headers) else headers[0]
    try:
        return read_header(path)
    except (FileNotFoundError, ImageReadError) as err:
        problems.append(f"{role} {err}")
        return None


def _spatial(
    header: ImageHeader, role: str, spatial_dims: int, in_channels: int, setting: str = IN_CHANNELS_SETTING
) -> tuple[tuple[int, ...], str]:
    """The spatial shape of a header, or ``((), problem)`` when it is unusable (:func:`header_problem`) or its
    dimensions or channels are not the expected."""
    problem = header_problem(header)
    if problem:
        return (), f"{role} {problem}"
    shape = list(header.shape)
    while len(shape) > spatial_dims and shape[-1] == 1:
        shape.pop()
    channels = header.channels
    if role == "image" and in_channels > 1 and len(shape) == spatial_dims + 1 and shape[-1] == in_channels:
        channels = shape.pop()
    where = f"{role} {header.path}"
    if len(shape) != spatial_dims:
        extra = f" with {in_channels} channels" if role == "image" and in_channels > 1 else ""
        return (), f"{where} is {len(shape)}D {tuple(header.shape)} but {spatial_dims}D images{extra} are expected"
    if role == "image" and channels != in_channels:
        return (), channel_problem(header.path, channels, in_channels, setting)
    if role != "image" and channels != 1 and not is_picture(header.path):  # colour pictures: see read_label
        return (), f"{where} has {channels} channels per voxel but 1 expected"
    spacing = header.spacing[:spatial_dims]
    if not all(np.isfinite(s) and s > 0 for s in spacing):
        return (), f"{where} has an invalid voxel spacing {spacing} (affine {header.affine.tolist()})"
    return tuple(shape), ""


def _pair_problem(image: ImageHeader, label: ImageHeader, shapes: tuple[tuple, tuple], tol: float) -> str:
    if shapes[0] != shapes[1]:
        return f"label {label.path} has shape {shapes[1]} but image {image.path} has {shapes[0]}"
    if image.affine.shape != label.affine.shape:
        return f"label {label.path} has a {label.affine.shape} affine but image {image.path} a {image.affine.shape}"
    diff = float(np.abs(image.affine - label.affine).max())
    if diff <= tol:
        return ""
    detail = []
    for name in ("spacing", "orientation"):
        a, b = getattr(image, name), getattr(label, name)
        if a != b:
            detail.append(f"{name} {_fmt(b)} vs {_fmt(a)}")
    detail = detail or [f"origin {_fmt(label.affine[:-1, -1])} vs {_fmt(image.affine[:-1, -1])}"]
    return (
        f"label {label.path} does not lie on the grid of image {image.path}: {'; '.join(detail)} "
        f"(affines differ by up to {diff:.3g}, tolerance {tol:g})"
    )


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "(" + ", ".join(f"{float(v):.4g}" for v in value) + ")"


def _check_headers(
    case: Mapping, spatial_dims: int, network_input: tuple[int, str], tol: float, problems: list[str]
) -> tuple[ImageHeader, tuple[int, ...]] | None:
    """Header pass of one case: the image header and spatial shape, or ``None`` with problems appended.

    ``network_input`` is ``(in_channels, the setting that names it)``.
    """
    image = _header("image", case["image"], problems)
    label = _header("label", case["label"], problems) if case.get("label") else None
    if image is None or (case.get("label") and label is None):
        return None
    in_channels, setting = network_input
    shape, problem = _spatial(image, "image", spatial_dims, in_channels, setting)
    label_problem = _spatial(label, "label", spatial_dims, in_channels)[1] if label is not None else ""
    if problem or label_problem:
        problems.extend(p for p in (problem, label_problem) if p)
        return None
    if label is not None:
        pair = _pair_problem(image, label, (shape, _spatial(label, "label", spatial_dims, in_channels)[0]), tol)
        if pair:
            problems.append(pair)
            return None
    return image, shape


def _infer_spatial_dims(cases: Sequence[Any]) -> int:
    counts: Counter[int] = Counter()
    for case in cases[:20]:
        try:
            path = case["image"][0] if isinstance(case["image"], list) else case["image"]
            shape = list(read_header(path).shape)
        except (FileNotFoundError, ImageReadError, KeyError, TypeError, IndexError):
            continue
        while len(shape) > 2 and shape[-1] == 1:
            shape.pop()
        counts[min(len(shape), 3)] += 1
    return counts.most_common(1)[0][0] if counts else 3


def _read(role: str, path: str, problems: list[str]) -> np.ndarray | None:
    try:
        return (read_label if role == "label" else read_image)(path)[0]
    except (FileNotFoundError, ImageReadError) as err:
        problems.append(f"{role} {err}")
        return None


def _label_values(
    path: str, label: np.ndarray, label_map: Mapping[int, int], num_classes: int | None
) -> tuple[dict[int, int], str]:
    """Label counts after ``label_map``, or a problem line."""
    if label.dtype == np.bool_:
        label = label.astype(np.uint8)
    if np.issubdtype(label.dtype, np.floating):
        bad = nonfinite_problem("label", path, label)
        if bad:
            return {}, bad
        fractional = label[label != np.round(label)]
        if fractional.size:
            return {}, f"label {path} has non-integer values (e.g. {float(fractional[0]):g}); labels hold class indices"
    values, counts = np.unique(label.astype(np.int64), return_counts=True)
    mapped: Counter[int] = Counter()
    for value, count in zip(values.tolist(), counts.tolist(), strict=True):
        mapped[int(label_map.get(value, value))] += count
    if num_classes is not None:
        outside = sorted(v for v in mapped if not 0 <= v < num_classes)
        if outside:
            hint = f"; map them with label_map, e.g. {{{outside[-1]}: 1}}" if len(mapped) <= num_classes else ""
            return {}, (
                f"label {path} has values {outside} outside the declared classes 0..{num_classes - 1} "
                f"(num_classes={num_classes}, background included){hint}"
            )
    return dict(sorted(mapped.items())), ""


def _check_arrays(case: Mapping, shape: tuple[int, ...], options: dict, problems: list[str]) -> dict | None:
    """Array pass of one case: label counts and a foreground intensity sample, or ``None`` with problems."""
    images = case["image"] if isinstance(case["image"], list) else [case["image"]]
    arrays = [_read("image", p, problems) for p in images]
    label = _read("label", case["label"], problems) if case.get("label") else None
    if any(a is None for a in arrays) or (case.get("label") and label is None):
        return None
    found = [nonfinite_problem("image", p, a) for p, a in zip(images, arrays, strict=True) if a is not None]
    counts: dict[int, int] = {}
    if label is not None:
        if options["label_threshold"] is not None:  # as the loaders' AsDiscreted(threshold=...): 1 where >=
            label = label >= options["label_threshold"]
        counts, problem = _label_values(case["label"], label, options["label_map"], options["num_classes"])
        found.append(problem)
    if any(found):
        problems.extend(p for p in found if p)
        return None
    first = np.reshape(np.asarray(arrays[0]), (*shape, -1))[..., 0]
    voxels = first[np.reshape(label, shape) > 0] if label is not None else first.ravel()
    rng = np.random.default_rng(options["seed"])
    n = min(options["samples"], voxels.size)
    sample = voxels[rng.choice(voxels.size, n, replace=False)] if n < voxels.size else voxels
    return {"label_counts": counts, "foreground": np.asarray(sample, dtype=np.float32)}


def inspect_cases(
    cases: Sequence[Any],
    *,
    spatial_dims: int | None = None,
    num_classes: int | None = None,
    in_channels: int = 1,
    label_map: Mapping[int, int] | None = None,
    label_threshold: float | None = None,
    affine_tol: float = 1e-3,
    check_arrays: bool = True,
    require_labels: bool = True,
    samples_per_case: int = 10000,
    in_channels_setting: str = IN_CHANNELS_SETTING,
) -> Inspection:
    """Check every case and collect the statistics of the valid ones; never raises for bad data.

    Args:
        cases: datalist of ``{"image": path, "label": path}`` (``image`` may be a list of channel files).
        spatial_dims: 2 or 3; ``None`` takes the most common dimensionality of the images.
        num_classes: classes including background (labels in 0..num_classes-1); ``None`` skips the range check.
        in_channels: image channels (a trailing axis of that size is allowed; e.g. 4 for MSD brain tumours, 3 for
            colour pictures).
        label_map: label values to replace before checking, e.g. ``{255: 1}`` for 0/255 masks.
        label_threshold: labels become 1 where ``value >= label_threshold``, 0 elsewhere, before ``label_map``
            (noisy JPEG masks: 128); ``None`` keeps the values. Colour label pictures with equal channels are read
            as one channel (:func:`~attn_seg.data.readers.read_label`).
        affine_tol: largest allowed difference between image and label affine entries (millimetres).
        check_arrays: also read the voxels (NaN/Inf, label values, statistics); ``False``: headers only.
        require_labels: every case needs a ``label``.
        samples_per_case: foreground intensities sampled per case for the fingerprint.
        in_channels_setting: the setting ``in_channels`` comes from, named when an image's channels differ.

    Returns:
        The inspection: statistics of valid cases and one line per problem.

    Raises:
        ValueError: when an argument is out of range.
    """
    if spatial_dims is not None and spatial_dims not in (2, 3):
        raise ValueError(f"`spatial_dims` must be 2 or 3, got {spatial_dims!r}")
    if num_classes is not None and num_classes < 2:
        raise ValueError(f"`num_classes` counts background too and must be at least 2, got {num_classes!r}")
    if in_channels < 1:
        raise ValueError(f"`in_channels` must be at least 1, got {in_channels!r}")
    dims = spatial_dims or _infer_spatial_dims(cases)
    problems = [] if cases else ["the datalist is empty: no case to train on"]
    problems += _entry_problems(cases, require_labels)
    valid = [c for c in cases if isinstance(c, Mapping) and "image" in c]
    options = {"label_map": dict(label_map or {}), "num_classes": num_classes, "samples": samples_per_case,
               "label_threshold": label_threshold}
    stats = []
    for index, case in enumerate(valid):
        checked = _check_headers(case, dims, (in_channels, in_channels_setting), affine_tol, problems)
        if checked is None:
            continue
        header, shape = checked
        arrays = _check_arrays(case, shape, {**options, "seed": index}, problems) if check_arrays else {}
        if arrays is not None:
            spacing = header.spacing[:dims]
            stats.append(CaseStats(_path_text(case["image"]), case.get("label"), shape, spacing,
                                   header.orientation[:dims], in_channels, **arrays))
    return Inspection(stats, problems, dims)


def validate_cases(cases: Sequence[Any], *, spatial_dims: int, num_classes: int | None, **kwargs: Any) -> list:
    """Check a datalist and return it unchanged, or raise with every problem found.

    Meant for the start of training (``"datalist": "$attn_seg.data.validate_cases(...)"`` in a bundle).

    Args:
        cases: the datalist.
        spatial_dims: 2 or 3.
        num_classes: classes including background, as the network's ``out_channels``; ``None`` skips the check.
        kwargs: further options of :func:`inspect_cases` (``in_channels``, ``label_map``, ``label_threshold``,
            ``affine_tol``, ``check_arrays``, ``require_labels``).

    Returns:
        ``cases``, as a list.

    Raises:
        DataValidationError: with one line per problem (a ``ValueError``).
    """
    kwargs.setdefault("samples_per_case", 0)
    report = inspect_cases(cases, spatial_dims=spatial_dims, num_classes=num_classes, **kwargs)
    if report.problems:
        raise DataValidationError(report.problems)
    return list(cases)
