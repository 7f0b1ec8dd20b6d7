"""Read scalar curves (loss, learning rate, validation metrics) from TensorBoard event files."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["read_scalars"]


def read_scalars(log_dir: str | os.PathLike[str]) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag in the event files under a folder, whatever the tags are.

    Args:
        log_dir: folder holding ``events.out.tfevents.*`` files (searched recursively; a training run's
            ``<bundle>/eval``).

    Returns:
        ``{tag: [(step, value), ...]}`` sorted by step; tags of several event files are joined.

    Raises:
        FileNotFoundError: when the folder is missing or holds no event file.
    """
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    root = Path(log_dir)
    files = sorted(root.rglob("events.out.tfevents.*")) if root.is_dir() else []
    if not files:
        raise FileNotFoundError(f"no TensorBoard event files (events.out.tfevents.*) under {root}")
    scalars: dict[str, list[tuple[int, float]]] = {}
    for path in files:
        accumulator = EventAccumulator(str(path), size_guidance={"scalars": 0})
        accumulator.Reload()
        for tag in accumulator.Tags().get("scalars", []):
            scalars.setdefault(tag, []).extend((int(e.step), float(e.value)) for e in accumulator.Scalars(tag))
    return {tag: sorted(points, key=lambda p: p[0]) for tag, points in sorted(scalars.items())}
