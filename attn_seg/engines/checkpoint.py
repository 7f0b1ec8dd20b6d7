"""Checkpoints that survive a kill: atomic writes, the previous file kept until the new one is complete, resume.

MONAI's :class:`~monai.handlers.CheckpointSaver` writes in place (``atomic=False``) and ignite's ``Checkpoint``
removes the previous file *before* it writes the next one, so a kill during a write can leave no loadable
checkpoint at all. :class:`AtomicCheckpointSaver` keeps MONAI's handler and swaps in a save handler that writes
to a temporary file, renames it into place, and only then removes the file it replaces.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import ignite.distributed as idist
import numpy as np
import torch
from ignite.handlers.checkpoint import BaseSaveHandler
from monai.handlers import CheckpointLoader, CheckpointSaver
from monai.transforms import Randomizable, Transform

from attn_seg.engines.flags import check_flag
from attn_seg.files import atomic_path

__all__ = [
    "AtomicCheckpointSaver",
    "AtomicDiskSaver",
    "RNGState",
    "ResumeLoader",
    "atomic_torch_save",
    "latest_checkpoint",
    "resume_checkpoint",
]

_EPOCH_FILE = re.compile(r"^checkpoint_epoch=(\d+)\.pt$")



def atomic_torch_save(obj: object, path: str | os.PathLike[str]) -> None:
    """``torch.save`` to a temporary file in the same folder, flushed to disk, then renamed over ``path``.

    A reader (or a process killed half-way) sees either the previous file or the complete new one.

    Args:
        obj: what to save.
        path: the destination file.
    """
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


class AtomicDiskSaver(BaseSaveHandler):
    """Ignite save handler: atomic writes; files to remove are removed only after the next save completed.

    Args:
        dirname: folder of the checkpoints (created if missing).
        filename: a fixed file name for every save (e.g. ``"model.pt"``); ``None`` uses ignite's names.
    """

    def __init__(self, dirname: str | os.PathLike[str], filename: str | None = None) -> None:
        self.dirname = Path(dirname)
        self.filename = filename
        self._pending: list[str] = []
        if idist.get_rank() == 0:
            self.dirname.mkdir(parents=True, exist_ok=True)

    def __call__(self, checkpoint: Mapping, filename: str, metadata: Mapping | None = None) -> None:
        """Write ``checkpoint`` as ``filename`` (or the fixed name), then remove the files it replaces."""
        if idist.get_rank() != 0:
            return
        name = self.filename or filename
        atomic_torch_save(checkpoint, self.dirname / name)
        for old in self._pending:
            if old != name:
                (self.dirname / old).unlink(missing_ok=True)
        self._pending.clear()

    def remove(self, filename: str) -> None:
        """Mark ``filename`` for removal once the next checkpoint is safely on disk."""
        self._pending.append(self.filename or filename)


class AtomicCheckpointSaver(CheckpointSaver):
    """MONAI's :class:`~monai.handlers.CheckpointSaver` (same arguments) with atomic, kill-safe writes.

    Every file it writes goes through :class:`AtomicDiskSaver`: a kill at any moment leaves the previous
    checkpoint loadable.

    Args:
        save_dir: the checkpoint folder.
        save_dict: objects with ``state_dict`` to save, by key.
        engine_key: also save the engine this handler is attached to under this key (e.g. ``"trainer"``), which
            a bundle config cannot reference from the trainer's own handler list.
        kwargs: the other arguments of MONAI's ``CheckpointSaver``.
    """

    def __init__(self, save_dir: str, save_dict: dict, engine_key: str | None = None, **kwargs: Any) -> None:
        super().__init__(save_dir, dict(save_dict), **kwargs)
        self.engine_key = engine_key
        if self._final_checkpoint is not None:
            self._final_checkpoint.save_handler = AtomicDiskSaver(save_dir, self._final_filename)  # type: ignore[assignment]
        if self._key_metric_checkpoint is not None:
            name = kwargs.get("key_metric_filename")
            self._key_metric_checkpoint.save_handler = AtomicDiskSaver(save_dir, name)  # type: ignore[assignment]
        if self._interval_checkpoint is not None:
            self._interval_checkpoint.save_handler = AtomicDiskSaver(save_dir)  # type: ignore[assignment]
            # the list of files it keeps goes into each file (key "checkpointer"), so a resumed run removes them
            self._interval_checkpoint.include_self = True

    def attach(self, engine: Any) -> None:
        """Attach to ``engine`` (and add it to what is saved when ``engine_key`` is set)."""
        if self.engine_key is not None:
            self.save_dict[self.engine_key] = engine
        super().attach(engine)

    @property
    def interval_checkpointer(self) -> Any:
        """The ignite ``Checkpoint`` of the periodic checkpoints; load its state (key ``"checkpointer"``) on resume
        so that the resumed run replaces the files the interrupted one wrote."""
        if self._interval_checkpoint is None:
            raise ValueError("this saver was built with `save_interval=0`: it writes no periodic checkpoints")
        return self._interval_checkpoint

    @property
    def key_metric_checkpointer(self) -> Any:
        """The ignite ``Checkpoint`` that tracks the best key metric (its ``state_dict`` restores the ranking)."""
        if self._key_metric_checkpoint is None:
            raise ValueError("this saver was built with `save_key_metric=False`: it tracks no key metric")
        return self._key_metric_checkpoint


class ResumeLoader(CheckpointLoader):
    """MONAI's :class:`~monai.handlers.CheckpointLoader` (same arguments) that can also restore the engine it is
    attached to, under ``engine_key``, which a bundle config cannot reference from the trainer's own handlers.

    Args:
        load_path: the checkpoint file.
        load_dict: objects with ``load_state_dict`` to restore, by key.
        engine_key: also restore the engine this handler is attached to from this key (e.g. ``"trainer"``).
        kwargs: the other arguments of MONAI's ``CheckpointLoader``.
    """

    def __init__(self, load_path: str, load_dict: dict, engine_key: str | None = None, **kwargs: Any) -> None:
        super().__init__(load_path, dict(load_dict), **kwargs)
        self.engine_key = engine_key

    def attach(self, engine: Any) -> None:
        """Attach to ``engine`` (restoring it too when ``engine_key`` is set)."""
        if self.engine_key is not None:
            self.load_dict[self.engine_key] = engine
        super().attach(engine)


class RNGState:
    """Stateful random-number state for checkpoints: Python, NumPy, torch and the random transforms' own.

    MONAI's random transforms draw from their own ``RandomState`` objects (seeded by ``set_determinism`` and the
    ``DataLoader``); pass the training ``Compose`` as ``transforms`` to have those saved and restored too, so that
    a resumed run draws the same crops and augmentations as an uninterrupted one. The state holds tensors and
    plain numbers only, so ``torch.load(weights_only=True)`` (MONAI's ``CheckpointLoader``) reads it.

    Args:
        transforms: MONAI transforms (e.g. the training ``Compose``) whose random states, nested ones included,
            are saved.
    """

    def __init__(self, transforms: object | None = None) -> None:
        self.transforms = transforms

    def _randoms(self) -> list[np.random.RandomState]:
        # looked up each time: MONAI's DataLoader re-seeds the transforms with new RandomState objects
        return _random_states(self.transforms) if self.transforms is not None else []

    def state_dict(self) -> dict[str, Any]:
        """The current state of every generator."""
        py_version, py_state, py_gauss = random.getstate()
        return {
            "python": {"version": py_version, "state": torch.tensor(py_state, dtype=torch.int64), "gauss": py_gauss},
            "numpy": _np_state(np.random.get_state()),
            "torch": torch.get_rng_state(),
            "transforms": [_np_state(r.get_state()) for r in self._randoms()],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the generators from :meth:`state_dict`'s output."""
        py = state["python"]
        random.setstate((py["version"], tuple(int(v) for v in py["state"]), py["gauss"]))
        np.random.set_state(_np_restore(state["numpy"]))
        torch.set_rng_state(state["torch"])
        saved, randoms = state.get("transforms", []), self._randoms()
        if len(saved) == len(randoms):
            for rand, rand_state in zip(randoms, saved, strict=True):
                rand.set_state(_np_restore(rand_state))


def _random_states(obj: object, seen: set[int] | None = None) -> list[np.random.RandomState]:
    """Every ``RandomState`` of the MONAI transforms in ``obj``, nested ones (e.g. a dict transform's array
    transform) included, in a fixed order."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    if isinstance(obj, (list, tuple)):
        return [r for item in obj for r in _random_states(item, seen)]
    if not isinstance(obj, Transform):
        return []
    found = [obj.R] if isinstance(obj, Randomizable) else []
    for value in vars(obj).values():
        if isinstance(value, (Transform, list, tuple)):
            found += _random_states(value, seen)
    return found


def _np_state(state: Any) -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = state
    return {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
            "has_gauss": int(has_gauss), "cached": float(cached)}


def _np_restore(state: Mapping[str, Any]) -> tuple:
    keys = state["keys"].numpy().astype(np.uint32)
    return state["name"], keys, state["pos"], state["has_gauss"], state["cached"]


def latest_checkpoint(ckpt_dir: str | os.PathLike[str]) -> str | None:
    """The newest ``checkpoint_epoch=N.pt`` in ``ckpt_dir`` (highest ``N``), or ``None`` when there is none."""
    folder = Path(ckpt_dir)
    if not folder.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _EPOCH_FILE.match(p.name))]
    return str(max(found)[1]) if found else None


def resume_checkpoint(
    ckpt_dir: str | os.PathLike[str], resume: bool | str, guarded: Sequence[str] = ("model.pt",)
) -> str:
    """The checkpoint a training run starts from, after checking that nothing of an earlier run is overwritten.

    Args:
        ckpt_dir: the run's checkpoint folder.
        resume: continue from the latest checkpoint there (a bool, or ``"true"``/``"false"`` as given on the command
            line; see :func:`~attn_seg.engines.check_flag`).
        guarded: other files a fresh run would overwrite.

    Returns:
        The latest checkpoint's path when resuming, else ``""`` (nothing to load). Temporary files of a write that
        was killed half-way (``.*.tmp``) are removed from ``ckpt_dir``.

    Raises:
        FileNotFoundError: ``resume`` is set but ``ckpt_dir`` holds no ``checkpoint_epoch=N.pt``.
        FileExistsError: ``resume`` is not set but ``ckpt_dir`` holds an earlier run's checkpoints.
        ValueError: ``resume`` is not a flag.
    """
    resume = check_flag("resume", resume)
    if idist.get_rank() == 0 and Path(ckpt_dir).is_dir():  # temporaries of a write that was killed half-way
        for stale in Path(ckpt_dir).glob(".*.tmp"):
            stale.unlink(missing_ok=True)
    latest = latest_checkpoint(ckpt_dir)
    if resume:
        if latest is None:
            raise FileNotFoundError(f"`resume` is set but {ckpt_dir} holds no checkpoint_epoch=N.pt to resume from")
        return latest
    earlier = [name for name in guarded if (Path(ckpt_dir) / name).exists()]
    if latest is not None or earlier:
        found = ", ".join(([Path(latest).name] if latest else []) + earlier)
        raise FileExistsError(
            f"`ckpt_dir` {ckpt_dir} holds checkpoints of an earlier run ({found}); pass `--resume true` to "
            "continue that run, or choose another `--ckpt_dir`; nothing was overwritten"
        )
    return ""
