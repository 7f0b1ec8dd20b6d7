"""The ``attn-seg`` command line, run as a user runs it: in a child process."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np


def _cli(python: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    cmd = [python, "-m", "attn_seg", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, encoding="utf-8", errors="replace", check=False)


def test_synth_writes_a_dataset(python: str, tmp_path: Path) -> None:
    proc = _cli(python, "synth", "--out", "d", "--spatial-dims", "2", "--cases", "3", "--classes", "3",
                "--seed", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((tmp_path / "d" / "dataset.json").read_text())
    assert manifest["numTraining"] == 3
    assert manifest["tensorImageSize"] == "2D"
    assert len(manifest["labels"]) == 4
    assert len(list((tmp_path / "d" / "imagesTr").glob("*.nii.gz"))) == 3


def test_synth_refuses_existing_folder(python: str, tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "keep.txt").write_text("x")
    proc = _cli(python, "synth", "--out", "d", cwd=tmp_path)
    assert proc.returncode == 1
    assert "not empty" in proc.stderr
    assert str(tmp_path / "d") in proc.stderr
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["keep.txt"]


def test_synth_rejects_bad_arguments(python: str, tmp_path: Path) -> None:
    proc = _cli(python, "synth", "--out", "d", "--cases", "0", cwd=tmp_path)
    assert proc.returncode == 1
    assert "num_cases" in proc.stderr
    proc = _cli(python, "synth", "--out", "d", "--spatial-dims", "4", cwd=tmp_path)
    assert proc.returncode == 2
    assert "spatial-dims" in proc.stderr
    assert not (tmp_path / "d").exists()


def test_demo_end_to_end(python: str, tmp_path: Path, tiny_3d: dict) -> None:
    sets = [f"--set={k}={v}" for k, v in tiny_3d.items()]
    proc = _cli(python, "demo", "--out", "run", "--cases", "3", "--test-cases", "2", "--epochs", "1", *sets,
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = tmp_path / "run"
    summary = json.loads((out / "summary.json").read_text())
    assert [c["case"] for c in summary["cases"]] == ["case_0003", "case_0004"]
    assert summary["classes"] == ["organ", "lesion"]
    assert summary["training_cases"] == 3
    assert (out / "bundle" / "models" / "model.pt").is_file()
    for case in ("case_0003", "case_0004"):
        pred = nib.load(out / "predictions" / f"{case}_seg.nii.gz")
        image = nib.load(out / "data" / "imagesTs" / f"{case}.nii.gz")
        assert pred.shape == image.shape
        np.testing.assert_allclose(pred.affine, image.affine, atol=1e-4)
        for gate in (0, 1):  # tiny network: two gated skip levels
            attention = nib.load(out / "predictions" / f"{case}_attn_g{gate}.nii.gz")
            assert attention.shape == image.shape
            values = attention.get_fdata()
            assert values.min() >= 0.0
            assert values.max() <= 1.0
    assert "Mean Dice over cases" in (out / "summary.md").read_text()
    report = out / "report"
    assert len((report / "metrics.csv").read_text().splitlines()) == 1 + 2 * 2  # header + cases x classes
    assert {"report.html", "curves.png", "boxplots.png", "summary.json"} <= {p.name for p in report.iterdir()}
    assert list(report.glob("panel_worst_case_000*.png"))


def test_demo_refuses_non_empty_output(python: str, tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "results.csv").write_text("precious")
    proc = _cli(python, "demo", "--out", "run", cwd=tmp_path)
    assert proc.returncode == 1
    assert "not empty" in proc.stderr
    assert (tmp_path / "run" / "results.csv").read_text() == "precious"


def test_argument_errors_are_reported_before_anything_heavy_loads(python: str, tmp_path: Path) -> None:
    # the parser and every subcommand's options load no torch, MONAI or data code: a wrong flag fails at once
    probe = (
        "import sys\n"
        "from attn_seg.cli import main\n"
        "try:\n"
        "    main(['predict', '--bundle', 'b', '-i', 'x', '-o', 'y', '--precision', 'fp8'])\n"
        "except SystemExit as stop:\n"
        "    print('exit', stop.code)\n"
        "print('loaded', sorted(m for m in ('torch', 'monai', 'attn_seg.data', 'attn_seg.inference') "
        "if m in sys.modules))\n"
    )
    proc = subprocess.run([python, "-c", probe], cwd=tmp_path, capture_output=True, encoding="utf-8", check=False)
    assert "exit 2" in proc.stdout, proc.stderr
    assert "loaded []" in proc.stdout
    assert "argument --precision: invalid choice: 'fp8'" in proc.stderr


def test_the_precision_choices_are_the_engines() -> None:
    from attn_seg.cli.predict import PRECISIONS as CHOICES
    from attn_seg.engines import PRECISIONS

    assert CHOICES == PRECISIONS
