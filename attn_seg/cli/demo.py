"""``attn-seg demo``: the main job end to end on synthetic data.

Writes a synthetic 3D CT set, trains the ``attention_unet_3d_ct`` bundle briefly through MONAI's bundle runner,
segments the held-out volumes with sliding-window inference, and scores them:

    OUT/data/         synthetic data set (Decathlon layout, dataset.json)
    OUT/bundle/       the trained bundle (configs, models/model.pt, eval/ TensorBoard logs)
    OUT/predictions/  per held-out case its label map and each attention gate's map, in the input's own geometry
    OUT/summary.json  Dice per case and class, timings; OUT/summary.md the same as a table
    OUT/report/       the evaluation report (``attn-seg evaluate``): metrics.csv, summary.json, report.html,
                      box plots, training curves and case panels
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import time
from pathlib import Path

import numpy as np

from attn_seg.cli import options

__all__ = ["add_parser", "run"]

_BUNDLE = "attention_unet_3d_ct"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the subcommand."""
    p = subparsers.add_parser("demo", help="synthesise data, train the 3D CT bundle, predict and score")
    p.add_argument("--out", default="runs/demo", help="output folder (must not exist or be empty)")
    p.add_argument("--cases", type=options.bounded_int(2), default=16,
                   help="synthetic training cases (a fifth validate)")
    p.add_argument("--test-cases", type=options.positive_int, default=4,
                   help="synthetic held-out cases to predict and score")
    p.add_argument("--epochs", type=options.positive_int, default=40, help="training epochs")
    p.add_argument("--seed", type=int, default=0, help="seed of the data and of training")
    p.add_argument("--bundle", default=_BUNDLE, help="bundle name or folder to train")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="ID=VALUE", type=options.setting,
                   help="bundle config override for training and inference, e.g. roi_size=[96,96,64]; repeatable")
    p.set_defaults(func=run)


def _copy_bundle(source: Path, target: Path) -> None:
    """Copy a bundle's configs and docs, leaving out what a run writes inside it."""
    ignore = shutil.ignore_patterns("data", "eval", "runs", "*.pt", "*.ts", "*.onnx", "__pycache__")
    shutil.copytree(source, target, ignore=ignore)
    (target / "models").mkdir(exist_ok=True)


def _summary_markdown(rows: list[dict], class_names: list[str], timings: dict[str, float]) -> str:
    head = "| case | " + " | ".join(class_names) + " | mean |\n|---|" + "---|" * (len(class_names) + 1) + "\n"
    lines = [f"| {r['case']} | " + " | ".join(f"{d:.3f}" for d in r["dice"]) + f" | {r['mean_dice']:.3f} |"
             for r in rows]
    mean = float(np.nanmean([r["mean_dice"] for r in rows]))
    times = ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
    return f"# attn-seg demo\n\nDice per held-out case\n\n{head}" + "\n".join(lines) + (
        f"\n\nMean Dice over cases: **{mean:.3f}**\n\nWall time: {times}\n"
    )


def _case_rows(metrics_csv: Path, names: list[str]) -> list[dict]:
    """Per case, the Dice of each class as the report scored it (its ``metrics.csv``), and their mean."""
    dice: dict[str, dict[str, float]] = {}
    with metrics_csv.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            dice.setdefault(row["case"], {})[row["class_name"]] = float(row["dice"] or "nan")
    rows = []
    for case, by_class in dice.items():
        values = [by_class.get(name, math.nan) for name in names]
        present = [v for v in values if not math.isnan(v)]
        rows.append({"case": case, "dice": values, "mean_dice": float(np.mean(present)) if present else math.nan})
    return rows


def _predict(bundle: Path, overrides: dict[str, object], image_dir: Path, pred_dir: Path) -> None:
    """Segment every image in ``image_dir`` with the trained bundle (``attn-seg predict``'s path), writing label
    maps and each gate's attention map in the input's geometry; raise when a case fails."""
    import torch

    from attn_seg.inference import list_inputs, load_model, predict_files, read_bundle

    device = "cuda" if torch.cuda.is_available() else "cpu"
    settings = read_bundle(bundle, {**overrides, "output_dir": str(pred_dir), "save_attention": True})
    network = load_model(settings, device=device, attention=True)
    report = predict_files(list_inputs(image_dir), network, settings, progress=False)
    if report.failed:
        raise RuntimeError("inference failed for " + "; ".join(cause for _, cause in report.failed))


def _nan_to_none(value: object) -> object:
    """JSON has no NaN: Dice of a class absent from both maps is written as null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    return value


def run(args: argparse.Namespace) -> int:
    """Run the demo; returns 0 when every step succeeded."""
    from attn_seg.bundles import find_bundle, run_bundle
    from attn_seg.data import SyntheticSpec, load_cases, write_synthetic_dataset
    from attn_seg.evaluation import pair_cases, write_report

    overrides = dict(args.overrides)
    out = Path(args.out).expanduser().absolute()
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"output folder {out} already exists and is not empty; choose a new --out")
    bundle_src = find_bundle(args.bundle)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    write_synthetic_dataset(out / "data", spec=SyntheticSpec(), num_cases=args.cases,
                            num_test=args.test_cases, seed=args.seed)
    bundle = out / "bundle"
    _copy_bundle(bundle_src, bundle)
    timings["data"] = time.perf_counter() - start
    common = {**overrides, "dataset_dir": out / "data"}
    print(f"[attn-seg demo] training {bundle} for {args.epochs} epochs", flush=True)
    # the demo's bundle copy is its run folder: the model goes where its inference.json looks for it
    run_bundle(bundle, "train.json", "training", {**common, "epochs": args.epochs, "seed": args.seed,
                                                   "ckpt_dir": bundle / "models", "output_dir": bundle / "eval"})
    timings["training"] = time.perf_counter() - start - timings["data"]
    print("[attn-seg demo] sliding-window inference on the held-out cases", flush=True)
    pred_dir = out / "predictions"
    _predict(bundle, overrides, out / "data" / "imagesTs", pred_dir)
    timings["inference"] = time.perf_counter() - start - timings["data"] - timings["training"]
    manifest = json.loads((out / "data" / "dataset.json").read_text(encoding="utf-8"))
    names = [manifest["labels"][k] for k in sorted(manifest["labels"], key=int)][1:]
    data = out / "data"
    cases = pair_cases(pred_dir, data / "labelsTs", image_dir=data / "imagesTs")
    write_report(cases, out / "report", classes=dict(enumerate(names, start=1)), log_dir=bundle / "eval",
                 title="attn-seg demo: held-out cases")
    rows = _case_rows(out / "report" / "metrics.csv", names)
    summary = {"mean_dice": float(np.nanmean([r["mean_dice"] for r in rows])), "classes": names,
               "cases": rows, "epochs": args.epochs, "training_cases": len(load_cases(out / "data")),
               "seconds": timings}
    (out / "summary.json").write_text(json.dumps(_nan_to_none(summary), indent=2) + "\n", encoding="utf-8")
    (out / "summary.md").write_text(_summary_markdown(rows, names, timings), encoding="utf-8")
    print((out / "summary.md").read_text(encoding="utf-8"))
    print(f"[attn-seg demo] predictions in {pred_dir}, summary in {out / 'summary.md'}, "
          f"report in {out / 'report' / 'report.html'}")
    return 0 if not math.isnan(summary["mean_dice"]) else 1
