"""Held-out Dice of the hippocampus split runs (``benchmarks/real_data.py hippocampus [--variant V]``) through
``attn-seg predict`` (fp32 inference) as it ships and with its options: left-right flip TTA (``--tta 0``), the
largest connected component of each class (``--largest-component``), and both. Prints each run and writes a JSON of
mean Dice per class per seed and option, and their means over seeds.

Usage::

    python benchmarks/hippocampus_tta.py   # the bf16 runs -> docs/real_data/hippocampus/bf16/tta.json
    python benchmarks/hippocampus_tta.py --variant bf16_80ep --options plain tta largest tta_largest

Needs the run folders under ``runs/real/hippocampus/<variant>/seed<S>/``.
"""

from __future__ import annotations

import argparse
import json
import statistics
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
OPTIONS = {"plain": [], "tta": ["--tta", "0"], "largest": ["--largest-component"],
           "tta_largest": ["--tta", "0", "--largest-component"]}


def _predict(run: Path, out: Path, flags: list[str]) -> None:
    cmd = [sys.executable, "-m", "attn_seg", "predict", "--bundle", str(BUNDLE), "--weights",
           str(run / "models" / "model.pt"), "-i", str(run / "eval" / "held_out.json"), "-o", str(out),
           "--precision", "fp32", "--no-progress", *flags]
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


def main(argv: list[str] | None = None) -> int:
    """Score every seed with every option; write the JSON beside the variant's filed results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", default="bf16", help="the runs' variant folder (default: bf16)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--options", nargs="+", choices=list(OPTIONS), default=["plain", "tta"])
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            run = ROOT / "runs" / "real" / "hippocampus" / args.variant / f"seed{seed}"
            for option in args.options:
                name = f"seed{seed}_{option}"
                _predict(run, Path(tmp) / name, OPTIONS[option])
                results[name] = _dice(Path(tmp) / name)
                print(name, results[name], flush=True)
    results["mean"] = {option: {c: round(statistics.fmean(results[f"seed{s}_{option}"][c] for s in args.seeds), 4)
                                for c in (1, 2)} for option in args.options}
    text = json.dumps(results)
    out = ROOT / "docs" / "real_data" / "hippocampus" / args.variant / "tta.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
