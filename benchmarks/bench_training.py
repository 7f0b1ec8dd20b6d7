"""Time to reach a validation Dice: our 3D CT bundle against the same bundle with MONAI's ``AttentionUnet``.

One fixed synthetic 3D CT set (``attn_seg.data.write_synthetic_dataset``, default spec, ``--cases`` cases, seed
``--data-seed``; 20 % of them validate) is trained on by the ``attention_unet_3d_ct`` bundle, unchanged except for
the overrides below, through MONAI's ``ConfigWorkflow`` (the engines the bundle runner uses). Each variant runs
in a fresh subprocess on ``--threads`` CPU threads and validates every epoch; a run stops at the first
validation whose mean Dice reaches ``--target`` (or after ``--max-epochs``).

Variants (same data, split, patches, loss, optimiser, learning rate, seed; same channels and strides):

- ``ours``: the bundle as shipped (``attn_seg.networks.AttentionUNet``), in fp32 whatever its default precision;
- ``ours_bf16``: the same under CPU bf16 autocast (``precision=bf16``);
- ``monai_attention_unet``: ``network_def`` replaced by ``monai.networks.nets.AttentionUnet`` (fp32);
- ``monai_attention_unet_bf16``: the same under CPU bf16 autocast, like for like with ``ours_bf16``.

Reported per run: training time to the target (validation excluded) in wall seconds and in the process's CPU
seconds (less sensitive to other jobs on a shared machine), wall time to the target (validation included),
epochs to the target, best Dice, and the share of training time spent waiting for data (ignite's
``GET_BATCH_STARTED`` to ``GET_BATCH_COMPLETED``). Medians over ``--seeds``; ratios against MONAI.

Usage::

    python benchmarks/bench_training.py                      # 1 seed, CPU, 2 threads (tens of minutes)
    python benchmarks/bench_training.py --seeds 0 1 2
    python benchmarks/bench_training.py --quick              # smoke run: 2 epochs, tiny network, no target
    python benchmarks/bench_training.py --variants ours ours_bf16 --seeds 0 1 2 --full --max-epochs 40

``--full`` trains every run for all ``--max-epochs`` (no stop at the target) and compares each variant with
``ours`` (fp32) seed by seed: final validation Dice and the training time to reach the fp32 run's final Dice (the
first epoch at or above it) over fp32's own time to it. With ``--final-window K`` the final Dice is the mean of the
last K validations, and the time to it is the first epoch whose mean over its last K validations reaches it, so
that one lucky or unlucky validation decides neither. ``--val-cases N`` validates on N cases (written on top of
the ``--cases`` training cases) instead of a fifth of ``--cases``: a few synthetic cases swing the Dice by tenths
from one epoch to the next.

Results go to ``benchmarks/results/training_<device>[_quick].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "bundles" / "attention_unet_3d_ct"
VARIANTS: dict[str, dict[str, Any]] = {
    "ours": {"precision": "fp32"},
    "ours_bf16": {"precision": "bf16"},
    "monai_attention_unet": {
        "precision": "fp32",
        "network_def": {
            "_target_": "monai.networks.nets.AttentionUnet",
            "spatial_dims": 3,
            "in_channels": 1,
            "out_channels": "@num_classes",
            "channels": [16, 32, 64, 128],
            "strides": [2, 2, 2],
        }
    },
}
VARIANTS["monai_attention_unet_bf16"] = {**VARIANTS["monai_attention_unet"], "precision": "bf16"}
QUICK = {"epochs": 2, "network_def#channels": [8, 16, 32, 64], "roi_size": [32, 32, 32]}


class _Clock:
    """Ignite handlers that time data waiting, training and validation, and stop at the target Dice."""

    def __init__(
        self, trainer: Any, validator: Any, target: float, metric: str = "val_mean_dice", full: bool = False
    ) -> None:
        from ignite.engine import Events

        self.trainer, self.target, self.metric, self.full = trainer, target, metric, full
        self.start = self.data = self.validation = 0.0
        self.cpu_start = self.cpu_validation = 0.0
        self.epochs: list[dict[str, float]] = []
        self.reached: dict[str, float] | None = None
        trainer.add_event_handler(Events.STARTED, self._started)
        trainer.add_event_handler(Events.GET_BATCH_STARTED, self._tick)
        trainer.add_event_handler(Events.GET_BATCH_COMPLETED, self._tock)
        validator.add_event_handler(Events.STARTED, self._tick)
        validator.add_event_handler(Events.COMPLETED, self._validated)

    def _started(self, _: Any) -> None:
        self.start, self.cpu_start = time.perf_counter(), time.process_time()

    def _tick(self, _: Any) -> None:
        self._t0, self._cpu0 = time.perf_counter(), time.process_time()

    def _tock(self, _: Any) -> None:
        self.data += time.perf_counter() - self._t0

    def _validated(self, validator: Any) -> None:
        self.validation += time.perf_counter() - self._t0
        self.cpu_validation += time.process_time() - self._cpu0
        wall, cpu = time.perf_counter() - self.start, time.process_time() - self.cpu_start
        row = {"epoch": self.trainer.state.epoch, "dice": float(validator.state.metrics[self.metric]),
               "wall_s": wall, "train_s": wall - self.validation, "data_s": self.data,
               "train_cpu_s": cpu - self.cpu_validation}
        self.epochs.append(row)
        if self.reached is None and row["dice"] >= self.target:
            self.reached = row
            if not self.full:
                self.trainer.terminate()


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Train one variant in this process; return its timings and Dice curve."""
    torch.set_num_threads(spec["threads"])
    from attn_seg.engines import bundle_workflow

    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "bundle"
        shutil.copytree(BUNDLE, bundle, ignore=shutil.ignore_patterns("data", "eval", "*.pt"))
        overrides = {"dataset_dir": spec["data"], "seed": spec["seed"], "epochs": spec["max_epochs"],
                     "val_interval": 1, "tensorboard": False, **spec["overrides"]}
        in_bundle = {"ckpt_dir": str(bundle / "models"), "output_dir": str(bundle / "eval")}  # not under runs/
        workflow = bundle_workflow(bundle, overrides={**in_bundle, **overrides})
        workflow.initialize()
        trainer = workflow.parser.get_parsed_content("train#trainer")
        validator = workflow.parser.get_parsed_content("validate#evaluator")
        clock = _Clock(trainer, validator, spec["target"], full=spec.get("full", False))
        workflow.run()
        workflow.finalize()
    last = clock.reached or clock.epochs[-1]
    return {
        "reached": clock.reached is not None,
        "epochs": last["epoch"],
        "train_s": last["train_s"],
        "train_cpu_s": last["train_cpu_s"],
        "wall_s": last["wall_s"],
        "data_share": last["data_s"] / last["train_s"],
        "best_dice": max(row["dice"] for row in clock.epochs),
        "final_dice": clock.epochs[-1]["dice"],
        "curve": clock.epochs,
    }


def _spawn(spec: dict[str, Any]) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-3:] if result.stderr.strip() else ["failed"]
        return {"error": " | ".join(tail)}
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return {"error": runs[0].get("error", "failed")}
    keys = ("train_s", "train_cpu_s", "wall_s", "epochs", "data_share")
    med = {key: statistics.median(r[key] for r in ok) for key in keys}
    spread = {f"train_s_{name}": f(r["train_s"] for r in ok) for name, f in (("min", min), ("max", max))}
    return {**med, **spread, "reached": sum(r["reached"] for r in ok), "runs": len(ok),
            "best_dice": statistics.median(r["best_dice"] for r in ok)}


def _smoothed(curve: list[dict[str, float]], window: int) -> list[dict[str, float]]:
    """The curve with each validation's Dice replaced by the mean over it and the ``window - 1`` before it (fewer
    at the start)."""
    dice = [row["dice"] for row in curve]
    return [{**row, "dice": statistics.fmean(dice[max(0, i + 1 - window):i + 1])} for i, row in enumerate(curve)]


def _time_to(curve: list[dict[str, float]], dice: float) -> float:
    """Training seconds to the first validation at or above ``dice`` (inf when never reached)."""
    return next((row["train_s"] for row in curve if row["dice"] >= dice), float("inf"))


def _against_fp32(
    fp32: list[dict[str, Any]], runs: list[dict[str, Any]], seeds: list[int], window: int = 1
) -> dict[str, Any]:
    """Seed by seed against the fp32 run: final Dice gap and training time to the fp32 run's final Dice, both on
    the curves averaged over ``window`` validations."""
    rows = []
    for seed, base, run in zip(seeds, fp32, runs, strict=True):
        if "error" in base or "error" in run:
            continue
        base_curve, curve = _smoothed(base["curve"], window), _smoothed(run["curve"], window)
        goal, final = base_curve[-1]["dice"], curve[-1]["dice"]
        rows.append({"seed": seed, "fp32_final": goal, "final": final, "gap": final - goal,
                      "time_ratio": _time_to(curve, goal) / _time_to(base_curve, goal),
                      "epoch_ratio": run["train_s"] / run["epochs"] / (base["train_s"] / base["epochs"])})
    if not rows:
        return {"error": "no pair of runs finished"}
    return {"seeds": rows, "mean_gap": statistics.mean(r["gap"] for r in rows),
            "median_time_ratio": statistics.median(r["time_ratio"] for r in rows),
            "median_epoch_ratio": statistics.median(r["epoch_ratio"] for r in rows)}


def _ratio(value: float) -> str:
    """A time ratio as ``0.52x``; ``not reached`` when the run never got there (inf)."""
    return f"{value:.2f}x" if value != float("inf") else "not reached"


def _markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = [
        f"# Training benchmark ({meta['device']}, {meta['threads']} threads)",
        "",
        f"{meta['platform']}; torch {meta['torch']}. Synthetic 3D CT set: {meta['cases']} cases (seed "
        f"{meta['data_seed']}; {meta['train_cases']} train / {meta['val_cases']} validation), target validation mean "
        f"Dice >= {meta['target']}, validation every epoch, at most {meta['max_epochs']} epochs; seeds "
        f"{meta['seeds']}; medians over seeds.",
        "",
        "| variant | reached / runs | epochs | train time to target (s), median (min-max) "
        "| wall time incl. validation (s) | train CPU s to target | data wait share | best Dice "
        "| train time vs MONAI AttU fp32 | train CPU s vs MONAI AttU fp32 | train time vs MONAI AttU, same precision |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    summary = results["summary"]
    monai = summary.get("monai_attention_unet", {})
    base, base_cpu = monai.get("train_s"), monai.get("train_cpu_s")
    for name, s in summary.items():
        if "error" in s:
            lines.append(f"| {name} | error: {s['error']} ||||||||||")
            continue
        ratio = f"{s['train_s'] / base:.2f}x" if base else "n/a"
        cpu_ratio = f"{s['train_cpu_s'] / base_cpu:.2f}x" if base_cpu else "n/a"
        peer = summary.get("monai_attention_unet_bf16" if name.endswith("bf16") else "monai_attention_unet", {})
        same = f"{s['train_s'] / peer['train_s']:.2f}x" if peer.get("train_s") else "n/a"
        lines.append(f"| {name} | {s['reached']}/{s['runs']} | {s['epochs']:.0f} | {s['train_s']:.1f} "
                     f"({s['train_s_min']:.1f}-{s['train_s_max']:.1f}) | {s['wall_s']:.1f} | {s['train_cpu_s']:.1f} | "
                     f"{100 * s['data_share']:.1f} % | {s['best_dice']:.3f} | {ratio} | {cpu_ratio} | {same} |")
    for name, against in results.get("against_fp32", {}).items():
        if "error" in against:
            lines += ["", f"{name} against fp32: {against['error']}"]
            continue
        window = meta.get("final_window", 1)
        final = "final Dice" if window == 1 else f"final Dice (mean of the last {window} validations)"
        lines += ["", f"{name} against `ours` (fp32), all {meta['max_epochs']} epochs, seed by seed; {final}:", "",
                  "| seed | fp32 final Dice | final Dice | gap | time to fp32's final Dice vs fp32 "
                  "| epoch time vs fp32 |", "|---|---|---|---|---|---|"]
        for row in against["seeds"]:
            lines.append(f"| {row['seed']} | {row['fp32_final']:.3f} | {row['final']:.3f} | {row['gap']:+.3f} | "
                         f"{_ratio(row['time_ratio'])} | {row['epoch_ratio']:.2f}x |")
        lines.append(f"| all | | | mean {against['mean_gap']:+.3f} | median {_ratio(against['median_time_ratio'])} | "
                     f"median {against['median_epoch_ratio']:.2f}x |")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Make the data set, train every variant for every seed (interleaved), summarise."""
    from attn_seg.data import SyntheticSpec, write_synthetic_dataset
    from attn_seg.engines.precision import cpu_model

    work = Path(tempfile.mkdtemp(prefix="bench_training_"))
    data = work / "data"
    if args.val_cases is None:  # a fifth of --cases validate (the bundle's val_fraction)
        total, val_cases, split = args.cases, max(1, round(args.cases * 0.2)), {}
    else:
        total, val_cases = args.cases + args.val_cases, args.val_cases
        split = {"val_fraction": val_cases / total}
    write_synthetic_dataset(data, spec=SyntheticSpec(), num_cases=total, num_test=0, seed=args.data_seed)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in args.variants}
    for seed in args.seeds:
        for name in args.variants:
            overrides = {**VARIANTS[name], **split, **(QUICK if args.quick else {})}
            spec = {"data": str(data), "seed": seed, "threads": args.threads, "target": args.target,
                    "max_epochs": QUICK["epochs"] if args.quick else args.max_epochs, "overrides": overrides,
                    "full": args.full}
            result = _spawn(spec)
            runs[name].append(result)
            shown = {k: v for k, v in result.items() if k != "curve"}
            print(json.dumps({"variant": name, "seed": seed, **shown}), flush=True)
    shutil.rmtree(work, ignore_errors=True)
    machine = f"{cpu_model()}, {platform.machine()} ({platform.platform()})"
    meta = {"device": "cpu", "threads": args.threads, "platform": machine,
            "torch": torch.__version__, "cases": total, "data_seed": args.data_seed,
            "train_cases": total - val_cases, "val_cases": val_cases, "target": args.target,
            "max_epochs": QUICK["epochs"] if args.quick else args.max_epochs, "seeds": args.seeds, "full": args.full,
            "final_window": args.final_window}
    results = {"meta": meta, "runs": runs, "summary": {name: _summary(r) for name, r in runs.items()}}
    if args.full and "ours" in runs:
        others = {name: r for name, r in runs.items() if name != "ours"}
        results["against_fp32"] = {name: _against_fp32(runs["ours"], r, args.seeds, args.final_window)
                                   for name, r in others.items()}
    return results


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--cases", type=int, default=16,
                        help="synthetic cases (a fifth of them validate unless --val-cases is given)")
    parser.add_argument("--val-cases", type=int, default=None,
                        help="validation cases written on top of the --cases training cases")
    parser.add_argument("--final-window", type=int, default=1,
                        help="--full: the final Dice is the mean of this many last validations")
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--target", type=float, default=0.90, help="validation mean Dice to reach")
    parser.add_argument("--max-epochs", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 epochs, small network and patches")
    parser.add_argument("--full", action="store_true", help="train all --max-epochs; compare each variant with fp32")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("cases", "val_cases", "final_window"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if args.worker:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return
    results = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "training_cpu" + ("_full" if args.full else "") + ("_quick" if args.quick else "")
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    (args.out / f"{stem}.md").write_text(_markdown(results), encoding="utf-8")
    print(_markdown(results))


if __name__ == "__main__":
    main()
