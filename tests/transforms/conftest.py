"""Fixtures for transform tests: the shared real data, skipped where absent."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_data() -> Callable[[str], Path]:
    """``shared_data("pyradiomics_brain1")``: a folder of the shared real data, or skip where it is absent."""
    root = Path(os.environ.get("ATTN_SEG_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))

    def _folder(name: str) -> Path:
        if not (root / name).is_dir():
            pytest.skip(f"shared data {root / name} is absent (set ATTN_SEG_SHARED_DATA to its folder)")
        return root / name

    return _folder
