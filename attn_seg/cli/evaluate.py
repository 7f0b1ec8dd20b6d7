"""``attn-seg evaluate``: score a folder of predictions against references and write the report.

    attn-seg evaluate --pred preds/ --label data/labelsTs -o report/ [--image data/imagesTs] [--logs bundle/eval]

Predictions ``<case>_seg.nii.gz`` (or ``<case>.nii.gz``) pair with labels ``<case>.nii.gz``; attention maps
``<case>_attn_g<k>.nii.gz`` are read from ``--attention`` (default: the prediction folder) when present. Exit 0
with the report written; 1 with one error line naming the file and the cause (missing pair, shape or affine
mismatch), and nothing written.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from attn_seg.cli import options

__all__ = ["add_parser", "parse_classes", "run"]


def parse_classes(tokens: list[str]) -> dict[int, str]:
    """``--classes`` entries: ``NAME`` (values 1, 2, ... in order), ``VALUE`` or ``VALUE=NAME``.

    Examples: ``organ lesion`` -> ``{1: "organ", 2: "lesion"}``; ``2=lesion`` -> ``{2: "lesion"}``; ``1 3`` ->
    ``{1: "class 1", 3: "class 3"}``.

    Raises:
        ValueError: when a value is not a positive integer or repeats.
    """
    classes: dict[int, str] = {}
    for i, token in enumerate(tokens, start=1):
        value_text, sep, name = token.partition("=")
        if sep:
            if not value_text.isdigit():
                raise ValueError(f"class entry {token!r}: the value before '=' must be an integer label > 0")
            value = int(value_text)
        elif token.isdigit():
            value, name = int(token), f"class {token}"
        else:
            value, name = i, token
        if value < 1 or value in classes:
            raise ValueError(f"class entry {token!r}: label values must be > 0 and distinct, got {value}")
        classes[value] = name
    return classes


class _ClassesAction(argparse.Action):
    """``--classes`` read by :func:`parse_classes` while the command line is parsed: a bad entry is argparse's
    error (exit 2) before anything loads."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: str | Sequence[Any] | None, option_string: str | None = None) -> None:
        tokens = [values] if isinstance(values, str) else [str(v) for v in values or []]
        try:
            setattr(namespace, self.dest, parse_classes(tokens))
        except ValueError as err:
            raise argparse.ArgumentError(self, str(err)) from None


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the subcommand."""
    p = subparsers.add_parser(
        "evaluate", help="score predictions against references; write metrics.csv, summary.json, report.html",
        description="Pair <case>_seg.* predictions with <case>.* labels, compute Dice, IoU, HD95, ASD, NSD and "
        "volumes per case and class, and write a report folder with tables, box plots, case panels and curves.",
    )
    p.add_argument("--pred", required=True, type=Path, help="folder of predicted label maps (<case>_seg.nii.gz)")
    p.add_argument("--label", required=True, type=Path, help="folder of reference label maps (<case>.nii.gz)")
    p.add_argument("-o", "--out", required=True, type=Path, help="report folder (must not exist or be empty)")
    p.add_argument("--image", type=Path, help="folder of images, for the overlay background")
    p.add_argument("--attention", type=Path, help="folder of <case>_attn_g<k> maps (default: --pred)")
    p.add_argument("--logs", type=Path, help="TensorBoard log folder of the training run, for the curves")
    p.add_argument("--classes", nargs="+", action=_ClassesAction, metavar="CLASS",
                   help="classes to score: names (1, 2, ...), values, or VALUE=NAME (default: dataset.json beside "
                   "--label, else 1..max label)")
    p.add_argument("--tolerance", type=options.positive_float, default=2.0, help="NSD tolerance in mm (default 2)")
    p.add_argument("--title", default="attn-seg evaluation", help="heading of report.html")
    p.add_argument("--overwrite", action="store_true", help="replace an existing report folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the evaluation; returns 0 when the report was written."""
    from attn_seg.evaluation import class_names_from_dataset, infer_classes, pair_cases, write_report

    cases = pair_cases(args.pred, args.label, image_dir=args.image, attention_dir=args.attention)
    classes = args.classes or class_names_from_dataset(args.label) or infer_classes(cases)
    summary = write_report(cases, args.out, classes=classes, tolerance_mm=args.tolerance, log_dir=args.logs,
                           title=args.title, overwrite=args.overwrite)
    width = max(len(name) for name in summary["classes"])
    print(f"{summary['cases']} cases; mean (median) per class:")
    for name, entry in summary["classes"].items():
        m = entry["metrics"]
        print(f"  {name:<{width}}  Dice {m['dice']['mean']:.3f} ({m['dice']['median']:.3f})  "
              f"HD95 {m['hd95_mm']['mean']:.2f} mm  ASD {m['asd_mm']['mean']:.2f} mm  NSD {m['nsd']['mean']:.3f}")
    print(f"report: {Path(args.out).absolute() / 'report.html'}")
    return 0
