"""Two study workers on two "machines" share one study through a real PostgreSQL server on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from postgres_helpers import missing_reason, postgres_server

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def postgres_url() -> str:
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    with postgres_server() as url:
        yield url


def test_two_workers_started_at_once_train_every_run_exactly_once(
    make_study: Callable[..., Path], tmp_path: Path, postgres_url: str
) -> None:
    parameters = {"network": {"choices": {"unet": {"network_def#gated_levels": []}, "attention": {},
                                          "narrow": {"network_def#channels": [2, 4, 8]}}}}
    study_file = make_study(name="shared", epochs=1, seeds=[0, 1], parameters=parameters)
    workers = [subprocess.Popen([sys.executable, "-m", "attn_seg", "study", str(study_file), "-o",
                                 str(tmp_path / f"machine{k}"), "--storage", postgres_url],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, encoding="utf-8",
                                errors="replace")
               for k in range(2)]
    logs = [w.communicate()[0] for w in workers]
    for worker, log in zip(workers, logs, strict=True):
        assert worker.returncode == 0, log[-4000:]

    trials = optuna.load_study(study_name="shared", storage=postgres_url).get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    keys = sorted((json.dumps(t.params, sort_keys=True), t.user_attrs["replicate"]) for t in complete)
    expected = sorted((json.dumps({"network": n}), r) for n in ("unet", "attention", "narrow") for r in (0, 1))
    assert keys == expected  # every setting and replicate, each once
    for t in trials:  # anything else stepped aside before training: no error, no trial folder
        if t.state != TrialState.COMPLETE:
            assert t.state == TrialState.FAIL
            assert "duplicate_of" in t.user_attrs
            assert "error" not in t.user_attrs
    trained = sorted(p.parent.parent.name for p in tmp_path.glob("machine*/trials/*/eval/history.json"))
    assert trained == sorted(f"{t.number:04d}" for t in complete)
    assert all("0 failed" in log for log in logs)
    assert sum(int(log.split(" trial(s) run")[0].rsplit(" ", 1)[-1]) for log in logs) == 6
