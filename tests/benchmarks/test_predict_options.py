"""``benchmarks/predict_options.py``: results of user-given weights never replace the shipped weights' results."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_weights_without_a_variant_are_refused_before_anything_runs(tmp_path: Path) -> None:
    shipped = REPO / "docs" / "real_data" / "polyp" / "seed0" / "options.json"
    before = shipped.read_bytes() if shipped.exists() else None
    weights = tmp_path / "mine.pt"
    proc = subprocess.run([sys.executable, "benchmarks/predict_options.py", "polyp", "--weights", str(weights)],
                          cwd=REPO, capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert f"--weights {weights} is for polyp and needs --variant" in proc.stderr
    assert (shipped.read_bytes() if shipped.exists() else None) == before
