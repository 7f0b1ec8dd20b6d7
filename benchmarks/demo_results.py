"""The README's main job as a user runs it, filed as a results file: ``attn-seg demo`` in a child process, then its
summary and evaluation report copied into ``benchmarks/results/<stem>.json`` and a table into ``<stem>.md``.

Usage::

    python benchmarks/demo_results.py                      # attn-seg demo --out <temporary folder> (about 4 min)
    python benchmarks/demo_results.py --stem demo_cpu_seed1 -- --seed 1   # arguments after -- go to attn-seg demo
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from attn_seg.engines.precision import cpu_model

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _class_means(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per class, the mean Dice, HD95 (mm) and NSD of the report's ``summary.json``."""
    return {name: {m: round(c["metrics"][m]["mean"], 4) for m in ("dice", "hd95_mm", "nsd")}
            for name, c in report["classes"].items()}


def _markdown(record: dict[str, Any]) -> str:
    names = record["summary"]["classes"]
    head = "| case | " + " | ".join(names) + " | mean |\n|---|" + "---|" * (len(names) + 1) + "\n"
    rows = "".join(f"| {r['case']} | " + " | ".join(f"{d:.3f}" for d in r["dice"]) + f" | {r['mean_dice']:.3f} |\n"
                   for r in record["summary"]["cases"])
    classes = "; ".join(f"{n}: Dice {c['dice']:.3f}, HD95 {c['hd95_mm']:.2f} mm, NSD (2 mm) {c['nsd']:.3f}"
                        for n, c in record["classes"].items())
    seconds = ", ".join(f"{k} {v:.0f} s" for k, v in record["summary"]["seconds"].items())
    return (f"# `attn-seg demo` (the README's main job)\n\n{record['cpu']}, {record['threads_note']}; "
            f"run {record['date']} with `{record['command']}`.\n\n"
            f"Dice per held-out case (best validation checkpoint, {record['summary']['epochs']} epochs):\n\n"
            f"{head}{rows}\nMean Dice over cases **{record['summary']['mean_dice']:.3f}**; {classes}.\n\n"
            f"Wall time of the whole process {record['process_s']:.0f} s (start-up and import included); "
            f"inside it: {seconds}.\n")


def main(argv: list[str] | None = None) -> int:
    """Run the demo and file its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stem", default="demo_cpu", help="results file name (without suffix)")
    parser.add_argument("demo_args", nargs="*", help="arguments for attn-seg demo (after --)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="attn_seg_demo_") as tmp:
        out = Path(tmp) / "demo"
        cmd = [sys.executable, "-m", "attn_seg", "demo", "--out", str(out), *args.demo_args]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT)
        process_s = time.perf_counter() - start
        summary = json.loads((out / "summary.json").read_text())
        report = json.loads((out / "report" / "summary.json").read_text())
    record = {
        "command": " ".join(["attn-seg demo --out runs/demo", *args.demo_args]), "date": time.strftime("%Y-%m-%d"),
        "cpu": cpu_model(), "threads_note": "2 cores, nothing else running", "process_s": round(process_s, 1),
        "summary": summary, "classes": _class_means(report),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.stem}.json").write_text(json.dumps(record, indent=2) + "\n")
    (RESULTS / f"{args.stem}.md").write_text(_markdown(record))
    print(_markdown(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
