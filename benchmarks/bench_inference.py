"""Benchmark whole-volume sliding-window inference: attn_seg's predictor against MONAI's default path.

One volume ``1x1x192x192x160`` (``--large``: also a CT-sized ``1x1x512x512x200``), roi 96^3, overlap 0.5, Gaussian
weighting, ``sw_batch_size`` 1 (MONAI's default) on both sides, network channels of the 3D CT bundle
``(16, 32, 64, 128)``, strides 2, 1 -> 3 classes. Arms, each in a fresh subprocess, interleaved over rounds:

- ``monai``: ``monai.inferers.sliding_window_inference`` with MONAI's ``AttentionUnet`` (same channels), fp32,
  under ``torch.no_grad()`` as MONAI's evaluators run it (its weights are its own: the architecture differs);
- ``monai_sw_our_net``: the same MONAI call with our ``AttentionUNet`` (fp32): same weights as ours, so it shows
  what the network alone gives and is the reference our labels are compared with;
- ``monai_malloc``: ``monai`` with glibc's mmap threshold fixed as ``attn-seg predict`` fixes it
  (:func:`attn_seg.inference.return_freed_memory`): what that process setting alone gives MONAI's path;
- ``ours_fp32``: :meth:`attn_seg.inference.Predictor.labels` in fp32, with that process setting;
- ``ours_default_malloc``: the predictor as ``attn-seg predict`` runs it (``precision="auto"``: bf16 on this CPU),
  but with glibc's default malloc behaviour;
- ``ours``: the predictor as ``attn-seg predict`` runs it: bf16, with the process setting.

The input is a synthetic CT (``attn_seg.data.make_case``) resampled to the volume size and scaled to [0, 1].
Weights are random with seed 0 (no trained checkpoint is shipped); ours and ``monai_sw_our_net`` share them.
Per arm: wall time of one whole-volume prediction (label map included) after a one-window warm-up, voxels/s, and
peak resident memory (``ru_maxrss``) both as the process's total and as its growth over the process once libraries,
network and volume are loaded (the warm-up window included).
Dice (mean over foreground classes) of each arm's label map against ``monai_sw_our_net``.

Usage::

    flock /tmp/attn_seg_bench.lock python benchmarks/bench_inference.py [--rounds 3] [--large]

Results: ``benchmarks/results/inference_cpu.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
ARMS = ["monai", "monai_malloc", "monai_sw_our_net", "ours_fp32", "ours_default_malloc", "ours"]
CHANNELS, STRIDES, CLASSES, ROI = (16, 32, 64, 128), (2, 2, 2), 3, (96, 96, 96)
SIZES = {"default": (192, 192, 160), "large": (512, 512, 200)}


def make_volume(size: tuple[int, ...]) -> torch.Tensor:
    """A synthetic CT resampled to ``size``, HU window [-200, 400] scaled to [0, 1]: ``(1, 1, *size)``."""
    sys.path.insert(0, str(ROOT))
    from attn_seg.data import SyntheticSpec, make_case

    case = make_case(np.random.default_rng(0), SyntheticSpec(size_mm=(160.0, 160.0, 120.0)))
    image = torch.as_tensor(case.image, dtype=torch.float32)[None, None]
    image = torch.nn.functional.interpolate(image, size=size, mode="trilinear", align_corners=False)
    return ((image + 200.0) / 600.0).clamp(0.0, 1.0)


def build(arm: str) -> torch.nn.Module:
    """The network of an arm, seed-0 weights, eval mode."""
    torch.manual_seed(0)
    if arm in ("monai", "monai_malloc"):
        from monai.networks.nets import AttentionUnet

        return AttentionUnet(3, 1, CLASSES, CHANNELS, STRIDES).eval()
    sys.path.insert(0, str(ROOT))
    from attn_seg.networks import AttentionUNet

    return AttentionUNet(3, 1, CLASSES, CHANNELS, STRIDES).eval()


def _predict_fn(arm: str, network: torch.nn.Module, sw_batch_size: int) -> Any:
    if arm.startswith("monai"):
        from monai.inferers import sliding_window_inference

        def monai_path(x: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                logits = sliding_window_inference(x, ROI, sw_batch_size, network, overlap=0.5, mode="gaussian")
                return torch.as_tensor(logits).argmax(1)

        return monai_path
    from attn_seg.inference import Predictor

    predictor = Predictor(network, ROI, sw_batch_size=sw_batch_size, overlap=0.5,
                          precision="fp32" if arm == "ours_fp32" else "auto")
    return predictor.labels


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Predict the volume once in this process (after a one-window warm-up); time, memory, label map file."""
    torch.set_num_threads(spec["threads"])
    if spec["arm"] in ("monai_malloc", "ours_fp32", "ours"):
        sys.path.insert(0, str(ROOT))
        from attn_seg.inference.memory import return_freed_memory

        return_freed_memory()
    x = torch.from_numpy(np.load(spec["volume"]))
    predict = _predict_fn(spec["arm"], build(spec["arm"]), spec["sw_batch_size"])
    base_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # libraries, network and volume loaded
    predict(x[..., : ROI[0], : ROI[1], : ROI[2]].contiguous())  # warm-up: oneDNN primitives, allocator
    start, cpu_start = time.perf_counter(), time.process_time()
    labels = predict(x)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    np.save(spec["labels"], labels.to(torch.uint8).numpy())
    voxels = float(np.prod(spec["size"]))
    return {"time_s": seconds, "cpu_s": cpu_seconds, "voxels_per_s": voxels / seconds,
            "peak_rss_mb": peak_kib / 1024, "peak_growth_mb": (peak_kib - base_kib) / 1024}


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Mean Dice over the foreground classes present in either label map."""
    scores = []
    for k in range(1, CLASSES):
        inter, total = np.sum((a == k) & (b == k)), np.sum(a == k) + np.sum(b == k)
        if total:
            scores.append(2.0 * inter / total)
    return float(np.mean(scores)) if scores else 1.0


def _spawn(spec: dict[str, Any]) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"worker {spec['arm']} failed:\n{result.stderr[-3000:]}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def measure(size_name: str, rounds: int, args: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    """Interleave the arms over ``rounds``; medians per arm, ratios to ``monai``, Dice to ``monai_sw_our_net``."""
    runs: dict[str, list[dict[str, Any]]] = {arm: [] for arm in ARMS}
    volume = tmp / f"{size_name}_volume.npy"
    np.save(volume, make_volume(SIZES[size_name]).numpy())  # made once, here: its peak stays out of the workers
    for r in range(rounds):
        for arm in ARMS if r % 2 == 0 else ARMS[::-1]:
            spec = {"arm": arm, "size": SIZES[size_name], "threads": args.threads, "sw_batch_size": args.sw_batch_size,
                    "volume": str(volume), "labels": str(tmp / f"{size_name}_{arm}.npy")}
            runs[arm].append(_spawn(spec))
            print(size_name, arm, json.dumps(runs[arm][-1]), flush=True)
    reference = np.load(tmp / f"{size_name}_monai_sw_our_net.npy")
    rows = []
    for arm in ARMS:
        row: dict[str, Any] = {"size": size_name, "shape": SIZES[size_name], "arm": arm, "runs": runs[arm]}
        for key in ("time_s", "cpu_s", "voxels_per_s", "peak_rss_mb", "peak_growth_mb"):
            row[key] = statistics.median(run[key] for run in runs[arm])
        row["dice_vs_monai_sw_our_net"] = dice(np.load(tmp / f"{size_name}_{arm}.npy"), reference)
        rows.append(row)
    base = rows[0]
    for row in rows:
        row["speed_vs_monai"] = row["voxels_per_s"] / base["voxels_per_s"]
        row["rss_vs_monai"] = row["peak_rss_mb"] / base["peak_rss_mb"]
        row["growth_vs_monai"] = row["peak_growth_mb"] / base["peak_growth_mb"]
    return rows


def markdown(results: dict[str, Any]) -> str:
    """The results as a markdown table."""
    lines = [f"# Inference benchmark ({results['device']}, {results['threads']} threads)", "", results["machine"], "",
             "| volume | arm | wall s | CPU s | Mvoxels/s | peak RSS MB | RSS growth MB | speed vs MONAI | "
             "RSS vs MONAI | growth vs MONAI | Dice vs MONAI path, our net fp32 |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["rows"]:
        lines.append(
            f"| {'x'.join(map(str, r['shape']))} | {r['arm']} | {r['time_s']:.1f} | {r['cpu_s']:.1f} | "
            f"{r['voxels_per_s'] / 1e6:.3f} | {r['peak_rss_mb']:.0f} | {r['peak_growth_mb']:.0f} | "
            f"{r['speed_vs_monai']:.2f}x | {r['rss_vs_monai']:.2f}x | {r['growth_vs_monai']:.2f}x | "
            f"{r['dice_vs_monai_sw_our_net']:.4f} |")
    lines += ["", f"Medians of {results['rounds']} interleaved rounds (fresh subprocess per arm and round)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--large", action="store_true", help="also the CT-sized 512x512x200 volume (1 round)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sw-batch-size", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure("default", args.rounds, args, Path(tmp))
        if args.large:
            rows += measure("large", 1, args, Path(tmp))
    results = {"device": "cpu", "threads": args.threads, "rounds": args.rounds, "sw_batch_size": args.sw_batch_size,
               "machine": f"{platform.machine()} ({platform.platform()}); torch {torch.__version__}", "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "inference_cpu.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "inference_cpu.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
