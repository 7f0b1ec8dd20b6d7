"""Held-out Dice of the hippocampus bf16 split runs (``benchmarks/real_data.py hippocampus --variant bf16``) through
``attn-seg predict`` (fp32 inference), without and with left-right flip TTA (``--tta 0``); prints each run and a
JSON line of mean Dice per class. Needs the run folders under ``runs/real/hippocampus/bf16/``."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "msd_task04_hippocampus"
BUNDLE = ROOT / "bundles" / "attention_unet_hippocampus_mri"


def _predict(run: Path, out: Path, tta: bool) -> None:
    cmd = [sys.executable, "-m", "attn_seg", "predict", "--bundle", str(BUNDLE), "--weights",
           str(run / "models" / "model.pt"), "-i", str(run / "eval" / "held_out.json"), "-o", str(out),
           "--precision", "fp32", "--no-progress", *(["--tta", "0"] if tta else [])]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def _dice(out: Path) -> dict[int, float]:
    """Mean Dice per class over the predicted cases against ``labelsTr``."""
    scores: dict[int, list[float]] = {1: [], 2: []}
    for seg in sorted(out.glob("*_seg.nii.gz")):
        pred = np.asarray(nib.load(seg).dataobj)
        truth = np.asarray(nib.load(DATA / "labelsTr" / seg.name.replace("_seg", "")).dataobj)
        for c, values in scores.items():
            values.append(2 * np.sum((pred == c) & (truth == c)) / (np.sum(pred == c) + np.sum(truth == c)))
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
