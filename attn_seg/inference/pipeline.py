"""Segment files: preprocess as the bundle does, predict, invert orientation/spacing/cropping, write NIfTI.

:func:`predict_file` handles one image; :func:`predict_files` a list of them, skipping finished cases, carrying on
past failures and reporting them at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import Invertd, KeepLargestConnectedComponent, LoadImaged
from tqdm import tqdm

from attn_seg.data.channels import channel_problem
from attn_seg.data.image_checks import header_problem, may_be_nonfinite
from attn_seg.data.naming import case_name
from attn_seg.data.readers import is_picture, read_header
from attn_seg.files import remove_partials
from attn_seg.inference.predictor import Predictor
from attn_seg.inference.settings import BundleSettings
from attn_seg.inference.writing import atomic_save, output_paths, read_geometry

__all__ = ["OutputOptions", "RunReport", "predict_file", "predict_files"]


@dataclass
class OutputOptions:
    """What to write besides the label map.

    Attributes:
        probs: class probabilities in [0, 1] (see :mod:`attn_seg.inference.writing` for the storage).
        attention: attention maps in [0, 1], one file per gate.
        largest_component: keep only the largest connected component of each foreground class.
        overwrite: replace existing outputs; otherwise a case whose outputs all exist is skipped.
    """

    probs: bool = False
    attention: bool = False
    largest_component: bool = False
    overwrite: bool = False


@dataclass
class RunReport:
    """Outcome of :func:`predict_files`: cases written, skipped (outputs existed) and failed (with the cause)."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


def _invert(image: MetaTensor, outputs: torch.Tensor, settings: BundleSettings) -> torch.Tensor:
    """Bring network-space outputs ``(C, *S')`` back to the input's grid with MONAI's ``Invertd``."""
    pred = MetaTensor(outputs, meta=dict(image.meta), applied_operations=list(image.applied_operations))
    inverter = Invertd(keys="pred", transform=settings.preprocessing, orig_keys="image", nearest_interp=False)
    inverted = inverter({"image": image, "pred": pred})["pred"]
    return torch.as_tensor(inverted.as_tensor() if isinstance(inverted, MetaTensor) else inverted)


def _labels(probs: torch.Tensor, largest_component: bool) -> np.ndarray:
    """Argmax label map ``S`` of probabilities ``(K, *S)``, optionally the largest component of each class."""
    num_classes = probs.shape[0]
    labels = probs.argmax(dim=0, keepdim=True)
    if largest_component and num_classes > 1:
        keep = KeepLargestConnectedComponent(applied_labels=list(range(1, num_classes)), is_onehot=False)
        labels = torch.as_tensor(keep(labels))
    dtype = np.uint8 if num_classes <= 256 else np.uint16
    return labels[0].cpu().numpy().astype(dtype)


def _channels_last(array: torch.Tensor, spatial_dims: int) -> np.ndarray:
    """``(C, *S)`` -> ``(*S, C)``; 2D gets a singleton third axis so that channels are the fourth."""
    out = array.movedim(0, -1).cpu().numpy().astype(np.float32)
    return out[:, :, None] if spatial_dims == 2 else out


def _check_finite(path: Path, image: torch.Tensor) -> None:
    finite = torch.isfinite(torch.as_tensor(image))
    if not bool(finite.all()):
        raise ValueError(f"{path} has {int((~finite).sum())} NaN or infinite voxels (of {finite.numel()})")


def _load(path: Path, settings: BundleSettings, check_finite: bool) -> MetaTensor:
    """The network input of ``path``: the bundle's preprocessing; with ``check_finite``, the loaded voxels are
    checked to be finite before normalisation (which would clip or spread an infinite value silently)."""
    steps = settings.preprocessing.transforms
    split = 1 if steps and isinstance(steps[0], LoadImaged) else len(steps)
    data = settings.preprocessing({"image": str(path)}, end=split)
    if check_finite:
        _check_finite(path, data["image"])
    return settings.preprocessing(data, start=split)["image"]


def predict_file(
    path: Path, predictor: Predictor, settings: BundleSettings, out_dir: Path, options: OutputOptions
) -> dict[str, Path]:
    """Segment one image and write its outputs in its own geometry.

    Args:
        path: the image file.
        predictor: the sliding-window predictor (with the bundle's network).
        settings: the bundle settings (preprocessing is inverted on the outputs).
        out_dir: the output folder (exists).
        options: what to write.

    Returns:
        The files written, by kind (``"seg"``, ``"probs"``, ``"attn_g<k>"``).

    Raises:
        FileNotFoundError: when ``path`` is missing.
        attn_seg.data.ImageReadError: when it is not a readable image.
        ValueError: when it cannot be segmented (empty axis, complex or non-finite voxels, singular affine, a size
            beyond its file or the memory budget) or does not fit the network (dimensions, channels); nothing is
            written then.
    """
    header = read_header(path)  # a clean error naming the file before MONAI's loaders see it
    problem = header_problem(header)  # checked before the voxels are read: empty axes, size, dtype, affine
    if problem:
        raise ValueError(problem)
    if header.channels > 1 or is_picture(path):  # the header tells a picture's channels: refused unread
        problem = channel_problem(path, header.channels, settings.in_channels)
        if problem:
            raise ValueError(problem)
    image = _load(path, settings, check_finite=may_be_nonfinite(header))  # integer voxels are finite
    if image.dim() != settings.spatial_dims + 1:
        raise ValueError(f"{path} has {image.dim() - 1} spatial dims after loading, the network takes "
                         f"{settings.spatial_dims}")
    problem = channel_problem(path, int(image.shape[0]), settings.in_channels)
    if problem:  # channels stored as an array axis (a 4D NIfTI)
        raise ValueError(problem)
    logits, maps = predictor.logits(image.unsqueeze(0), attention=options.attention)
    probs = torch.softmax(logits[0], dim=0)
    inverted = _invert(image, torch.cat([probs, *(m[0] for m in maps)], dim=0), settings)
    num_classes = probs.shape[0]
    spatial = tuple(int(s) for s in inverted.shape[1:])
    geometry = read_geometry(path, header.affine, spatial)
    if geometry.shape != spatial:
        raise ValueError(f"{path}: inverted prediction has shape {spatial}, the input {geometry.shape}")
    sizes = [num_classes, *(int(m.shape[1]) for m in maps)]
    probs_inv, *maps_inv = inverted.split(sizes, dim=0)
    paths = output_paths(out_dir, case_name(path), probs=options.probs, attention_gates=len(maps))
    for k, alpha in enumerate(maps_inv):  # the label map is written last: its presence marks a finished case
        array = alpha.clamp(0.0, 1.0)
        atomic_save(array[0].cpu().numpy().astype(np.float32) if array.shape[0] == 1
                    else _channels_last(array, settings.spatial_dims), geometry, paths[f"attn_g{k}"])
    if options.probs:
        atomic_save(_channels_last(probs_inv, settings.spatial_dims), geometry, paths["probs"])
    atomic_save(_labels(probs_inv, options.largest_component), geometry, paths["seg"])
    return paths


def _cause(path: Path, err: BaseException) -> str:
    """One line naming the file and the cause; MONAI's "applying transform" wrappers are looked through."""
    while isinstance(err, RuntimeError) and err.__cause__ is not None and "applying transform" in str(err):
        err = err.__cause__
    text = " ".join(str(err).split()) or type(err).__name__
    text = text if len(text) < 400 else text[:397] + "..."
    return text if str(path) in text else f"{path}: {text}"


def _finished(path: Path, out_dir: Path, options: OutputOptions, gates: int) -> bool:
    paths = output_paths(out_dir, case_name(path), probs=options.probs, attention_gates=gates)
    return all(p.is_file() for p in paths.values())


def predict_files(
    images: Iterable[Path],
    predictor: Predictor,
    settings: BundleSettings,
    out_dir: str | os.PathLike[str],
    options: OutputOptions | None = None,
    *,
    progress: bool = True,
    attention_gates: int = 0,
) -> RunReport:
    """Segment many images; skip finished ones, carry on past failures.

    Args:
        images: the image files.
        predictor: the sliding-window predictor.
        settings: the bundle settings.
        out_dir: the output folder (created when missing); temporary files of killed runs in it are removed.
        options: what to write (default: label maps only, no overwrite).
        progress: show a progress bar over cases (stderr).
        attention_gates: gated levels of the network, to know a case's attention files when skipping.

    Returns:
        The report; ``failed`` holds ``(path, cause)`` for each case that could not be segmented.
    """
    options = options or OutputOptions()
    out = Path(out_dir).expanduser().absolute()
    out.mkdir(parents=True, exist_ok=True)
    remove_partials(out)
    images = list(images)
    inputs = {p.absolute() for p in images}
    report = RunReport()
    seen: dict[str, Path] = {}
    for path in tqdm(images, desc="predict", unit="case", disable=not progress):
        targets = output_paths(out, case_name(path), probs=options.probs, attention_gates=attention_gates)
        if any(t in inputs for t in targets.values()):
            report.failed.append((path, f"its output {targets['seg'].name} would overwrite an input file"))
            continue
        if seen.setdefault(case_name(path), path) != path:
            report.failed.append((path, f"same case name as {seen[case_name(path)]}; outputs would collide"))
            continue
        if not options.overwrite and _finished(path, out, options, attention_gates):
            report.skipped.append(path)
            continue
        try:
            predict_file(path, predictor, settings, out, options)
        except Exception as err:  # one bad case must not stop a folder of hundreds
            report.failed.append((path, _cause(path, err)))
            continue
        report.written.append(path)
    return report


