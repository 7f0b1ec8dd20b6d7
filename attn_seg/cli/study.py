"""``attn-seg study``: run (or resume) a study file and write its results.

    attn-seg study configs/experiments/isbi_unet_vs_attention.json [-o runs/studies/NAME] [--storage URL]

Trials are Optuna trials in an SQLite file (``OUT/study.db``, or ``--storage``, a database URL several machines
can share). Running the same command again resumes: finished trials are kept, a trial killed mid-run is run
again. Writes ``results.csv``, ``results.json``, ``summary.md`` and plots into the output folder; with
``--pictures`` also attention-map pictures of the best trial. Exit 1 when a trial failed (the others still ran).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from attn_seg.cli import options

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the subcommand."""
    p = subparsers.add_parser(
        "study", help="run or resume a study (loss, gate, network comparisons) and write its results",
        description="Train a bundle once per setting and replicate of a study file, with Optuna keeping the "
        "trials; resumable after a kill. Writes results.csv/json, summary.md and plots.",
    )
    p.add_argument("study_file", type=Path, help="the study JSON (see configs/experiments/)")
    p.add_argument("-o", "--out", type=Path, default=None, help="output folder (default: runs/studies/<name>)")
    p.add_argument("--storage", default=None, help="Optuna storage URL (default: sqlite:///<out>/study.db)")
    p.add_argument("--max-trials", type=options.positive_int, default=None, help="run at most this many trials now")
    p.add_argument("--retry-failed", action="store_true", help="run again trials that failed with an error")
    p.add_argument("--rerun", type=options.non_negative_int, nargs="+", default=[], metavar="TRIAL",
                   help="set these finished trials aside and train their runs again (e.g. to keep a wall-time "
                   "study's replicate on one machine); needs --why")
    p.add_argument("--why", default="", help="why the --rerun trials are run again (kept in the results)")
    p.add_argument("--report-only", action="store_true", help="write the results of the trials so far; train none")
    p.add_argument("--pictures", type=options.non_negative_int, default=0, metavar="N",
                   help="draw N validation cases with the attention maps of the best trial")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the study; returns 0 when no trial failed."""
    from attn_seg.studies import (
        attention_pictures,
        best_row,
        check_study,
        collect_rows,
        load_study,
        open_study,
        run_study,
        storage_url,
        supersede_trials,
        write_results,
    )

    spec = load_study(args.study_file)
    out = args.out or Path("runs") / "studies" / spec.name
    if args.rerun:
        if not args.why.strip():
            raise ValueError("--rerun needs --why: the reason is kept in the results beside the set-aside trials")
        if args.report_only:
            raise ValueError("--rerun trains again: it cannot go with --report-only")
    failed: list[int] = []
    if not args.report_only:
        check_study(spec)
        if args.rerun:  # only once the study file has passed its checks: a refused study changes nothing
            supersede_trials(open_study(spec, storage_url(out, args.storage)), args.rerun, args.why)
        out.mkdir(parents=True, exist_ok=True)
        if not (out / "study.json").exists():
            shutil.copyfile(args.study_file, out / "study.json")
        result = run_study(spec, out, storage=args.storage, max_trials=args.max_trials,
                           retry_failed=args.retry_failed)
        failed = result.failed
        print(f"study {spec.name}: {result.ran} trial(s) run, {len(result.failed)} failed, "
              f"{len(result.recovered)} killed trial(s) recovered, {result.remaining} left")
    study = open_study(spec, storage_url(out, args.storage))
    files = write_results(study, spec, out)
    print(files["markdown"].read_text(encoding="utf-8"))
    if args.pictures > 0:
        for path in attention_pictures(best_row(collect_rows(study, spec), spec), spec, out / "pictures",
                                       max_cases=args.pictures):
            print(f"picture: {path}")
    print(f"results: {files['csv'].absolute()}")
    return 1 if failed else 0
