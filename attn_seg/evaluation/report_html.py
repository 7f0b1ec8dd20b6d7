"""Render the evaluation report as one self-contained HTML page (pictures embedded as base64 PNG)."""

from __future__ import annotations

import base64
import datetime
import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["render_html"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #eee; } td.text { text-align: left; }
tr.flag td { background: #fff2cc; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.3em 0 1em; }
.note { color: #555; font-size: 0.9em; max-width: 60em; }
"""

_CONVENTION = (
    "Distances are in millimetres (voxel spacing applied); surfaces are the voxels removed by one erosion; "
    "HD95 is the larger of the two directed 95th percentiles; ASD the mean of both directed distance sets; "
    "NSD the share of both surfaces within the tolerance of the other. Empty masks: both empty (status "
    "<i>both_empty</i>) scores Dice = IoU = NSD = 1 and distances 0; truth only (<i>pred_empty</i>, a miss) or "
    "prediction only (<i>truth_empty</i>, a false positive) scores Dice = IoU = NSD = 0 and distances equal to "
    "the diagonal of the image's field of view. Such rows are highlighted; they enter the statistics."
)
_COLUMNS = (("dice", "Dice"), ("iou", "IoU"), ("hd95_mm", "HD95 mm"), ("asd_mm", "ASD mm"), ("nsd", "NSD"),
            ("volume_truth_ml", "truth ml"), ("volume_pred_ml", "pred ml"), ("volume_diff_ml", "diff ml"))


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" title="{html.escape(path.name)}">'


def _summary_table(summary: Mapping[str, Any]) -> str:
    head = "".join(f"<th>{label}</th>" for _, label in _COLUMNS)
    lines = [f"<table><tr><th>class</th><th>statistic</th>{head}<th>status counts</th></tr>"]
    for name, entry in summary["classes"].items():
        counts = ", ".join(f"{k} {v}" for k, v in entry["status"].items() if v)
        for i, stat in enumerate(("mean", "std", "median")):
            cells = "".join(f"<td>{entry['metrics'][m][stat]:.3f}</td>" for m, _ in _COLUMNS)
            first = f'<td class="text" rowspan="3">{html.escape(name)}</td>' if i == 0 else ""
            status = f'<td class="text" rowspan="3">{html.escape(counts)}</td>' if i == 0 else ""
            lines.append(f'<tr>{first}<td class="text">{stat}</td>{cells}{status}</tr>')
    return "\n".join([*lines, "</table>"])


def _case_table(rows: Sequence[Mapping[str, Any]]) -> str:
    head = "".join(f"<th>{label}</th>" for _, label in _COLUMNS)
    lines = [f"<table><tr><th>case</th><th>class</th>{head}<th>status</th></tr>"]
    for row in rows:
        flag = ' class="flag"' if row["status"] != "ok" else ""
        cells = "".join(f"<td>{row[m]:.3f}</td>" for m, _ in _COLUMNS)
        lines.append(f'<tr{flag}><td class="text">{html.escape(row["case"])}</td>'
                     f'<td class="text">{html.escape(row["class_name"])}</td>{cells}'
                     f'<td class="text">{html.escape(row["status"])}</td></tr>')
    return "\n".join([*lines, "</table>"])


def render_html(
    *,
    title: str,
    summary: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    pictures: Mapping[str, Path],
    panels: Mapping[str, Path],
) -> str:
    """The report page.

    Args:
        title: page heading.
        summary: from :func:`attn_seg.evaluation.summarise`.
        rows: from :func:`attn_seg.evaluation.evaluate_cases`.
        pictures: ``{"boxplots": png, "curves": png}`` (curves optional).
        panels: ``{"best" | "median" | "worst": png}``.

    Returns:
        The HTML text.
    """
    when = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{summary['cases']} cases, {len(summary['classes'])} classes; mean Dice over classes "
        f"<b>{summary['mean_dice']:.3f}</b>; NSD tolerance {summary['nsd_tolerance_mm']:g} mm. Written {when}.</p>",
        "<h2>Metrics per class</h2>",
        _summary_table(summary),
        f"<p class='note'>{_CONVENTION}</p>",
        "<h2>Distribution over cases</h2>",
        _img(pictures["boxplots"], "box plots of each metric per class"),
    ]
    if "curves" in pictures:
        parts += ["<h2>Training</h2>", _img(pictures["curves"], "training curves")]
    parts.append("<h2>Cases: best, median and worst by mean Dice</h2>")
    parts.append("<p class='note'>Slices through the most reference voxels; radiological orientation (patient's "
                 "right on the left). Columns: image, reference, prediction (reference outlined in white), then "
                 "each attention gate's coefficients as a heat map (finest gate first), where present.</p>")
    for rank, path in panels.items():
        parts += [f"<h3>{html.escape(rank)}</h3>", _img(path, f"{rank} case panel")]
    parts += ["<h2>All cases</h2>", _case_table(rows), "</body></html>"]
    return "\n".join(parts) + "\n"
