"""Run folders: every training run writes under its own folder, so runs never collide and a bundle's shipped
``models/model.pt`` is replaced only when the user asks.

A bundle's ``train.json`` sets ``runs_dir`` (``runs/<bundle name>``, relative to the current directory),
``run_name`` (empty: a new time-stamped folder, or the latest run with ``resume``) and derives ``run_dir``,
``ckpt_dir = run_dir/models`` and ``output_dir = run_dir/eval`` from them. ``--ckpt_dir`` and ``--output_dir`` still
override the lot. :class:`PromoteBest` copies each new best model into the bundle's ``models/`` when ``promote`` is
set.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import ignite.distributed as idist
from ignite.engine import Engine, Events

from attn_seg.engines.flags import check_flag
from attn_seg.engines.record import RECORD_FILE
from attn_seg.files import atomic_path

__all__ = ["PromoteBest", "bundle_runs_dir", "latest_run", "training_run"]

#: The run folder this process last claimed per (runs_dir, run_name), so that a config item evaluated twice before
#: the run writes anything names the same folder.
_CHOSEN: dict[tuple[str, str], str] = {}
_BEST = "model.pt"



def bundle_runs_dir(bundle_root: str | os.PathLike[str], runs_root: str | os.PathLike[str] = "runs") -> str:
    """``<runs_root>/<bundle folder name>``: where the runs of a bundle go (``runs/attention_unet_3d_ct``)."""
    name = Path(bundle_root).expanduser().resolve().name
    return str(Path(runs_root) / name)


def _run_folders(runs_dir: Path) -> list[Path]:
    """Run folders under ``runs_dir`` (those with a ``models/`` folder), oldest first by modification time."""
    if not runs_dir.is_dir():
        return []
    runs = [p for p in runs_dir.iterdir() if (p / "models").is_dir()]
    return sorted(runs, key=lambda p: ((p / "models").stat().st_mtime_ns, p.name))


def latest_run(runs_dir: str | os.PathLike[str], run_name: str = "", needs: str = _BEST) -> str:
    """The run folder to read from: ``runs_dir/run_name`` when a name is given, else the latest run whose
    ``models/`` holds ``needs`` (the best model by default; ``checkpoint_epoch=*.pt`` for a resume).

    Raises:
        FileNotFoundError: no such run, naming ``runs_dir`` and what to pass instead.
    """
    root = Path(runs_dir)
    if run_name:
        folder = root / run_name
        if not (folder / "models").is_dir():
            raise FileNotFoundError(f"`run_name` {run_name!r}: no run folder {folder} (with models/) to read from")
        return str(folder)
    runs = [p for p in _run_folders(root) if any((p / "models").glob(needs))]
    if not runs:
        raise FileNotFoundError(
            f"`runs_dir` {root.absolute()} holds no training run with models/{needs}; train first, or name the "
            "checkpoint folder with `--ckpt_dir` (and `--output_dir` for what this run writes)"
        )
    return str(runs[-1])


def _claim(root: Path, run_name: str) -> Path:
    """Create the folder of a new run: ``run_name``, or the time (``YYYYmmdd-HHMMSS``, ``-2``, ``-3``... when two
    runs start in the same second). A named folder may exist (the fresh-run guard checks its checkpoints)."""
    root.mkdir(parents=True, exist_ok=True)
    if run_name:
        (root / run_name).mkdir(exist_ok=True)
        return root / run_name
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for k in range(1, 1000):
        folder = root / (stamp if k == 1 else f"{stamp}-{k}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise FileExistsError(f"`runs_dir` {root}: 999 runs started at {stamp} already")


def _broadcast(value: str) -> str:
    """Rank 0's ``value`` on every process of a distributed run (the value itself in a single process)."""
    if idist.get_world_size() <= 1:
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return str(box[0])


def training_run(runs_dir: str | os.PathLike[str], run_name: str = "", resume: bool | str = False) -> str:
    """The folder of this training run.

    Args:
        runs_dir: the bundle's runs folder (see :func:`bundle_runs_dir`).
        run_name: a fixed name for the run folder; empty for a new time-stamped folder (or, with ``resume``, the
            latest run that has a checkpoint to resume from).
        resume: continue a run (a flag, see :func:`~attn_seg.engines.check_flag`).

    Returns:
        ``runs_dir/<name>``, created for a new run by rank 0 (every process of a distributed run gets rank 0's
        choice). The same call in the same process returns the same folder while that folder is still empty.
    """
    resume = check_flag("resume", resume)
    if resume:
        return _broadcast(latest_run(runs_dir, run_name, needs="checkpoint_epoch=*.pt") if idist.get_rank() == 0
                          else "")
    key = (str(Path(runs_dir).absolute()), str(run_name or ""))
    chosen = ""
    if idist.get_rank() == 0:
        earlier = _CHOSEN.get(key)
        # the folder this process claimed is reused while nothing was written into it (the same config read
        # twice); a second run in the same process gets a new one
        reuse = earlier is not None and Path(earlier).is_dir() and not any(Path(earlier).iterdir())
        chosen = earlier if reuse and earlier else str(_claim(Path(runs_dir), str(run_name or "")))
        _CHOSEN[key] = chosen
    return _broadcast(chosen)


class PromoteBest:
    """Copy the run's best model (and its training record) into the bundle's ``models/`` each time a validation
    saved a new one, when ``enabled``: the bundle's own ``model.pt`` is replaced only when the user asks
    (``--promote true``), and atomically, so a reader sees the previous model or the new one.

    Attach it to the validation evaluator after the best-model saver.

    Args:
        source_dir: the run's checkpoint folder (``ckpt_dir``).
        target_dir: the bundle's ``models/`` folder.
        enabled: a flag (``true``/``false`` strings as the command line gives them).
    """

    def __init__(self, source_dir: str | os.PathLike[str], target_dir: str | os.PathLike[str],
                 enabled: bool | str = False) -> None:
        self.source = Path(source_dir)
        self.target = Path(target_dir)
        self.enabled = check_flag("promote", enabled)
        self._promoted: tuple[int, int] | None = None

    def attach(self, engine: Engine) -> None:
        """Promote after each validation (rank 0 only)."""
        if self.enabled and idist.get_rank() == 0:
            engine.add_event_handler(Events.COMPLETED, self)

    def __call__(self, engine: Engine | None = None) -> bool:
        """Copy the best model if it changed since the last copy; returns whether it copied."""
        best = self.source / _BEST
        if not best.is_file() or self.source.resolve() == self.target.resolve():
            return False
        stat = best.stat()
        if self._promoted == (stat.st_mtime_ns, stat.st_size):
            return False
        self.target.mkdir(parents=True, exist_ok=True)
        for name in (RECORD_FILE, _BEST):  # the record first: the new weights never sit beside the old settings
            if (self.source / name).is_file():
                with atomic_path(self.target / name) as tmp:
                    shutil.copyfile(self.source / name, tmp)
        self._promoted = (stat.st_mtime_ns, stat.st_size)
        return True
