"""``attn-seg synth``: write a synthetic CT/MRI data set (NIfTI) or colour pictures (PNG), with a ``dataset.json``."""

from __future__ import annotations

import argparse

from attn_seg.cli import options

__all__ = ["SYNTHETIC_CLASSES", "add_parser", "run"]

#: Most foreground classes a synthetic set has: ``len(attn_seg.data.synthetic.CLASS_NAMES)``, written out so that
#: parsing loads nothing heavy (a test keeps the two equal).
SYNTHETIC_CLASSES = 6


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the subcommand."""
    p = subparsers.add_parser("synth", help="write a synthetic data set of NIfTI images and labels")
    p.add_argument("--out", required=True, help="output folder (must not exist or be empty)")
    p.add_argument("--spatial-dims", type=int, choices=(2, 3), default=3, help="2D images or 3D volumes")
    p.add_argument("--cases", type=options.positive_int, default=12, help="number of labelled training cases")
    p.add_argument("--test-cases", type=options.non_negative_int, default=0,
                   help="held-out cases (labels in labelsTs/)")
    p.add_argument("--classes", type=options.bounded_int(1, SYNTHETIC_CLASSES), default=2,
                   help=f"number of foreground classes K (labels 0..K), 1 to {SYNTHETIC_CLASSES}")
    p.add_argument("--modality", choices=("ct", "mri", "rgb"), default="ct",
                   help="CT in HU, MRI with a bias field, or rgb: 2D colour PNG pictures with 0/255 masks (1 class)")
    p.add_argument("--seed", type=int, default=0, help="random seed; equal seeds give equal data")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the data set and print where its ``dataset.json`` is."""
    from attn_seg.data import SyntheticSpec, write_synthetic_dataset

    spec = SyntheticSpec(spatial_dims=args.spatial_dims, num_classes=args.classes, modality=args.modality)
    manifest = write_synthetic_dataset(
        args.out, spec=spec, num_cases=args.cases, num_test=args.test_cases, seed=args.seed
    )
    print(f"wrote {args.cases} training and {args.test_cases} held-out cases: {manifest}")
    return 0
