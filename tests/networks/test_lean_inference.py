"""Inference without autograd takes the in-place, memory-lean path; it must give what the autograd path gives."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from attn_seg.networks import AttentionUNet
from attn_seg.networks.blocks import UNetEncoder
from attn_seg.networks.blocks.convolutions import InstanceNorm

OPTIONS: list[dict[str, Any]] = [
    {},
    {"attention_heads": 2},
    {"num_res_units": 2},
    {"gating": "same_scale"},
    {"gate_output_transform": True},
    {"upsample": "linear"},
    {"gated_levels": (1,)},
    {"channels_last": False},
    {"return_attention": True},
]


# float32 rounding only: the in-place norms reduce with var_mean, group_norm in another order (outputs are O(1))
TOL = {"atol": 1e-4, "rtol": 1e-4}


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize(("spatial_dims", "size"), [(3, (21, 18, 13)), (2, (50, 37))])
def test_no_grad_output_equals_autograd_output(options: dict[str, Any], spatial_dims: int, size: tuple) -> None:
    torch.manual_seed(0)
    net = AttentionUNet(spatial_dims, 2, 3, (8, 16, 32, 64), (2, 2, 2), **options).eval()
    x = torch.rand(2, 2, *size)
    reference = net(x)
    with torch.no_grad():
        lean = net(x)
    with torch.inference_mode():
        lean_inference_mode = net(x)
    if options.get("return_attention"):
        for a, b, c in zip(reference[1], lean[1], lean_inference_mode[1], strict=True):
            torch.testing.assert_close(b, a.detach(), **TOL)
            torch.testing.assert_close(c, a.detach(), **TOL)
        reference, lean, lean_inference_mode = reference[0], lean[0], lean_inference_mode[0]
    torch.testing.assert_close(lean, reference.detach(), **TOL)
    torch.testing.assert_close(lean_inference_mode, reference.detach(), **TOL)


def test_bf16_no_grad_output_is_close_to_fp32() -> None:
    torch.manual_seed(0)
    net = AttentionUNet(3, 1, 3, (8, 16, 32), (2, 2)).eval()
    x = torch.rand(1, 1, 32, 32, 32)
    with torch.no_grad():
        fp32 = net(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = net(x).float()
    assert float((bf16 - fp32).abs().max()) < 0.05 * float(fp32.abs().max())


def test_lean_path_does_not_touch_the_input_or_the_weights() -> None:
    torch.manual_seed(0)
    net = AttentionUNet(3, 1, 2, (8, 16, 32), (2, 2)).eval()
    x = torch.rand(1, 1, 24, 24, 24)
    x_copy, weights = x.clone(), {k: v.clone() for k, v in net.state_dict().items()}
    with torch.no_grad():
        net(x)
    torch.testing.assert_close(x, x_copy, atol=0, rtol=0)
    for key, value in net.state_dict().items():
        torch.testing.assert_close(value, weights[key], atol=0, rtol=0)


def test_instance_norm_in_place_matches_group_norm_and_refuses_autograd() -> None:
    norm = InstanceNorm(4)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.normal_()
    x = torch.randn(2, 4, 9, 8, 7) * 3 + 1
    expected = norm(x)
    with torch.no_grad():
        y = x.clone()
        out = norm.normalize_(y)
    assert out.data_ptr() == y.data_ptr()
    torch.testing.assert_close(out, expected.detach(), atol=1e-5, rtol=1e-5)
    with pytest.raises(RuntimeError, match="autograd off"):
        norm.normalize_(x.clone())


def test_training_still_takes_the_autograd_path() -> None:
    torch.manual_seed(0)
    net = AttentionUNet(3, 1, 2, (8, 16, 32), (2, 2)).train()
    out = net(torch.rand(2, 1, 24, 24, 24))
    out.mean().backward()
    missing = [name for name, p in net.named_parameters() if p.grad is None]
    assert all(name.startswith(("heads.heads.1.", "heads.heads.2.")) for name in missing), missing  # unused heads


def test_encoder_features_are_the_same_without_autograd() -> None:
    torch.manual_seed(0)
    encoder = UNetEncoder(3, 1, (8, 16, 32), (2, 2), norm=("instance", {"affine": True}))
    x = torch.rand(1, 1, 16, 16, 16)
    reference = encoder(x)
    with torch.no_grad():
        lean = encoder(x)
    for a, b in zip(reference, lean, strict=True):
        torch.testing.assert_close(b, a.detach(), **TOL)
