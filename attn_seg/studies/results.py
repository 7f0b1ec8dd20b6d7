"""A study's results: one row per finished trial (CSV, JSON), a table per setting (Markdown), and plots."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from attn_seg.files import atomic_write_text
from attn_seg.studies.case_scores import read_case_scores
from attn_seg.studies.claims import superseded_trials, trial_key
from attn_seg.studies.spec import StudySpec
from attn_seg.studies.stats import PairedComparison, compare_paired
from attn_seg.studies.trial import read_history
from attn_seg.visualize import metric_by_setting, save_figure, validation_curves

__all__ = [
    "case_score_rows", "collect_rows", "paired_comparisons", "summarise_settings", "superseded_rows", "write_results",
]


def _derived(row: Mapping[str, Any]) -> dict[str, float]:
    """Pixel error (the ISBI challenge's measure) from a validation accuracy, where one was logged."""
    return {"val_pixel_error": 1.0 - float(row["val_accuracy"])} if "val_accuracy" in row else {}


def _metrics(history: list[dict[str, Any]], spec: StudySpec) -> dict[str, Any]:
    """``last_<m>``: every validation metric of the last validation; ``best_<m>``: of the best one by ``metric``."""
    rows = [dict(row, **_derived(row)) for row in history if spec.metric in row]
    if not rows:
        return {}
    best = max(rows, key=lambda r: spec.score(float(r[spec.metric])))
    skip = {"epoch", "iterations", "train_loss", "lr"}
    out: dict[str, Any] = {"best_epoch": best["epoch"], "last_epoch": rows[-1]["epoch"]}
    out.update({f"last_{k}": v for k, v in rows[-1].items() if k not in skip})
    out.update({f"best_{k}": v for k, v in best.items() if k not in skip})
    return out


def _row(t: FrozenTrial, spec: StudySpec) -> dict[str, Any]:
    attrs = t.user_attrs
    row: dict[str, Any] = {"trial": t.number, "state": t.state.name.lower(), "setting": attrs.get("setting")}
    row.update({p.name: t.params.get(p.name) for p in spec.parameters})
    row.update(replicate=attrs.get("replicate"), seed=attrs.get("seed"), fold=attrs.get("fold"), value=t.value)
    row.update({k: attrs.get(k) for k in ("epochs", "wall_s", "timed_out", "machine", "checkpoint", "trial_dir")})
    history = read_history(Path(str(attrs.get("trial_dir", ""))) / "eval") if attrs.get("trial_dir") else []
    row.update(_metrics(history, spec))
    return row


def collect_rows(study: optuna.Study, spec: StudySpec) -> list[dict[str, Any]]:
    """One row per finished (complete or pruned) trial, superseded ones left out; a setting and replicate run twice
    keeps its first run."""
    rows, seen, superseded = [], set(), superseded_trials(study)
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)):
        if t.number in superseded:
            continue
        key = trial_key(t.params, int(t.user_attrs.get("replicate") or 0))
        if key in seen:
            continue
        seen.add(key)
        rows.append(_row(t, spec))
    return rows


def superseded_rows(study: optuna.Study, spec: StudySpec) -> list[dict[str, Any]]:
    """The superseded trials (set aside and run again): their rows as :func:`collect_rows` makes them, with ``why``."""
    superseded = superseded_trials(study)
    return [dict(_row(t, spec), why=superseded[t.number]) for t in study.get_trials(deepcopy=False)
            if t.number in superseded]


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if arr.size == 0:
        return math.nan, math.nan
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def _columns(spec: StudySpec, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    wanted = [f"last_{spec.metric}", *(f"last_{m}" for m in spec.report_metrics)]
    return [c for i, c in enumerate(wanted) if c not in wanted[:i] and any(c in r for r in rows)]


def summarise_settings(rows: Sequence[Mapping[str, Any]], spec: StudySpec) -> list[dict[str, Any]]:
    """Mean and sample standard deviation per setting over its complete trials, best setting first."""
    columns = _columns(spec, rows)
    settings: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        settings.setdefault(str(row["setting"]), []).append(row)
    table = []
    for setting, group in settings.items():
        complete = [r for r in group if r["state"] == "complete"]
        entry: dict[str, Any] = {"setting": setting, "n": len(complete), "pruned": len(group) - len(complete)}
        for col in columns:
            entry[col] = _mean_std([float(r[col]) for r in complete if r.get(col) is not None])
        entry["value"] = _mean_std([float(r["value"]) for r in complete if r.get("value") is not None])
        entry["wall_min"] = _mean_std([float(r["wall_s"]) / 60.0 for r in group if r.get("wall_s") is not None])[0]
        table.append(entry)
    return sorted(table, key=lambda e: (math.isnan(e["value"][0]), -spec.score(float(np.nan_to_num(e["value"][0])))))


def _markdown(table: Sequence[Mapping[str, Any]], spec: StudySpec, rows: Sequence[Mapping[str, Any]],
              comparisons: Sequence[PairedComparison] = (), superseded: Sequence[Mapping[str, Any]] = ()) -> str:
    columns = _columns(spec, rows)
    head = ["setting", "n", *columns, "wall (min/trial)"]
    lines = [f"# Study `{spec.name}`", "", *([spec.description, ""] if spec.description else []),
             f"Objective: {spec.objective} `{spec.metric}` ({spec.direction}); mean +/- sample std (n > 1) over "
             f"seeds {list(spec.seeds)}" + (f" x {spec.folds} folds" if spec.folds else "") + ".", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in table:
        cells = [e["setting"], f"{e['n']}" + (f" (+{e['pruned']} pruned)" if e["pruned"] else "")]
        cells += [f"{e[c][0]:.4f} +/- {e[c][1]:.4f}" if e["n"] > 1 else f"{e[c][0]:.4f}" for c in columns]
        cells.append(f"{e['wall_min']:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    total = sum(float(r.get("wall_s") or 0.0) for r in rows) / 60.0
    lines += ["", f"{len(rows)} finished trials, {total:.1f} min of training in all.", *_machines_markdown(rows, spec),
              *_superseded_markdown(superseded, spec), *_paired_markdown(comparisons, spec)]
    return "\n".join(lines) + "\n"


def _machines_markdown(rows: Sequence[Mapping[str, Any]], spec: StudySpec) -> list[str]:
    """The machine the trials ran on, or a warning naming them all when there were several (with a wall-time
    budget, settings trained on different machines are not compared at equal compute)."""
    machines = sorted({str(r["machine"]) for r in rows if r.get("machine")})
    if len(machines) < 2:
        return [f"Machine: {machines[0]}."] if machines else []
    note = (" The budget is wall time, so settings trained on different machines are not compared at equal compute."
            if spec.minutes else "")
    line = (f"**Trials ran on {len(machines)} machines** ({'; '.join(machines)}; column `machine` of "
            f"results.csv).{note}")
    if not spec.minutes:
        return [line]
    by_replicate: dict[str, set[str]] = {}
    for r in rows:
        by_replicate.setdefault(str(r.get("replicate")), set()).add(str(r.get("machine")))
    blocks = "; ".join(f"replicate {rep}: {' and '.join(sorted(names))}" for rep, names in sorted(by_replicate.items()))
    mixed = sorted(rep for rep, names in by_replicate.items() if len(names) > 1)
    verdict = (f"replicates {', '.join(mixed)} mixed machines, so some of their pairs compare trials of different "
               "machines" if mixed else "each replicate ran on one machine, so every paired difference compares "
               "trials of one machine")
    return [f"{line} By replicate: {blocks}; {verdict}."]


def _superseded_markdown(superseded: Sequence[Mapping[str, Any]], spec: StudySpec) -> list[str]:
    """The trials set aside and run again, with their results and the reason (they are in no table above)."""
    if not superseded:
        return []
    lines = ["", f"Superseded trials (run again; in no table or comparison): {len(superseded)}.", ""]
    for r in superseded:
        value = f"{float(r['value']):.4f}" if r.get("value") is not None else "none"
        lines.append(f"- trial {r['trial']} ({r['setting']}, replicate {r['replicate']}, {r.get('epochs')} epochs on "
                     f"{r.get('machine')}): {spec.objective} {spec.metric} {value}; why: {r['why']}")
    return lines


_CASE_COLUMNS = ("trial", "setting", "replicate", "seed", "fold", "case")


def case_score_rows(rows: Sequence[Mapping[str, Any]], spec: StudySpec) -> list[dict[str, Any]]:
    """One row per complete trial and validation case: the trial's setting, replicate and the case's score."""
    out = []
    for row in rows:
        if row["state"] != "complete" or not row.get("trial_dir"):
            continue
        for case, value in read_case_scores(Path(str(row["trial_dir"])) / "eval", spec.metric).items():
            out.append({"trial": row["trial"], "setting": row["setting"], "replicate": row["replicate"],
                        "seed": row["seed"], "fold": row["fold"], "case": case, spec.metric: value})
    return out


def paired_comparisons(
    case_rows: Sequence[Mapping[str, Any]], spec: StudySpec, *, seed: int = 0
) -> list[PairedComparison]:
    """Every setting against the study's reference setting, paired by ``(replicate, case)``; empty when the
    reference has no per-case scores (or the study names none). Best mean difference first."""
    reference = spec.reference_label
    by_setting: dict[str, dict[tuple[int, str], float]] = {}
    for r in case_rows:
        by_setting.setdefault(str(r["setting"]), {})[(int(r["replicate"]), str(r["case"]))] = float(r[spec.metric])
    if reference is None or reference not in by_setting:
        return []
    found = (compare_paired(name, scores, reference, by_setting[reference], maximize=spec.direction == "maximize",
                            seed=seed) for name, scores in by_setting.items() if name != reference)
    return sorted((c for c in found if c is not None), key=lambda c: -c.mean_difference)


def _paired_markdown(comparisons: Sequence[PairedComparison], spec: StudySpec) -> list[str]:
    if not comparisons:
        return []
    sign = "" if spec.direction == "maximize" else " (sign flipped: positive is lower, i.e. better)"
    lines = ["", f"## Paired against `{comparisons[0].reference}`", "",
             f"Per-case `{spec.metric}` of the final weights, setting minus reference{sign}, paired by replicate and "
             "validation case; 95 % percentile bootstrap interval of the mean difference (10000 resamples, seed 0) "
             "and the two-sided Wilcoxon signed-rank p-value. A setting is better or worse only when its interval "
             "excludes zero.", "",
             "| setting | pairs | mean difference | 95 % interval | Wilcoxon p | verdict |",
             "|---|---|---|---|---|---|"]
    for c in comparisons:
        lines.append(f"| {c.setting} | {c.n_pairs} | {c.mean_difference:+.4f} | [{c.ci_low:+.4f}, {c.ci_high:+.4f}] "
                     f"| {c.p_value:.3g} | {c.verdict} |")
    return lines


def _csv_text(rows: Sequence[Mapping[str, Any]], header: Sequence[str] = ()) -> str:
    """The rows as CSV, columns in first-seen order (``header`` first: the columns of an empty table)."""
    fields: list[str] = list(header)
    for row in rows:
        fields += [k for k in row if k not in fields]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_results(study: optuna.Study, spec: StudySpec, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``results.csv``, ``results.json``, ``summary.md``, ``case_scores.csv``, ``paired.csv`` and the plots
    into ``out_dir``. The same trials always give the same files (the bootstrap has a fixed seed).

    Returns:
        The written files by kind.

    Raises:
        ValueError: when the study has no finished trial yet.
    """
    rows, superseded = collect_rows(study, spec), superseded_rows(study, spec)
    if not rows:
        raise ValueError(f"study {spec.name!r} has no finished trial yet: nothing to report")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = summarise_settings(rows, spec)
    case_rows = case_score_rows(rows, spec)
    comparisons = paired_comparisons(case_rows, spec)
    files = {"csv": out / "results.csv", "json": out / "results.json", "markdown": out / "summary.md",
             "case_scores": out / "case_scores.csv", "paired": out / "paired.csv"}
    atomic_write_text(files["csv"], _csv_text(rows))
    atomic_write_text(files["case_scores"], _csv_text(case_rows, (*_CASE_COLUMNS, spec.metric)))
    atomic_write_text(files["paired"], _csv_text([c.as_dict() for c in comparisons],
                                                 tuple(PairedComparison.__dataclass_fields__)))
    summary = {"study": spec.name, "metric": spec.metric, "objective": spec.objective, "settings": table,
               "reference": spec.reference_label, "paired": [c.as_dict() for c in comparisons], "trials": rows,
               "superseded": superseded}
    atomic_write_text(files["json"], json.dumps(summary, indent=1, default=str) + "\n")
    atomic_write_text(files["markdown"], _markdown(table, spec, rows, comparisons, superseded))
    columns = _columns(spec, rows)
    complete = [r for r in rows if r["state"] == "complete"]
    if complete:
        files["settings_plot"] = save_figure(metric_by_setting(complete, columns), out / "metric_by_setting.png")
    curves = {int(r["trial"]): (str(r["setting"]), read_history(Path(str(r["trial_dir"])) / "eval"))
              for r in rows if r.get("trial_dir")}
    files["curves_plot"] = save_figure(validation_curves(curves, spec.metric), out / "validation_curves.png")
    return files
