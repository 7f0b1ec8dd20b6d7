"""Run a bundle's configs from Python through MONAI's ``ConfigWorkflow``, as the bundle runner does."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from monai.bundle import ConfigWorkflow

__all__ = ["bundle_workflow"]


def bundle_workflow(
    bundle_dir: str | os.PathLike[str],
    config_files: Sequence[str] = ("train.json",),
    workflow_type: str = "train",
    overrides: Mapping[str, Any] | None = None,
) -> ConfigWorkflow:
    """A MONAI ``ConfigWorkflow`` of a bundle: ``initialize()``, ``run()``, ``finalize()``.

    The parsed objects are then at hand, e.g. ``workflow.train_trainer`` (ignite engine) or
    ``workflow.parser.get_parsed_content("network")``.

    Args:
        bundle_dir: the bundle folder (it holds ``configs/``).
        config_files: config files in ``configs/`` (or paths), merged in order, e.g.
            ``("train.json", "multi_gpu_train.json")``.
        workflow_type: ``"train"``, ``"infer"`` (or ``"evaluate"`` configs run as ``"infer"``).
        overrides: config ids and values, e.g. ``{"epochs": 2, "dataset_dir": "/data"}``.

    Returns:
        The workflow, not yet initialised.

    Raises:
        FileNotFoundError: when the bundle or a config file is missing.
    """
    root = Path(bundle_dir)
    configs = root / "configs"
    files = [str(f if Path(f).is_absolute() else configs / f) for f in config_files]
    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        raise FileNotFoundError(f"bundle {root}: config file(s) {missing} not found")
    return ConfigWorkflow(
        config_file=files,
        meta_file=str(configs / "metadata.json"),
        logging_file=str(configs / "logging.conf"),
        workflow_type=workflow_type,
        **{"bundle_root": str(root), **dict(overrides or {})},
    )
