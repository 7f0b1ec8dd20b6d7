"""Tests of the network building blocks: attention gate, encoder/decoder, conv stages."""

from __future__ import annotations

import pytest
import torch

from attn_seg.networks import AttentionDecoder, AttentionGate, ConvStage, InstanceNorm, UNetEncoder


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_grid_gate_computes_at_the_coarse_resolution(spatial_dims: int) -> None:
    gate = AttentionGate(spatial_dims, 8, 16, sub_sample_factor=2, gating="grid")
    x = torch.randn(2, 8, *([12] * spatial_dims))
    g = torch.randn(2, 16, *([6] * spatial_dims))
    with torch.no_grad():
        gated, alpha = gate(x, g)
    assert gated.shape == x.shape
    assert alpha.shape == (2, 1, *([12] * spatial_dims))
    assert 0.0 <= float(alpha.min()) <= float(alpha.max()) <= 1.0
    assert gate.theta.stride == (2,) * spatial_dims  # theta takes x down to g's grid
    assert gate.phi.kernel_size == (1,) * spatial_dims


def test_gate_without_output_transform_is_x_times_alpha() -> None:
    gate = AttentionGate(3, 8, 16, gating="grid", output_transform=False, heads=2)
    x, g = torch.randn(1, 8, 8, 8, 8), torch.randn(1, 16, 4, 4, 4)
    gated, alpha = gate(x, g)
    assert alpha.shape == (1, 2, 8, 8, 8)
    torch.testing.assert_close(gated[:, :4], x[:, :4] * alpha[:, :1])
    torch.testing.assert_close(gated[:, 4:], x[:, 4:] * alpha[:, 1:])


def test_same_scale_gate_takes_g_at_x_resolution() -> None:
    gate = AttentionGate(2, 8, 8, gating="same_scale")
    x, g = torch.randn(1, 8, 10, 10), torch.randn(1, 8, 10, 10)
    gated, alpha = gate(x, g)
    torch.testing.assert_close(gated, x * alpha)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"spatial_dims": 4}, "spatial_dims"),
        ({"gating": "same"}, "gating"),
        ({"heads": 3}, "heads"),
        ({"inter_channels": 0}, "inter_channels"),
        ({"sub_sample_factor": (2, 2)}, "sub_sample_factor"),
    ],
)
def test_gate_invalid_arguments(kwargs: dict[str, object], match: str) -> None:
    arguments: dict[str, object] = {"spatial_dims": 3, "in_channels": 8, "gating_channels": 16, **kwargs}
    with pytest.raises(ValueError, match=match):
        AttentionGate(**arguments)  # type: ignore[arg-type]


def test_decoder_reads_its_settings_from_the_encoder() -> None:
    encoder = UNetEncoder(3, 1, (4, 8, 16), ((2, 2, 1), 2), norm="batch", act="prelu")
    decoder = AttentionDecoder(encoder)
    x = torch.randn(2, 1, 8, 8, 4)
    features = encoder(x)
    assert [tuple(f.shape) for f in features] == [(2, 4, 8, 8, 4), (2, 8, 4, 4, 4), (2, 16, 2, 2, 2)]
    decoded, maps = decoder(features)
    assert [tuple(d.shape) for d in decoded] == [(2, 4, 8, 8, 4), (2, 8, 4, 4, 4)]
    assert [tuple(m.shape) for m in maps] == [(2, 1, 8, 8, 4), (2, 1, 4, 4, 4)]
    first_stage = decoder.stages[-1]  # coarsest first
    assert first_stage.gate is not None
    assert first_stage.gate.sub_sample_factor == (2, 2, 1)
    assert isinstance(first_stage.conv.unit0.norm, torch.nn.BatchNorm3d)


def test_instance_norm_is_group_norm_per_channel() -> None:
    stage = ConvStage(3, 2, 4, norm=("instance", {"affine": True}), act="relu")
    x = torch.randn(2, 2, 6, 5, 4)
    reference = torch.nn.InstanceNorm3d(4, affine=True)
    reference.load_state_dict(stage.unit0.norm.state_dict())
    conv_out = stage.unit0.conv(x)
    torch.testing.assert_close(stage.unit0.norm(conv_out), reference(conv_out))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_instance_norm_channels_last_keeps_format_and_values(dtype: torch.dtype) -> None:
    norm = InstanceNorm(4, affine=True)
    x = (torch.randn(2, 4, 6, 5, 4) * 3 + 1).to(dtype).contiguous(memory_format=torch.channels_last_3d)
    y = norm(x)
    assert y.dtype == dtype
    assert y.is_contiguous(memory_format=torch.channels_last_3d)
    expected = torch.nn.functional.instance_norm(x.float())
    torch.testing.assert_close(y.float(), expected, atol=5e-2 if dtype == torch.bfloat16 else 1e-5, rtol=1e-2)
