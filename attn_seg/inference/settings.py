"""Read what inference needs from a MONAI Bundle's ``configs/inference.json``, through ``ConfigParser``."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monai.bundle import ConfigParser
from monai.transforms import Compose

from attn_seg.engines.record import check_record, read_record, trained_network

__all__ = ["BundleSettings", "default_weights", "read_bundle"]

#: Weight files looked for in ``models/``, in this order: state dict, TorchScript, ONNX.
WEIGHT_FILES = ("model.pt", "model.ts", "model.onnx")


@dataclass
class BundleSettings:
    """Inference settings of a bundle, and the pieces its ``inference.json`` builds.

    Attributes:
        bundle_dir: the bundle folder.
        parser: the parsed ``inference.json`` (with any overrides and the training record's settings).
        spatial_dims: 2 or 3.
        num_classes: output channels ``K`` of the network (background included).
        roi_size: sliding-window size, one entry per spatial dim.
        preprocessing: the dictionary transforms (key ``"image"``) from file to network input; invertible ones
            (orientation, spacing, cropping) are inverted on the outputs.
        inferer: the bundle's ``inferer`` (a :class:`~attn_seg.inference.SegmentationInferer`).
        postprocessing: split, invert (with ``preprocessing``: the same objects), label and save
            (:func:`~attn_seg.inference.output_transforms`).
        in_channels: image channels the network takes (``network_def#in_channels``; 3 for colour pictures).
        record: the training record beside the weights (:func:`attn_seg.engines.read_record`; empty when none).
    """

    bundle_dir: Path
    parser: ConfigParser
    spatial_dims: int
    num_classes: int
    roi_size: tuple[int, ...]
    preprocessing: Compose
    inferer: Any
    postprocessing: Compose
    in_channels: int = 1
    record: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        """The parsed value of config id ``key`` (instantiated), or ``default`` when the config lacks it."""
        return self.parser.get_parsed_content(key) if key in self.parser else default

    def network_def(self, **changes: Any) -> Any:
        """Build the bundle's ``network_def`` afresh, with ``changes`` to its arguments (e.g. ``return_attention``)
        and the other arguments as recorded at training time."""
        config = dict(self.parser.get("network_def"))
        config.update(changes)
        self.parser["_predict_network_def"] = config
        network = self.parser.get_parsed_content("_predict_network_def", instantiate=True, lazy=False)
        return trained_network(network, self.record, **changes)


def _config_file(bundle: Path) -> Path:
    config = bundle / "configs" / "inference.json"
    if not config.is_file():
        raise FileNotFoundError(f"bundle {bundle} has no configs/inference.json")
    return config


def _roi(value: Any, spatial_dims: int, where: Path) -> tuple[int, ...]:
    roi = tuple(int(v) for v in (value if isinstance(value, Sequence) else [value] * spatial_dims))
    if len(roi) != spatial_dims or min(roi) < 1:
        raise ValueError(f"{where}: `roi_size` needs {spatial_dims} positive entries (spatial_dims), got {list(roi)}")
    return roi


def _apply_record(parser: ConfigParser, record: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    """Set the recorded settings the config has, except those overridden; refuse overrides that contradict them."""
    recorded = record.get("settings", {})
    check_record(record, {k: parser.get_parsed_content(k) for k in recorded if k in overrides})
    for key, value in recorded.items():
        if key in parser and key not in overrides:
            parser[key] = value


def read_bundle(
    bundle_dir: str | os.PathLike[str],
    overrides: Mapping[str, Any] | None = None,
    weights: str | os.PathLike[str] | None = None,
) -> BundleSettings:
    """Read a bundle's inference settings, with the settings recorded beside the weights at training time.

    Args:
        bundle_dir: a bundle folder holding ``configs/inference.json``.
        overrides: config ids and values applied first, as ``--id value`` on the bundle runner's command line
            (e.g. ``{"network_def#channels": [4, 8, 16], "roi_size": [32, 32, 16]}``).
        weights: the weight file to be used (its folder's ``training_settings.json`` is the record); default: the
            bundle's ``ckpt_path``.

    Returns:
        The settings.

    Raises:
        FileNotFoundError: when the bundle or its ``inference.json`` is missing.
        ValueError: when a setting is missing or out of range, or contradicts the training record; the message
            names it and the file.
    """
    bundle = Path(bundle_dir).expanduser().absolute()
    config = _config_file(bundle)
    parser = ConfigParser()
    parser.read_config(str(config))
    parser["bundle_root"] = str(bundle)
    if weights is not None:
        parser["ckpt_path"] = str(Path(weights).expanduser().absolute())
    overrides = dict(overrides or {})
    for key, value in overrides.items():
        parser[key] = value
    record = read_record(parser.get_parsed_content("ckpt_path")) if "ckpt_path" in parser else {}
    _apply_record(parser, record, overrides)
    missing = [k for k in ("network_def", "roi_size", "num_classes", "preprocessing", "inferer", "postprocessing")
               if k not in parser]
    if missing:
        raise ValueError(f"{config} lacks {', '.join(missing)}, which inference needs")
    spatial_dims = int(parser.get_parsed_content("network_def#spatial_dims"))
    if spatial_dims not in (2, 3):
        raise ValueError(f"{config}: `network_def#spatial_dims` must be 2 or 3, got {spatial_dims}")
    return BundleSettings(
        bundle_dir=bundle,
        parser=parser,
        spatial_dims=spatial_dims,
        num_classes=int(parser.get_parsed_content("num_classes")),
        roi_size=_roi(parser.get_parsed_content("roi_size"), spatial_dims, config),
        # resolved together: the post-processing inverts this very preprocessing object (MONAI checks its id)
        preprocessing=parser.get_parsed_content("preprocessing", instantiate=True),
        inferer=parser.get_parsed_content("inferer", instantiate=True),
        postprocessing=parser.get_parsed_content("postprocessing", instantiate=True),
        in_channels=int(parser.get_parsed_content("network_def#in_channels")),
        record=record,
    )


def default_weights(bundle_dir: str | os.PathLike[str]) -> Path:
    """The bundle's weight file: ``models/model.pt``, else ``model.ts``, else ``model.onnx``.

    Raises:
        FileNotFoundError: when none exists.
    """
    models = Path(bundle_dir).expanduser().absolute() / "models"
    for name in WEIGHT_FILES:
        if (models / name).is_file():
            return models / name
    raise FileNotFoundError(f"no weights in {models} (looked for {', '.join(WEIGHT_FILES)}); train the bundle first")
