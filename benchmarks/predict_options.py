"""Held-out Dice of the real-data models through ``attn-seg predict`` (fp32 inference) with each of its options:
none (``--no-tta``; the polyp bundle flips by default), flip TTA (``--tta``), the largest connected component of
each class (``--largest-component``), and both. Prints each run and writes a JSON of mean Dice per class per seed
and option, and their means over seeds.

- ``hippocampus``: the split runs of ``benchmarks/real_data.py hippocampus [--variant V]``, from their run folders
  ``runs/real/hippocampus/<variant>/seed<S>/`` (weights and ``eval/held_out.json``); TTA flips left-right (axis 0).
  Writes ``docs/real_data/hippocampus/<variant>/tta.json``.
- ``polyp``: the polyp bundle's shipped weights (the seed-0 split run of ``docs/real_data/polyp/seed0/``, or
  ``--weights``) on the 160 pictures that split held out (the bundle's ``val_fraction`` 0.2 and ``split_seed`` 0);
  TTA flips both axes; Dice of the PNG masks against the JPEG masks thresholded at 128. Writes
  ``docs/real_data/polyp/seed0/options.json``; with ``--variant V``, the weights of
  ``benchmarks/real_data.py polyp --variant V`` (``runs/real/polyp/V/seed0/``) and
  ``docs/real_data/polyp/V/seed0/options.json``.

Usage::

    python benchmarks/predict_options.py hippocampus   # the bf16 runs -> docs/real_data/hippocampus/bf16/tta.json
    python benchmarks/predict_options.py hippocampus --variant bf16_80ep --options plain tta largest tta_largest
    python benchmarks/predict_options.py polyp --options plain tta largest tta_largest
    python benchmarks/predict_options.py polyp --variant strong_aug   # a variant's split run, not the shipped weights
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
from monai.bundle import ConfigParser
from PIL import Image

from attn_seg.data import load_cases, split_datalist
from attn_seg.evaluation import case_metrics, class_metrics

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
TASKS: dict[str, dict[str, Any]] = {
    "hippocampus": {"bundle": "attention_unet_hippocampus_mri", "data": "msd_task04_hippocampus", "tta": "0",
                    "classes": [1, 2]},
    "polyp": {"bundle": "attention_unet_polyp_2d", "data": "kvasir_seg", "tta": "0,1", "classes": [1]},
}
OPTION_FLAGS = {"plain": ["--no-tta"], "tta": ["--tta", "{tta}"], "largest": ["--no-tta", "--largest-component"],
                "tta_largest": ["--tta", "{tta}", "--largest-component"]}


def _predict(task: str, weights: Path, cases: Path, out: Path, option: str) -> None:
    flags = [flag.format(tta=TASKS[task]["tta"]) for flag in OPTION_FLAGS[option]]
    cmd = [sys.executable, "-m", "attn_seg", "predict", "--bundle", str(ROOT / "bundles" / TASKS[task]["bundle"]),
           "--weights", str(weights), "-i", str(cases), "-o", str(out), "--precision", "fp32", "--no-progress",
           *flags]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def _hippocampus_dice(out: Path) -> dict[int, float]:
    """Mean Dice per class over the predicted cases against ``labelsTr`` (``attn_seg.evaluation.case_metrics``)."""
    scores: dict[int, list[float]] = {1: [], 2: []}
    for seg in sorted(out.glob("*_seg.nii.gz")):
        pred: Any = nib.load(seg)
        truth: Any = nib.load(DATA / TASKS["hippocampus"]["data"] / "labelsTr" / seg.name.replace("_seg", ""))
        metrics = case_metrics(np.asarray(pred.dataobj), np.asarray(truth.dataobj), truth.header.get_zooms(),
                               list(scores))
        for c, values in scores.items():
            values.append(metrics[c].dice)
    return {c: round(float(np.mean(v)), 4) for c, v in scores.items()}


def _polyp_dice(out: Path, masks: list[Path]) -> dict[int, float]:
    """Mean Dice of the predicted PNG masks (255 = polyp) against the JPEG masks (>= 128 = polyp)."""
    scores = []
    for mask in masks:
        truth = np.asarray(Image.open(mask).convert("L")) >= 128
        pred = np.asarray(Image.open(out / "png" / f"{mask.stem}_seg.png")) == 255
        scores.append(class_metrics(pred, truth, (1.0, 1.0)).dice)
    return {1: round(float(np.mean(scores)), 4)}


def _bundle_split(task: str, seed: int) -> tuple[float, int]:
    """The validation fraction and split seed the task's bundle trains with for ``seed``."""
    parser = ConfigParser()
    parser.read_config(ROOT / "bundles" / TASKS[task]["bundle"] / "configs" / "train.json")
    parser.update({"seed": seed})
    return float(parser.get_parsed_content("val_fraction")), int(parser.get_parsed_content("split_seed"))


def _runs(task: str, args: argparse.Namespace, tmp: Path) -> dict[str, tuple[Path, Path, Any]]:
    """Per seed: the weights, the held-out datalist and how to score the predictions."""
    if task == "hippocampus":
        runs = {f"seed{s}": ROOT / "runs" / "real" / "hippocampus" / args.variant / f"seed{s}" for s in args.seeds}
        return {name: (run / "models" / "model.pt", run / "eval" / "held_out.json", _hippocampus_dice)
                for name, run in runs.items()}
    _, held_out = split_datalist(load_cases(DATA / TASKS[task]["data"]), *_bundle_split(task, seed=0))
    listing = tmp / "held_out.json"
    listing.write_text(json.dumps([{"image": case["image"]} for case in held_out]))
    masks = [Path(case["label"]) for case in held_out]
    if args.weights is not None:
        weights = args.weights
    elif args.variant is not None:
        weights = ROOT / "runs" / "real" / task / args.variant / "seed0" / "models" / "model.pt"
    else:
        weights = ROOT / "bundles" / TASKS[task]["bundle"] / "models" / "model.pt"
    return {"seed0": (weights, listing, lambda out: _polyp_dice(out, masks))}


def main(argv: list[str] | None = None) -> int:
    """Score every seed with every option; write the JSON beside the task's filed results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=list(TASKS))
    parser.add_argument("--variant", help="the runs' variant folder (hippocampus default: bf16; polyp default: none,"
                        " the shipped weights, filed in seed0/)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="hippocampus: the split seeds")
    parser.add_argument("--weights", type=Path, help="polyp, with --variant: weights (default: the --variant run's,"
                        " else the bundle's models/model.pt)")
    parser.add_argument("--options", nargs="+", choices=list(OPTION_FLAGS), default=["plain", "tta"])
    args = parser.parse_args(argv)
    if args.weights is not None and (args.task != "polyp" or args.variant is None):
        parser.error(f"--weights {args.weights} is for polyp and needs --variant, the folder its results are filed "
                     "in (without one they would replace the shipped weights' docs/real_data/polyp/seed0/)")
    if args.task == "hippocampus" and args.variant is None:
        args.variant = "bf16"
    results: dict[str, Any] = {}
    classes = TASKS[args.task]["classes"]
    with tempfile.TemporaryDirectory() as tmp:
        runs = _runs(args.task, args, Path(tmp))
        for seed, (weights, cases, score) in runs.items():
            for option in args.options:
                name = f"{seed}_{option}"
                _predict(args.task, weights, cases, Path(tmp) / name, option)
                results[name] = score(Path(tmp) / name)
                print(name, results[name], flush=True)
    results["mean"] = {option: {c: round(statistics.fmean(results[f"{s}_{option}"][c] for s in runs), 4)
                                for c in classes} for option in args.options}
    text = json.dumps(results)
    folder = ROOT / "docs" / "real_data" / args.task
    if args.task == "hippocampus":
        out = folder / args.variant / "tta.json"
    else:
        out = folder / (args.variant or "") / "seed0" / "options.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
