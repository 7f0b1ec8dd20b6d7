"""Every overlay in configs/ merges over the bundle's train.json and builds what it sets."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser

from attn_seg.bundles import find_bundle

REPO = Path(__file__).resolve().parents[2]
OVERLAYS = sorted((REPO / "configs").rglob("*.json"))


def _merged(overlay: Path) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config([str(find_bundle("attention_unet_3d_ct") / "configs" / "train.json"), str(overlay)])
    parser.update({"device": "$torch.device('cpu')", "network_def#channels": [4, 8, 16, 32]})
    return parser


def test_overlays_exist() -> None:
    assert len(OVERLAYS) >= 15


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: str(p.relative_to(REPO / "configs")))
def test_overlay_builds_loss_optimiser_schedule_and_network(overlay: Path) -> None:
    parser = _merged(overlay)
    settings = ConfigParser.load_config_file(str(overlay))
    for key, value in settings.items():
        if not str(value).startswith("$"):
            assert parser[key] == value
    assert isinstance(parser.get_parsed_content("loss"), torch.nn.Module)
    assert parser.get_parsed_content("lr_scheduler").optimizer is parser.get_parsed_content("optimizer")
    if parser["precision"] == "fp16":  # CUDA AMP only: refused on a CPU with the setting named
        with pytest.raises(RuntimeError) as info:
            parser.get_parsed_content("engine_network")
        assert "fp16" in str(info.value.__cause__)
        return
    net = parser.get_parsed_content("engine_network")
    net.train()
    out = net(torch.zeros(1, 1, 16, 16, 16))
    levels = out if isinstance(out, list) else [out]
    label = torch.zeros(1, 1, 16, 16, 16)
    assert torch.isfinite(parser.get_parsed_content("loss")(out if len(levels) > 1 else levels[0], label))
