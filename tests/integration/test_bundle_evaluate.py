"""``evaluate.json`` merged over ``train.json``: validation predictions and the report, via MONAI's runner."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from bundle_helpers import in_place
from monai.bundle import ConfigParser

from attn_seg.bundles import bundle_command


def test_evaluate_config_writes_predictions_and_report(
    bundle_copy: Path, synthetic_3d: Path, tiny_3d: dict, tmp_path: Path
) -> None:
    """An untrained network's weights stand in for a trained model: the test checks the wiring, not the scores."""
    overrides = {**tiny_3d, "dataset_dir": synthetic_3d}
    parser = ConfigParser()
    parser.read_config([str(bundle_copy / "configs" / c) for c in ("train.json", "evaluate.json")])
    parser.update(overrides)
    torch.manual_seed(0)
    torch.save(parser.get_parsed_content("network_def").state_dict(), bundle_copy / "models" / "model.pt")
    cmd = bundle_command(bundle_copy, ["train.json", "evaluate.json"], "evaluating", in_place(bundle_copy, overrides))
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, encoding="utf-8", errors="replace", check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = bundle_copy / "eval" / "report"
    rows = list(csv.DictReader((report / "metrics.csv").open()))
    cases = sorted({r["case"] for r in rows})
    assert cases
    assert {r["class_name"] for r in rows} == {"organ", "lesion"}
    assert (report / "report.html").is_file()
    assert list(report.glob("panel_best_*.png"))
    for case in cases:
        pred = nib.load(bundle_copy / "eval" / "predictions" / f"{case}_seg.nii.gz")
        label = nib.load(synthetic_3d / "labelsTr" / f"{case}.nii.gz")
        assert pred.shape == label.shape
        np.testing.assert_allclose(pred.affine, label.affine, atol=1e-3)
    assert (bundle_copy / "models" / "model.pt").stat().st_size > 0
