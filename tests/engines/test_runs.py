"""Run folders: a new folder per run, the latest run for resume and evaluation, promotion into the bundle."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from attn_seg.engines import RECORD_FILE, PromoteBest, bundle_runs_dir, latest_run, training_run
from attn_seg.engines import runs as runs_module


@pytest.fixture(autouse=True)
def _fresh_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a new process would: no run folder chosen yet."""
    monkeypatch.setattr(runs_module, "_CHOSEN", {})


def _run(root: Path, name: str, files: tuple[str, ...], age_s: int) -> Path:
    models = root / name / "models"
    models.mkdir(parents=True)
    for f in files:
        (models / f).write_bytes(b"x")
    stamp = 1_700_000_000 + age_s
    os.utime(models, (stamp, stamp))
    return root / name


def test_bundle_runs_dir_is_named_after_the_bundle_folder(tmp_path: Path) -> None:
    assert bundle_runs_dir(tmp_path / "bundles" / "attention_unet_3d_ct") == str(Path("runs/attention_unet_3d_ct"))
    assert bundle_runs_dir(tmp_path / "b", runs_root=tmp_path / "r") == str(tmp_path / "r" / "b")


def test_a_new_run_gets_a_new_folder_even_in_the_same_second(tmp_path: Path) -> None:
    first = training_run(tmp_path, "", False)
    assert training_run(tmp_path, "", False) == first  # the same config read twice before the run wrote anything
    (Path(first) / "models").mkdir()  # the run started
    second = training_run(tmp_path, "", "false")  # a second run in the same process
    runs_module._CHOSEN.clear()
    assert training_run(tmp_path, "", False) not in (first, second)  # another process
    assert first != second
    assert Path(first).is_dir()
    assert Path(second).is_dir()
    assert Path(first).parent == Path(second).parent == tmp_path


def test_a_named_run_uses_that_folder(tmp_path: Path) -> None:
    assert training_run(tmp_path, "baseline", False) == str(tmp_path / "baseline")
    assert (tmp_path / "baseline").is_dir()


def test_resume_takes_the_latest_run_with_a_checkpoint(tmp_path: Path) -> None:
    _run(tmp_path, "20261201-100000", ("checkpoint_epoch=3.pt",), age_s=0)
    latest = _run(tmp_path, "20261201-110000", ("checkpoint_epoch=1.pt",), age_s=10)
    _run(tmp_path, "20261201-120000", (), age_s=20)  # started, killed before its first checkpoint
    assert training_run(tmp_path, "", "true") == str(latest)
    assert training_run(tmp_path, "20261201-100000", True) == str(tmp_path / "20261201-100000")


def test_resume_without_a_run_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"holds no training run with models/checkpoint_epoch=\*\.pt"):
        training_run(tmp_path / "runs" / "b", "", True)
    with pytest.raises(FileNotFoundError, match="`run_name` 'nope'"):
        training_run(tmp_path, "nope", True)


def test_latest_run_for_evaluation_needs_a_best_model(tmp_path: Path) -> None:
    best = _run(tmp_path, "a", ("model.pt",), age_s=0)
    _run(tmp_path, "b", ("checkpoint_epoch=1.pt",), age_s=10)  # no validation yet
    assert latest_run(tmp_path) == str(best)
    with pytest.raises(FileNotFoundError, match="--ckpt_dir"):
        latest_run(tmp_path / "empty")


def test_promote_copies_each_new_best_with_its_record(tmp_path: Path) -> None:
    run, bundle_models = tmp_path / "run" / "models", tmp_path / "bundle" / "models"
    run.mkdir(parents=True)
    promote = PromoteBest(run, bundle_models, enabled="true")
    assert promote() is False  # no best model yet
    (run / RECORD_FILE).write_text(json.dumps({"settings": {"roi_size": [32, 32, 16]}}))
    (run / "model.pt").write_bytes(b"best at epoch 1")
    assert promote() is True
    assert promote() is False  # unchanged since
    assert (bundle_models / "model.pt").read_bytes() == b"best at epoch 1"
    assert json.loads((bundle_models / RECORD_FILE).read_text())["settings"]["roi_size"] == [32, 32, 16]
    (run / "model.pt").write_bytes(b"best at epoch 2, a new one")
    assert promote() is True
    assert (bundle_models / "model.pt").read_bytes() == b"best at epoch 2, a new one"
    assert sorted(p.name for p in bundle_models.iterdir()) == ["model.pt", RECORD_FILE]  # no temporaries left


def test_promote_off_or_in_place_copies_nothing(tmp_path: Path) -> None:
    (tmp_path / "model.pt").write_bytes(b"w")
    assert PromoteBest(tmp_path, tmp_path, enabled=True)() is False  # --ckpt_dir is the bundle's models/
    with pytest.raises(ValueError, match="promote"):
        PromoteBest(tmp_path, tmp_path / "other", enabled="maybe")
