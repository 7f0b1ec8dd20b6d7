"""TorchScript and ONNX export of AttentionUNet: outputs equal to eager mode."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from attn_seg.networks import AttentionUNet


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_torchscript_equals_eager(spatial_dims: int) -> None:
    torch.manual_seed(0)
    net = AttentionUNet(spatial_dims, 1, 2, (4, 8, 16), (2, 2), return_attention=True, deep_supervision=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(net)
    x = torch.randn(2, 1, *(19, 12, 7)[:spatial_dims])
    net.eval()
    scripted.eval()
    with torch.no_grad():
        (y, maps), (ys, maps_s) = net(x), scripted(x)
        torch.testing.assert_close(ys, y)
        for a, b in zip(maps_s, maps, strict=True):
            torch.testing.assert_close(a, b)
        torch.testing.assert_close(scripted.attention_maps(x)[0], maps[0])
    net.train()
    scripted.train()
    outputs = scripted(x)[0]
    assert isinstance(outputs, list)
    assert len(outputs) == 2


def test_onnx_parity_with_dynamic_spatial_sizes(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    torch.manual_seed(0)
    net = AttentionUNet(3, 1, 2, (4, 8, 16), (2, 2)).eval()
    path = tmp_path / "net.onnx"
    dynamic = torch.export.Dim.DYNAMIC
    # batch 2, sizes not multiples of the total stride: a traced size of 1 would be specialised
    example = torch.randn(2, 1, 35, 26, 19)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            (example,),
            str(path),
            input_names=["image"],
            output_names=["logits"],
            dynamic_shapes={"x": {0: dynamic, 2: dynamic, 3: dynamic, 4: dynamic}},
            dynamo=True,
        )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for shape in [(2, 1, 35, 26, 19), (1, 1, 32, 24, 16), (3, 1, 13, 40, 9)]:
        x = torch.randn(*shape)
        with torch.no_grad():
            expected = net(x).numpy()
        (actual,) = session.run(None, {"image": x.numpy()})
        assert actual.shape == expected.shape
        assert abs(actual - expected).max() < 1e-4
