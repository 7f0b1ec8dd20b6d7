"""The hippocampus bundle's shipped model: its weights load strictly into the bundle's network, match the model
card's sha256, and segment real MSD Task04 cases through ``attn-seg predict`` with no extra settings."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser

from attn_seg.bundles import find_bundle

BUNDLE = find_bundle("attention_unet_hippocampus_mri")
WEIGHTS = BUNDLE / "models" / "model.pt"
#: Cases for the smoke test (the shipped model saw them in training: the held-out figures come from the split runs).
CASES = ("hippocampus_003", "hippocampus_105", "hippocampus_367")


def _shipped() -> Path:
    if not WEIGHTS.is_file():
        pytest.fail(f"{WEIGHTS} is missing: the bundle ships trained weights")
    return WEIGHTS


def test_weights_are_small_and_match_the_model_card() -> None:
    weights = _shipped()
    assert weights.stat().st_size <= 10 * 2**20
    card = (BUNDLE / "docs" / "README.md").read_text(encoding="utf-8")
    recorded = re.search(r"sha256 `([0-9a-f]{64})`", card)
    assert recorded is not None, "the model card records the weights' sha256"
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == recorded.group(1)


def test_weights_load_strictly_into_the_inference_network() -> None:
    parser = ConfigParser()
    parser.read_config(str(BUNDLE / "configs" / "inference.json"))
    parser["bundle_root"] = str(BUNDLE)
    net = parser.get_parsed_content("network")
    state = torch.load(_shipped(), map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    roi, num_classes = parser.get_parsed_content("roi_size"), parser.get_parsed_content("num_classes")
    assert parser.get_parsed_content("trained")["pixdim"] == [1.0, 1.0, 1.0]  # the record beside the weights
    with torch.no_grad():
        out = net.eval()(torch.randn(1, 1, *roi))
    assert out.shape == (1, num_classes, *roi)


def _dice(pred: np.ndarray, label: np.ndarray, value: int) -> float:
    p, t = pred == value, label == value
    return float(2 * np.logical_and(p, t).sum() / (p.sum() + t.sum()))


def test_predict_segments_real_cases_out_of_the_box(
    shared_data: Callable[[str], Path], python: str, tmp_path: Path
) -> None:
    data = shared_data("msd_task04_hippocampus")
    _shipped()
    listing = tmp_path / "cases.json"
    listing.write_text(json.dumps([{"image": str(data / "imagesTr" / f"{c}.nii.gz")} for c in CASES]))
    out = tmp_path / "out"
    cmd = [python, "-m", "attn_seg", "predict", "--bundle", str(BUNDLE), "-i", str(listing), "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, encoding="utf-8", errors="replace", check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for case in CASES:
        image = nib.load(data / "imagesTr" / f"{case}.nii.gz")
        pred = nib.load(out / f"{case}_seg.nii.gz")
        assert pred.shape == image.shape
        np.testing.assert_allclose(pred.affine, image.affine, atol=1e-4)
        label = np.asarray(nib.load(data / "labelsTr" / f"{case}.nii.gz").dataobj)
        seg = np.asarray(pred.dataobj)
        scores = [_dice(seg, label, v) for v in (1, 2)]
        assert min(scores) >= 0.85, f"{case}: Dice anterior, posterior = {scores}"
