"""The evaluation report: metrics table, box plots, training curves and case panels in one folder.

:func:`write_report` writes, all at once (into a hidden temporary folder renamed into place, so a failure leaves
no partial report):

    metrics.csv        one row per case and class (Dice, IoU, HD95, ASD, NSD, volumes, status)
    summary.json       mean, median, std, min, max per class and metric; status counts
    boxplots.png       one box plot per metric, a box per class
    curves.png         training curves from TensorBoard logs (when a log folder is given)
    panel_<rank>_<case>.png  image / truth / prediction / attention gates for the best, median, worst case
    report.html        all of the above in one self-contained page (pictures embedded)
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from attn_seg.evaluation.cases import CaseFiles, load_case
from attn_seg.evaluation.logs import read_scalars
from attn_seg.evaluation.report_html import render_html
from attn_seg.evaluation.summary import (
    case_scores,
    evaluate_cases,
    summarise,
    write_metrics_csv,
    write_summary_json,
)
from attn_seg.visualize import box_plots, case_panel, save_figure, training_curves

__all__ = ["BOX_METRICS", "pick_cases", "write_report"]

#: Metrics drawn as box plots, with their axis titles.
BOX_METRICS = {"dice": "Dice", "iou": "IoU", "hd95_mm": "HD95 (mm)", "asd_mm": "ASD (mm)", "nsd": "NSD"}


def pick_cases(scores: Mapping[str, float]) -> dict[str, str]:
    """Best, median and worst case by score: ``{"best": case, "median": case, "worst": case}`` (fewer if fewer cases).

    The median case is the middle one after sorting by score (the lower middle for an even count).
    """
    ranked = sorted(scores, key=lambda c: (-scores[c], c))
    picks = {"best": ranked[0], "median": ranked[(len(ranked) - 1) // 2], "worst": ranked[-1]}
    unique: dict[str, str] = {}
    for rank, case in picks.items():
        if case not in unique.values():
            unique[rank] = case
    return unique


def _panel(files: CaseFiles, rank: str, rows: Sequence[Mapping[str, Any]], classes: Mapping[int, str],
           out: Path) -> Path:
    case = load_case(files)
    dice = ", ".join(f"{r['class_name']} {r['dice']:.3f}" for r in rows if r["case"] == files.case)
    fig = case_panel(case.label, case.pred, case.affine, image=case.image, attention=case.attention,
                     class_names=classes, title=f"{rank} case: {files.case} (Dice {dice})")
    return save_figure(fig, out / f"panel_{rank}_{files.case}.png")


def _write_contents(
    out: Path, cases: Sequence[CaseFiles], classes: Mapping[int, str], *, tolerance_mm: float,
    log_dir: str | os.PathLike[str] | None, title: str,
) -> dict[str, Any]:
    rows = evaluate_cases(cases, classes, tolerance_mm=tolerance_mm)
    summary = summarise(rows, tolerance_mm=tolerance_mm)
    write_metrics_csv(rows, out / "metrics.csv")
    write_summary_json(summary, out / "summary.json")
    values = {m: {name: [float(r[m]) for r in rows if r["class_name"] == name] for name in classes.values()}
              for m in BOX_METRICS}
    pictures = {"boxplots": save_figure(box_plots(values, titles=BOX_METRICS), out / "boxplots.png")}
    if log_dir is not None:
        pictures["curves"] = save_figure(training_curves(read_scalars(log_dir)), out / "curves.png")
    by_name = {c.case: c for c in cases}
    panels = {rank: _panel(by_name[case], rank, rows, classes, out)
              for rank, case in pick_cases(case_scores(rows)).items()}
    html = render_html(title=title, summary=summary, rows=rows, pictures=pictures, panels=panels)
    (out / "report.html").write_text(html, encoding="utf-8")
    return summary


def _check_target(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"report folder {out} exists and is a file")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"report folder {out} already exists and is not empty; choose a new folder "
                              "or pass overwrite=True (--overwrite)")


def _move_into_place(tmp: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_report(
    cases: Sequence[CaseFiles],
    out_dir: str | os.PathLike[str],
    *,
    classes: Mapping[int, str],
    tolerance_mm: float = 2.0,
    log_dir: str | os.PathLike[str] | None = None,
    title: str = "attn-seg evaluation",
    overwrite: bool = False,
) -> dict[str, Any]:
    """Evaluate paired cases and write the report folder (see the module docstring).

    Args:
        cases: paired files (:func:`attn_seg.evaluation.pair_cases`).
        out_dir: the report folder; must not exist or be empty unless ``overwrite``.
        classes: ``{label value: name}`` of the foreground classes to score.
        tolerance_mm: NSD tolerance in mm.
        log_dir: folder of TensorBoard event files for the training curves (``None``: no curves).
        title: heading of the HTML page.
        overwrite: replace an existing report folder.

    Returns:
        The summary (as written to ``summary.json``).

    Raises:
        FileExistsError: when ``out_dir`` holds files and ``overwrite`` is false.
        FileNotFoundError: when a file, or the event files under ``log_dir``, are missing.
        ValueError: when a case's geometry does not match or there is nothing to evaluate.
    """
    out = Path(out_dir).expanduser().absolute()
    _check_target(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        summary = _write_contents(tmp, cases, dict(classes), tolerance_mm=tolerance_mm, log_dir=log_dir, title=title)
        tmp.chmod(0o755)
        _check_target(out, overwrite)
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return summary

