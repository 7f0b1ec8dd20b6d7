"""The sliding-window predictor: argument checks, cached Gaussian map, flip TTA, attention maps, precision."""

from __future__ import annotations

import pytest
import torch

from attn_seg.inference import Predictor, resolve_precision
from attn_seg.networks import AttentionUNet


def _net(spatial_dims: int = 3, **kwargs: object) -> AttentionUNet:
    torch.manual_seed(0)
    return AttentionUNet(spatial_dims, 1, 3, (4, 8, 16), (2, 2), **kwargs).eval()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sw_batch_size": 0}, "sw_batch_size"),
        ({"overlap": 1.0}, "overlap"),
        ({"precision": "bf61"}, "bf16"),
        ({"tta_axes": (3,)}, "tta_axes"),
    ],
)
def test_invalid_arguments_are_named(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Predictor(_net(), (32, 32, 16), **kwargs)


def test_gaussian_map_is_cached_once() -> None:
    predictor = Predictor(_net(), (32, 32, 16), precision="fp32")
    cached = predictor.inferer.roi_weight_map
    assert cached is not None
    predictor.logits(torch.randn(1, 1, 40, 35, 20))
    assert predictor.inferer.roi_weight_map is cached


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_flip_tta_averages_flipped_predictions(spatial_dims: int) -> None:
    roi = (32, 32, 16)[:spatial_dims]
    x = torch.randn(1, 1, *(40, 35, 20)[:spatial_dims])
    plain = Predictor(_net(spatial_dims), roi, precision="fp32")
    tta = Predictor(_net(spatial_dims), roi, precision="fp32", tta_axes=(0, 1))
    expected = sum(plain.logits(x.flip(d))[0].flip(d) for d in [(), (2,), (3,), (2, 3)]) / 4
    torch.testing.assert_close(tta.logits(x)[0], expected, atol=1e-4, rtol=1e-4)


def test_attention_maps_come_with_the_logits_in_one_pass() -> None:
    x = torch.randn(1, 1, 40, 35, 20)
    with_maps = Predictor(_net(return_attention=True), (32, 32, 16), precision="fp32")
    without = Predictor(_net(), (32, 32, 16), precision="fp32")
    logits, maps = with_maps.logits(x, attention=True)
    torch.testing.assert_close(logits, without.logits(x)[0])
    assert [tuple(m.shape) for m in maps] == [(1, 1, 40, 35, 20)] * 2
    assert all(float(m.min()) >= 0.0 and float(m.max()) <= 1.0 for m in maps)
    _, maps_two_pass = without.logits(x, attention=True)  # through attention_maps(), as TorchScript modules
    for a, b in zip(maps, maps_two_pass, strict=True):
        torch.testing.assert_close(a, b)


def test_bf16_labels_agree_with_fp32() -> None:
    x = torch.randn(1, 1, 48, 40, 24)
    fp32 = Predictor(_net(), (32, 32, 16), precision="fp32").logits(x)[0].argmax(1)
    bf16 = Predictor(_net(), (32, 32, 16), precision="bf16").logits(x)[0].argmax(1)
    assert (fp32 == bf16).float().mean() > 0.9  # random weights: near-ties flip; trained weights: see the benchmark


def test_auto_precision_on_cpu() -> None:
    expected = "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"
    assert resolve_precision("auto", torch.device("cpu")) == expected


@pytest.mark.gpu
def test_gpu_windows_with_cpu_output() -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    predictor = Predictor(_net().cuda(), (32, 32, 16), device="cuda", output_device="cpu", precision="fp16")
    logits, _ = predictor.logits(torch.randn(1, 1, 40, 35, 20))
    assert logits.device.type == "cpu"
    assert torch.isfinite(logits).all()
