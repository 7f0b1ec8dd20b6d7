"""Who trains a run when several workers share a study: a run (setting and replicate) belongs to the
lowest-numbered trial that holds it and is queued, running or finished.

Two workers that look for work at the same instant may both queue the same run; both get a trial. The trial with
the lower number trains it; the other finds that owner before training and steps aside (:class:`DuplicateRunError`).
Trial numbers are handed out by the storage in creation order, so the lower trial always exists when the higher one
looks, whatever the timing: at most one of them trains.

A finished trial can be *superseded* (:func:`supersede_trials`): it no longer holds its run, which is trained again by
a new trial, and it leaves the results (the summary still lists it, with the reason). A wall-time study that moves to
another machine part-way through a replicate uses this to train every setting of that replicate on one machine.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

import optuna
from optuna.trial import FrozenTrial, Trial, TrialState

__all__ = ["DuplicateRunError", "run_owner", "supersede_trials", "superseded_trials", "trial_key", "trial_params"]

#: The study's user attribute that maps superseded trial numbers (as strings) to the reason.
SUPERSEDED_ATTR = "superseded"


def trial_key(params: Mapping[str, Any], replicate: int) -> str:
    """The identity of a run: its setting and replicate (a setting and replicate is run once)."""
    return json.dumps({"params": dict(params), "replicate": replicate}, sort_keys=True)


def trial_params(t: FrozenTrial) -> dict[str, Any] | None:
    """A trial's setting: the parameters it was queued with, else those it has suggested so far (``None``: none)."""
    params = t.system_attrs.get("fixed_params") or t.params
    return dict(params) if params else None


def superseded_trials(study: optuna.Study) -> dict[int, str]:
    """The study's superseded trials: number -> why they are run again."""
    return {int(number): str(why) for number, why in study.user_attrs.get(SUPERSEDED_ATTR, {}).items()}


def supersede_trials(study: optuna.Study, numbers: Iterable[int], why: str) -> dict[int, str]:
    """Set finished trials aside: their runs (setting and replicate) are trained again by the next call of the study,
    and the results list them apart with ``why``. Optuna cannot change a finished trial, so the mark is a study
    attribute; a sampled study's sampler still learns from them.

    Returns:
        Every superseded trial of the study (number -> why).

    Raises:
        ValueError: when ``why`` is empty, or a number is not a finished (complete or pruned) trial of the study.
    """
    if not why.strip():
        raise ValueError("`why` must say why the trials are run again, got an empty string")
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    for number in numbers:
        if number not in trials:
            raise ValueError(f"--rerun: study {study.study_name!r} has no trial {number} (trials 0-{len(trials) - 1})")
        if trials[number].state not in (TrialState.COMPLETE, TrialState.PRUNED):
            raise ValueError(f"--rerun: trial {number} is {trials[number].state.name.lower()}, not finished; only "
                             "complete or pruned trials are set aside (failed and killed trials run again anyway)")
    marked = superseded_trials(study) | {int(number): why.strip() for number in numbers}
    study.set_user_attr(SUPERSEDED_ATTR, {str(number): marked[number] for number in sorted(marked)})
    return marked


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
    """The number of the lowest-numbered earlier trial that is queued, running or finished (not failed, not
    superseded) with the run ``key``; ``None`` when ``trial`` is the run's owner.

    Args:
        trial: the trial about to train.
        key: its run (:func:`trial_key`).
        n_params: the study's number of parameters (a trial with fewer is still being set up).
        wait_s: how long to wait for an earlier running trial that has not recorded its setting or replicate yet.
    """
    deadline = time.monotonic() + wait_s
    superseded = superseded_trials(trial.study)
    while True:
        pending = False
        for t in trial.study.get_trials(deepcopy=False):
            if t.number >= trial.number or t.state == TrialState.FAIL or t.number in superseded:
                continue
            other, unsure = _identity(t, n_params)
            if other == key:
                return t.number
            pending = pending or unsure
        if not pending or time.monotonic() > deadline:
            return None
        time.sleep(0.2)
