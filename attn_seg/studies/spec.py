"""Study files: what to vary (bundle config overrides), over which replicates, with which budget.

A study file is JSON::

    {
      "name": "isbi_unet_vs_attention",
      "bundle": "bundles/attention_unet_2d",
      "config_files": ["configs/datasets/isbi2012_em_2d.json"],
      "overrides": {"epochs": 20, "split_seed": 0},
      "parameters": {
        "network": {"choices": {"unet": {"network_def#gated_levels": []},
                                "attention_grid": {"network_def#gating": "grid"}}},
        "loss_name": ["dice", "dice_ce"],
        "learning_rate": {"low": 1e-4, "high": 1e-2, "log": true}
      },
      "seeds": [0, 1, 2],
      "sampler": "grid",
      "metric": "val_mean_dice"
    }

Paths (``bundle``, ``config_files``, files named by choices) are relative to the working directory, as with
``python -m monai.bundle run``. A parameter is one of:

* a list of values of the config id named like the parameter (``"loss_name": ["dice", "dice_ce"]``);
* ``{"key": ID, "values": [...]}``: values of another config id (``"network_def#gating"``);
* ``{"choices": {LABEL: OPTION}}``: labelled options, each a dict of config overrides, a config file path, a
  list of paths, or a dict with ``"config_files"`` and further overrides;
* ``{"key": ID, "low": A, "high": B, "log": bool, "int": bool}``: a range, for sampled studies only.

``"reference"`` names the setting the paired statistics compare every other one with, a value per parameter
(``{"network": "unet"}``); a grid's default is the first choice of every parameter.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from monai.utils import look_up_option

__all__ = [
    "SAMPLERS", "Choice", "Parameter", "Replicate", "StudySpec", "load_study", "parse_study", "search_space_size",
    "setting_label",
]

#: Search strategies: the full grid, or settings sampled by Optuna's TPE or random sampler.
SAMPLERS = ("grid", "tpe", "random")
_DIRECTIONS = ("maximize", "minimize")
_OBJECTIVES = ("last", "best")
_TOP_KEYS = {
    "name", "bundle", "config_files", "overrides", "parameters", "seeds", "folds", "sampler", "n_settings",
    "sampler_seed", "epochs", "minutes", "metric", "direction", "objective", "pruner", "report_metrics",
    "description", "reference",
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Choice:
    """One labelled option of a parameter: config overrides and/or overlay files."""

    label: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    config_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class Parameter:
    """A dimension of the search space: labelled choices, or a numeric range of one config id."""

    name: str
    choices: tuple[Choice, ...] = ()
    key: str | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False

    @property
    def is_range(self) -> bool:
        """Whether the parameter is a numeric range (sampled studies only)."""
        return not self.choices

    def choice(self, label: str) -> Choice:
        """The choice called ``label``."""
        return {c.label: c for c in self.choices}[label]


@dataclass(frozen=True)
class Replicate:
    """One repetition of a setting: a seed and, with k-fold cross-validation, a fold."""

    index: int
    seed: int
    fold: int | None

    def overrides(self, num_folds: int | None) -> dict[str, Any]:
        """The config overrides of this replicate (``seed``; ``fold`` and ``num_folds`` with folds)."""
        extra: dict[str, Any] = {"seed": self.seed}
        if self.fold is not None:
            extra.update(fold=self.fold, num_folds=num_folds)
        return extra


@dataclass(frozen=True)
class StudySpec:
    """A parsed, checked study file (see the module docstring)."""

    name: str
    bundle: Path
    parameters: tuple[Parameter, ...]
    config_files: tuple[str, ...] = ()
    overrides: Mapping[str, Any] = field(default_factory=dict)
    seeds: tuple[int, ...] = (0,)
    folds: int | None = None
    sampler: str = "grid"
    n_settings: int | None = None
    sampler_seed: int = 0
    epochs: int | None = None
    minutes: float | None = None
    metric: str = "val_mean_dice"
    direction: str = "maximize"
    objective: str = "last"
    pruner: Mapping[str, Any] | None = None
    report_metrics: tuple[str, ...] = ()
    description: str = ""
    reference: Mapping[str, Any] | None = None

    def score(self, value: float) -> float:
        """``value`` oriented so that higher is better (negated when the study minimises)."""
        return value if self.direction == "maximize" else -value

    @property
    def reference_label(self) -> str | None:
        """The label of the setting the paired statistics compare every other setting with: ``reference`` where
        given, else (a grid) the first choice of every parameter; ``None`` for a sampled study without one."""
        if self.reference is not None:
            return setting_label(self.reference, self.parameters)
        if self.sampler != "grid":
            return None
        return setting_label({p.name: p.choices[0].label for p in self.parameters}, self.parameters)

    @property
    def replicates(self) -> list[Replicate]:
        """Every (seed, fold) pair, seeds outermost."""
        folds: list[int | None] = list(range(self.folds)) if self.folds else [None]
        pairs = [(seed, fold) for seed in self.seeds for fold in folds]
        return [Replicate(i, seed, fold) for i, (seed, fold) in enumerate(pairs)]


def _fail(where: str, message: str) -> ValueError:
    return ValueError(f"{where}: {message}")


def _choice(where: str, label: str, option: Any) -> Choice:
    if isinstance(option, str):
        return Choice(label, {}, (option,))
    if isinstance(option, list) and option and all(isinstance(f, str) for f in option):
        return Choice(label, {}, tuple(option))
    if isinstance(option, Mapping):
        files = option.get("config_files", [])
        if isinstance(files, str):
            files = [files]
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise _fail(f"{where}.config_files", f"must be a path or a list of paths, got {files!r}")
        return Choice(label, {k: v for k, v in option.items() if k != "config_files"}, tuple(files))
    raise _fail(where, f"an option must be config overrides (a dict), a config file or a list of files, got {option!r}")


def _label(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _values(where: str, key: str, values: Any) -> tuple[Choice, ...]:
    if not isinstance(values, list) or not values:
        raise _fail(where, f"needs a non-empty list of values, got {values!r}")
    choices = tuple(Choice(_label(v), {key: v}) for v in values)
    if len({c.label for c in choices}) != len(choices):
        raise _fail(where, f"has repeated values: {values!r}")
    return choices


def _range(where: str, name: str, spec: Mapping[str, Any]) -> Parameter:
    low, high = spec.get("low"), spec.get("high")
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in (low, high))
    if not numbers or not low < high:  # type: ignore[operator]
        raise _fail(where, f"a range needs numbers low < high, got low={low!r}, high={high!r}")
    if spec.get("log") and low <= 0:  # type: ignore[operator]
        raise _fail(where, f"a log range needs low > 0, got {low!r}")
    unknown = set(spec) - {"key", "low", "high", "log", "int"}
    if unknown:
        raise _fail(where, f"unknown range keys {sorted(unknown)} (allowed: key, low, high, log, int)")
    return Parameter(name, key=str(spec.get("key", name)), low=float(low), high=float(high),  # type: ignore[arg-type]
                     log=bool(spec.get("log", False)), integer=bool(spec.get("int", False)))


def _parameter(name: str, spec: Any) -> Parameter:
    where = f"parameters.{name}"
    if not _NAME.match(name) or name in {"replicate", "seed", "fold"}:
        raise _fail(where, "a parameter name must be letters, digits, '_', '.', '-' and not replicate/seed/fold")
    if isinstance(spec, list):
        return Parameter(name, _values(where, name, spec))
    if not isinstance(spec, Mapping):
        raise _fail(where, f"must be a list of values or a dict (choices, values or a range), got {spec!r}")
    if "choices" in spec:
        options = spec["choices"]
        if not isinstance(options, Mapping) or not options:
            raise _fail(f"{where}.choices", f"must be a non-empty dict of label -> option, got {options!r}")
        return Parameter(name, tuple(_choice(f"{where}.choices.{k}", str(k), v) for k, v in options.items()))
    if "values" in spec:
        return Parameter(name, _values(f"{where}.values", str(spec.get("key", name)), spec["values"]))
    return _range(where, name, spec)


def _int_list(where: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, int) and not isinstance(v, bool)
                                                           for v in value):
        raise _fail(where, f"must be a non-empty list of ints, got {value!r}")
    if len(set(value)) != len(value):
        raise _fail(where, f"has repeated entries: {value!r}")
    return tuple(value)


def _optional_positive(where: str, value: Any, kind: type) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and not isinstance(value, int)):
        raise _fail(where, f"must be a positive {kind.__name__}, got {value!r}")
    if value <= 0:
        raise _fail(where, f"must be > 0, got {value!r}")
    return kind(value)


def _reference(where: str, value: Any, parameters: Sequence[Parameter]) -> dict[str, Any] | None:
    """The reference setting: a value (choice label, or number of a range) for every parameter."""
    if value is None:
        return None
    names = [p.name for p in parameters]
    if not isinstance(value, Mapping) or set(value) != set(names):
        raise _fail(where, f"must give a value for each parameter {names}, got {value!r}")
    out: dict[str, Any] = {}
    for p in parameters:
        given = value[p.name]
        if p.is_range:
            if isinstance(given, bool) or not isinstance(given, int | float):
                raise _fail(f"{where}.{p.name}", f"must be a number of the range, got {given!r}")
            out[p.name] = int(given) if p.integer else float(given)
        elif _label(given) in {c.label for c in p.choices}:
            out[p.name] = _label(given)
        else:
            raise _fail(f"{where}.{p.name}", f"{given!r} is not one of {[c.label for c in p.choices]}")
    return out


def search_space_size(parameters: tuple[Parameter, ...]) -> int | None:
    """How many distinct settings the parameters allow; ``None`` when a float range makes it unbounded."""
    size = 1
    for p in parameters:
        if not p.is_range:
            size *= len(p.choices)
        elif p.integer:
            size *= int(p.high or 0) - int(p.low or 0) + 1
        else:
            return None
    return size


def _check_search(spec: StudySpec, where: str) -> None:
    if spec.sampler == "grid":
        ranged = [p.name for p in spec.parameters if p.is_range]
        if ranged:
            raise _fail(f"{where}.parameters", f"ranges {ranged} need a sampled search (sampler 'tpe' or 'random')")
        if spec.n_settings is not None:
            raise _fail(f"{where}.n_settings", "is for sampled searches; a grid runs every setting")
    elif spec.n_settings is None:
        raise _fail(f"{where}.n_settings", f"a {spec.sampler!r} search needs the number of settings to sample")
    else:
        size = search_space_size(spec.parameters)
        if size is not None and spec.n_settings > size:
            raise _fail(f"{where}.n_settings", f"asks for {spec.n_settings} distinct settings, but the parameters "
                                               f"allow only {size}; lower it or use sampler 'grid'")
    if spec.folds is not None and spec.folds < 2:
        raise _fail(f"{where}.folds", f"k-fold cross-validation needs at least 2 folds, got {spec.folds}")


def parse_study(data: Mapping[str, Any], where: str = "study") -> StudySpec:
    """Check a study's JSON content and build its :class:`StudySpec`.

    Args:
        data: the parsed JSON.
        where: how to name the study in errors (its file path).

    Raises:
        ValueError: naming the key and the cause, for a missing, unknown or malformed entry.
    """
    if not isinstance(data, Mapping):
        raise _fail(where, f"a study must be a JSON object, got {type(data).__name__}")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise _fail(where, f"unknown keys {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}")
    for key in ("name", "bundle", "parameters"):
        if key not in data:
            raise _fail(where, f"missing required key {key!r}")
    name = data["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(f"{where}.name", f"must be letters, digits, '_', '.', '-', got {name!r}")
    params = data["parameters"]
    if not isinstance(params, Mapping) or not params:
        raise _fail(f"{where}.parameters", f"must be a non-empty dict, got {params!r}")
    overrides = data.get("overrides", {})
    if not isinstance(overrides, Mapping):
        raise _fail(f"{where}.overrides", f"must be a dict of config id -> value, got {overrides!r}")
    files = data.get("config_files", [])
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise _fail(f"{where}.config_files", f"must be a list of paths, got {files!r}")
    spec = StudySpec(
        name=name,
        bundle=Path(str(data["bundle"])),
        parameters=tuple(_parameter(str(k), v) for k, v in params.items()),
        config_files=tuple(files),
        overrides=dict(overrides),
        seeds=_int_list(f"{where}.seeds", data.get("seeds", [0])),
        folds=_optional_positive(f"{where}.folds", data.get("folds"), int),
        sampler=look_up_option(data.get("sampler", "grid"), SAMPLERS),
        n_settings=_optional_positive(f"{where}.n_settings", data.get("n_settings"), int),
        sampler_seed=int(data.get("sampler_seed", 0)),
        epochs=_optional_positive(f"{where}.epochs", data.get("epochs"), int),
        minutes=_optional_positive(f"{where}.minutes", data.get("minutes"), float),
        metric=str(data.get("metric", "val_mean_dice")),
        direction=look_up_option(data.get("direction", "maximize"), _DIRECTIONS),
        objective=look_up_option(data.get("objective", "last"), _OBJECTIVES),
        pruner=data.get("pruner"),
        report_metrics=tuple(str(m) for m in data.get("report_metrics", [])),
        description=str(data.get("description", "")),
    )
    spec = replace(spec, reference=_reference(f"{where}.reference", data.get("reference"), spec.parameters))
    _check_search(spec, where)
    return spec


def load_study(path: str | os.PathLike[str]) -> StudySpec:
    """Read and check a study file.

    Raises:
        FileNotFoundError: when the file, its bundle or a config file it names is missing.
        ValueError: for invalid JSON or content, naming the file and the key.
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"study file {file} not found")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"study file {file}: invalid JSON: {err}") from err
    spec = parse_study(data, where=str(file))
    _check_files(spec, str(file))
    return spec


def _check_files(spec: StudySpec, where: str) -> None:
    if not (spec.bundle / "configs" / "train.json").is_file():
        raise FileNotFoundError(f"{where}: bundle {spec.bundle} has no configs/train.json")
    named: list[tuple[str, str]] = [(f"{where}.config_files", f) for f in spec.config_files]
    for p in spec.parameters:
        named += [(f"{where}.parameters.{p.name}.choices.{c.label}", f) for c in p.choices for f in c.config_files]
    missing = [f"{key}: {f}" for key, f in named if not Path(f).is_file()]
    if missing:
        raise FileNotFoundError(f"config file(s) not found: {'; '.join(missing)}")


def setting_label(params: Mapping[str, Any], parameters: Sequence[Parameter]) -> str:
    """A readable name of a setting, e.g. ``network=unet, loss_name=dice``."""
    parts = []
    for p in parameters:
        value = params[p.name]
        parts.append(f"{p.name}={value:.4g}" if isinstance(value, float) else f"{p.name}={value}")
    return ", ".join(parts)
