"""Segment files with a bundle's own inference pieces: its preprocessing, its inferer and its post-processing
(inversion to the input's geometry and the writers), as ``python -m monai.bundle run`` does with them.

:func:`predict_file` handles one image; :func:`predict_files` a list of them, skipping finished cases, carrying on
past failures and reporting them at the end.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from monai.data import MetaTensor
from monai.transforms import LoadImaged
from tqdm import tqdm

from attn_seg.data.channels import channel_problem
from attn_seg.data.image_checks import header_problem, may_be_nonfinite, nonfinite_problem
from attn_seg.data.naming import case_name
from attn_seg.data.readers import is_picture, read_header
from attn_seg.files import remove_partials
from attn_seg.inference.models import count_gates
from attn_seg.inference.outputs import output_paths
from attn_seg.inference.settings import BundleSettings

__all__ = ["RunReport", "predict_file", "predict_files"]


@dataclass
class RunReport:
    """Outcome of :func:`predict_files`: cases written, skipped (outputs existed) and failed (with the cause)."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


def _load(path: Path, settings: BundleSettings, check_finite: bool) -> dict[str, Any]:
    """The preprocessed sample of ``path`` (``"image"``: the network input); with ``check_finite``, the loaded
    voxels are checked to be finite before normalisation (which would clip or spread an infinite value)."""
    steps = settings.preprocessing.transforms
    split = 1 if steps and isinstance(steps[0], LoadImaged) else len(steps)
    data = settings.preprocessing({"image": str(path)}, end=split)
    problem = nonfinite_problem("image", path, torch.as_tensor(data["image"]).numpy()) if check_finite else ""
    if problem:
        raise ValueError(problem)
    return dict(settings.preprocessing(data, start=split))


def _checked_input(path: Path, settings: BundleSettings) -> dict[str, Any]:
    """The preprocessed sample of ``path``, after the checks ``check-data`` makes (header first, then voxels)."""
    header = read_header(path)  # a clean error naming the file before MONAI's loaders see it
    problem = header_problem(header)  # checked before the voxels are read: empty axes, size, dtype, affine
    if problem:
        raise ValueError(problem)
    if header.channels > 1 or is_picture(path):  # the header tells a picture's channels: refused unread
        problem = channel_problem(path, header.channels, settings.in_channels)
        if problem:
            raise ValueError(problem)
    data = _load(path, settings, check_finite=may_be_nonfinite(header))  # integer voxels are finite
    image = data["image"]
    if image.dim() != settings.spatial_dims + 1:
        raise ValueError(f"{path} has {image.dim() - 1} spatial dims after loading, the network takes "
                         f"{settings.spatial_dims}")
    problem = channel_problem(path, int(image.shape[0]), settings.in_channels)
    if problem:  # channels stored as an array axis (a 4D NIfTI)
        raise ValueError(problem)
    return data


def predict_file(path: Path, network: torch.nn.Module, settings: BundleSettings) -> None:
    """Segment one image and write its outputs in its own geometry: the bundle's ``preprocessing``, ``inferer``
    and ``postprocessing``, applied to one sample as the bundle's ``SupervisedEvaluator`` applies them.

    Args:
        path: the image file.
        network: the bundle's network with its weights (:func:`~attn_seg.inference.load_model`).
        settings: the bundle settings (with the outputs asked for among its overrides).

    Raises:
        FileNotFoundError: when ``path`` is missing.
        attn_seg.data.ImageReadError: when it is not a readable image.
        ValueError: when it cannot be segmented (empty axis, complex or non-finite voxels, singular affine, a size
            beyond its file or the memory budget) or does not fit the network (dimensions, channels); nothing is
            written then.
    """
    data = _checked_input(path, settings)
    image: MetaTensor = data["image"]
    data["pred"] = settings.inferer(image.unsqueeze(0), network)[0]
    settings.postprocessing(data)


def _cause(path: Path, err: BaseException) -> str:
    """One line naming the file and the cause; MONAI's "applying transform" wrappers are looked through."""
    while isinstance(err, RuntimeError) and err.__cause__ is not None and "applying transform" in str(err):
        err = err.__cause__
    text = " ".join(str(err).split()) or type(err).__name__
    text = text if len(text) < 400 else text[:397] + "..."
    return text if str(path) in text else f"{path}: {text}"


def _finished(path: Path, out_dir: Path, probs: bool, gates: int) -> bool:
    paths = output_paths(out_dir, case_name(path), probs=probs, attention_gates=gates)
    return all(p.is_file() for p in paths.values())


def predict_files(
    images: Iterable[Path],
    network: torch.nn.Module,
    settings: BundleSettings,
    *,
    overwrite: bool = False,
    progress: bool = True,
) -> RunReport:
    """Segment many images into the bundle's ``output_dir``; skip finished ones, carry on past failures.

    Args:
        images: the image files.
        network: the bundle's network with its weights.
        settings: the bundle settings (``output_dir``, ``save_probs``, ``save_attention`` among them).
        overwrite: replace existing outputs; otherwise a case whose outputs all exist is skipped.
        progress: show a progress bar over cases (stderr).

    Returns:
        The report; ``failed`` holds ``(path, cause)`` for each case that could not be segmented.
    """
    out = Path(settings.get("output_dir")).expanduser().absolute()
    out.mkdir(parents=True, exist_ok=True)
    remove_partials(out)  # temporary files of a killed run
    probs = bool(settings.get("save_probs", False))
    gates = count_gates(network) if settings.get("save_attention", False) else 0
    images = list(images)
    inputs = {p.absolute() for p in images}
    report = RunReport()
    seen: dict[str, Path] = {}
    for path in tqdm(images, desc="predict", unit="case", disable=not progress):
        targets = output_paths(out, case_name(path), probs=probs, attention_gates=gates)
        if any(t in inputs for t in targets.values()):
            report.failed.append((path, f"its output {targets['seg'].name} would overwrite an input file"))
            continue
        if seen.setdefault(case_name(path), path) != path:
            report.failed.append((path, f"same case name as {seen[case_name(path)]}; outputs would collide"))
            continue
        if not overwrite and _finished(path, out, probs, gates):
            report.skipped.append(path)
            continue
        try:
            predict_file(path, network, settings)
        except Exception as err:  # one bad case must not stop a folder of hundreds
            report.failed.append((path, _cause(path, err)))
            continue
        report.written.append(path)
    return report
