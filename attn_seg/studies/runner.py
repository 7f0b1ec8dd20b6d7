"""Run a study with Optuna: every trial one training run, resumable from its storage (SQLite by default).

Each trial is one setting (a value per parameter) times one replicate (seed, fold). A grid study queues every
pair not yet done; a sampled study lets Optuna's sampler pick settings, then queues the setting's other
replicates. Trials record their host and process; a trial left ``RUNNING`` by a killed process on this machine
is failed when the study is next opened, and run again. Trials on other machines sharing the storage through a
database URL are failed by Optuna's heartbeat instead. Finished trials are never run twice, and several workers
sharing one study never train the same setting and replicate twice: when two queue the same run at the same
instant, the lower-numbered trial trains it and the other steps aside (it ends failed with ``duplicate_of``, not
counted as run or failed).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import socket
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, cast

import optuna
import torch
from optuna.trial import Trial, TrialState

from attn_seg.engines.precision import cpu_model
from attn_seg.processes import pid_alive
from attn_seg.studies.claims import DuplicateRunError, run_owner, superseded_trials, trial_key, trial_params
from attn_seg.studies.spec import Parameter, StudySpec, setting_label
from attn_seg.studies.trial import run_training

__all__ = [
    "StudyRun", "machine_name", "open_study", "other_machine_trials", "recover_stale_trials", "remaining_trials",
    "run_study", "storage_url", "trial_config", "trial_key",
]

#: Optuna's heartbeat: a RUNNING trial not heard from for ``_GRACE_S`` is failed (trials on other machines).
_HEARTBEAT_S = 60
_GRACE_S = 600
#: A sampled search stops after this many draws in a row of settings already run (a nearly exhausted space).
_MAX_REDRAWS = 50
_PRUNERS: dict[str, Callable[..., optuna.pruners.BasePruner]] = {
    "median": optuna.pruners.MedianPruner,
    "percentile": optuna.pruners.PercentilePruner,
    "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
    "hyperband": optuna.pruners.HyperbandPruner,
}


@dataclass
class StudyRun:
    """What one call of :func:`run_study` did."""

    ran: int
    failed: list[int]
    recovered: list[int]
    remaining: int


def storage_url(out_dir: str | os.PathLike[str], storage: str | None = None) -> str:
    """The storage URL: ``storage`` if given, else an SQLite file ``out_dir/study.db``."""
    return storage or f"sqlite:///{(Path(out_dir) / 'study.db').absolute()}"


@contextlib.contextmanager
def _quiet_experimental() -> Iterator[None]:
    """Optuna calls heartbeats and failing stale trials "experimental" (they exist since 2.9): no warning each time."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


def _pruner(config: Mapping[str, Any] | None) -> optuna.pruners.BasePruner:
    if not config:
        return optuna.pruners.NopPruner()
    kwargs = dict(config)
    name = str(kwargs.pop("name", "median"))
    if name not in _PRUNERS:
        raise ValueError(f"study key pruner.name: unknown pruner {name!r}; choose from {sorted(_PRUNERS)}")
    try:
        return _PRUNERS[name](**kwargs)
    except TypeError as err:
        raise ValueError(f"study key pruner: {err}") from err


def _sampler(spec: StudySpec, n_trials: int = 0) -> optuna.samplers.BaseSampler:
    """The study's sampler, seeded with ``sampler_seed`` plus the number of trials already stored: a resumed
    search goes on drawing instead of replaying the first sitting's draws (each replayed setting would be a
    duplicate of a run already done), and a given history always continues the same way."""
    seed = spec.sampler_seed + n_trials
    if spec.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)  # grid trials are all queued with fixed params


#: Study keys that change no trial: they may be edited between runs of a study.
_PRESENTATION = ("description", "report_metrics", "reference")


def _fingerprint(spec: StudySpec) -> str:
    """The study's design: every key that shapes its trials."""
    design = {k: v for k, v in asdict(spec).items() if k not in _PRESENTATION}
    return json.dumps(design, sort_keys=True, default=str)


def _rdb_storage(url: str, attempts: int = 5) -> optuna.storages.RDBStorage:
    """Optuna's database storage, with its heartbeat. Workers started at the same instant on an empty database
    both create Optuna's tables; the loser's ``CREATE`` fails on the winner's, and it tries again (finding them)."""
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    def create() -> optuna.storages.RDBStorage:
        with _quiet_experimental():
            return optuna.storages.RDBStorage(url, heartbeat_interval=_HEARTBEAT_S, grace_period=_GRACE_S)

    for attempt in range(1, attempts):
        try:
            return create()
        except (IntegrityError, ProgrammingError):
            time.sleep(0.5 * attempt)
    return create()  # the last attempt raises what it meets


def open_study(spec: StudySpec, url: str) -> optuna.Study:
    """Create the Optuna study, or load it to resume.

    Raises:
        ValueError: when the storage holds a study of this name made from a different study file.
    """
    storage: str | optuna.storages.BaseStorage = url
    if url.startswith(("sqlite", "postgresql", "mysql")):
        storage = _rdb_storage(url)
    study = optuna.create_study(
        study_name=spec.name, storage=storage, sampler=_sampler(spec), pruner=_pruner(spec.pruner),
        direction=cast(Literal["minimize", "maximize"], spec.direction), load_if_exists=True,
    )
    if study.trials:
        study.sampler = _sampler(spec, len(study.trials))
    stored = study.user_attrs.get("spec")
    if stored is None:
        study.set_user_attr("spec", _fingerprint(spec))
    elif stored != _fingerprint(spec):
        old, new = json.loads(stored), json.loads(_fingerprint(spec))
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        raise ValueError(
            f"storage {url} already holds study {spec.name!r} made from a different study file (changed: "
            f"{changed}); resume with the original file, or use another output folder or --storage"
        )
    return study


def _alive(pid: Any) -> bool:
    return pid_alive(pid) if isinstance(pid, int) else True  # unknown: leave it to the heartbeat


def recover_stale_trials(study: optuna.Study) -> list[int]:
    """Fail the trials left RUNNING by dead processes of this machine (and, by heartbeat, of others).

    Returns:
        The numbers of the trials failed here; they are run again (a killed trial has no ``error``).
    """
    with _quiet_experimental():
        optuna.storages.fail_stale_trials(study)
    host = socket.gethostname()
    stale = [t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
             if t.user_attrs.get("host") == host and not _alive(t.user_attrs.get("pid"))]
    for number in stale:
        study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
    return stale


def _progress(study: optuna.Study, spec: StudySpec, retry_before: int) -> tuple[set[str], set[str], list[dict]]:
    """Keys done and busy (running or queued), and the distinct settings seen.

    A trial that failed with an error counts as done, unless its number is below ``retry_before`` (trials of an
    earlier call, retried once in this one). A superseded trial counts as neither.
    """
    done: set[str] = set()
    busy: set[str] = set()
    settings: dict[str, dict] = {}
    superseded = superseded_trials(study)
    for t in study.get_trials(deepcopy=False):
        params, replicate = trial_params(t), t.user_attrs.get("replicate")
        if params is None or len(params) != len(spec.parameters):
            continue
        settings.setdefault(json.dumps(params, sort_keys=True), params)
        if t.number in superseded:
            continue
        key = trial_key(params, int(replicate if replicate is not None else 0))
        failed_for_good = t.state == TrialState.FAIL and "error" in t.user_attrs and t.number >= retry_before
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED) or failed_for_good:
            done.add(key)
        elif t.state in (TrialState.RUNNING, TrialState.WAITING):
            busy.add(key)
    return done, busy, list(settings.values())


def _grid(parameters: tuple[Parameter, ...]) -> list[dict[str, Any]]:
    labels = [[c.label for c in p.choices] for p in parameters]
    return [dict(zip([p.name for p in parameters], combo, strict=True)) for combo in itertools.product(*labels)]


def _next_work(study: optuna.Study, spec: StudySpec, retry_before: int) -> tuple[tuple[dict, int] | None, bool]:
    """The next (setting, replicate) to queue, and whether a new setting may still be sampled.

    A grid study goes replicate by replicate (every setting on seed 0, then every setting on seed 1, ...), so that
    a study stopped part-way, or spread over several sessions, already holds complete paired replicates; a
    sampled study finishes each sampled setting's replicates first.
    """
    done, busy, seen = _progress(study, spec, retry_before)
    if spec.sampler == "grid":
        order = [(params, rep) for rep in spec.replicates for params in _grid(spec.parameters)]
    else:
        order = [(params, rep) for params in seen for rep in spec.replicates]
    for params, replicate in order:
        key = trial_key(params, replicate.index)
        if key not in done and key not in busy:
            return (params, replicate.index), False
    return None, spec.sampler != "grid" and len(seen) < (spec.n_settings or 0)


def trial_config(spec: StudySpec, params: Mapping[str, Any], replicate: int) -> tuple[list[str], dict[str, Any]]:
    """The config files (absolute paths) and overrides of a trial.

    Order: the bundle's ``train.json``, the study's ``config_files``, each choice's files; then the study's
    ``overrides``, each choice's overrides and range values, the replicate's seed/fold and the epoch budget.
    """
    files = [str((spec.bundle / "configs" / "train.json").resolve()), *(str(Path(f).resolve())
                                                                       for f in spec.config_files)]
    overrides = dict(spec.overrides)
    for p in (p for p in spec.parameters if p.name in params):  # an absent parameter keeps the bundle's value
        if p.is_range:
            overrides[str(p.key)] = params[p.name]
            continue
        choice = p.choice(str(params[p.name]))
        files += [str(Path(f).resolve()) for f in choice.config_files]
        overrides.update(choice.overrides)
    overrides.update(spec.replicates[replicate].overrides(spec.folds))
    if spec.epochs is not None:
        overrides["epochs"] = spec.epochs
    return files, overrides


def _suggest(trial: Trial, p: Parameter) -> Any:
    if not p.is_range:
        return trial.suggest_categorical(p.name, [c.label for c in p.choices])
    if p.integer:
        return trial.suggest_int(p.name, int(p.low or 0), int(p.high or 0), log=p.log)
    return trial.suggest_float(p.name, float(p.low or 0.0), float(p.high or 0.0), log=p.log)


def _objective_value(history: list[dict[str, Any]], spec: StudySpec) -> float:
    values = [float(row[spec.metric]) for row in history if spec.metric in row]
    if not values:
        raise RuntimeError(f"the trial validated no epoch: no {spec.metric!r} in its history")
    if spec.objective == "last":
        return values[-1]
    return max(values, key=spec.score)


def _start(trial: Trial, spec: StudySpec) -> tuple[dict[str, Any], int]:
    """Read (or sample) the trial's setting and replicate; queue a new setting's other replicates.

    Raises:
        DuplicateRunError: when a lower-numbered trial owns the same setting and replicate.
    """
    queued = trial.user_attrs.get("replicate")
    fresh = queued is None  # a freshly sampled setting: run replicate 0 now, the others next
    if fresh:
        trial.set_user_attr("replicate", 0)
    replicate = 0 if queued is None else int(queued)
    params = {p.name: _suggest(trial, p) for p in spec.parameters}
    owner = run_owner(trial, trial_key(params, replicate), len(spec.parameters))
    if owner is not None:
        trial.set_user_attr("duplicate_of", owner)
        raise DuplicateRunError(f"setting and replicate {replicate} belong to trial {owner}")
    if fresh:
        for other in spec.replicates[1:]:
            trial.study.enqueue_trial(params, user_attrs={"replicate": other.index})
    rep = spec.replicates[replicate]
    for key, value in {"host": socket.gethostname(), "pid": os.getpid(), "seed": rep.seed, "fold": rep.fold,
                       "setting": setting_label(params, spec.parameters)}.items():
        trial.set_user_attr(key, value)
    return params, replicate


def _describe(err: BaseException, limit: int = 2000) -> str:
    """The error and its causes, innermost last (MONAI's config parser wraps the real cause)."""
    parts, seen = [], set()
    cause: BaseException | None = err
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        parts.append(f"{type(cause).__name__}: {str(cause).strip()}")
        cause = cause.__cause__ or cause.__context__
    text = " <- caused by ".join(parts)
    return text if len(text) <= limit else text[: limit // 2] + " ... " + text[-limit // 2:]


def machine_name() -> str:
    """What a trial ran on: the CPU model, and the GPU's name where one is used. Trials with a ``minutes`` budget
    are comparable only on the same machine, and a resumed study may continue on another."""
    name = cpu_model()
    if torch.cuda.is_available():
        name += f" + {torch.cuda.get_device_name(0)}"
    return name


def other_machine_trials(study: optuna.Study, spec: StudySpec) -> list[int]:
    """Finished trials, not superseded, of the replicates still open that ran on another machine than this one.

    With a ``minutes`` budget the settings of one replicate are compared at equal compute only on one machine, so
    a study resumed elsewhere part-way through a replicate should train those runs again here (``--rerun``).
    Empty for a study budgeted by epochs alone.
    """
    if spec.minutes is None:
        return []
    here, superseded = machine_name(), superseded_trials(study)
    done, _, seen = _progress(study, spec, retry_before=0)
    settings = _grid(spec.parameters) if spec.sampler == "grid" else seen
    unsampled = spec.sampler != "grid" and len(seen) < (spec.n_settings or 0)
    open_replicates = {rep.index for rep in spec.replicates
                       if unsampled or any(trial_key(params, rep.index) not in done for params in settings)}
    return [t.number for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
            if t.number not in superseded and t.user_attrs.get("replicate") in open_replicates
            and t.user_attrs.get("machine") not in (None, here)]


def _objective(spec: StudySpec, out_dir: Path, started: list[int]) -> Callable[[Trial], float]:
    def objective(trial: Trial) -> float:
        started.append(trial.number)
        params, replicate = _start(trial, spec)  # DuplicateRunError: another worker's trial runs it
        trial_dir = out_dir / "trials" / f"{trial.number:04d}"
        trial.set_user_attr("trial_dir", str(trial_dir))
        files, overrides = trial_config(spec, params, replicate)
        trial_dir.mkdir(parents=True, exist_ok=True)
        record = {"params": params, "replicate": replicate, "config_files": files, "overrides": overrides}
        (trial_dir / "trial.json").write_text(json.dumps(record, indent=1, default=str) + "\n", encoding="utf-8")

        def report(step: int, value: float) -> bool:
            trial.report(value, step)
            return trial.should_prune()

        try:
            outcome = run_training(spec.bundle, files, overrides, trial_dir, metric=spec.metric, reporter=report,
                                   minutes=spec.minutes)
            value = _objective_value(outcome.history, spec)
        except Exception as err:
            trial.set_user_attr("error", _describe(err))
            raise
        for key, attr in {"epochs": outcome.epochs, "wall_s": round(outcome.wall_s, 2),
                          "checkpoint": outcome.checkpoint, "timed_out": outcome.timed_out,
                          "machine": machine_name()}.items():
            trial.set_user_attr(key, attr)
        if outcome.pruned:
            raise optuna.TrialPruned(f"pruned at epoch {outcome.epochs}")
        return value

    return objective


def run_study(
    spec: StudySpec,
    out_dir: str | os.PathLike[str],
    *,
    storage: str | None = None,
    max_trials: int | None = None,
    retry_failed: bool = False,
) -> StudyRun:
    """Run the study's remaining trials (all, or at most ``max_trials`` in this call).

    Args:
        spec: the study.
        out_dir: where trials write their folders (``trials/NNNN``) and, by default, the SQLite storage.
        storage: an Optuna storage URL shared by several machines; default ``sqlite:///out_dir/study.db``.
        max_trials: stop after this many trials in this call; ``None``: until the study is done.
        retry_failed: run again the trials that failed with an error (killed trials are always rerun).

    Returns:
        What was run, failed, recovered and is left.
    """
    if max_trials is not None and max_trials < 1:
        raise ValueError(f"`max_trials` must be at least 1 or None, got {max_trials}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    study = open_study(spec, storage_url(out, storage))
    elsewhere = other_machine_trials(study, spec)
    if elsewhere:
        print(f"study {spec.name}: warning: finished trials {elsewhere} of the replicates still open ran on another "
              f"machine than this one ({machine_name()}); the budget is wall time, so the rest of those replicates "
              f"would be compared with them at unequal compute. To train them again here, stop and run the same "
              f"command with --rerun {' '.join(map(str, elsewhere))} --why '...'", flush=True)
    retry_before = len(study.trials) if retry_failed else 0
    started: list[int] = []
    objective = _objective(spec, out, started)
    ran, failed, recovered, redrawn = 0, [], [], 0
    while max_trials is None or ran < max_trials:
        recovered += recover_stale_trials(study)
        work, may_sample = _next_work(study, spec, retry_before)
        waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        if work is not None and not waiting:
            study.enqueue_trial(work[0], user_attrs={"replicate": work[1]})
        elif not waiting and not may_sample:
            break
        clock = time.perf_counter()
        study.optimize(objective, n_trials=1, catch=(Exception,), gc_after_trial=True)
        last = study.trials[started[-1]]
        if "duplicate_of" in last.user_attrs:
            print(f"study {spec.name}: trial {last.number} stepped aside, its run is trial "
                  f"{last.user_attrs['duplicate_of']}'s (the sampler drew that setting again, or another worker "
                  "queued the run at the same time)", flush=True)
            redrawn += 1
            if redrawn >= _MAX_REDRAWS:
                print(f"study {spec.name}: the sampler drew settings already run {redrawn} times in a row; stopping "
                      "(the search space is nearly exhausted: lower n_settings or widen the parameters)", flush=True)
                break
            continue
        ran, redrawn = ran + 1, 0
        if last.state == TrialState.FAIL:
            failed.append(last.number)
        print(f"study {spec.name}: trial {last.number} ({last.user_attrs.get('setting')}, replicate "
              f"{last.user_attrs.get('replicate')}) {last.state.name.lower()} in {time.perf_counter() - clock:.0f} s"
              + (f": {last.user_attrs['error']}" if "error" in last.user_attrs else ""), flush=True)
    return StudyRun(ran=ran, failed=failed, recovered=recovered, remaining=remaining_trials(study, spec))


def remaining_trials(study: optuna.Study, spec: StudySpec) -> int:
    """How many (setting, replicate) runs are not done yet (running ones included)."""
    done, _, seen = _progress(study, spec, retry_before=0)
    if spec.sampler == "grid":
        return len(_grid(spec.parameters)) * len(spec.replicates) - len(done)
    unsampled = max(0, (spec.n_settings or 0) - len(seen))
    return (len(seen) + unsampled) * len(spec.replicates) - len(done)

