"""Files written whole or not at all: every writer of the package (checkpoints, histories, records, JSON, study
tables, predictions) writes to a hidden temporary sibling, ``.partial-<pid>-<name>``, flushes it to disk and
renames it into place, so that a reader, or a run killed half-way, sees the previous file or the complete new
one. :func:`remove_partials` clears the temporary files of processes that died.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from attn_seg.processes import pid_alive

__all__ = ["PARTIAL_PREFIX", "atomic_path", "atomic_write_json", "atomic_write_text", "remove_partials"]

#: Name prefix of the temporary files, followed by the writing process's id.
PARTIAL_PREFIX = ".partial-"


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """The temporary path to write ``path``'s new content to; renamed over ``path`` when the block ends.

    Args:
        path: the destination file; its folder is created when missing.

    Yields:
        ``.partial-<pid>-<name>`` beside ``path``. When the block raises (or the process is killed), ``path`` is left
        as it was and the temporary file is removed (or left for :func:`remove_partials`).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{PARTIAL_PREFIX}{os.getpid()}-{target.name}")
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` whole or not at all; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def _json_default(value: Any) -> Any:
    """Paths as strings, numpy scalars and arrays as numbers and lists; anything else is an error."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def atomic_write_json(content: Any, path: str | os.PathLike[str], *, indent: int = 2) -> Path:
    """Write ``content`` as JSON (paths and numpy values converted) to ``path`` whole or not at all."""
    text = json.dumps(content, indent=indent, ensure_ascii=False, allow_nan=True, default=_json_default)
    return atomic_write_text(path, text + "\n")


def remove_partials(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files in ``folder`` of processes that are gone; return them. Others are untouched."""
    removed = []
    for path in Path(folder).glob(f"{PARTIAL_PREFIX}*"):
        pid_text = path.name[len(PARTIAL_PREFIX) :].split("-", 1)[0]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and not pid_alive(int(pid_text)):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
