"""Tests of attn_seg.networks.AttentionUNet: shapes, deep supervision, attention maps, checkpoints, errors."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from monai.losses import DeepSupervisionLoss, DiceCELoss
from monai.networks.nets import AttentionUnet as MonaiAttentionUnet

from attn_seg.networks import AttentionUNet

TINY: dict[str, Any] = {"channels": (4, 8, 16), "strides": (2, 2)}


def make_net(spatial_dims: int = 3, **kwargs: Any) -> AttentionUNet:
    torch.manual_seed(0)
    options = {**TINY, **kwargs}
    return AttentionUNet(spatial_dims, 1, 3, **options)


@pytest.mark.parametrize(
    ("spatial_dims", "size"),
    [(3, (16, 16, 16)), (3, (61, 130, 45)), (3, (5, 33, 7)), (2, (250, 250)), (2, (97, 31)), (2, (1, 9))],
)
@pytest.mark.parametrize("gating", ["grid", "same_scale"])
def test_output_has_input_size(spatial_dims: int, size: tuple[int, ...], gating: str) -> None:
    net = make_net(spatial_dims, gating=gating).eval()
    with torch.no_grad():
        y = net(torch.randn(1, 1, *size))
    assert isinstance(y, torch.Tensor)
    assert y.shape == (1, 3, *size)
    assert y.is_contiguous()


def test_97_cubed_that_monai_cannot_take() -> None:
    x = torch.randn(1, 1, 97, 97, 97)
    with pytest.raises(RuntimeError):
        MonaiAttentionUnet(3, 1, 3, channels=(2, 4, 8, 8, 8), strides=(2, 2, 2, 2))(x)
    net = AttentionUNet(3, 1, 3, channels=(2, 4, 8, 8, 8), strides=(2, 2, 2, 2)).eval()
    with torch.no_grad():
        assert net(x).shape == (1, 3, 97, 97, 97)


@pytest.mark.parametrize(
    "options",
    [
        {"upsample": "linear"},
        {"num_res_units": 2},
        {"full_res_units": 2, "gate_output_transform": True},
        {"gated_levels": (1,), "dropout": 0.2},
        {"attention_heads": 2, "norm": "batch", "act": "prelu"},
        {"strides": ((2, 2, 1), 2), "kernel_size": (3, 3, 1), "channels_last": False},
    ],
)
def test_options_keep_shapes(options: dict[str, Any]) -> None:
    net = make_net(3, **options).eval()
    with torch.no_grad():
        assert net(torch.randn(2, 1, 19, 12, 5)).shape == (2, 3, 19, 12, 5)


def test_odd_input_is_padded_at_the_end_and_cropped_back() -> None:
    net = make_net(3).eval()
    x = torch.randn(1, 1, 13, 10, 7)
    padded = torch.nn.functional.pad(x, (0, 1, 0, 2, 0, 3))  # to (16, 12, 8), multiples of 4
    with torch.no_grad():
        torch.testing.assert_close(net(x), net(padded)[:, :, :13, :10, :7])


def test_channels_last_matches_contiguous() -> None:
    x = torch.randn(1, 1, 16, 12, 8)
    with torch.no_grad():
        channels_last = make_net(3).eval()(x)
        contiguous = make_net(3, channels_last=False).eval()(x)
    torch.testing.assert_close(channels_last, contiguous, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize("gating", ["grid", "same_scale"])
def test_gradients_reach_every_gate(spatial_dims: int, gating: str) -> None:
    net = make_net(spatial_dims, gating=gating, gate_output_transform=True).train()
    y = net(torch.randn(2, 1, *([12] * spatial_dims)))
    y.square().mean().backward()
    gates = [stage.gate for stage in net.decoder.stages]
    assert len(gates) == 2
    for gate in gates:
        assert gate is not None
        for name, param in gate.named_parameters():
            assert param.grad is not None, name
            assert param.grad.abs().sum() > 0, name


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_attention_maps_shapes_and_range(spatial_dims: int) -> None:
    size = (23, 18, 9)[:spatial_dims]
    net = make_net(spatial_dims, return_attention=True, attention_heads=2).eval()
    x = torch.randn(2, 1, *size)
    with torch.no_grad():
        y, maps = net(x)
        maps_only = net.attention_maps(x)
    assert y.shape == (2, 3, *size)
    assert len(maps) == 2
    for alpha, again in zip(maps, maps_only, strict=True):
        assert alpha.shape == (2, 2, *size)
        assert float(alpha.min()) >= 0.0
        assert float(alpha.max()) <= 1.0
        torch.testing.assert_close(alpha, again)


def test_attention_maps_only_for_gated_levels() -> None:
    net = make_net(2, gated_levels=(1,)).eval()
    maps = net.attention_maps(torch.randn(1, 1, 20, 20))
    assert len(maps) == 1
    assert maps[0].shape == (1, 1, 20, 20)


def test_deep_supervision_outputs_and_loss() -> None:
    net = make_net(3, deep_supervision=True, channels=(4, 8, 16, 16), strides=(2, 2, 2)).train()
    x = torch.randn(2, 1, 21, 16, 10)
    outputs = net(x)
    assert isinstance(outputs, list)
    assert [tuple(o.shape) for o in outputs] == [(2, 3, 21, 16, 10), (2, 3, 11, 8, 5), (2, 3, 6, 4, 3)]
    label = torch.randint(0, 3, (2, 1, 21, 16, 10)).float()
    loss = DeepSupervisionLoss(DiceCELoss(to_onehot_y=True, softmax=True))(outputs, label)
    loss.backward()
    for head in net.heads.heads:
        assert head.weight.grad is not None
    net.eval()
    with torch.no_grad():
        single = net(x)
    assert isinstance(single, torch.Tensor)
    assert single.shape == (2, 3, 21, 16, 10)


def test_checkpoint_loads_across_deep_supervision() -> None:
    with_ds = make_net(3, deep_supervision=True)
    without = AttentionUNet(3, 1, 3, **TINY, deep_supervision=False)
    assert with_ds.state_dict().keys() == without.state_dict().keys()
    without.load_state_dict(with_ds.state_dict(), strict=True)
    x = torch.randn(1, 1, 12, 12, 12)
    with torch.no_grad():
        torch.testing.assert_close(with_ds.eval()(x), without.eval()(x))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"spatial_dims": 0}, ValueError, "spatial_dims"),
        ({"spatial_dims": 1}, ValueError, "spatial_dims"),
        ({"spatial_dims": 3.0}, TypeError, "spatial_dims"),
        ({"in_channels": 0}, ValueError, "in_channels"),
        ({"out_channels": -1}, ValueError, "out_channels"),
        ({"channels": (4,), "strides": ()}, ValueError, "channels"),
        ({"channels": (4, 0, 8)}, ValueError, "channels"),
        ({"strides": (2,)}, ValueError, r"`strides` needs 2 entries"),
        ({"strides": (2, (2, 2))}, ValueError, "strides"),
        ({"strides": (2, 0)}, ValueError, "strides"),
        ({"kernel_size": 4}, ValueError, "kernel_size"),
        ({"gated_levels": (2,)}, ValueError, "gated_levels"),
        ({"gated_levels": (0, 0)}, ValueError, "gated_levels"),
        ({"gated_levels": 1}, TypeError, "gated_levels"),
        ({"gating": "gird"}, ValueError, r"`gating`.*did you mean 'grid'"),
        ({"upsample": "deconvolution"}, ValueError, "upsample"),
        ({"norm": "instanse"}, ValueError, r"`norm`.*did you mean 'instance'"),
        ({"norm": 3}, TypeError, "norm"),
        ({"act": "relux"}, ValueError, "act"),
        ({"dropout": 1.0}, ValueError, "dropout"),
        ({"dropout": "0.1"}, TypeError, "dropout"),
        ({"num_res_units": -1}, ValueError, "num_res_units"),
        ({"deep_supervision": 1}, TypeError, "deep_supervision"),
        ({"return_attention": "yes"}, TypeError, "return_attention"),
        ({"attention_heads": 3}, ValueError, "attention_heads"),
        ({"inter_channels_ratio": 0}, ValueError, "inter_channels_ratio"),
        ({"full_res_units": 0}, ValueError, "full_res_units"),
        ({"channels_last": None}, TypeError, "channels_last"),
    ],
)
def test_invalid_arguments_name_the_argument(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    arguments: dict[str, Any] = {"spatial_dims": 3, "in_channels": 1, "out_channels": 2, **TINY, **kwargs}
    with pytest.raises(error, match=match):
        AttentionUNet(**arguments)
