"""Whole-volume inference as users run it: ``attn-seg predict`` against a model-zoo style MONAI bundle, whole
processes, wall time and peak resident memory.

Arms, each one process started afresh per round, the rounds interleaved:

- ``predict``: ``attn-seg predict`` with a copy of the CT bundle (label maps only);
- ``predict_full``: the same with ``--save-probs --save-attention``;
- ``predict_fp32``: labels with ``--precision fp32`` (``predict`` runs bf16 where the CPU has a native bf16 unit;
  this arm compares like for like with the fp32 model-zoo bundle);
- ``zoo``: ``python -m monai.bundle run`` with ``benchmarks/configs/zoo_inference.json``: MONAI's
  ``AttentionUnet``, ``SlidingWindowInferer``, ``Invertd`` and ``SaveImaged`` (label maps), as the MONAI model zoo's
  bundles are written;
- ``zoo_probs``: the same writing the class probabilities too (the peer of ``predict_full``; MONAI's network has
  no attention maps to write).

Both sides: the CT bundle's preprocessing (RAS, 1.5 x 1.5 x 2 mm, HU window -200..400 scaled to [0, 1]), networks
with channels 16..128 and strides 2 (3 classes), random seed-0 weights (the architectures differ, so the label
maps do not agree: this measures cost, not accuracy), roi 96^3, overlap 0.5, Gaussian blending, 4 windows per
call, precision as each side chooses by default, 2 threads. The input is a synthetic CT
(``attn_seg.data.make_case``) of 192x192x160 voxels at 1.5 x 1.5 x 2 mm, or with ``--volume large`` a CT-sized
512x512x300 volume (0.8 x 0.8 x 1.5 mm). Each process is timed from start to exit (imports and model loading
included) by a launcher that reads its peak RSS (``RUSAGE_CHILDREN``).

Usage::

    python benchmarks/bench_inference.py [--rounds 3] [--volume default|large]

Results: ``benchmarks/results/inference_cpu.json`` and ``.md``; a run replaces the rows of its volume and keeps the
other volume's.
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
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import torch

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
ZOO = ROOT / "benchmarks" / "configs" / "zoo_inference.json"
ARMS = ("predict", "predict_full", "predict_fp32", "zoo", "zoo_probs")
PEERS = {"predict": "zoo", "predict_full": "zoo_probs", "predict_fp32": "zoo"}
PREDICT_OPTIONS = {"predict_full": ["--save-probs", "--save-attention"], "predict_fp32": ["--precision", "fp32"]}
VOLUMES = {"default": ((192, 192, 160), (1.5, 1.5, 2.0)), "large": ((512, 512, 300), (0.8, 0.8, 1.5))}
ROI = [96, 96, 96]
_LAUNCH = (
    "import json, resource, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "code = subprocess.run(json.loads(sys.argv[1]), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode\n"
    "wall = time.perf_counter() - start\n"
    "print(json.dumps({'code': code, 'wall_s': wall,"
    " 'peak_rss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))\n"
)


def _volume(path: Path, shape: tuple[int, ...], spacing: tuple[float, ...]) -> None:
    """A synthetic CT (int16 HU) of ``shape`` voxels at ``spacing`` mm, written as NIfTI."""
    from attn_seg.data import SyntheticSpec, make_case

    size_mm = tuple(float(s * d) for s, d in zip(shape, spacing, strict=True))
    case = make_case(np.random.default_rng(0), SyntheticSpec(size_mm=size_mm))
    image = torch.as_tensor(case.image, dtype=torch.float32)[None, None]
    image = torch.nn.functional.interpolate(image, size=shape, mode="trilinear", align_corners=False)[0, 0]
    nib.save(nib.Nifti1Image(image.numpy().astype(np.int16), np.diag([*spacing, 1.0])), path)


def _bundles(tmp: Path) -> dict[str, Path]:
    """The two bundles with seed-0 weights: a copy of the CT bundle (roi 96^3) and the model-zoo style one."""
    from monai.bundle import ConfigParser

    from attn_seg.bundles import find_bundle

    ours = tmp / "ours"
    shutil.copytree(find_bundle("attention_unet_3d_ct"), ours, ignore=shutil.ignore_patterns("data", "eval", "*.pt"))
    zoo = tmp / "zoo"
    (zoo / "configs").mkdir(parents=True)
    shutil.copy(ZOO, zoo / "configs" / "inference.json")
    for bundle in (ours, zoo):
        (bundle / "models").mkdir(exist_ok=True)
        parser = ConfigParser()
        parser.read_config(str(bundle / "configs" / "inference.json"))
        parser.update({"bundle_root": str(bundle), "roi_size": ROI})
        torch.manual_seed(0)
        torch.save(parser.get_parsed_content("network_def").state_dict(), bundle / "models" / "model.pt")
    return {"ours": ours, "zoo": zoo}


def _command(arm: str, bundles: dict[str, Path], image: Path, out: Path) -> list[str]:
    if arm.startswith("predict"):
        return [sys.executable, "-m", "attn_seg", "predict", "--bundle", str(bundles["ours"]), "-i", str(image),
                "-o", str(out), "--no-progress", "--overwrite", "--set", f"roi_size={json.dumps(ROI)}",
                *PREDICT_OPTIONS.get(arm, [])]
    zoo = bundles["zoo"]
    return [sys.executable, "-m", "monai.bundle", "run", "--bundle_root", str(zoo), "--config_file",
            str(zoo / "configs" / "inference.json"), "--image", str(image), "--output_dir", str(out),
            "--save_probs", str(arm == "zoo_probs")]


def _launch(command: list[str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", _LAUNCH, json.dumps(command)], capture_output=True, text=True,
                          check=True)
    result = dict(json.loads(done.stdout.strip().splitlines()[-1]))
    if result["code"] != 0:
        raise RuntimeError(f"{' '.join(command)} exited {result['code']}")
    return result


def measure(name: str, rounds: int, tmp: Path, bundles: dict[str, Path]) -> list[dict[str, Any]]:
    """Interleave the arms over ``rounds`` on the named volume; medians per arm and ratios to the peers."""
    shape, spacing = VOLUMES[name]
    image = tmp / f"{name}.nii.gz"
    _volume(image, shape, spacing)
    runs: dict[str, list[dict[str, Any]]] = {arm: [] for arm in ARMS}
    for r in range(rounds):
        for arm in ARMS if r % 2 == 0 else ARMS[::-1]:
            runs[arm].append(_launch(_command(arm, bundles, image, tmp / f"out_{name}_{arm}")))
            print(name, arm, json.dumps(runs[arm][-1]), flush=True)
    voxels = float(np.prod(shape))
    rows = {arm: {"volume": name, "shape": shape, "spacing": spacing, "arm": arm, "runs": runs[arm],
                  "wall_s": statistics.median(run["wall_s"] for run in runs[arm]),
                  "peak_rss_mb": statistics.median(run["peak_rss_mb"] for run in runs[arm])} for arm in ARMS}
    for row in rows.values():
        row["mvoxels_per_s"] = voxels / row["wall_s"] / 1e6
    for arm, peer in PEERS.items():
        rows[arm]["speed_vs_peer"] = rows[peer]["wall_s"] / rows[arm]["wall_s"]
        rows[arm]["rss_vs_peer"] = rows[arm]["peak_rss_mb"] / rows[peer]["peak_rss_mb"]
    return list(rows.values())


def markdown(results: dict[str, Any]) -> str:
    """The results as a markdown table."""
    lines = ["# Inference as users run it (whole processes, CPU)", "", results["machine"], "",
             "| volume | arm | wall s | Mvoxels/s | peak RSS MB | voxels/s vs peer | peak RSS vs peer |",
             "|---|---|---|---|---|---|---|"]
    for r in results["rows"]:
        peer = PEERS.get(r["arm"])
        ratios = f"{r['speed_vs_peer']:.2f}x vs {peer} | {r['rss_vs_peer']:.2f}x" if peer else "- | -"
        lines.append(f"| {'x'.join(map(str, r['shape']))} | {r['arm']} | {r['wall_s']:.1f} | "
                     f"{r['mvoxels_per_s']:.3f} | {r['peak_rss_mb']:.0f} | {ratios} |")
    lines += ["", f"Medians of interleaved rounds (latest run: {results['rounds']}); command "
              f"`{results['command']}`."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--volume", choices=sorted(VOLUMES), default="default",
                        help="192x192x160 (default) or the CT-sized 512x512x300 (large)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    from attn_seg.engines.precision import cpu_model, native_cpu_bf16

    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        bundles = _bundles(tmp)
        rows = measure(args.volume, args.rounds, tmp, bundles)
    previous = args.out / "inference_cpu.json"
    if previous.is_file():  # keep the other volume's rows
        kept = [r for r in json.loads(previous.read_text())["rows"] if r["volume"] != args.volume]
        rows = [*kept, *rows] if args.volume == "large" else [*rows, *kept]
    machine = (f"{cpu_model()}, {platform.machine()} ({platform.platform()}); torch {torch.__version__}; "
               f"native bf16: {native_cpu_bf16()}; {torch.get_num_threads()} threads")
    command = "python benchmarks/bench_inference.py" + (f" --rounds {args.rounds}" if args.rounds != 3 else "") + (
        f" --volume {args.volume}" if args.volume != "default" else "")
    results = {"machine": machine, "rounds": args.rounds, "command": command, "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "inference_cpu.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "inference_cpu.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
