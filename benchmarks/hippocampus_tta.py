"""Held-out Dice of the hippocampus bf16 split runs (``benchmarks/real_data.py hippocampus --variant bf16``) through
``attn-seg predict`` (fp32 inference), without and with left-right flip TTA (``--tta 0``); prints each run and a
JSON line of mean Dice per class. Needs the run folders under ``runs/real/hippocampus/bf16/``."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from attn_seg.evaluation import case_metrics

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "msd_task04_hippocampus"
BUNDLE = ROOT / "bundles" / "attention_unet_hippocampus_mri"


def _predict(run: Path, out: Path, tta: bool) -> None:
    cmd = [sys.executable, "-m", "attn_seg", "predict", "--bundle", str(BUNDLE), "--weights",
           str(run / "models" / "model.pt"), "-i", str(run / "eval" / "held_out.json"), "-o", str(out),
           "--precision", "fp32", "--no-progress", *(["--tta", "0"] if tta else [])]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def _dice(out: Path) -> dict[int, float]:
    """Mean Dice per class over the predicted cases against ``labelsTr`` (``attn_seg.evaluation.case_metrics``)."""
    scores: dict[int, list[float]] = {1: [], 2: []}
    for seg in sorted(out.glob("*_seg.nii.gz")):
        pred: Any = nib.load(seg)
        truth: Any = nib.load(DATA / "labelsTr" / seg.name.replace("_seg", ""))
        metrics = case_metrics(np.asarray(pred.dataobj), np.asarray(truth.dataobj), truth.header.get_zooms(),
                               list(scores))
        for c, values in scores.items():
            values.append(metrics[c].dice)
    return {c: round(float(np.mean(v)), 4) for c, v in scores.items()}


def main() -> int:
    """Score every seed both ways."""
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in (0, 1, 2):
            run = ROOT / "runs" / "real" / "hippocampus" / "bf16" / f"seed{seed}"
            for tta in (False, True):
                name = f"seed{seed}_{'tta' if tta else 'plain'}"
                _predict(run, Path(tmp) / name, tta)
                results[name] = _dice(Path(tmp) / name)
                print(name, results[name], flush=True)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
