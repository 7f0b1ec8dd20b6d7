"""TorchScript (MONAI ckpt_export) and ONNX exports of a bundle's network: the predictor's results match eager."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from attn_seg.inference import Predictor, export_onnx, export_torchscript, load_model, read_bundle


def _logits(bundle: Path, weights: Path | None, attention: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
    settings = read_bundle(bundle)
    predictor = Predictor(load_model(settings, weights, attention=attention), settings.roi_size, precision="fp32")
    torch.manual_seed(1)
    return predictor.logits(torch.rand(1, 1, 45, 38, 21), attention=attention)


def test_torchscript_predictions_match_eager(tiny_bundle: Callable) -> None:
    bundle = tiny_bundle(3)
    path = export_torchscript(bundle)
    assert path == bundle / "models" / "model.ts"
    eager, eager_maps = _logits(bundle, None, attention=True)
    scripted, scripted_maps = _logits(bundle, path, attention=True)
    torch.testing.assert_close(scripted, eager, atol=1e-4, rtol=1e-4)
    for a, b in zip(scripted_maps, eager_maps, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_onnx_predictions_match_eager(tiny_bundle: Callable) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    bundle = tiny_bundle(3)
    path = export_onnx(bundle)
    eager, _ = _logits(bundle, None)
    onnx, _ = _logits(bundle, path)
    torch.testing.assert_close(onnx, eager, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="attention maps need"):
        load_model(read_bundle(bundle), path, attention=True)
