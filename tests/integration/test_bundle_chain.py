"""One bundle through MONAI's runner as a user chains it: ``run training`` -> ``run evaluating`` -> ``run``
(inference) -> ``run training --resume true``, which picks up the checkpoint and continues the same run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import torch


def _epochs(bundle: Path) -> list[int]:
    history = json.loads((bundle / "eval" / "history.json").read_text(encoding="utf-8"))
    return [row["epoch"] for row in history["epochs"]]


def test_train_evaluate_infer_then_resume(
    bundle_copy: Path, synthetic_3d: Path, tiny_3d: dict, run_bundle_cli: Callable, tmp_path: Path
) -> None:
    models = bundle_copy / "models"
    train = {**tiny_3d, "dataset_dir": synthetic_3d, "epochs": 2, "val_interval": 1}
    run_bundle_cli(bundle_copy, "train.json", "training", train, cwd=tmp_path)
    assert sorted(p.name for p in models.glob("*.pt")) == ["checkpoint_epoch=2.pt", "model.pt"]
    assert _epochs(bundle_copy) == [1, 2]
    best = torch.load(models / "model.pt", map_location="cpu", weights_only=True)

    run_bundle_cli(bundle_copy, ["train.json", "evaluate.json"], "evaluating", {**tiny_3d, "dataset_dir": synthetic_3d},
                   cwd=tmp_path)
    assert (bundle_copy / "eval" / "report" / "metrics.csv").is_file()

    net = {k: v for k, v in tiny_3d.items() if k.startswith("network_def") or k in ("roi_size", "pixdim")}
    out = tmp_path / "pred"
    run_bundle_cli(bundle_copy, "inference.json", "run",
                   {**net, "input_dir": synthetic_3d / "imagesTs", "output_dir": out}, cwd=tmp_path)
    for image in sorted((synthetic_3d / "imagesTs").glob("*.nii.gz")):
        assert nib.load(out / image.name.replace(".nii.gz", "_seg.nii.gz")).shape == nib.load(image).shape

    proc = run_bundle_cli(bundle_copy, "train.json", "training", {**train, "epochs": 3, "resume": True}, cwd=tmp_path)
    assert "resuming from iteration" in proc.stdout + proc.stderr
    assert "epoch 2 until 3 epochs" in proc.stdout + proc.stderr  # not from epoch 0: the checkpoint was loaded
    assert sorted(p.name for p in models.glob("*.pt")) == ["checkpoint_epoch=3.pt", "model.pt"]
    assert _epochs(bundle_copy) == [1, 2, 3]
    state = torch.load(models / "checkpoint_epoch=3.pt", map_location="cpu", weights_only=True)
    assert state["trainer"]["iteration"] == 3 * state["trainer"]["epoch_length"]
    assert set(best) == set(state["model"])
