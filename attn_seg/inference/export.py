"""Export a bundle's trained network to TorchScript (MONAI's ``ckpt_export``) and ONNX, for the predictor to run."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from monai.bundle import ckpt_export

from attn_seg.inference.models import load_model
from attn_seg.inference.settings import read_bundle

__all__ = ["export_onnx", "export_torchscript"]


def export_torchscript(
    bundle_dir: str | os.PathLike[str],
    filepath: str | os.PathLike[str] | None = None,
    *,
    ckpt_file: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Path:
    """Script the bundle's ``network_def`` with its state dict, through ``monai.bundle.ckpt_export``.

    The file holds the bundle's metadata and ``inference.json`` as MONAI's model zoo expects; the module keeps
    :meth:`~attn_seg.networks.AttentionUNet.attention_maps`.

    Args:
        bundle_dir: the bundle folder.
        filepath: the ``.ts`` file to write; default ``models/model.ts`` in the bundle.
        ckpt_file: the state dict; default ``models/model.pt`` in the bundle.
        overrides: config overrides (``{"network_def#channels": [...]}``), as for :func:`read_bundle`.

    Returns:
        The file written.
    """
    bundle = Path(bundle_dir).expanduser().absolute()
    out = Path(filepath) if filepath else bundle / "models" / "model.ts"
    configs = bundle / "configs"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ckpt_export(
            net_id="network_def",
            filepath=str(out),
            ckpt_file=str(ckpt_file or bundle / "models" / "model.pt"),
            meta_file=str(configs / "metadata.json"),
            config_file=str(configs / "inference.json"),
            bundle_root=str(bundle),
            **dict(overrides or {}),
        )
    return out


def export_onnx(
    bundle_dir: str | os.PathLike[str],
    filepath: str | os.PathLike[str] | None = None,
    *,
    ckpt_file: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Path:
    """Export the bundle's network with its state dict to ONNX, batch and spatial sizes dynamic.

    Uses ``torch.onnx.export(dynamo=True)`` with ``torch.export`` dynamic dims: MONAI's ``onnx_export`` goes
    through the TorchScript-based exporter, which torch 2.9+ deprecates.

    Args:
        bundle_dir: the bundle folder.
        filepath: the ``.onnx`` file to write; default ``models/model.onnx`` in the bundle.
        ckpt_file: the state dict; default ``models/model.pt`` in the bundle.
        overrides: config overrides, as for :func:`read_bundle`.

    Returns:
        The file written. Input ``image`` ``(B, C, *S)`` float32, output ``logits`` ``(B, K, *S)``.
    """
    settings = read_bundle(bundle_dir, overrides)
    out = Path(filepath) if filepath else settings.bundle_dir / "models" / "model.onnx"
    network = load_model(settings, ckpt_file or settings.bundle_dir / "models" / "model.pt")
    in_channels = int(settings.parser.get_parsed_content("network_def#in_channels"))
    # batch 2 and sizes off the total stride, so that no size is specialised while tracing
    example = torch.randn(2, in_channels, *(r + 3 for r in settings.roi_size))
    dynamic = torch.export.Dim.DYNAMIC
    shapes = {"x": dict.fromkeys([0, *range(2, 2 + settings.spatial_dims)], dynamic)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(network, (example,), str(out), input_names=["image"], output_names=["logits"],
                          dynamic_shapes=shapes, dynamo=True)
    return out
