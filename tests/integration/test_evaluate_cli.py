"""``attn-seg evaluate`` run as a user runs it (a child process) on synthetic NIfTI with perturbed labels, and on
picture masks (JPEG references, PNG predictions)."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np
from matplotlib.image import imread
from picture_helpers import write_kvasir_like
from PIL import Image


def _evaluate(python: str, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    cmd = [python, "-m", "attn_seg", "evaluate", *map(str, args)]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, encoding="utf-8", errors="replace", check=False)


def _coloured(rgb: np.ndarray) -> np.ndarray:
    """Red (class 1) or green (class 2) overlay pixels."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return ((r - g > 0.25) & (r - b > 0.25)) | ((g - r > 0.25) & (g - b > 0.25))


def test_evaluate_writes_the_report(python: str, evaluation_run: dict[str, Path], tmp_path: Path) -> None:
    data = evaluation_run["data"]
    proc = _evaluate(python, "--pred", evaluation_run["pred"], "--label", data / "labelsTs", "--image",
                     data / "imagesTs", "--logs", evaluation_run["logs"], "-o", "report", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "organ" in proc.stdout
    assert "report.html" in proc.stdout
    out = tmp_path / "report"
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert len(rows) == 6
    shifted = next(r for r in rows if r["case"] == "case_0002" and r["class_name"] == "organ")
    assert 0.5 < float(shifted["dice"]) < 1.0
    assert float(shifted["hd95_mm"]) > 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["classes"]["organ"]["metrics"]["dice"]) == {"mean", "median", "std", "min", "max"}
    for name in ("boxplots.png", "curves.png"):
        assert imread(out / name).std() > 0.05, name
    best = imread(out / "panel_best_case_0001.png")[..., :3]
    assert best.std() > 0.1
    label = np.asarray(nib.load(data / "labelsTs" / "case_0001.nii.gz").dataobj)
    # The panel has 3 views x (image, truth, prediction, 2 gates); truth and prediction tiles show the
    # structure in colour, so coloured pixels cover a share comparable to the label's share of a slice.
    assert _coloured(best).sum() > 0.2 * label.shape[0] * label.shape[1] * (label > 0).mean()
    # The image column (left fifth of the picture) has no overlay colour.
    assert not _coloured(best[:, : best.shape[1] // 6]).any()


def test_evaluate_rejects_mismatched_geometry(python: str, evaluation_run: dict[str, Path], tmp_path: Path) -> None:
    pred = tmp_path / "pred"
    shutil.copytree(evaluation_run["pred"], pred)
    img = nib.load(pred / "case_0003_seg.nii.gz")
    moved = img.affine.copy()
    moved[:3, 3] += 5.0
    nib.save(nib.Nifti1Image(np.asarray(img.dataobj), moved), pred / "case_0003_seg.nii.gz")
    proc = _evaluate(python, "--pred", pred, "--label", evaluation_run["data"] / "labelsTs", "-o", "report",
                     cwd=tmp_path)
    assert proc.returncode == 1
    assert "case_0003_seg.nii.gz has a different affine" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pred"]


def test_evaluate_reads_picture_masks(python: str, tmp_path: Path) -> None:
    """Kvasir-SEG-like references (RGB JPEG masks, noisy) against 0/255 PNG predictions: one foreground class."""
    data = write_kvasir_like(tmp_path / "kvasir", [(40, 52), (36, 30)])
    (tmp_path / "pred").mkdir()
    for i, label in enumerate(sorted((data / "masks").iterdir())):
        mask = (np.asarray(Image.open(label).convert("L")) > 127).astype(np.uint8) * 255
        Image.fromarray(mask if i == 0 else np.roll(mask, 3, axis=1)).save(tmp_path / "pred" / f"{label.stem}_seg.png")
    proc = _evaluate(python, "--pred", tmp_path / "pred", "--label", data / "masks", "--image", data / "images",
                     "-o", "report", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {r["case"]: r for r in csv.DictReader((tmp_path / "report" / "metrics.csv").open())}
    assert {r["class"] for r in rows.values()} == {"1"}  # 0/255 read as 0/1, not as 255 classes
    assert float(rows["case0"]["dice"]) == 1.0
    assert 0.5 < float(rows["case1"]["dice"]) < 1.0
