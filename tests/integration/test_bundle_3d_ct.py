"""The 3D CT bundle through MONAI's own runner: training writes a state dict, inference keeps the geometry."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from bundle_helpers import in_place
from monai.bundle import ConfigParser

from attn_seg.bundles import bundle_command
from attn_seg.data import SyntheticSpec, make_case
from attn_seg.evaluation import read_scalars


def _network(bundle: Path, config: str, overrides: dict) -> torch.nn.Module:
    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / config))
    parser.update(overrides)
    return parser.get_parsed_content("network_def")


def _oblique_lps_affine(spacing: tuple[float, float, float]) -> np.ndarray:
    """L-P-I voxel axes, tilted 20 degrees about the left-right axis, anisotropic spacing."""
    angle = np.deg2rad(20.0)
    tilt = np.array([[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]])
    affine = np.eye(4)
    affine[:3, :3] = tilt @ np.diag([-spacing[0], -spacing[1], -spacing[2]])
    affine[:3, 3] = [40.0, 25.0, -70.0]
    return affine


def test_training_writes_state_dict(
    bundle_copy: Path, synthetic_3d: Path, tiny_3d: dict, run_bundle_cli: Callable, tmp_path: Path
) -> None:
    overrides = {**tiny_3d, "dataset_dir": synthetic_3d, "epochs": 2}
    proc = run_bundle_cli(bundle_copy, "train.json", "training", overrides, cwd=tmp_path)
    checkpoint = bundle_copy / "models" / "model.pt"
    assert checkpoint.is_file(), proc.stdout[-2000:]
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    assert isinstance(state, dict)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    net_overrides = {k: v for k, v in tiny_3d.items() if k.startswith("network_def")}
    _network(bundle_copy, "train.json", net_overrides).load_state_dict(state, strict=True)
    assert "val_mean_dice" in proc.stdout + proc.stderr
    assert list((bundle_copy / "eval").glob("events.out.tfevents.*")), "TensorBoard log expected"
    curves = read_scalars(bundle_copy / "eval")  # what the report's training curves draw
    assert {"train_loss", "lr", "val_mean_dice", "val_dice_organ", "val_dice_lesion"} <= set(curves)
    assert [step for step, _ in curves["lr"]] == [1, 2]


def test_run_id_training_and_run_are_the_same(bundle_copy: Path) -> None:
    parser = ConfigParser()
    parser.read_config(str(bundle_copy / "configs" / "train.json"))
    assert parser["training"] == parser["run"] == ["$@train#trainer.run()"]


@pytest.mark.parametrize("layout", ["synthetic", "oblique_lps"])
def test_inference_keeps_input_geometry(
    bundle_copy: Path, tiny_3d: dict, run_bundle_cli: Callable, tmp_path: Path, layout: str
) -> None:
    net_overrides = {k: v for k, v in tiny_3d.items() if k.startswith("network_def")}
    torch.manual_seed(0)
    torch.save(_network(bundle_copy, "inference.json", net_overrides).state_dict(), bundle_copy / "models" / "model.pt")
    case = make_case(np.random.default_rng(11), SyntheticSpec(size_mm=(60.0, 60.0, 45.0)))
    affine = case.affine if layout == "synthetic" else _oblique_lps_affine((0.9, 1.3, 3.1))
    inputs = tmp_path / "in"
    inputs.mkdir()
    nib.save(nib.Nifti1Image(case.image, affine), inputs / "patient 1.nii.gz")  # a space in the name
    overrides = {**net_overrides, "input_dir": inputs, "output_dir": tmp_path / "out",
                 "roi_size": tiny_3d["roi_size"], "pixdim": tiny_3d["pixdim"]}
    run_bundle_cli(bundle_copy, "inference.json", "run", overrides, cwd=tmp_path)
    written = sorted((tmp_path / "out").iterdir())
    assert [p.name for p in written] == ["patient 1_seg.nii.gz"]
    pred = nib.load(written[0])
    assert pred.shape == case.image.shape
    np.testing.assert_allclose(pred.affine, affine, atol=1e-4)
    assert nib.aff2axcodes(pred.affine) == nib.aff2axcodes(affine)
    values = np.unique(np.asarray(pred.dataobj))
    assert pred.get_data_dtype() == np.uint8
    assert set(values.tolist()) <= {0, 1, 2}


def test_training_refuses_bad_data_before_it_starts(
    bundle_copy: Path, synthetic_3d: Path, tiny_3d: dict, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(synthetic_3d, data)
    broken = data / "labelsTr" / "case_0001.nii.gz"
    broken.write_bytes(broken.read_bytes()[:200])  # a truncated download
    overrides = in_place(bundle_copy, {**tiny_3d, "dataset_dir": data, "epochs": 1})
    cmd = bundle_command(bundle_copy, "train.json", "training", overrides)
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, encoding="utf-8", errors="replace", check=False)
    assert proc.returncode != 0
    assert str(broken) in proc.stderr
    assert not (bundle_copy / "models" / "model.pt").exists()
