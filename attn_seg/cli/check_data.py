"""``attn-seg check-data``: validate every case of a data set and print its fingerprint.

Exit status 0 when every case is sound; 1 with one line per problem on stderr otherwise. Nothing is written
except the ``--json`` report, and that only for a clean data set (never over an existing file without
``--overwrite``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from attn_seg.cli import options

__all__ = ["add_parser", "parse_label_map", "run"]


def parse_label_map(text: str) -> tuple[int, int]:
    """``"255=1"`` -> ``(255, 1)``, for ``--label-map``."""
    source, sep, target = text.partition("=")
    try:
        if not sep:
            raise ValueError(text)
        return int(source), int(target)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected VALUE=CLASS with integers, e.g. 255=1, got {text!r}") from None


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the subcommand."""
    p = subparsers.add_parser(
        "check-data", help="validate a data set (every case) and print its fingerprint",
        description="DATASET: a dataset.json, a JSON list or CSV of image/label paths, or a folder "
        "(Decathlon layout, images/+labels/ or images/+masks/ folders, or images with suffixed labels side by side).",
    )
    p.add_argument("dataset", metavar="DATASET", help="data set file or folder")
    p.add_argument("--key", default="training", help="list of a dataset.json to check (default: training)")
    p.add_argument("--label-suffix", default=None, help="label file suffix for folder layouts, e.g. _seg")
    p.add_argument("--preset", choices=("ct", "mri"), default=None, help="modality: ct adds a suggested HU window")
    p.add_argument("--spatial-dims", type=int, choices=(2, 3), default=None, help="2D or 3D (default: detected)")
    p.add_argument("--classes", type=options.positive_int, default=None,
                   help="foreground classes K, labels 0..K (default: dataset.json 'labels', else unchecked)")
    p.add_argument("--in-channels", type=options.positive_int, default=1,
                   help="image channels (e.g. 4 for multi-modal MRI, 3 for colour pictures; a bundle's "
                   "network_def#in_channels): images with other channels are problems")
    p.add_argument("--label-map", type=parse_label_map, action="append", default=[], metavar="VALUE=CLASS",
                   help="replace a label value before checking, e.g. 255=1 for 0/255 masks; repeatable")
    p.add_argument("--label-threshold", type=float, default=None, metavar="T",
                   help="labels are 1 where value >= T, else 0, before --label-map (e.g. 128 for noisy JPEG masks)")
    p.add_argument("--headers-only", action="store_true", help="check file headers only (fast, no voxel checks)")
    p.add_argument("--divisor", type=options.positive_int, default=16,
                   help="network total stride; roi_size is a multiple of it")
    p.add_argument("--json", dest="json_out", default=None, metavar="OUT", help="write the report as JSON")
    p.add_argument("--overwrite", action="store_true", help="allow --json to replace an existing file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate, print the fingerprint (stdout) and the problems (stderr); 0 when clean, 1 otherwise."""
    from attn_seg.data import declared_num_classes, fingerprint, format_fingerprint, inspect_cases, load_cases
    from attn_seg.files import atomic_write_json

    out = Path(args.json_out).expanduser().absolute() if args.json_out else None
    if out is not None and out.exists() and not args.overwrite:
        raise FileExistsError(f"--json {out} already exists; pass --overwrite to replace it")
    num_classes = args.classes + 1 if args.classes is not None else declared_num_classes(args.dataset)
    start = time.perf_counter()
    cases = load_cases(args.dataset, key=args.key, label_suffix=args.label_suffix)
    inspection = inspect_cases(
        cases, spatial_dims=args.spatial_dims, num_classes=num_classes, in_channels=args.in_channels,
        label_map=dict(args.label_map), label_threshold=args.label_threshold, check_arrays=not args.headers_only,
        require_labels=args.key != "test", in_channels_setting="--in-channels",
    )
    report = fingerprint(inspection, divisor=args.divisor, preset=args.preset)
    seconds = time.perf_counter() - start
    print(f"data set: {Path(args.dataset).expanduser().absolute()} ({len(cases)} entries, checked in {seconds:.1f} s)")
    print(format_fingerprint(report))
    values = report.get("labels", {}).get("values", [])
    if num_classes is None and values and values[-1] >= len(values):
        print(f"note: label values {values} are not 0..K; pass --classes K (and --label-map, e.g. "
              f"{values[-1]}=1) to check them")
    if inspection.problems:
        for problem in inspection.problems:
            print(problem, file=sys.stderr)
        print(f"attn-seg check-data: {len(inspection.problems)} problem(s); nothing written", file=sys.stderr)
        return 1
    if out is not None:
        content = {"dataset": str(Path(args.dataset).expanduser().absolute()), "num_classes": num_classes,
                   "fingerprint": report}
        atomic_write_json(content, out)
        print(f"wrote {out}")
    return 0
