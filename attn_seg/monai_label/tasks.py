"""MONAI Label's bundle train and infer tasks, adapted to attn-seg's bundles (see :mod:`attn_seg.monai_label`)."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from monailabel.tasks.infer.bundle import BundleInferTask
from monailabel.tasks.train.bundle import BundleTrainTask

from attn_seg.files import atomic_write_json
from attn_seg.inference.outputs import image_like

__all__ = ["LABEL_DTYPE", "InferTask", "TrainTask", "bundle_labels"]

_LOGGER = logging.getLogger(__name__)

#: The data type of the label maps MONAI Label returns (the command line's ``attn-seg predict`` writes the same).
LABEL_DTYPE = "uint8"


class TrainTask(BundleTrainTask):
    """``BundleTrainTask`` for an attn-seg bundle.

    Each request trains in a new run folder under ``runs_root/<bundle folder name>`` (the bundle's ``runs_dir``),
    so a retraining never meets the checkpoints of the last one and nothing is written inside the app's ``model/``
    folder. The request's datastore cases are written to ``datastore.json`` beside the run folders and given to the
    bundle as its ``datalist_file`` (so it never synthesises data); the class names come from the bundle's
    ``metadata.json`` where its ``class_names`` is unset. Each new best model replaces the bundle's
    ``models/model.pt`` atomically (``promote``): MONAI Label keeps serving the previous model until then.
    ``pretrained`` false starts from fresh weights. Validation runs every ``val_interval`` epochs of the request,
    or at the bundle's interval, a fixed one capped at the request's ``max_epochs`` (so a short run still validates
    and promotes).

    Args:
        path: the bundle folder (in the app's ``model/`` folder).
        conf: the app's ``--conf`` settings.
        runs_root: where the run folders go; by default ``runs`` beside the app's ``model/`` folder.
        kwargs: passed to ``BundleTrainTask``.
    """

    def __init__(self, path: str, conf: dict[str, str], runs_root: str | os.PathLike[str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(path, conf, **kwargs)
        bundle = Path(path).absolute()
        self.runs_dir = Path(runs_root or bundle.parent.parent / "runs").absolute() / bundle.name
        self._cases: list[dict[str, Any]] = []
        self._request: dict[str, Any] = {}

    def _fetch_datalist(self, request: dict[str, Any], datastore: Any) -> list[dict[str, Any]]:
        self._request = dict(request)
        self._cases = super()._fetch_datalist(request, datastore)
        return self._cases

    def _load_checkpoint(self, model_pytorch: str, pretrained: bool, train_handlers: list[Any]) -> None:
        if not pretrained:
            _LOGGER.info("pretrained false: training %s from fresh weights", self.bundle_path)
            return
        super()._load_checkpoint(model_pytorch, pretrained, train_handlers)

    def _update_overrides(self, overrides: dict[str, Any]) -> dict[str, Any]:
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        datalist = atomic_write_json({"training": self._cases}, self.runs_dir / "datastore.json")
        interval = self._request.get("val_interval")
        configured = self.bundle_config["val_interval"]
        if interval is None and isinstance(configured, int):  # an expression follows max_epochs by itself
            interval = min(configured, int(self._request.get("max_epochs", 50)))
        if interval is not None:
            overrides["val_interval"] = max(1, int(interval))
        overrides.update({
            "runs_dir": str(self.runs_dir),
            "run_name": "",
            "resume": False,
            "datalist_file": str(datalist),
            "synthetic_dir": str(self.runs_dir / "synthetic"),
            "promote": True,
            "progress_bar": False,
        })
        if not self.bundle_config.get("class_names"):
            overrides["class_names"] = bundle_labels(Path(self.bundle_path))
        return overrides


def bundle_labels(bundle: Path) -> list[str]:
    """The foreground class names of a bundle, from its ``metadata.json`` output ``channel_def`` (channel order)."""
    metadata = json.loads((bundle / "configs" / "metadata.json").read_text())
    output = next(iter(metadata["network_data_format"]["outputs"].values()))
    channels = {int(k): str(v) for k, v in output.get("channel_def", {}).items()}
    return [channels[k] for k in sorted(channels) if k != 0]


class InferTask(BundleInferTask):
    """``BundleInferTask`` whose label maps come back as ``uint8`` (MONAI Label writes the network's float labels
    otherwise) unless the request names a ``result_dtype``, and whose 2D NIfTI results keep the input's geometry.

    MONAI Label 0.8.5 writes a 2D result without its affine (and fails on one that still has its channel axis);
    :meth:`writer` writes 2D NIfTI results itself, on the input file's own affine and header.
    """

    def writer(self, data: dict[str, Any], extension: str | None = None, dtype: str | None = None) -> Any:
        """Write the result as MONAI Label does, in :data:`LABEL_DTYPE` unless asked otherwise."""
        data.setdefault("result_dtype", LABEL_DTYPE)
        source = str(data.get("image_path", ""))
        label = np.asarray(data[self.output_label_key])
        if label.ndim == 3 and label.shape[0] == 1:
            label = label[0]
        if extension is None and label.ndim == 2 and source.endswith((".nii", ".nii.gz")):
            return _write_nifti_2d(label, source, dtype or data["result_dtype"]), data.get(self.output_json_key, {})
        return super().writer(data, extension=extension, dtype=dtype)


def _write_nifti_2d(label: np.ndarray, source: str, dtype: str) -> str:
    """``label`` as a NIfTI file on ``source``'s affine and header (its shape, ``dtype``); returns its path."""
    suffix = ".nii.gz" if source.endswith(".gz") else ".nii"
    with tempfile.NamedTemporaryFile(suffix=suffix, delete=False) as handle:
        path = handle.name
    image_like(label.astype(dtype), source).to_filename(path)
    return path
