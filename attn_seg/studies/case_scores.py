"""Per-case scores of a trial's validation: what the paired statistics compare.

:class:`CaseScores` attaches to a bundle's validator; after each validation it writes ``case_scores.csv`` (one row
per validation case: its name, the study metric's per-case value and one value per class), overwriting the
previous validation's, so after training the file scores the final weights. It reads the per-image buffer MONAI's
metric handlers keep (``engine.state.metric_details``, ``save_details=True``, their default) and the case names
from each batch's image metadata.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ignite.engine import Engine, Events

from attn_seg.data.naming import case_name
from attn_seg.files import atomic_write_text

__all__ = ["CASE_SCORES", "CaseScores", "read_case_scores"]

#: The file a trial's per-case scores are written to (in its ``eval/`` folder).
CASE_SCORES = "case_scores.csv"


def _filenames(batch: Any) -> list[str]:
    """The image file of each item of a (decollated or collated) batch; ``"?"`` where none is recorded."""
    items = batch if isinstance(batch, list | tuple) else [batch]
    names: list[str] = []
    for item in items:
        image = item.get("image") if isinstance(item, dict) else None
        meta = getattr(image, "meta", None) or (item.get("image_meta_dict") if isinstance(item, dict) else None) or {}
        value = meta.get("filename_or_obj", "?")
        names += [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
    return names


def _unique(names: Sequence[str]) -> list[str]:
    """Case names of the files, made unique (``name~2``) where two files share one."""
    out: list[str] = []
    for name in (case_name(n) for n in names):
        label, k = name, 1
        while label in out:
            k += 1
            label = f"{name}~{k}"
        out.append(label)
    return out


class CaseScores:
    """Write the per-case values of ``metric`` after each validation to ``output_dir/case_scores.csv``.

    Args:
        metric: the validator's metric whose per-image buffer is written (e.g. ``"val_mean_dice"``).
        output_dir: the folder of the file (created).
    """

    def __init__(self, metric: str, output_dir: str | os.PathLike[str]) -> None:
        self.metric = metric
        self.path = Path(output_dir) / CASE_SCORES
        self._files: list[str] = []

    def attach(self, engine: Engine) -> None:
        """Collect case names each iteration, write the file when the validation completes."""
        engine.add_event_handler(Events.EPOCH_STARTED, self._started)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._collect)
        engine.add_event_handler(Events.COMPLETED, self)

    def _started(self, _: Engine) -> None:
        self._files = []

    def _collect(self, engine: Engine) -> None:
        self._files += _filenames(engine.state.batch)

    def __call__(self, engine: Engine) -> None:
        """Write the file; nothing when the metric keeps no per-image buffer."""
        details = getattr(engine.state, "metric_details", {}).get(self.metric)
        if details is None:
            return
        values = np.asarray(details.detach().cpu().float() if hasattr(details, "detach") else details, dtype=float)
        values = values.reshape(values.shape[0], -1)
        if values.shape[0] != len(self._files):
            raise RuntimeError(f"{self.metric}: {values.shape[0]} per-case values for {len(self._files)} cases")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, _csv(self.metric, _unique(self._files), values))


def _csv(metric: str, cases: Sequence[str], values: np.ndarray) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["case", metric, *(f"{metric}_class{k + 1}" for k in range(values.shape[1]))])
    for case, row in zip(cases, values, strict=True):
        finite = row[np.isfinite(row)]
        mean = float(finite.mean()) if finite.size else math.nan
        writer.writerow([case, repr(mean), *(repr(float(v)) for v in row)])
    return buffer.getvalue()


def read_case_scores(output_dir: str | os.PathLike[str], metric: str) -> dict[str, float]:
    """``{case: value}`` of a trial's ``case_scores.csv`` (empty when it wrote none or lacks ``metric``)."""
    path = Path(output_dir) / CASE_SCORES
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return {row["case"]: float(row[metric]) for row in rows if metric in row}
