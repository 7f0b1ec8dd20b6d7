"""The hippocampus bundle's shipped model: its weights load strictly into the bundle's network, match the model
card's sha256, and segment real MSD Task04 cases through ``attn-seg predict`` with no extra settings."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from bundle_helpers import shipped_network

from attn_seg.bundles import find_bundle

BUNDLE = find_bundle("attention_unet_hippocampus_mri")
WEIGHTS = BUNDLE / "models" / "model.pt"
#: Cases for the smoke test (the shipped model saw them in training: the held-out figures come from the split runs).
CASES = ("hippocampus_003", "hippocampus_105", "hippocampus_367")


def test_weights_are_small_match_the_model_card_and_load_strictly() -> None:
    parser = shipped_network(BUNDLE)
    net = parser.get_parsed_content("network")
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
    if not WEIGHTS.is_file():
        pytest.fail(f"{WEIGHTS} is missing: the bundle ships trained weights")
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
