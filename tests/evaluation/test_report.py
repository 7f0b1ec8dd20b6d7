"""The report folder: contents, summary statistics, atomic writing, scalars from TensorBoard files."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from attn_seg.evaluation import (
    CSV_COLUMNS,
    class_names_from_dataset,
    pair_cases,
    pick_cases,
    read_scalars,
    summarise,
    write_report,
)


def test_read_scalars_returns_every_tag(evaluation_run: dict[str, Path]) -> None:
    scalars = read_scalars(evaluation_run["logs"])
    assert set(scalars) == {"train_loss", "lr", "val_mean_dice", "val_dice_class1"}
    assert scalars["train_loss"][0] == (1, 1.5)
    assert len(scalars["train_loss"]) == 30
    assert scalars["val_dice_class1"] == [(1, 0.25), (2, 0.5), (3, 0.75)]
    with pytest.raises(FileNotFoundError, match="no TensorBoard event files"):
        read_scalars(evaluation_run["pred"])


def test_pick_cases() -> None:
    assert pick_cases({"a": 0.5, "b": 0.9, "c": 0.1, "d": 0.7}) == {"best": "b", "median": "d", "worst": "c"}
    assert pick_cases({"a": 0.5}) == {"best": "a"}


def test_summary_statistics() -> None:
    rows = [{"case": c, "class": 1, "class_name": "organ", "status": "ok", **dict.fromkeys(CSV_COLUMNS[3:-1], v)}
            for c, v in (("a", 1.0), ("b", 2.0), ("c", 6.0))]
    dice = summarise(rows, tolerance_mm=1.0)["classes"]["organ"]["metrics"]["dice"]
    assert dice == {"mean": 3.0, "median": 2.0, "std": pytest.approx(np.sqrt(7.0)), "min": 1.0, "max": 6.0}


def test_report_folder(evaluation_run: dict[str, Path], tmp_path: Path) -> None:
    data = evaluation_run["data"]
    cases = pair_cases(evaluation_run["pred"], data / "labelsTs", image_dir=data / "imagesTs")
    classes = class_names_from_dataset(data / "labelsTs")
    assert classes == {1: "organ", 2: "lesion"}
    summary = write_report(cases, tmp_path / "report", classes=classes, log_dir=evaluation_run["logs"])
    out = tmp_path / "report"
    names = sorted(p.name for p in out.iterdir())
    assert names == ["boxplots.png", "curves.png", "metrics.csv", "panel_best_case_0001.png",
                     "panel_median_case_0002.png", "panel_worst_case_0003.png", "report.html", "summary.json"]
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [(r["case"], r["class_name"]) for r in rows][:2] == [("case_0001", "organ"), ("case_0001", "lesion")]
    assert float(rows[0]["dice"]) == 1.0
    assert float(rows[0]["hd95_mm"]) == 0.0
    assert rows[5]["status"] == "pred_empty"
    assert float(rows[5]["dice"]) == 0.0
    assert json.loads((out / "summary.json").read_text()) == summary
    assert summary["classes"]["lesion"]["status"]["pred_empty"] == 1
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 5
    assert "pred_empty" in page
    assert not list(tmp_path.glob(".report*"))
    with pytest.raises(FileExistsError, match="not empty"):
        write_report(cases, out, classes=classes)
    write_report(cases[:1], out, classes=classes, overwrite=True)
    assert len(list(csv.DictReader((out / "metrics.csv").open()))) == 2


def test_failure_leaves_no_partial_report(evaluation_run: dict[str, Path], tmp_path: Path) -> None:
    pred = tmp_path / "pred"
    shutil.copytree(evaluation_run["pred"], pred)
    shutil.copy(pred / "case_0001_seg.nii.gz", pred / "case_0002_seg.nii.gz")  # other case: other shape
    cases = pair_cases(pred, evaluation_run["data"] / "labelsTs")
    with pytest.raises(ValueError, match=r"case_0002_seg\.nii\.gz has shape"):
        write_report(cases, tmp_path / "report", classes={1: "organ"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pred"]
