"""Who trains a run when several workers share a study: a run (setting and replicate) belongs to the
lowest-numbered trial that holds it and is queued, running or finished.

Two workers that look for work at the same instant may both queue the same run; both get a trial. The trial with
the lower number trains it; the other finds that owner before training and steps aside (:class:`DuplicateRunError`).
Trial numbers are handed out by the storage in creation order, so the lower trial always exists when the higher one
looks, whatever the timing: at most one of them trains.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from optuna.trial import FrozenTrial, Trial, TrialState

__all__ = ["DuplicateRunError", "run_owner", "trial_key", "trial_params"]


def trial_key(params: Mapping[str, Any], replicate: int) -> str:
    """The identity of a run: its setting and replicate (a setting and replicate is run once)."""
    return json.dumps({"params": dict(params), "replicate": replicate}, sort_keys=True)


def trial_params(t: FrozenTrial) -> dict[str, Any] | None:
    """A trial's setting: the parameters it was queued with, else those it has suggested so far (``None``: none)."""
    params = t.system_attrs.get("fixed_params") or t.params
    return dict(params) if params else None


class DuplicateRunError(Exception):
    """The trial's setting and replicate belong to a lower-numbered trial (:func:`run_owner`): it trains nothing."""


def _identity(t: FrozenTrial, n_params: int) -> tuple[str | None, bool]:
    """A trial's run key, and whether it is still being set up (a running trial without all its parameters or its
    replicate yet)."""
    params = trial_params(t) or {}
    replicate = t.user_attrs.get("replicate")
    if len(params) != n_params or replicate is None:
        return None, t.state == TrialState.RUNNING
    return trial_key(params, int(replicate)), False


def run_owner(trial: Trial, key: str, n_params: int, wait_s: float = 10.0) -> int | None:
    """The number of the lowest-numbered earlier trial that is queued, running or finished (not failed) with the
    run ``key``; ``None`` when ``trial`` is the run's owner.

    Args:
        trial: the trial about to train.
        key: its run (:func:`trial_key`).
        n_params: the study's number of parameters (a trial with fewer is still being set up).
        wait_s: how long to wait for an earlier running trial that has not recorded its setting or replicate yet.
    """
    deadline = time.monotonic() + wait_s
    while True:
        pending = False
        for t in trial.study.get_trials(deepcopy=False):
            if t.number >= trial.number or t.state == TrialState.FAIL:
                continue
            other, unsure = _identity(t, n_params)
            if other == key:
                return t.number
            pending = pending or unsure
        if not pending or time.monotonic() > deadline:
            return None
        time.sleep(0.2)
