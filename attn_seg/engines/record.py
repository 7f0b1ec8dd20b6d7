"""The settings a model was trained with, written beside its weights and read back by inference.

A run's spacing, patch size, class count and names, intensity window and network arguments decide what its
weights mean: the same weights under another spacing or patch give wrong labels without any error. Training
writes them to ``training_settings.json`` in the checkpoint folder (:class:`TrainingRecord`, a trainer handler);
a bundle's ``inference.json`` and ``attn-seg predict`` read the file beside the weights (:func:`read_record`) and
use its values unless told otherwise, and :func:`check_record` names any setting given that contradicts it.

The file::

    {"format": 1,
     "settings": {"pixdim": [1.0, 1.0, 1.0], "roi_size": [40, 56, 40], "num_classes": 3, ...},
     "network": {"target": "attn_seg.networks.nets.attention_unet.AttentionUNet", "args": {...}}}

``settings`` keys are the bundle's top-level config ids; ``network.args`` are the constructor arguments of a
network that reports them (``init_args``; ``null`` for others).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ignite.engine import Engine, Events
from torch import nn

from attn_seg.files import atomic_write_json

__all__ = ["RECORD_FILE", "TrainingRecord", "check_record", "read_record", "record_path", "trained_network"]

#: The record's file name, in the folder of the weights it describes.
RECORD_FILE = "training_settings.json"
#: Settings whose mismatch only changes the sliding window, not what the weights mean: warned about, not refused.
WINDOW_SETTINGS = frozenset({"roi_size", "class_names"})
#: Network arguments that change what is computed or returned, not what the weights mean: never taken from the
#: record (deep-supervision heads are always built, so weights load either way).
RUNTIME_ARGS = frozenset({"return_attention", "deep_supervision", "channels_last"})
_FORMAT = 1
_LOGGER = logging.getLogger(__name__)


def _plain(value: Any) -> Any:
    """``value`` as JSON gives it back (tuples become lists), so that recorded and given values compare equal."""
    return json.loads(json.dumps(value, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))


def _target(network: nn.Module) -> str:
    cls = type(network)
    return f"{cls.__module__}.{cls.__qualname__}"


def record_path(weights: str | os.PathLike[str]) -> Path:
    """The record that belongs to ``weights``: ``training_settings.json`` in the same folder."""
    return Path(weights).expanduser().absolute().parent / RECORD_FILE


class TrainingRecord:
    """Trainer handler that writes the run's settings to ``<save_dir>/training_settings.json`` when training starts.

    Add it to the trainer's handlers (rank 0 only), with the same ``save_dir`` as the checkpoint savers, so that
    every weight file the run saves has its record beside it.

    Args:
        save_dir: the checkpoint folder.
        settings: top-level config ids and their values (e.g. ``{"pixdim": @pixdim, "roi_size": @roi_size}``).
        network: the trained network; its class and, when it reports them, its ``init_args`` are recorded.
    """

    def __init__(self, save_dir: str | os.PathLike[str], settings: Mapping[str, Any],
                 network: nn.Module | None = None) -> None:
        if not isinstance(settings, Mapping):
            raise TypeError(f"`settings` must map config ids to values, got {type(settings).__name__}")
        self.path = Path(save_dir).expanduser().absolute() / RECORD_FILE
        self.settings = dict(settings)
        self.network = network

    def content(self) -> dict[str, Any]:
        """The record as written."""
        network = None
        if self.network is not None:
            module = getattr(self.network, "module", self.network)  # through DistributedDataParallel
            args = getattr(module, "init_args", None)
            network = {"target": _target(module), "args": _plain(args) if args is not None else None}
        return {"format": _FORMAT, "settings": _plain(self.settings), "network": network}

    def attach(self, engine: Engine) -> None:
        """Write the record when ``engine`` starts (a resumed run writes the same record again)."""
        engine.add_event_handler(Events.STARTED, lambda _: self.write())

    def write(self) -> Path:
        """Write the record now; returns its path."""
        return atomic_write_json(self.content(), self.path)


def read_record(weights: str | os.PathLike[str]) -> dict[str, Any]:
    """The record beside ``weights``, as ``{"settings": {...}, "network": {...} | None}``; empty when there is none.

    Args:
        weights: the weight file (``.pt``, ``.ts``, ``.onnx``); need not exist.

    Raises:
        ValueError: when the record exists but is not a record; the message names the file.
    """
    path = record_path(weights)
    if not path.is_file():
        return {}
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"training record {path} could not be read: {err}") from err
    if not isinstance(content, dict) or content.get("format") != _FORMAT or not isinstance(
            content.get("settings"), dict):
        raise ValueError(f"training record {path} is not a format-{_FORMAT} record with a `settings` object")
    return {"settings": content["settings"], "network": content.get("network"), "path": str(path)}


def check_record(record: Mapping[str, Any], given: Mapping[str, Any]) -> None:
    """Refuse settings that contradict the training record; warn about a different window or class names.

    Args:
        record: what :func:`read_record` returned (empty: nothing to check).
        given: the settings inference runs with, by config id (ids the record lacks are not checked).

    Raises:
        ValueError: naming each contradicting setting with both values and the record's file.
    """
    recorded = record.get("settings", {})
    differing = {k: v for k, v in _plain(dict(given)).items() if k in recorded and recorded[k] != v}
    for key in sorted(set(differing) & WINDOW_SETTINGS):
        _LOGGER.warning("`%s` is %s here, the model was trained with %s (%s)", key, differing[key],
                        recorded[key], record.get("path"))
    refused = sorted(set(differing) - WINDOW_SETTINGS)
    if refused:
        listed = "; ".join(f"`{k}` is {differing[k]}, trained with {recorded[k]}" for k in refused)
        raise ValueError(f"settings contradict the training record {record.get('path')}: {listed}. Drop these "
                         "overrides to use the trained values, or use weights trained with them")


def trained_network(network: nn.Module, record: Mapping[str, Any], **changes: Any) -> nn.Module:
    """``network``, rebuilt with the recorded constructor arguments where they differ from its own.

    Args:
        network: the network built from the config (it must report ``init_args`` to be compared).
        record: what :func:`read_record` returned.
        changes: arguments that stay as given (e.g. ``return_attention=True``).

    Returns:
        ``network`` itself when the record has no arguments for its class or they agree; else a new instance of
        its class with the recorded arguments and ``changes``.
    """
    recorded = record.get("network") or {}
    own = getattr(network, "init_args", None)
    if recorded.get("target") != _target(network) or recorded.get("args") is None or own is None:
        return network
    keep = RUNTIME_ARGS | set(changes)
    args = {k: v for k, v in recorded["args"].items() if k not in keep}
    current = {k: v for k, v in _plain(own).items() if k not in keep}
    if args == current:
        return network
    differing = sorted(k for k in set(args) | set(current) if args.get(k) != current.get(k))
    _LOGGER.info("network built with the trained arguments (%s) from %s", ", ".join(differing), record.get("path"))
    return type(network)(**args, **{k: v for k, v in own.items() if k in RUNTIME_ARGS and k not in changes},
                         **changes)
