"""Training through MONAI's runner and engines: kill and resume, torchrun with gloo, every loss, early stopping."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from bundle_helpers import in_place
from monai.bundle import ConfigParser

from attn_seg.bundles import bundle_command
from attn_seg.data import SyntheticSpec, write_synthetic_dataset
from attn_seg.engines import LOSSES, RECORD_FILE, bundle_workflow

CHECKPOINT_KEYS = {"model", "optimizer", "lr_scheduler", "trainer", "rng", "history", "best", "checkpointer"}


def _history(bundle: Path) -> list[dict]:
    return json.loads((bundle / "eval" / "history.json").read_text(encoding="utf-8"))["epochs"]


def _checkpoints(bundle: Path) -> list[str]:
    return sorted(p.name for p in (bundle / "models").iterdir() if p.name not in (".gitkeep", RECORD_FILE))


def _network(bundle: Path, overrides: dict) -> torch.nn.Module:
    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "train.json"))
    parser.update({k: v for k, v in overrides.items() if k.startswith("network_def")})
    return parser.get_parsed_content("network_def")


def _kill_after_first_checkpoint(cmd: list[str], models: Path, cwd: Path) -> None:
    """Run ``cmd`` and SIGKILL it as soon as its first epoch checkpoint is on disk."""
    child = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while child.poll() is None and not (models / "checkpoint_epoch=1.pt").exists():
            time.sleep(0.01)
        assert child.poll() is None, "training ended before it could be killed"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL


def test_sigkill_then_resume_finishes_the_same_run(
    bundle_copy: Path, synthetic_3d: Path, tiny_3d: dict, run_bundle_cli: Callable, tmp_path: Path
) -> None:
    overrides = {**tiny_3d, "dataset_dir": synthetic_3d, "epochs": 4, "val_interval": 1}
    models = bundle_copy / "models"
    cmd = bundle_command(bundle_copy, "train.json", "training", in_place(bundle_copy, overrides))
    _kill_after_first_checkpoint(cmd, models, tmp_path)

    written = sorted(models.glob("checkpoint_epoch=*.pt"))
    assert written, "no checkpoint survived the kill"
    state = torch.load(written[-1], map_location="cpu", weights_only=True)
    assert set(state) == CHECKPOINT_KEYS
    assert state["trainer"]["iteration"] >= state["trainer"]["epoch_length"]  # at least one whole epoch
    _network(bundle_copy, overrides).load_state_dict(state["model"], strict=True)

    run_bundle_cli(bundle_copy, "train.json", "training", {**overrides, "resume": True}, cwd=tmp_path)
    assert _checkpoints(bundle_copy) == ["checkpoint_epoch=4.pt", "model.pt"]
    assert (bundle_copy / "models" / RECORD_FILE).is_file()  # the run's settings beside its weights
    resumed = _history(bundle_copy)
    assert [row["epoch"] for row in resumed] == [1, 2, 3, 4]

    reference = tmp_path / "uninterrupted"
    shutil.copytree(bundle_copy, reference, ignore=shutil.ignore_patterns("eval", "*.pt"))
    run_bundle_cli(reference, "train.json", "training", overrides, cwd=tmp_path)
    for got, want in zip(resumed, _history(reference), strict=True):
        assert got["train_loss"] == pytest.approx(want["train_loss"], rel=1e-6)
        assert got["val_mean_dice"] == pytest.approx(want["val_mean_dice"], rel=1e-6)


def test_fresh_run_refuses_to_overwrite_an_earlier_run(
    bundle_copy: Path, synthetic_3d: Path, tiny_3d: dict, tmp_path: Path
) -> None:
    earlier = bundle_copy / "models" / "model.pt"
    earlier.write_bytes(b"an earlier run's weights")
    overrides = in_place(bundle_copy, {**tiny_3d, "dataset_dir": synthetic_3d, "epochs": 1})
    cmd = bundle_command(bundle_copy, "train.json", "training", overrides)
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, encoding="utf-8", errors="replace", check=False)
    assert proc.returncode != 0
    assert "holds checkpoints of an earlier run (model.pt)" in proc.stderr + proc.stdout
    assert earlier.read_bytes() == b"an earlier run's weights"
    assert _checkpoints(bundle_copy) == ["model.pt"]


def test_torchrun_two_processes_gloo(bundle_copy: Path, tiny_3d: dict, tmp_path: Path) -> None:
    """Two processes share one run folder (rank 0 names it), and the best model is promoted into the bundle."""
    data = tmp_path / "data"
    write_synthetic_dataset(data, spec=SyntheticSpec(spatial_dims=3), num_cases=4, num_test=0, seed=3)
    overrides = {**tiny_3d, "dataset_dir": data, "epochs": 2, "val_interval": 1, "val_fraction": 0.5}
    runner = bundle_command(bundle_copy, "train.json", "training", {**overrides, "promote": True})
    configs = bundle_copy / "configs"
    files = repr([str(configs / "train.json"), str(configs / "multi_gpu_train.json")])
    runner[runner.index("--config_file") + 1] = files
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(torchrun + runner[1:], cwd=tmp_path, env=env, capture_output=True, encoding="utf-8",
                          errors="replace", check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    (run,) = (tmp_path / "runs" / bundle_copy.name).iterdir()
    assert _checkpoints(run) == ["checkpoint_epoch=2.pt", "model.pt"]
    assert [row["epoch"] for row in _history(run)] == [1, 2]
    state = torch.load(run / "models" / "model.pt", map_location="cpu", weights_only=True)
    _network(bundle_copy, overrides).load_state_dict(state, strict=True)
    promoted = torch.load(bundle_copy / "models" / "model.pt", map_location="cpu", weights_only=True)
    assert all(torch.equal(promoted[k], v) for k, v in state.items())
    assert proc.stdout.count("Epoch[2] Metrics -- val_dice_lesion") + proc.stderr.count(
        "Epoch[2] Metrics -- val_dice_lesion"
    ) == 1, "validation metrics should be logged by rank 0 only"


def _train(bundle: Path, data: Path, tiny: dict, **settings: object) -> list[dict]:
    overrides = {**tiny, "dataset_dir": str(data), "epochs": 1, "val_interval": 1, "tensorboard": False, **settings}
    workflow = bundle_workflow(bundle, overrides=in_place(bundle, overrides))
    workflow.initialize()
    workflow.run()
    workflow.finalize()
    return _history(bundle)


@pytest.mark.parametrize(
    "settings",
    [{"loss_name": name, "loss_kwargs": {}} for name in sorted(LOSSES)]
    + [
        {"deep_supervision": True},
        {"deep_supervision": True, "loss_name": "dice_focal", "loss_kwargs": {}, "class_weights": [0.2, 1.0, 2.0]},
        {"precision": "bf16"},
        {"optimizer_name": "sgd", "scheduler_name": "poly", "learning_rate": 0.01},
        {"optimizer_name": "novograd", "scheduler_name": "cosine", "epochs": 2, "warmup_epochs": 1},
    ],
    ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items() if k != "loss_kwargs"),
)
def test_short_training_without_nan(bundle_copy: Path, synthetic_3d: Path, tiny_3d: dict, settings: dict) -> None:
    history = _train(bundle_copy, synthetic_3d, tiny_3d, **settings)
    assert history
    assert all(math.isfinite(row["train_loss"]) for row in history)
    assert all(math.isfinite(row["val_mean_dice"]) for row in history)
    state = torch.load(bundle_copy / "models" / "model.pt", map_location="cpu", weights_only=True)
    for deep_supervision in (False, True):  # heads are always built: the checkpoint loads either way
        net_overrides = {**tiny_3d, "network_def#deep_supervision": deep_supervision}
        _network(bundle_copy, net_overrides).load_state_dict(state, strict=True)


@pytest.mark.slow  # 30-60 s here: run with `pytest -m slow`
def test_compiled_training_matches_eager_and_saves_plain_weights(
    bundle_copy: Path, synthetic_3d: Path, tiny_3d: dict, tmp_path: Path
) -> None:
    overrides = {**tiny_3d, "dataset_dir": synthetic_3d, "epochs": 2, "val_interval": 1, "tensorboard": False}
    env = {**os.environ, "PYTHONUTF8": "1"}  # torch.compile needs it under an ASCII locale (see compile_flag)
    runs = {}
    for name, setting in (("eager", "false"), ("compiled", "true")):
        bundle = shutil.copytree(bundle_copy, tmp_path / name)
        cmd = bundle_command(bundle, "train.json", "training", in_place(bundle, {**overrides, "compile": setting}))
        proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, encoding="utf-8", errors="replace",
                              check=False)
        assert proc.returncode == 0, proc.stderr[-4000:]
        runs[name] = (_history(bundle), proc.stderr)
    (eager, eager_log), (compiled, compiled_log) = runs["eager"], runs["compiled"]
    marker = "Will convert to PyTorch Tensor if using compile"  # MONAI's trainer says so when it compiles
    assert marker in compiled_log
    assert marker not in eager_log  # "false" from the command line is off, not a true string
    # the same computation with fused kernels: only the rounding differs (fp32), so the runs agree closely
    for got, want in zip(compiled, eager, strict=True):
        assert got["train_loss"] == pytest.approx(want["train_loss"], rel=1e-3)
        assert got["val_mean_dice"] == pytest.approx(want["val_mean_dice"], abs=1e-2)
    state = torch.load(tmp_path / "compiled" / "models" / "model.pt", map_location="cpu", weights_only=True)
    _network(bundle_copy, tiny_3d).load_state_dict(state, strict=True)  # no "_orig_mod." prefixes


def test_early_stopping_ends_the_run(bundle_copy: Path, synthetic_3d: Path, tiny_3d: dict) -> None:
    history = _train(bundle_copy, synthetic_3d, tiny_3d, epochs=6, early_stop_patience=1, early_stop_min_delta=10.0)
    assert [row["epoch"] for row in history] == [1, 2]


@pytest.mark.slow  # 30-60 s here: run with `pytest -m slow`
def test_mlflow_tracking_through_monai_runner(
    bundle_copy: Path, synthetic_3d: Path, tiny_3d: dict, run_bundle_cli: Callable, tmp_path: Path
) -> None:
    mlflow = pytest.importorskip("mlflow", reason="the `mlflow` extra is not installed")
    from monai.utils import path_to_sqlite_uri

    overrides = {**tiny_3d, "dataset_dir": synthetic_3d, "epochs": 2, "val_interval": 1, "tracking": "mlflow"}
    run_bundle_cli(bundle_copy, "train.json", "training", overrides, cwd=tmp_path)
    client = mlflow.MlflowClient(path_to_sqlite_uri(str(bundle_copy / "eval" / "mlruns.db")))
    experiments = [e.experiment_id for e in client.search_experiments()]
    metrics = set().union(*(run.data.metrics for run in client.search_runs(experiments)))
    assert {"train_loss", "val_mean_dice", "val_dice_organ", "val_dice_lesion", "lr_group_0"} <= metrics
