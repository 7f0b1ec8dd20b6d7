"""Helpers for tests that run a bundle's training and read what it wrote."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

__all__ = ["in_place"]


def in_place(bundle: Path, overrides: Mapping[str, object]) -> dict[str, object]:
    """``overrides`` plus an explicit ``ckpt_dir`` / ``output_dir`` inside the bundle copy (``models/``, ``eval/``),
    as a user's ``--ckpt_dir`` / ``--output_dir`` do, for tests that read the run's files there. Without them a run
    writes under its own run folder (``runs/<bundle>/<time>``, tested in ``test_run_folders.py``)."""
    return {"ckpt_dir": str(bundle / "models"), "output_dir": str(bundle / "eval"), **overrides}
