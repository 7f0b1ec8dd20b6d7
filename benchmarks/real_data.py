"""Real-data runs of a task bundle: train on a held-out split through MONAI's bundle runner, evaluate the held-out
cases with the bundle's own ``evaluate.json``, and file the figures under ``docs/real_data/<task>/``.

Each step is a child process run as a user runs it (``python -m monai.bundle run ...``), and each is skipped when
its output is already there, so a killed run goes on where it stopped (training resumes from its latest
checkpoint with ``--resume true``).

Usage::

    python benchmarks/real_data.py hippocampus --seed 0           # train (~50 min on 2 cores), evaluate, file
    python benchmarks/real_data.py hippocampus --seed 1 --seed 2  # more seeds (split_seed = seed)
    python benchmarks/real_data.py hippocampus --table            # the table over every filed seed
    python benchmarks/real_data.py polyp --seed 0 --precision bf16  # Kvasir-SEG, 640/160 split (~70 min in bf16)
    python benchmarks/real_data.py hippocampus --seed 0 --precision bf16 --epochs 48 --variant bf16_48ep
    python benchmarks/real_data.py polyp --seed 0 --set augmentation_prob=0.5 --variant aug05  # any train.json key

Per seed, ``docs/real_data/<task>/seed<S>/`` receives ``run.json`` (command, wall time, per-class Dice and HD95
mean/std over the held-out cases), ``summary.json`` and ``metrics.csv`` (per case and class), ``history.json``,
``curves.png``, ``boxplots.png`` and the best/median/worst case panels with their attention maps.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from attn_seg.bundles import bundle_command, override_args
from attn_seg.cli import options

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
TASKS: dict[str, dict[str, Any]] = {
    "hippocampus": {"bundle": "attention_unet_hippocampus_mri", "data": SHARED / "msd_task04_hippocampus"},
    "polyp": {"bundle": "attention_unet_polyp_2d", "data": SHARED / "kvasir_seg"},
}
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ ")

__all__ = ["children_cpu", "class_stats", "log_span", "main", "relative", "runner"]


def _bundle(task: str) -> Path:
    return ROOT / "bundles" / TASKS[task]["bundle"]


def runner(task: str, run_dir: Path, run_id: str, configs: list[str], extra: list[str]) -> list[str]:
    """The bundle runner's command for ``run_id`` of the task's bundle; ``configs`` are names in its ``configs/``
    or absolute paths (overlays), merged in order; checkpoints and outputs go under ``run_dir``."""
    paths = {"dataset_dir": TASKS[task]["data"], "ckpt_dir": run_dir / "models", "output_dir": run_dir / "eval"}
    return [*bundle_command(_bundle(task), configs, run_id, paths), *extra]


def log_span(log: Path) -> float:
    """Seconds between the first and the last time-stamped line of a training log."""
    stamps = [m.group(1) for line in log.read_text(errors="replace").splitlines() if (m := _STAMP.match(line))]
    if len(stamps) < 2:
        raise RuntimeError(f"{log} holds no time-stamped lines")
    fmt = "%Y-%m-%d %H:%M:%S"
    return (datetime.strptime(stamps[-1], fmt) - datetime.strptime(stamps[0], fmt)).total_seconds()


def _finished(run_dir: Path) -> bool:
    """Whether the run trained all the epochs it was started with (``train_config.json``, written at its start)."""
    history, weights, config = run_dir / "eval" / "history.json", run_dir / "models" / "model.pt", \
        run_dir / "train_config.json"
    if not (history.is_file() and weights.is_file() and config.is_file()):
        return False
    rows = json.loads(history.read_text())["epochs"]
    return bool(rows) and rows[-1]["epoch"] >= int(json.loads(config.read_text())["epochs"])


def _train(task: str, seed: int, run_dir: Path, precision: str | None, epochs: int | None,
           overrides: list[str]) -> list[str]:
    """Train (or resume) the run; returns the fresh run's command (what the record names). ``precision`` and
    ``epochs`` override the bundle's training precision and epochs where given; ``overrides`` are more runner
    arguments (``--key value`` pairs)."""
    log = run_dir / "train.log"
    extra = ["--seed", str(seed), *(["--precision", precision] if precision else []),
             *(["--epochs", str(epochs)] if epochs else []), *overrides]
    cmd = runner(task, run_dir, "training", ["train.json"], extra)
    if _finished(run_dir):
        return cmd
    resume = (run_dir / "models").is_dir() and any((run_dir / "models").glob("checkpoint_epoch=*.pt"))
    run_dir.mkdir(parents=True, exist_ok=True)
    epochs = epochs or json.loads((_bundle(task) / "configs" / "train.json").read_text())["epochs"]
    (run_dir / "train_config.json").write_text(json.dumps({"epochs": epochs}))
    print(f"[real_data] training: {' '.join(cmd)} (log {log})", flush=True)
    cpu, start = children_cpu(), time.perf_counter()
    with log.open("a") as out:
        subprocess.run([*cmd, "--resume", str(resume).lower()], stdout=out, stderr=subprocess.STDOUT, check=True,
                       cwd=ROOT)
    timing = {"wall_s": time.perf_counter() - start, "cpu_s": children_cpu() - cpu, "resumed": resume}
    (run_dir / "timing.json").write_text(json.dumps(timing))
    return cmd


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _held_out(task: str, run_dir: Path, seed: int) -> Path:
    """Write the run's held-out cases (the bundle's ``split[1]`` for this seed) as a datalist; returns its path."""
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(_bundle(task) / "configs" / "train.json"))
    parser.update({"bundle_root": str(_bundle(task)), "dataset_dir": str(TASKS[task]["data"]), "seed": seed})
    path = run_dir / "eval" / "held_out.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"test": [{"image": c["image"]} for c in parser.get_parsed_content("split")[1]]}))
    return path


def _attention_maps(task: str, run_dir: Path, seed: int) -> None:
    """Attention maps of the held-out cases beside the predictions, for the report's case pictures: the trained
    weights run through ``attn-seg predict --save-attention`` as a user runs it (fp32)."""
    predictions = run_dir / "eval" / "predictions"
    if any(predictions.glob("*_attn_g*")):
        return
    cmd = [sys.executable, "-m", "attn_seg", "predict", "--bundle", str(_bundle(task)), "--weights",
           str(run_dir / "models" / "model.pt"), "-i", str(_held_out(task, run_dir, seed)), "-o", str(predictions),
           "--save-attention", "--precision", "fp32", "--no-progress"]
    print(f"[real_data] attention maps: {' '.join(cmd)}", flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def _evaluate(task: str, run_dir: Path, seed: int, overrides: list[str]) -> None:
    """Score the run's held-out cases with the bundle's ``evaluate.json`` and the training's ``overrides``; the seed
    picks the same split as training."""
    if (run_dir / "eval" / "report" / "summary.json").is_file():
        return
    cmd = runner(task, run_dir, "evaluating", ["train.json", "evaluate.json"], ["--seed", str(seed), *overrides])
    print(f"[real_data] evaluating: {' '.join(cmd)}", flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def _curves(history: Path, out: Path) -> None:
    from attn_seg.visualize import save_figure, training_curves

    rows = json.loads(history.read_text())["epochs"]
    tags = sorted({k for row in rows for k in row if k not in ("epoch", "iterations")})
    scalars = {t: [(row["epoch"], float(row[t])) for row in rows if isinstance(row.get(t), (int, float))] for t in tags}
    save_figure(training_curves(scalars), out)


def class_stats(rows: list[dict[str, str]]) -> dict[str, dict[str, float]]:
    """Mean and population standard deviation of Dice and HD95 per class over the rows of ``metrics.csv``."""
    per: dict[str, dict[str, list[float]]] = {}
    for row in rows:
        for metric in ("dice", "hd95_mm"):
            value = row.get(metric, "")
            if value not in ("", "nan"):
                per.setdefault(row["class_name"], {}).setdefault(metric, []).append(float(value))
    return {name: {f"{m}_{s}": round(f(v), 4) for m, v in metrics.items()
                   for s, f in (("mean", statistics.fmean), ("std", statistics.pstdev))}
            for name, metrics in per.items()}


def _results_dir(task: str, variant: str | None) -> Path:
    """Where a task's filed runs go: ``docs/real_data/<task>/`` for the bundle's own recipe, a sub-folder named
    after a variant of it otherwise."""
    return ROOT / "docs" / "real_data" / task / (variant or "")


def _file(task: str, seed: int, run_dir: Path, cmd: list[str], variant: str | None) -> Path:
    dest = _results_dir(task, variant) / f"seed{seed}"
    dest.mkdir(parents=True, exist_ok=True)
    report = run_dir / "eval" / "report"
    with (report / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    for item in [*report.glob("*.png"), report / "summary.json", report / "metrics.csv",
                 run_dir / "eval" / "history.json"]:
        shutil.copy2(item, dest / item.name)
    _curves(run_dir / "eval" / "history.json", dest / "curves.png")
    record = {
        "task": task, "variant": variant or "bundle default", "seed": seed,
        "command": " ".join(relative(c) for c in cmd),
        "training_wall_s": log_span(run_dir / "train.log"), **_timing(run_dir),
        "held_out_cases": len({row["case"] for row in rows}), "classes": class_stats(rows),
        "filed": time.strftime("%Y-%m-%d %H:%M"),
    }
    (dest / "run.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    return dest


def relative(arg: str) -> str:
    """A command argument as a user in the repository's root types it."""
    return "python" if arg == sys.executable else arg.replace(f"{ROOT}/", "").replace(f"{ROOT.parent}/", "../")


def _timing(run_dir: Path) -> dict[str, Any]:
    """CPU seconds of the training process (and a note on how its run was measured), where ``timing.json`` has
    them. A reference beside the wall time, not a substitute: other work on the machine stretches the wall time and
    inflates the CPU time too (threads spin while waiting for a core)."""
    path = run_dir / "timing.json"
    if not path.is_file():
        return {}
    timing = json.loads(path.read_text())
    return {"training_cpu_s": round(timing["cpu_s"], 1), **({"note": timing["note"]} if "note" in timing else {})}


def _table(task: str, variant: str | None) -> str:
    runs = [json.loads(p.read_text()) for p in sorted(_results_dir(task, variant).glob("seed*/run.json"))]
    if not runs:
        raise SystemExit(f"no filed runs of {task}; run with --seed first")
    names = list(runs[0]["classes"])
    head = "| seed | wall min | CPU min | " + " | ".join(f"Dice {n} | HD95 {n} (mm)" for n in names) + " |\n"
    lines = [head, "|---|---|---|" + "---|---|" * len(names) + "\n"]
    for r in runs:
        cells = [f"{r['classes'][n]['dice_mean']:.3f} +/- {r['classes'][n]['dice_std']:.3f} | "
                 f"{r['classes'][n]['hd95_mm_mean']:.2f}" for n in names]
        cpu = f"{r['training_cpu_s'] / 60:.1f}" if "training_cpu_s" in r else "-"
        lines.append(f"| {r['seed']} | {r['training_wall_s'] / 60:.1f} | {cpu} | " + " | ".join(cells) + " |\n")
    if len(runs) > 1:
        means = [f"{statistics.fmean(r['classes'][n]['dice_mean'] for r in runs):.3f} | "
                 f"{statistics.fmean(r['classes'][n]['hd95_mm_mean'] for r in runs):.2f}" for n in names]
        lines.append("| mean | " + f"{statistics.fmean(r['training_wall_s'] for r in runs) / 60:.1f} | - | "
                     + " | ".join(means) + " |\n")
    notes = [f"- seed {r['seed']}: {r['note']}\n" for r in runs if r.get("note")]
    table = "".join(lines) + ("\nHow each run was timed:\n\n" + "".join(notes) if notes else "")
    (_results_dir(task, variant) / "results.md").write_text(table)
    return table


def main(argv: list[str] | None = None) -> int:
    """Train, evaluate and file the given seeds of a task, or print the table of the filed ones."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--seed", type=int, action="append", default=[], help="split and training seed")
    parser.add_argument("--run-dir", type=Path, default=None, help="the run folder (default: runs/real/<task>/seed<S>)")
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default=None,
                        help="training precision (default: the bundle's own)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: the bundle's own)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="ID=VALUE",
                        type=options.setting,
                        help="override a train.json id for training and evaluation, as `attn-seg predict --set` "
                             "reads it (e.g. augmentation_prob=0.5 or 'augmentations=[\"flip\",\"zoom\"]'); "
                             "needs --variant")
    parser.add_argument("--variant", default=None,
                        help="a name for a recipe that differs from the bundle's (with --precision, --epochs or "
                             "--set): its runs and results go to a sub-folder of that name")
    parser.add_argument("--table", action="store_true", help="write docs/real_data/<task>/results.md")
    args = parser.parse_args(argv)
    overrides = override_args(dict(args.overrides))
    if overrides and not args.variant:
        parser.error("--set changes the recipe: name it with --variant so its results do not replace the default's")
    if not TASKS[args.task]["data"].is_dir():
        raise SystemExit(f"the data set {TASKS[args.task]['data']} is absent")
    for seed in args.seed:
        default_dir = ROOT / "runs" / "real" / args.task / (args.variant or "") / f"seed{seed}"
        run_dir = (args.run_dir or default_dir).absolute()
        cmd = _train(args.task, seed, run_dir, args.precision, args.epochs, overrides)
        _attention_maps(args.task, run_dir, seed)
        _evaluate(args.task, run_dir, seed, overrides)
        _file(args.task, seed, run_dir, cmd, args.variant)
    if args.table:
        print(_table(args.task, args.variant))
    return 0


if __name__ == "__main__":
    sys.exit(main())
