"""``attn-seg label-app``: a MONAI Label app folder serving attn-seg bundles (see :mod:`attn_seg.monai_label`)."""

from __future__ import annotations

import argparse
import shlex

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the subcommand."""
    p = subparsers.add_parser(
        "label-app", help="lay out a MONAI Label app folder that serves and trains attn-seg bundles"
    )
    p.add_argument("--out", required=True, help="the app folder (new, or one this command made: bundles are added)")
    p.add_argument("--bundle", action="append", required=True,
                   help="a bundle name (e.g. attention_unet_hippocampus_mri) or folder; repeat for more")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the app and print the command that serves it."""
    from attn_seg.monai_label.folder import make_app

    targets = make_app(args.out, args.bundle)
    names = ",".join(t.name for t in targets)
    print(f"MONAI Label app in {args.out}: {', '.join(str(t) for t in targets)}")
    print(f"serve it: monailabel start_server --app {shlex.quote(args.out)} --studies <images folder> "
          f"--conf models {names}")
    return 0
