"""Losses, optimisers, schedules and precision by name: every option builds, computes and fails clearly."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import torch

from attn_seg.engines import (
    LOSSES,
    Autocast,
    amp_kwargs,
    autocast_network,
    build_loss,
    build_optimizer,
    build_scheduler,
    uses_engine_amp,
)

#: The optimiser overlays (``configs/optimizers``): each sets the optimiser, its learning rate and weight decay.
OPTIMIZER_OVERLAYS = sorted((Path(__file__).resolve().parents[2] / "configs" / "optimizers").glob("*.json"))


def _batch(levels: int = 1) -> tuple[torch.Tensor | list[torch.Tensor], torch.Tensor]:
    torch.manual_seed(0)
    label = torch.randint(0, 3, (2, 1, 16, 16, 8)).float()  # LoadImage gives float label maps
    logits = [torch.randn(2, 3, 16 // 2**k, 16 // 2**k, 8 // 2**k, requires_grad=True) for k in range(levels)]
    return (logits if levels > 1 else logits[0]), label


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_gives_finite_value_and_gradient(name: str) -> None:
    logits, label = _batch()
    value = build_loss(name)(logits, label)
    value.backward()
    assert value.ndim == 0
    assert torch.isfinite(value)
    assert isinstance(logits, torch.Tensor)
    assert logits.grad is not None
    assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("name", ["dice", "dice_ce", "dice_focal", "focal"])
def test_class_weights_change_the_loss(name: str) -> None:
    logits, label = _batch()
    plain = build_loss(name)(logits, label)
    weighted = build_loss(name, class_weights=[0.1, 1.0, 5.0])(logits, label)
    assert not torch.isclose(plain, weighted)


def test_deep_supervision_loss_takes_every_level() -> None:
    levels, label = _batch(levels=3)
    assert isinstance(levels, list)
    value = build_loss("dice_ce", deep_supervision=True)(levels, label)
    value.backward()
    assert all(level.grad is not None and level.grad.abs().sum() > 0 for level in levels)
    full_only = build_loss("dice_ce")(levels[0], label)
    assert not torch.isclose(value, full_only)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "dice_cee"}, "dice_ce"),
        ({"name": "tversky", "class_weights": [1.0, 1.0, 1.0]}, "class_weights"),
        ({"name": "dice", "class_weights": [1.0, -1.0, 1.0]}, "class_weights"),
    ],
)
def test_bad_loss_arguments_are_named(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build_loss(**kwargs)


@pytest.mark.parametrize(("name", "kind"), [("adamw", "AdamW"), ("sgd", "SGD"), ("novograd", "Novograd")])
def test_optimizers_by_name(name: str, kind: str) -> None:
    net = torch.nn.Linear(3, 2)
    opt = build_optimizer(name, net.parameters(), lr=0.01)
    assert type(opt).__name__ == kind
    if name == "sgd":
        assert opt.param_groups[0]["nesterov"]
        assert opt.param_groups[0]["momentum"] == 0.99


@pytest.mark.parametrize("overlay", OPTIMIZER_OVERLAYS, ids=[p.stem for p in OPTIMIZER_OVERLAYS])
def test_every_optimizer_overlay_sets_its_weight_decay(overlay: Path) -> None:
    settings = json.loads(overlay.read_text(encoding="utf-8"))
    assert {"optimizer_name", "learning_rate", "weight_decay"} <= settings.keys()
    opt = build_optimizer(settings["optimizer_name"], torch.nn.Linear(3, 2).parameters(),
                          lr=settings["learning_rate"], weight_decay=settings["weight_decay"])
    assert opt.param_groups[0]["weight_decay"] == settings["weight_decay"] > 0


@pytest.mark.parametrize(("kwargs", "match"), [({"name": "adam_w"}, "adamw"), ({"lr": 0.0}, "`lr`")])
def test_bad_optimizer_arguments_are_named(kwargs: dict, match: str) -> None:
    args = {"name": "adamw", "lr": 0.01, **kwargs}
    with pytest.raises(ValueError, match=match):
        build_optimizer(args.pop("name"), torch.nn.Linear(2, 2).parameters(), **args)


def _rates(name: str, epochs: int = 10, **kwargs: float) -> list[float]:
    opt = build_optimizer("sgd", torch.nn.Linear(2, 2).parameters(), lr=1.0)
    sched = build_scheduler(name, opt, epochs=epochs, **kwargs)
    rates = []
    for _ in range(epochs):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return rates


def test_poly_schedule_follows_nnunet_formula() -> None:
    assert _rates("poly") == pytest.approx([(1 - e / 10) ** 0.9 for e in range(10)])


def test_cosine_schedule_warms_up_then_decays() -> None:
    rates = _rates("cosine", warmup_epochs=3)
    assert rates[0] < rates[1] < rates[2] < rates[3] == pytest.approx(1.0)
    assert all(a > b for a, b in itertools.pairwise(rates[3:]))


def test_plateau_lowers_the_rate_when_the_metric_stalls() -> None:
    opt = build_optimizer("adamw", torch.nn.Linear(2, 2).parameters(), lr=1.0)
    sched = build_scheduler("plateau", opt, epochs=10, patience=1, factor=0.5)
    for metric in (0.5, 0.5, 0.5):
        sched.step(metric)
    assert opt.param_groups[0]["lr"] == 0.5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"name": "cosin"}, "cosine"), ({"warmup_epochs": 10}, "warmup_epochs"), ({"epochs": 0}, "epochs")],
)
def test_bad_schedule_arguments_are_named(kwargs: dict, match: str) -> None:
    args = {"name": "cosine", "epochs": 10, **kwargs}
    opt = build_optimizer("adamw", torch.nn.Linear(2, 2).parameters(), lr=1.0)
    with pytest.raises(ValueError, match=match):
        build_scheduler(args.pop("name"), opt, **args)


def test_cpu_bf16_autocast_runs_convolutions_in_bf16_and_returns_fp32() -> None:
    seen: list[torch.dtype] = []
    conv = torch.nn.Conv3d(1, 2, 3)
    conv.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
    net = autocast_network(conv, "bf16", "cpu")
    assert isinstance(net, Autocast)
    out = net(torch.randn(1, 1, 8, 8, 8))
    assert seen == [torch.bfloat16]
    assert out.dtype == torch.float32
    assert not uses_engine_amp("bf16", "cpu")
    assert amp_kwargs("bf16", "cpu") == {"dtype": torch.bfloat16}


def test_fp32_and_cuda_leave_the_network_unwrapped() -> None:
    conv = torch.nn.Conv2d(1, 1, 1)
    assert autocast_network(conv, "fp32", "cpu") is conv
    assert autocast_network(conv, "fp16", "cuda") is conv
    assert uses_engine_amp("fp16", "cuda")


def test_fp16_on_cpu_is_refused() -> None:
    with pytest.raises(ValueError, match="fp16"):
        autocast_network(torch.nn.Conv2d(1, 1, 1), "fp16", "cpu")
