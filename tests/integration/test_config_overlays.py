"""Every overlay in configs/ merges over the train.json of each bundle it applies to and builds what it sets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from bundle_helpers import in_place
from monai.bundle import ConfigParser, ConfigWorkflow

from attn_seg.bundles import find_bundle
from attn_seg.engines import bundle_workflow

REPO = Path(__file__).resolve().parents[2]
OVERLAYS = sorted((REPO / "configs").rglob("*.json"))
BUNDLES = ("attention_unet_3d_ct", "attention_unet_3d_mri", "attention_unet_2d", "attention_unet_hippocampus_mri",
           "attention_unet_polyp_2d")
#: Overlays made for one kind of data; every other overlay applies to every bundle.
_GREY_3D = ("attention_unet_3d_ct", "attention_unet_3d_mri", "attention_unet_hippocampus_mri")
ONLY = {
    "datasets/msd_task09_spleen.json": ("attention_unet_3d_ct",),
    "datasets/isbi2012_em_2d.json": ("attention_unet_2d",),
    "network/monai_unet_3d.json": _GREY_3D,
    "network/monai_attention_unet_3d.json": _GREY_3D,
    "network/monai_unet_2d_rgb.json": ("attention_unet_polyp_2d",),
    "network/monai_attention_unet_2d_rgb.json": ("attention_unet_polyp_2d",),
}
CASES = [
    (bundle, overlay)
    for overlay in OVERLAYS
    for bundle in ONLY.get(str(overlay.relative_to(REPO / "configs")), BUNDLES)
]
#: Small channels for each bundle's default number of levels.
CHANNELS = {3: [4, 8, 16, 32], 2: [4, 8, 16, 32, 64]}


def _merged(bundle: str, overlay: Path) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config([str(find_bundle(bundle) / "configs" / "train.json"), str(overlay)])
    dims = parser["network_def#spatial_dims"]
    parser.update({"device": "$torch.device('cpu')"})
    if "network_def" not in ConfigParser.load_config_file(str(overlay)):  # ours: small channels; a peer: as given
        parser.update({"network_def#channels": CHANNELS[dims]})
    return parser


def test_overlays_exist() -> None:
    assert len(OVERLAYS) >= 20
    folders = {p.parent.name for p in OVERLAYS}
    assert {"datasets", "losses", "precision", "experiments", "network", "hardware"} <= folders


@pytest.mark.parametrize(
    ("bundle", "overlay"), CASES, ids=[f"{b.split('_', 2)[-1]}-{o.relative_to(REPO / 'configs')}" for b, o in CASES]
)
def test_overlay_builds_loss_optimiser_schedule_and_network(bundle: str, overlay: Path) -> None:
    parser = _merged(bundle, overlay)
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
    dims = parser["network_def#spatial_dims"]
    spatial = [16 if dims == 3 else 32] * dims  # every level keeps more than one voxel
    out = net(torch.zeros(1, parser["network_def#in_channels"], *spatial))
    levels = out if isinstance(out, list) else [out]
    assert levels[0].shape[1] == parser["num_classes"]
    label = torch.zeros(1, 1, *spatial)
    assert torch.isfinite(parser.get_parsed_content("loss")(out if len(levels) > 1 else levels[0], label))


@pytest.mark.parametrize("gating", ["grid", "same_scale"])
def test_gate_overlay_sets_the_gates_of_inference_too(gating: str) -> None:
    for bundle in BUNDLES:
        parser = ConfigParser()
        parser.read_config([str(find_bundle(bundle) / "configs" / "inference.json"),
                            str(REPO / "configs" / "network" / f"gate_{gating}.json")])
        parser.update({"network_def#channels": CHANNELS[parser["network_def#spatial_dims"]]})
        gates = [m for m in parser.get_parsed_content("network_def").modules() if hasattr(m, "is_grid")]
        assert gates
        assert {g.gating for g in gates} == {gating}


def _isbi_workflow(data: Path, bundle: Path) -> ConfigWorkflow:
    bundle.mkdir()
    (bundle / "configs").symlink_to(find_bundle("attention_unet_2d") / "configs")
    overlay = str(REPO / "configs" / "datasets" / "isbi2012_em_2d.json")
    tiny = {"roi_size": [64, 64], "network_def#channels": [4, 8, 16], "network_def#strides": [2, 2], "epochs": 1,
            "val_interval": 1, "batch_size": 2, "num_samples": 1, "tensorboard": False}
    overrides = in_place(bundle, {**tiny, "dataset_dir": str(data)})
    return bundle_workflow(bundle, ["train.json", overlay], overrides=overrides)


def test_isbi_overlay_reads_the_em_layout(shared_data: Callable[[str], Path], tmp_path: Path) -> None:
    """One override file points the 2D bundle at the ISBI 2012 PNG layout (image/, label/ with 0/255 masks)."""
    workflow = _isbi_workflow(shared_data("isbi2012_membrane"), tmp_path / "bundle")
    workflow.initialize()
    train, val = workflow.parser.get_parsed_content("split")  # every case validated, 255 accepted as class 1
    assert (len(train), len(val)) == (24, 6)
    case = workflow.parser.get_parsed_content("validate#preprocessing")(val[0])
    assert case["image"].shape == (1, 512, 512)
    assert set(torch.unique(case["label"]).tolist()) == {0.0, 1.0}


@pytest.mark.slow
def test_isbi_overlay_trains_the_2d_bundle(shared_data: Callable[[str], Path], tmp_path: Path) -> None:
    workflow = _isbi_workflow(shared_data("isbi2012_membrane"), tmp_path / "bundle")
    workflow.initialize()
    assert workflow.check_properties() == []
    workflow.run()
    workflow.finalize()
    assert (tmp_path / "bundle" / "models" / "model.pt").is_file()
