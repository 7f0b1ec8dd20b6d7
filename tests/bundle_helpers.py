"""Helpers for tests that run a bundle's training and read what it wrote."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser

__all__ = ["in_place", "shipped_network"]


def in_place(bundle: Path, overrides: Mapping[str, object]) -> dict[str, object]:
    """``overrides`` plus an explicit ``ckpt_dir`` / ``output_dir`` inside the bundle copy (``models/``, ``eval/``),
    as a user's ``--ckpt_dir`` / ``--output_dir`` do, for tests that read the run's files there. Without them a run
    writes under its own run folder (``runs/<bundle>/<time>``, tested in ``test_run_folders.py``)."""
    return {"ckpt_dir": str(bundle / "models"), "output_dir": str(bundle / "eval"), **overrides}


def shipped_network(bundle: Path) -> ConfigParser:
    """Check a bundle's shipped ``models/model.pt``: present, at most 10 MB, the sha256 its model card records, and
    loading strictly into ``inference.json``'s network; returns that config's parser (bundle_root set)."""
    weights = bundle / "models" / "model.pt"
    if not weights.is_file():
        pytest.fail(f"{weights} is missing: the bundle ships trained weights")
    assert weights.stat().st_size <= 10 * 2**20
    card = (bundle / "docs" / "README.md").read_text(encoding="utf-8")
    recorded = re.search(r"sha256 `([0-9a-f]{64})`", card)
    assert recorded is not None, "the model card records the weights' sha256"
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == recorded.group(1)
    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "inference.json"))
    parser["bundle_root"] = str(bundle)
    net = parser.get_parsed_content("network")
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=True)
    return parser
