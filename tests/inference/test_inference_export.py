"""TorchScript (MONAI ckpt_export) and ONNX exports of a bundle's network: the inferer's results match eager."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from attn_seg.inference import SegmentationInferer, export_onnx, export_torchscript, load_model, read_bundle


def _probs(bundle: Path, weights: Path | None, attention: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
    settings = read_bundle(bundle)
    inferer = SegmentationInferer(settings.roi_size, attention=attention, precision="fp32")
    torch.manual_seed(1)
    return inferer.split(inferer(torch.rand(1, 1, 45, 38, 21), load_model(settings, weights, attention=attention)))


def test_torchscript_predictions_match_eager(tiny_bundle: Callable) -> None:
    bundle = tiny_bundle(3)
    path = export_torchscript(bundle)
    assert path == bundle / "models" / "model.ts"
    eager, eager_maps = _probs(bundle, None, attention=True)
    scripted, scripted_maps = _probs(bundle, path, attention=True)
    torch.testing.assert_close(scripted, eager, atol=1e-4, rtol=1e-4)
    for a, b in zip(scripted_maps, eager_maps, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_onnx_predictions_match_eager(tiny_bundle: Callable) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    bundle = tiny_bundle(3)
    path = export_onnx(bundle)
    eager, _ = _probs(bundle, None)
    onnx, _ = _probs(bundle, path)
    torch.testing.assert_close(onnx, eager, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="attention maps need"):
        load_model(read_bundle(bundle), path, attention=True)
