"""The ``attn-seg`` command line: one module per subcommand, each with ``add_parser`` and ``run``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from attn_seg import __version__
from attn_seg.cli import check_data, demo, evaluate, label_app, predict, study, synth

__all__ = ["build_parser", "main"]

_COMMANDS = (synth, demo, check_data, predict, evaluate, study, label_app)


def build_parser() -> argparse.ArgumentParser:
    """The ``attn-seg`` argument parser with every subcommand (parsing loads nothing heavy)."""
    parser = argparse.ArgumentParser(prog="attn-seg", description="Attention U-Net segmentation of CT and MRI.")
    parser.add_argument("--version", action="version", version=f"attn-seg {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in _COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: arguments without the program name; ``None`` reads ``sys.argv``.

    Returns:
        The exit status: 0 on success, 1 on a failure of the task, 2 on bad arguments.
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, TypeError, FileNotFoundError, FileExistsError, RuntimeError) as err:
        print(f"attn-seg {args.command}: error: {err}", file=sys.stderr)
        return 1
