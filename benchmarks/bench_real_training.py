"""Time to accuracy on the real hippocampus task: our Attention U-Net against MONAI's ``UNet`` and ``AttentionUnet``,
same bundle, same recipe, same split, only ``network_def`` swapped.

Each arm is the hippocampus bundle trained through MONAI's bundle runner (``python -m monai.bundle run training``)
on the seed-0 split (160 training, 40 held-out cases), one arm after the other on a quiet machine. The bundle
validates on the 40 held-out cases every ``val_interval`` epochs; each validation's mean Dice is put on the clock
of its run (the log's time stamps, from the run's first line: data caching included). From those curves the script
reports the Dice each arm had reached after 10, 20, 40 and 60 minutes (a run that ended earlier keeps its final
Dice) and the minutes each needed to reach every other arm's final Dice; the bundle's ``models/model.pt`` (the best
validation epoch's weights, chosen on these same held-out cases) is then scored per class by its ``evaluate.json``.

The peers: ``UNet`` with channels 16..256 and 2 residual units (its last stride is 1 so that the bundle's patch,
40x56x40, passes its four down-samplings), ``AttentionUnet`` with our channels and strides
(``configs/network/monai_*_3d.json``). A killed run resumes from its checkpoint; a finished arm is not run again.

Usage::

    python benchmarks/bench_real_training.py                  # all arms (about 2 hours on 2 cores), then report
    python benchmarks/bench_real_training.py --arm monai_unet  # one arm
    python benchmarks/bench_real_training.py --report          # the report of the finished arms

Results: ``benchmarks/results/real_training_cpu.{json,md}``.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_data import ROOT, TASKS, children_cpu, class_stats, relative, runner

__all__ = ["main"]

TASK = "hippocampus"
SEED = 0
ARMS = {
    "attn_seg": None,
    "monai_unet": ROOT / "configs" / "network" / "monai_unet_3d.json",
    "monai_attention_unet": ROOT / "configs" / "network" / "monai_attention_unet_3d.json",
}
CHECKPOINTS_MIN = (10, 20, 40, 60)
RESULTS = ROOT / "benchmarks" / "results" / "real_training_cpu"
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ ")
_EPOCH_DONE = re.compile(r"Epoch\[(\d+)\] Complete")


def _run_dir(arm: str) -> Path:
    return ROOT / "runs" / "bench_real" / arm


def _configs(arm: str) -> list[str]:
    overlay = ARMS[arm]
    return ["train.json"] if overlay is None else ["train.json", str(overlay)]


def _train(arm: str) -> None:
    run_dir = _run_dir(arm)
    if (run_dir / "timing.json").is_file():
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    resume = any((run_dir / "models").glob("checkpoint_epoch=*.pt"))
    cmd = runner(TASK, run_dir, "training", _configs(arm), ["--seed", str(SEED), "--resume", str(resume).lower()])
    print(f"[bench_real_training] {arm}: {' '.join(cmd)}", flush=True)
    cpu, start = children_cpu(), time.perf_counter()
    with (run_dir / "train.log").open("a") as log:
        subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=True, cwd=ROOT)
    timing = {"wall_s": time.perf_counter() - start, "cpu_s": children_cpu() - cpu, "resumed": resume,
              "command": " ".join(relative(c) for c in cmd)}
    (run_dir / "timing.json").write_text(json.dumps(timing, indent=2) + "\n")


def _evaluate(arm: str) -> None:
    run_dir = _run_dir(arm)
    if (run_dir / "eval" / "report" / "metrics.csv").is_file():
        return
    cmd = runner(TASK, run_dir, "evaluating", [*_configs(arm), "evaluate.json"], ["--seed", str(SEED)])
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def _epoch_minutes(log: Path) -> dict[int, float]:
    """Minutes from the log's first time stamp to the end of each epoch (validation included)."""
    fmt, start, done = "%Y-%m-%d %H:%M:%S", None, {}
    for line in log.read_text(errors="replace").splitlines():
        stamp = _STAMP.match(line)
        if not stamp:
            continue
        when = datetime.strptime(stamp.group(1), fmt)
        start = start or when
        epoch = _EPOCH_DONE.search(line)
        if epoch and "SupervisedTrainer" in line:
            done[int(epoch.group(1))] = (when - start).total_seconds() / 60
    return done


def _curve(arm: str) -> list[tuple[float, float]]:
    """``(minutes, validation mean Dice)`` at each validation of the arm's run."""
    run_dir = _run_dir(arm)
    minutes = _epoch_minutes(run_dir / "train.log")
    rows = json.loads((run_dir / "eval" / "history.json").read_text())["epochs"]
    return [(round(minutes[r["epoch"]], 2), round(float(r["val_mean_dice"]), 4)) for r in rows
            if "val_mean_dice" in r and r["epoch"] in minutes]


def _reached(curve: list[tuple[float, float]], minutes: float) -> float | None:
    """The Dice of the last validation done by ``minutes`` (the run's final one once it has ended)."""
    done = [dice for t, dice in curve if t <= minutes]
    return done[-1] if done else None


def _time_to(curve: list[tuple[float, float]], dice: float) -> float | None:
    return next((t for t, d in curve if d >= dice), None)


def _arm_result(arm: str) -> dict[str, Any]:
    run_dir = _run_dir(arm)
    with (run_dir / "eval" / "report" / "metrics.csv").open() as f:
        held_out = class_stats(list(csv.DictReader(f)))
    curve = _curve(arm)
    return {"curve": curve, "final_val_dice": curve[-1][1], "minutes": curve[-1][0],
            "at_minutes": {str(m): _reached(curve, m) for m in CHECKPOINTS_MIN},
            "held_out": held_out, **json.loads((run_dir / "timing.json").read_text())}


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _report(results: dict[str, dict[str, Any]]) -> str:
    arms = list(results)
    lines = ["| network | " + " | ".join(f"Dice @ {m} min" for m in CHECKPOINTS_MIN)
             + " | training min | vs attn_seg | final val Dice | held-out Dice per class |",
             "|---|" + "---|" * (len(CHECKPOINTS_MIN) + 4)]
    ours = results.get("attn_seg", {}).get("minutes")
    for arm, r in results.items():
        cells = [_fmt(r["at_minutes"][str(m)], ".3f") for m in CHECKPOINTS_MIN]
        classes = ", ".join(f"{n} {s['dice_mean']:.3f}" for n, s in r["held_out"].items())
        ratio = f"{r['minutes'] / ours:.2f}x" if ours else "-"
        lines.append(f"| {arm} | " + " | ".join(cells) + f" | {r['minutes']:.1f} | {ratio} | "
                     f"{r['final_val_dice']:.3f} | {classes} |")
    lines += ["", "Minutes each network needed to reach the other's final validation Dice:", "",
              "| network | " + " | ".join(f"to {a}'s {results[a]['final_val_dice']:.3f}" for a in arms) + " |",
              "|---|" + "---|" * len(arms)]
    for arm in arms:
        cells = [_fmt(_time_to(results[arm]["curve"], results[a]["final_val_dice"]), ".1f") for a in arms]
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Train and evaluate the chosen arms, then write the report of every finished arm."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arm", choices=sorted(ARMS), action="append", help="arms to run (default: all)")
    parser.add_argument("--report", action="store_true", help="only write the report of the finished arms")
    args = parser.parse_args(argv)
    if not TASKS[TASK]["data"].is_dir():
        raise SystemExit(f"the data set {TASKS[TASK]['data']} is absent")
    if not args.report:
        for arm in args.arm or list(ARMS):
            _train(arm)
            _evaluate(arm)
    finished = [a for a in ARMS if (_run_dir(a) / "eval" / "report" / "metrics.csv").is_file()]
    if not finished:
        raise SystemExit("no finished arm to report")
    results = {arm: _arm_result(arm) for arm in finished}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    table = _report(results)
    RESULTS.with_suffix(".md").write_text("# Time to accuracy, hippocampus (seed-0 split, 2-core CPU)\n\n"
                                          "`python benchmarks/bench_real_training.py`\n\n" + table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
