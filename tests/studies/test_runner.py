"""Running studies for real: Optuna trials in SQLite, bundle training in-process, kill and resume."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from attn_seg.cli import main
from attn_seg.engines.precision import cpu_model
from attn_seg.studies import (
    load_study,
    open_study,
    other_machine_trials,
    run_study,
    run_training,
    storage_url,
    trial_config,
)

REPO = Path(__file__).resolve().parents[2]


def _trials(out: Path, name: str = "tiny") -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=storage_url(out)).get_trials()


def _complete_keys(trials: list[optuna.trial.FrozenTrial]) -> list[tuple[str, int]]:
    return sorted((json.dumps(t.params, sort_keys=True), t.user_attrs["replicate"]) for t in trials
                  if t.state == TrialState.COMPLETE)


def _wait_for(path: Path, proc: subprocess.Popen, what: str) -> None:
    while not path.exists():
        if proc.poll() is not None:
            log = proc.stdout.read() if proc.stdout else ""
            pytest.fail(f"the study exited ({proc.returncode}) before {what}:\n{log[-3000:]}")
        time.sleep(0.05)


@pytest.mark.slow  # 30-60 s here: run with `pytest -m slow`
def test_killed_study_resumes_and_records_each_trial_once(make_study: Callable[..., Path], tmp_path: Path) -> None:
    study_file = make_study(epochs=3)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "attn_seg", "study", str(study_file), "-o", str(out)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            encoding="utf-8", errors="replace")
    try:
        # trial 1 writes its train.log once it is training: the first trial is finished by then
        _wait_for(out / "trials" / "0001" / "train.log", proc, "the second trial started")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    states = {t.number: t.state for t in _trials(out)}
    assert states == {0: TrialState.COMPLETE, 1: TrialState.RUNNING}

    resumed = subprocess.run(cmd, cwd=REPO, capture_output=True, encoding="utf-8", errors="replace",
                             check=False)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "1 trial(s) run, 0 failed, 1 killed trial(s) recovered, 0 left" in resumed.stdout
    trials = _trials(out)
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE]
    assert "error" not in trials[1].user_attrs  # killed, not broken: run again as trial 2
    assert _complete_keys(trials) == [('{"network": "attention"}', 0), ('{"network": "unet"}', 0)]
    with (out / "results.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["setting"] for r in rows) == ["network=attention", "network=unet"]
    assert {r["state"] for r in rows} == {"complete"}
    for row in rows:
        assert Path(row["checkpoint"]).is_file()
        assert 0.0 <= float(row["last_val_mean_dice"]) <= 1.0
        assert row["last_epoch"] == "3"

    again = subprocess.run(cmd, cwd=REPO, capture_output=True, encoding="utf-8", errors="replace",
                             check=False)
    assert again.returncode == 0
    assert "0 trial(s) run" in again.stdout
    assert len(_trials(out)) == 3


def test_failed_trial_is_reported_and_others_run(make_study: Callable[..., Path], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    study_file = make_study(parameters={"loss_name": ["dice", "no_such_loss"]}, epochs=1)
    out = tmp_path / "out"
    assert main(["study", str(study_file), "-o", str(out)]) == 1
    trials = _trials(out)
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL]
    assert "no_such_loss" in trials[1].user_attrs["error"]
    assert "no_such_loss" in capsys.readouterr().out
    # not retried unless asked: the failure is a result
    assert main(["study", str(study_file), "-o", str(out)]) == 0
    assert len(_trials(out)) == 2
    assert main(["study", str(study_file), "-o", str(out), "--retry-failed"]) == 1
    assert [t.state for t in _trials(out)] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.FAIL]


def test_sampled_study_runs_every_replicate_of_each_setting(make_study: Callable[..., Path], tmp_path: Path) -> None:
    study_file = make_study(
        parameters={"learning_rate": {"low": 1e-3, "high": 1e-2, "log": True}, "loss_name": ["dice", "dice_ce"]},
        sampler="random", n_settings=2, seeds=[0, 1], epochs=1,
    )
    out = tmp_path / "out"
    assert main(["study", str(study_file), "-o", str(out)]) == 0
    trials = _trials(out)
    assert len(trials) == 4
    assert all(t.state == TrialState.COMPLETE for t in trials)
    settings: dict[str, list[int]] = {}
    for t in trials:
        settings.setdefault(json.dumps(t.params, sort_keys=True), []).append(t.user_attrs["seed"])
    assert sorted(sorted(s) for s in settings.values()) == [[0, 1], [0, 1]]
    record = json.loads((Path(trials[0].user_attrs["trial_dir"]) / "trial.json").read_text(encoding="utf-8"))
    assert record["overrides"]["learning_rate"] == pytest.approx(trials[0].params["learning_rate"])


def test_resumed_sampled_study_draws_new_settings(make_study: Callable[..., Path], tmp_path: Path) -> None:
    values = [0.001, 0.002, 0.004, 0.008]
    study_file = make_study(
        parameters={"learning_rate": {"key": "learning_rate", "values": values},
                    "weight_decay": {"key": "weight_decay", "values": [0.0, 1e-5, 1e-4, 1e-3]},
                    "loss_name": ["dice", "dice_ce", "dice_focal"]},
        sampler="random", n_settings=4, epochs=1,
    )
    out = tmp_path / "out"
    for _ in range(2):  # two sittings: a sampler seeded alike in both would replay the first one's settings
        assert main(["study", str(study_file), "-o", str(out), "--max-trials", "2"]) == 0
    trials = _trials(out)
    assert [t.number for t in trials if "duplicate_of" in t.user_attrs] == []
    assert len({json.dumps(t.params, sort_keys=True) for t in trials}) == len(trials) == 4


def test_sampler_stuck_on_settings_already_run_stops(make_study: Callable[..., Path], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # sampler seed 2 draws "dice" three times in a row: after the first trains it, two redraws step aside
    monkeypatch.setattr("attn_seg.studies.runner._MAX_REDRAWS", 2)
    spec = load_study(make_study(parameters={"loss_name": ["dice", "dice_ce"]}, sampler="random", n_settings=2,
                                 sampler_seed=2, epochs=1))
    result = run_study(spec, tmp_path / "out")
    assert (result.ran, result.remaining) == (1, 1)
    assert ["duplicate_of" in t.user_attrs for t in _trials(tmp_path / "out")] == [False, True, True]


def test_folds_give_each_trial_its_fold(make_study: Callable[..., Path], tmp_path: Path) -> None:
    study_file = make_study(parameters={"loss_name": ["dice"]}, folds=2, epochs=1)
    out = tmp_path / "out"
    assert main(["study", str(study_file), "-o", str(out)]) == 0
    trials = _trials(out)
    assert sorted(t.user_attrs["fold"] for t in trials) == [0, 1]
    for t in trials:
        record = json.loads((Path(t.user_attrs["trial_dir"]) / "trial.json").read_text(encoding="utf-8"))
        overrides = record["overrides"]
        assert (overrides["fold"], overrides["num_folds"]) == (t.user_attrs["fold"], 2)


def test_changed_study_file_is_refused_on_resume(make_study: Callable[..., Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_study(load_study(make_study(epochs=1)), out, max_trials=1)
    with pytest.raises(ValueError, match=r"different study file \(changed: \['epochs'\]\)"):
        run_study(load_study(make_study(epochs=2)), out)
    # what only changes the report may be edited
    run_study(load_study(make_study(epochs=1, description="now described", report_metrics=["val_dice_organ"])), out,
              max_trials=1)


def test_max_trials_stops_early_and_counts_what_is_left(make_study: Callable[..., Path], tmp_path: Path) -> None:
    run = run_study(load_study(make_study(epochs=1, seeds=[0, 1])), tmp_path / "out", max_trials=1)
    assert (run.ran, run.failed, run.remaining) == (1, [], 3)


def test_grid_study_runs_every_setting_on_a_replicate_before_the_next(
    make_study: Callable[..., Path], tmp_path: Path
) -> None:
    """Stopped after two trials, a 2-setting x 2-seed grid holds both settings on seed 0: one paired replicate."""
    out = tmp_path / "out"
    run_study(load_study(make_study(epochs=1, seeds=[0, 1])), out, max_trials=2)
    done = [(t.params["network"], t.user_attrs["seed"]) for t in _trials(out) if t.state == TrialState.COMPLETE]
    assert sorted(done) == [("attention", 0), ("unet", 0)]


def test_pruned_and_timed_out_training(make_study: Callable[..., Path], tmp_path: Path) -> None:
    spec = load_study(make_study(epochs=6))
    files, overrides = trial_config(spec, {"network": "attention"}, 0)
    steps: list[int] = []

    def prune_at_two(step: int, value: float) -> bool:
        steps.append(step)
        return step >= 2

    pruned = run_training(spec.bundle, files, overrides, tmp_path / "pruned", metric="val_mean_dice",
                          reporter=prune_at_two)
    assert (pruned.pruned, pruned.epochs, steps) == (True, 2, [1, 2])
    assert (tmp_path / "pruned" / "train.log").stat().st_size > 0

    # 1 s against an epoch of 300 iterations: the time limit stops the first epoch
    long_epoch = {**overrides, "epochs": 10_000, "val_interval": 10_000, "num_samples": 100}
    limited = run_training(spec.bundle, files, long_epoch, tmp_path / "limited", metric="val_mean_dice",
                           minutes=1 / 60)
    assert limited.timed_out
    assert not limited.pruned
    assert limited.epochs == 1
    # the final weights are validated although the interval was never reached
    assert [row["epoch"] for row in limited.history if "val_mean_dice" in row] == [limited.epochs]


def test_wall_time_budget_fits_the_epochs_and_the_schedule(make_study: Callable[..., Path], tmp_path: Path) -> None:
    spec = load_study(make_study())
    files, overrides = trial_config(spec, {"network": "attention"}, 0)
    settings = {**overrides, "epochs": 10_000, "val_interval": 1, "scheduler_name": "cosine", "learning_rate": 0.01}
    fitted = run_training(spec.bundle, files, settings, tmp_path / "fitted", metric="val_mean_dice", minutes=0.1)
    assert 3 <= fitted.epochs < 10_000
    rates = [row["lr"] for row in fitted.history if "lr" in row]
    assert len(rates) == fitted.epochs
    assert rates[0] > 0.005  # early: close to the initial 0.01
    assert rates[-1] < 0.002  # the cosine schedule was fitted to the budget and has decayed by its end


def test_report_and_pictures(
    make_study: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study_file = make_study(epochs=2, description="two networks")
    out = tmp_path / "out"
    assert main(["study", str(study_file), "-o", str(out), "--pictures", "1"]) == 0
    text = capsys.readouterr().out
    assert "| network=" in text
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "two networks" in summary
    settings_table, paired = summary.split("## Paired against `network=unet`")
    assert settings_table.count("| network=") == 2
    assert "| network=attention | 1 |" in paired
    assert "too few pairs" in paired
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert {s["setting"] for s in data["settings"]} == {"network=unet", "network=attention"}
    for name in ("metric_by_setting.png", "validation_curves.png"):
        assert (out / name).stat().st_size > 1000
    pictures = list((out / "pictures").glob("attention_trial*.png"))
    assert len(pictures) == 1
    assert main(["study", str(study_file), "-o", str(out), "--report-only"]) == 0
    assert open_study(load_study(study_file), storage_url(out)).trials[0].state == TrialState.COMPLETE


def test_each_trial_records_its_machine_and_mixed_machines_are_flagged(
    make_study: Callable[..., Path], tmp_path: Path
) -> None:
    study_file, out = make_study(epochs=1), tmp_path / "out"
    assert main(["study", str(study_file), "-o", str(out)]) == 0
    with (out / "results.csv").open(encoding="utf-8") as f:
        assert {row["machine"] for row in csv.DictReader(f)} == {cpu_model()}
    assert f"Machine: {cpu_model()}." in (out / "summary.md").read_text(encoding="utf-8")

    # the study resumed on another machine: its second trial's record says so
    with sqlite3.connect(out / "study.db") as db:
        db.execute("UPDATE trial_user_attributes SET value_json = ? WHERE key = 'machine' AND trial_id = "
                   "(SELECT MAX(trial_id) FROM trials)", (json.dumps("Other CPU"),))
    assert main(["study", str(study_file), "-o", str(out), "--report-only"]) == 0
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert f"**Trials ran on 2 machines** ({'; '.join(sorted([cpu_model(), 'Other CPU']))};" in summary


def test_trials_score_each_validation_case_and_settings_are_paired(
    make_study: Callable[..., Path], tmp_path: Path
) -> None:
    study_file = make_study(epochs=2, seeds=[0, 1])
    spec = json.loads(study_file.read_text(encoding="utf-8"))
    spec["overrides"]["val_fraction"] = 0.5  # 3 of the 6 cases
    study_file.write_text(json.dumps(spec), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["study", str(study_file), "-o", str(out)]) == 0

    with (out / "results.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    for row in rows:
        with (Path(row["trial_dir"]) / "eval" / "case_scores.csv").open(encoding="utf-8") as f:
            cases = list(csv.DictReader(f))
        assert len(cases) == 3
        scores = [float(c["val_mean_dice"]) for c in cases]
        assert sum(scores) / 3 == pytest.approx(float(row["last_val_mean_dice"]), rel=1e-5)
    with (out / "case_scores.csv").open(encoding="utf-8") as f:
        case_rows = list(csv.DictReader(f))
    assert len(case_rows) == 12
    # the same seed validates the same cases whatever the setting
    for seed in ("0", "1"):
        names = {s: sorted(r["case"] for r in case_rows if r["seed"] == seed and r["setting"] == s)
                 for s in ("network=unet", "network=attention")}
        assert names["network=unet"] == names["network=attention"]

    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "## Paired against `network=unet`" in summary  # the grid's first choice is the reference
    with (out / "paired.csv").open(encoding="utf-8") as f:
        (paired,) = list(csv.DictReader(f))
    assert paired["setting"] == "network=attention"
    assert paired["n_pairs"] == "6"
    assert float(paired["ci_low"]) <= float(paired["mean_difference"]) <= float(paired["ci_high"])
    by_key = {(r["seed"], r["case"], r["setting"]): float(r["val_mean_dice"]) for r in case_rows}
    diffs = [by_key[(s, c, "network=attention")] - by_key[(s, c, "network=unet")]
             for s, c, name in by_key if name == "network=unet"]
    assert float(paired["mean_difference"]) == pytest.approx(sum(diffs) / 6)

    # a finished study trains nothing when run again and rewrites the same tables
    first = {n: (out / n).read_bytes() for n in ("summary.md", "paired.csv", "case_scores.csv", "results.csv")}
    assert main(["study", str(study_file), "-o", str(out)]) == 0
    assert {n: (out / n).read_bytes() for n in first} == first


def test_rerun_sets_trials_aside_and_trains_their_runs_again(
    make_study: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study_file, out = make_study(epochs=1, minutes=5, seeds=[0, 1]), tmp_path / "out"
    assert main(["study", str(study_file), "-o", str(out), "--max-trials", "3"]) == 0  # replicate 1 half done
    with sqlite3.connect(out / "study.db") as db:  # its first trial ran on another machine
        db.execute("UPDATE trial_user_attributes SET value_json = ? WHERE key = 'machine' AND trial_id = "
                   "(SELECT MAX(trial_id) FROM trials)", (json.dumps("Other CPU"),))
    assert main(["study", str(study_file), "-o", str(out), "--report-only"]) == 0
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert f"By replicate: replicate 0: {cpu_model()}; replicate 1: Other CPU; each replicate ran on one" in summary
    capsys.readouterr()

    assert main(["study", str(study_file), "-o", str(out), "--rerun", "2"]) == 1  # no reason given
    assert "--rerun needs --why" in capsys.readouterr().err
    assert main(["study", str(study_file), "-o", str(out), "--rerun", "7", "--why", "x"]) == 1
    assert "has no trial 7" in capsys.readouterr().err
    assert len(_trials(out)) == 3  # refused before training anything
    spec = load_study(study_file)
    assert other_machine_trials(open_study(spec, storage_url(out)), spec) == [2]  # resuming would warn about it

    assert main(["study", str(study_file), "-o", str(out), "--rerun", "2", "--why", "replicate 1 moved"]) == 0
    assert "warning" not in capsys.readouterr().out
    assert other_machine_trials(open_study(spec, storage_url(out)), spec) == []
    trials = _trials(out)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 5
    assert trials[3].params == trials[2].params  # run again as trial 3
    assert trials[3].user_attrs["replicate"] == 1
    with (out / "results.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sorted(int(r["trial"]) for r in rows) == [0, 1, 3, 4]
    assert {r["machine"] for r in rows} == {cpu_model()}
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "Superseded trials (run again; in no table or comparison): 1." in summary
    assert "- trial 2 (network=unet, replicate 1, 1 epochs on Other CPU)" in summary
    (superseded,) = json.loads((out / "results.json").read_text(encoding="utf-8"))["superseded"]
    assert (superseded["trial"], superseded["why"]) == (2, "replicate 1 moved")
    with (out / "case_scores.csv").open(encoding="utf-8") as f:
        reference_cases = [r for r in csv.DictReader(f) if r["setting"] == "network=unet"]
    assert {r["trial"] for r in reference_cases} == {"0", "3"}  # the superseded trial pairs with nothing
    with (out / "paired.csv").open(encoding="utf-8") as f:
        assert [r["n_pairs"] for r in csv.DictReader(f)] == [str(len(reference_cases))]
