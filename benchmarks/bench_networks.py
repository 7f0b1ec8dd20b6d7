"""Benchmark attn_seg's AttentionUNet against MONAI's AttentionUnet and UNet at the same channels and strides.

Configurations (strides 2 everywhere, 1 -> 2 classes), by default the sizes the bundles train and infer at and
the 3D reference:

- ``ct``: 4x1x48x48x32, channels 16..128: the CT and MRI bundles' training batch (2 volumes x 2 patches) and
  their inference batch (4 windows of the same roi);
- ``hippocampus``: 2x1x40x56x40, channels 16..128: the hippocampus bundle's training batch;
- ``polyp``: 8x1x256^2 (one input channel here), channels 16..256: the polyp bundle's training batch;
- ``3d``: the 3D reference, 2x1x96^3, channels 16..256;
- ``2d`` (on request): the 2D reference, 8x1x256^2, channels 32..512.

For each configuration and model it reports parameters, GFLOP of one forward pass and of one training step
(forward + backward, both counted by ``torch.utils.flop_counter``), the median time of an inference forward and of
a training step, peak memory, in fp32 and under bf16 autocast, the achieved GFLOP/s of both against this
machine's measured fp32 and bf16 matmul peaks, and for each model its bf16 step time over its fp32 step time.
Every (model, mode, precision) runs in fresh subprocesses, interleaved over the models in rounds (a shared
machine's load then touches them alike), so peak memory is that run's alone: on CPU the growth of the peak resident set
(``ru_maxrss``) over the process's size once model and input exist; on CUDA ``max_memory_allocated``.

Usage::

    python benchmarks/bench_networks.py                  # full run on CPU (minutes)
    python benchmarks/bench_networks.py --quick          # smoke run, small inputs
    python benchmarks/bench_networks.py --device cuda    # on a GPU
    python benchmarks/bench_networks.py --ablation       # also ours with each speed choice undone (3D)
    python benchmarks/bench_networks.py --compile        # also training steps under torch.compile (3D)
    python benchmarks/bench_networks.py --configs hippocampus --compile hippocampus   # ... at the MRI bundle's size

``--compile [CONFIG ...]`` (alone: the ``3d`` config) adds ``ours_compiled`` and ``monai_attention_unet_compiled``
to those configs: the same models wrapped in
``torch.compile(dynamic=False)`` (inductor: fused norm, activation and element-wise kernels) for the training step
only, as ``SupervisedTrainer(compile=True)`` runs them; the inference forward stays eager (``attn-seg predict``
does not compile). The untimed warm-up step includes the compilation; its time is reported as "1st step".

Results go to ``benchmarks/results/networks_<device>[_quick].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
CONFIGS: dict[str, dict[str, Any]] = {
    "ct": {"spatial_dims": 3, "batch": 4, "shape": (48, 48, 32), "channels": (16, 32, 64, 128)},
    "hippocampus": {"spatial_dims": 3, "batch": 2, "shape": (40, 56, 40), "channels": (16, 32, 64, 128)},
    "polyp": {"spatial_dims": 2, "batch": 8, "shape": (256, 256), "channels": (16, 32, 64, 128, 256)},
    "3d": {"spatial_dims": 3, "batch": 2, "shape": (96, 96, 96), "channels": (16, 32, 64, 128, 256)},
    "2d": {"spatial_dims": 2, "batch": 8, "shape": (256, 256), "channels": (32, 64, 128, 256, 512)},
}
DEFAULT_CONFIGS = ["ct", "hippocampus", "polyp", "3d"]
#: ``--quick``: every axis cut to this many voxels
QUICK_SIZE = 32
MODELS = ["ours", "monai_attention_unet", "monai_unet"]
ABLATIONS: dict[str, dict[str, Any]] = {
    "ours_gate_W": {"gate_output_transform": True},
    "ours_full_res_2": {"full_res_units": 2},
    "ours_contiguous": {"channels_last": False},
    "ours_reference_like": {"gate_output_transform": True, "full_res_units": 2, "channels_last": False},
    "ours_finest_ungated": {"gated_levels": (1, 2, 3)},
}
#: models measured compiled (training step only) with ``--compile``
COMPILED = ["ours_compiled", "monai_attention_unet_compiled"]
COMPILED_SUFFIX = "_compiled"


def build_model(name: str, config: dict[str, Any]) -> torch.nn.Module:
    """Build a benchmarked model (1 input channel, 2 classes, strides 2) by its name (``*_compiled``: the eager
    model; :func:`run_worker` compiles it)."""
    name = name.removesuffix(COMPILED_SUFFIX)
    dims, channels = config["spatial_dims"], config["channels"]
    strides = (2,) * (len(channels) - 1)
    if name.startswith("ours"):
        sys.path.insert(0, str(ROOT))
        from attn_seg.networks import AttentionUNet

        return AttentionUNet(dims, 1, 2, channels, strides, **ABLATIONS.get(name, {}))
    if name == "monai_attention_unet":
        from monai.networks.nets import AttentionUnet

        return AttentionUnet(dims, 1, 2, channels, strides)
    if name == "monai_unet":
        from monai.networks.nets import UNet

        return UNet(dims, 1, 2, channels, strides)
    raise ValueError(f"unknown model {name!r}")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _step(model: Any, x: torch.Tensor, mode: str, bf16: bool) -> None:
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        if mode == "forward":
            with torch.inference_mode():
                model(x)
            return
        y = model(x)
    y.float().mean().backward()
    model.zero_grad(set_to_none=True)


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Time one (model, config, mode, precision) in this process; return medians and peak memory."""
    torch.set_num_threads(spec["threads"])
    device = torch.device(spec["device"])
    config = spec["config"]
    torch.manual_seed(0)
    model = build_model(spec["model"], config).to(device)
    model.train(spec["mode"] == "train")
    runner = torch.compile(model, dynamic=False) if spec["model"].endswith(COMPILED_SUFFIX) else model
    x = torch.randn(config["batch"], 1, *config["shape"], device=device)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base_cuda = torch.cuda.memory_allocated(device)
    times, cpu_times, first = [], [], 0.0
    for i in range(spec["repeats"] + 1):  # the first run warms up (allocator, oneDNN primitives, compilation)
        _sync(device)
        start, cpu_start = time.perf_counter(), time.process_time()
        _step(runner, x, spec["mode"], spec["precision"] == "bf16")
        _sync(device)
        if not i:
            first = time.perf_counter() - start
        else:
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
    if device.type == "cuda":
        peak_mb = (torch.cuda.max_memory_allocated(device) - base_cuda) / 2**20
    else:
        peak_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_rss) / 1024  # KiB on Linux
    return {
        "time_s": statistics.median(times),
        "times_s": times,
        "cpu_time_s": statistics.median(cpu_times),
        "peak_mb": peak_mb,
        "first_s": first,
    }


def count(model_name: str, config: dict[str, Any]) -> dict[str, float]:
    """Parameters, GFLOP of one forward pass and of one training step (forward + backward), on the meta device:
    shapes only, nothing computed."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = build_model(model_name, config)
        x = torch.empty(config["batch"], 1, *config["shape"])
    params = sum(p.numel() for p in model.parameters())
    forward, step = FlopCounterMode(display=False), FlopCounterMode(display=False)
    with forward, torch.no_grad():
        model.eval()(x)
    with step:
        model.train()(x).float().mean().backward()
    return {
        "params_m": params / 1e6,
        "gflop": forward.get_total_flops() / 1e9,
        "train_gflop": step.get_total_flops() / 1e9,
    }


def matmul_peak(device: str, threads: int, dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """Best GFLOP/s of an ``n x n`` matmul: the machine's practical peak for ``dtype``."""
    torch.set_num_threads(threads)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(repeats + 1):
        _sync(torch.device(device))
        start = time.perf_counter()
        a @ b
        _sync(torch.device(device))
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def _spawn(spec: dict[str, Any]) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"}
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _markdown(results: dict[str, Any]) -> str:
    lines = [
        f"# Network benchmark ({results['device']}, {results['threads']} threads)",
        "",
        f"{results['machine']}; torch {results['torch']}; medians of {results['rounds']} interleaved rounds x "
        f"{results['repeats']} timed runs (after a warm-up) per model. "
        f"Matmul peak: fp32 {results['peak_gflops']['fp32']:.0f} GFLOP/s, bf16 {results['peak_gflops']['bf16']:.0f}.",
        "",
        "| config | model | precision | params (M) | GFLOP fwd / step | fwd (s) | step (s) | step CPU s "
        "| peak step (MB) | fwd GFLOP/s (% fp32 / bf16 peak) | step GFLOP/s (% fp32 / bf16 peak) "
        "| step vs MONAI AttU | mem vs MONAI AttU | step bf16 / fp32 | 1st step (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    nan = float("nan")
    for row in results["rows"]:
        rates = []
        for mode in ("forward", "train"):
            share = row.get(f"{mode}_pct_peak", {})
            rates.append(
                f"{row.get(f'{mode}_gflops', nan):.0f} ({share.get('fp32', nan):.0f} / {share.get('bf16', nan):.0f} %)"
            )
        lines.append(
            f"| {row['config']} | {row['model']} | {row['precision']} | {row['params_m']:.2f} "
            f"| {row['gflop']:.1f} / {row['train_gflop']:.1f} "
            f"| {row.get('forward_s', nan):.3f} | {row.get('train_s', nan):.3f} "
            f"| {row.get('train_cpu_s', nan):.3f} | {row.get('train_peak_mb', nan):.0f} | {rates[0]} | {rates[1]} "
            f"| {row.get('train_ratio', nan):.2f}x | {row.get('mem_ratio', nan):.2f}x "
            f"| {row.get('train_vs_fp32', nan):.2f}x | {row.get('train_first_s', nan):.1f} |"
        )
    lines += [
        "",
        "Ratios compare with MONAI AttentionUnet (eager) in the same config and precision. `*_compiled`: training "
        "step under `torch.compile`; its 1st step includes the compilation.",
        "",
    ]
    return "\n".join(lines)


def _add_rates(rows: list[dict[str, Any]], peaks: dict[str, float]) -> None:
    """Achieved GFLOP/s of the forward and of the training step, and their shares of the fp32 and bf16 peaks."""
    for row in rows:
        for mode, flop in (("forward", "gflop"), ("train", "train_gflop")):
            if f"{mode}_s" not in row:
                continue
            rate = row[flop] / row[f"{mode}_s"]
            row[f"{mode}_gflops"] = rate
            row[f"{mode}_pct_peak"] = {p: 100 * rate / peak for p, peak in peaks.items()}


def _add_ratios(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        reference = next(
            (
                r
                for r in rows
                if r["config"] == row["config"]
                and r["precision"] == row["precision"]
                and r["model"] == "monai_attention_unet"
            ),
            None,
        )
        if reference and "train_s" in row and "train_s" in reference:
            row["train_ratio"] = row["train_s"] / reference["train_s"]
            row["train_cpu_ratio"] = row["train_cpu_s"] / reference["train_cpu_s"]
            row["mem_ratio"] = row["train_peak_mb"] / reference["train_peak_mb"]
        if reference and "forward_s" in row and "forward_s" in reference:
            row["forward_ratio"] = row["forward_s"] / reference["forward_s"]
        same = [r for r in rows if r["config"] == row["config"] and r["model"] == row["model"]]
        fp32 = next((r for r in same if r["precision"] == "fp32"), None)
        if fp32 and "train_s" in row and "train_s" in fp32:
            row["train_vs_fp32"] = row["train_s"] / fp32["train_s"]


def _measure(
    args: argparse.Namespace, config: dict[str, Any], models: list[str], precision: str, mode: str
) -> dict[str, dict[str, Any]]:
    """Interleave the models: ``rounds`` times, one fresh subprocess per model, so that a change in the
    machine's load during the run touches every model alike. Returns per model the medians over all runs."""
    keys = ("time_s", "cpu_time_s", "peak_mb", "first_s")
    samples: dict[str, dict[str, list[float]]] = {m: {k: [] for k in keys} for m in models}
    errors: dict[str, str] = {}
    for _ in range(args.rounds):
        for model_name in models:
            spec = {
                "model": model_name,
                "config": config,
                "mode": mode,
                "precision": precision,
                "device": args.device,
                "threads": args.threads,
                "repeats": args.repeats,
            }
            measured = _spawn(spec)
            if "error" in measured:
                errors[model_name] = measured["error"]
                continue
            samples[model_name]["time_s"] += measured["times_s"]
            samples[model_name]["cpu_time_s"].append(measured["cpu_time_s"])
            samples[model_name]["peak_mb"].append(measured["peak_mb"])
            samples[model_name]["first_s"].append(measured["first_s"])
    return {
        m: {"error": errors[m]} if m in errors else {k: statistics.median(v) for k, v in samples[m].items()}
        for m in models
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run every benchmark of the selected configurations; return the results."""
    sys.path.insert(0, str(ROOT))
    from attn_seg.engines.precision import cpu_model

    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    peaks = {p: matmul_peak(args.device, args.threads, d) for p, d in dtypes.items()}
    print(f"matmul peak GFLOP/s: {peaks}", flush=True)
    rows: list[dict[str, Any]] = []
    for config_name in args.configs:
        config = dict(CONFIGS[config_name])
        if args.quick:
            config["shape"] = (QUICK_SIZE,) * config["spatial_dims"]
        for precision in args.precisions:
            models = MODELS + (list(ABLATIONS) if args.ablation and config_name == "3d" and precision == "fp32" else [])
            compiled = COMPILED if config_name in (args.compile or []) else []
            by_mode = {
                "forward": _measure(args, config, models, precision, "forward"),
                "train": _measure(args, config, models + compiled, precision, "train"),
            }
            for model_name in models + compiled:
                row: dict[str, Any] = {"config": config_name, "model": model_name, "precision": precision}
                row.update(count(model_name, config))
                for mode, measured in by_mode.items():
                    if model_name not in measured:
                        continue
                    if "error" in measured[model_name]:
                        row[f"{mode}_error"] = measured[model_name]["error"]
                        continue
                    row[f"{mode}_s"] = measured[model_name]["time_s"]
                    row[f"{mode}_cpu_s"] = measured[model_name]["cpu_time_s"]
                    row[f"{mode}_peak_mb"] = measured[model_name]["peak_mb"]
                    row[f"{mode}_first_s"] = measured[model_name]["first_s"]
                print(json.dumps(row), flush=True)
                rows.append(row)
    # the peak again at the end: the machine may be shared, keep the better (less disturbed) figure
    peaks = {p: max(peaks[p], matmul_peak(args.device, args.threads, d)) for p, d in dtypes.items()}
    _add_rates(rows, peaks)
    _add_ratios(rows)
    return {
        "device": args.device,
        "threads": args.threads,
        "rounds": args.rounds,
        "repeats": args.repeats,
        "quick": args.quick,
        "machine": f"{cpu_model()}, {platform.machine()} ({platform.platform()})",
        "torch": torch.__version__,
        "peak_gflops": peaks,
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--quick", action="store_true", help="small inputs and 2 repeats: a smoke run")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds over the models (default 3)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per subprocess (default 2)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS, choices=list(CONFIGS))
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--ablation", action="store_true", help="also ours with each speed choice undone")
    parser.add_argument("--compile", nargs="*", choices=list(CONFIGS), default=None, metavar="CONFIG",
                        help="also training steps under torch.compile, for these configs (alone: 3d)")
    parser.add_argument("--stem", default=None, help="results file name (default networks_<device>[_quick])")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.compile == []:  # --compile alone
        args.compile = ["3d"]
    if args.worker:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.repeats = args.repeats or (1 if args.quick else 2)
    results = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.stem or f"networks_{args.device}" + ("_quick" if args.quick else "")
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / f"{stem}.md").write_text(_markdown(results))
    print(_markdown(results))


if __name__ == "__main__":
    main()
