"""Attention-map pictures of a study's best trial: validation cases with truth, prediction and every gate's map."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from attn_seg.engines import bundle_workflow
from attn_seg.inference import SegmentationInferer, read_state_dict
from attn_seg.studies.spec import StudySpec
from attn_seg.visualize import case_panel, save_figure

__all__ = ["attention_pictures", "best_row"]


def best_row(rows: Sequence[Mapping[str, Any]], spec: StudySpec) -> Mapping[str, Any]:
    """The complete trial with the best objective value that kept a checkpoint.

    Raises:
        ValueError: when no complete trial has a checkpoint.
    """
    usable = [r for r in rows if r["state"] == "complete" and r.get("checkpoint") and r.get("value") is not None]
    if not usable:
        raise ValueError(f"study {spec.name!r}: no complete trial with a checkpoint to draw")
    return max(usable, key=lambda r: spec.score(float(r["value"])))


def attention_pictures(
    row: Mapping[str, Any], spec: StudySpec, out_dir: str | os.PathLike[str], *, max_cases: int = 2
) -> list[Path]:
    """Draw the first ``max_cases`` validation cases of a trial with its best checkpoint's attention maps.

    The trial's own configs and overrides (``trial.json``) rebuild its network, validation split and
    preprocessing, so the pictures show what the trial saw (in the preprocessed grid).

    Args:
        row: a results row (:func:`~attn_seg.studies.results.collect_rows`) with ``trial_dir`` and ``checkpoint``.
        spec: the study.
        out_dir: where to write ``attention_trial<N>_<case>.png``.
        max_cases: how many validation cases to draw.

    Returns:
        The written pictures.
    """
    trial_dir = Path(str(row["trial_dir"]))
    record = json.loads((trial_dir / "trial.json").read_text(encoding="utf-8"))
    overrides = {**record["overrides"], "ckpt_dir": str(trial_dir / "models"), "output_dir": str(trial_dir / "eval")}
    parser = bundle_workflow(spec.bundle, record["config_files"], "train", overrides).parser
    network = parser.get_parsed_content("network_def")
    network.load_state_dict(read_state_dict(str(row["checkpoint"])), strict=True)
    network.eval()
    levels = [f"gate, level {k}" for k, gated in enumerate(network.level_is_gated) if gated]
    inferer = SegmentationInferer(parser.get_parsed_content("roi_size"), 4, 0.25, attention=True, precision="fp32")
    transform = parser.get_parsed_content("validate#preprocessing")
    names = {i + 1: str(n) for i, n in enumerate(parser.get_parsed_content("classes"))}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for item in parser.get_parsed_content("split")[1][:max_cases]:
        data = transform(dict(item))
        image, label = data["image"], data["label"]
        probs, maps = inferer.split(inferer(torch.as_tensor(image)[None], network))
        pred = probs.argmax(1)[0].numpy().astype(np.int16)
        heat = [m[0].mean(0).numpy() for m in maps]
        case = Path(str(item["image"])).name.split(".")[0]
        fig = case_panel(np.asarray(label[0]).astype(np.int16), pred, np.asarray(image.affine, dtype=float),
                         image=np.asarray(image[0]), attention=heat, class_names=names, gate_names=levels,
                         title=f"{spec.name}: trial {row['trial']} ({row['setting']}), case {case}")
        written.append(save_figure(fig, out / f"attention_trial{row['trial']}_{case}.png"))
    return written
