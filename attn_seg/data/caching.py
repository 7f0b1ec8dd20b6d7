"""Datasets with a choice of caching: none, in memory (``CacheDataset``) or on disk (``PersistentDataset``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from monai.data import CacheDataset, Dataset, PersistentDataset
from monai.utils import look_up_option

__all__ = ["CACHE_MODES", "make_dataset"]

#: ``"none"``: transform on every access; ``"memory"``: cache the deterministic part in RAM;
#: ``"disk"``: cache it as files under ``cache_dir`` (survives restarts; delete the folder after changing them).
CACHE_MODES = ("none", "memory", "disk")


def make_dataset(
    data: Sequence[dict],
    transform: Callable,
    *,
    cache: str = "memory",
    cache_dir: str | os.PathLike[str] | None = None,
    cache_rate: float = 1.0,
    num_workers: int = 0,
) -> Dataset:
    """Build a MONAI dataset with the chosen caching.

    Caching stores each case's output of the transforms up to the first random one, so keep deterministic
    transforms first (as :mod:`attn_seg.transforms` presets do).

    Args:
        data: the datalist.
        transform: a MONAI ``Compose`` (or any callable on a case dict).
        cache: one of :data:`CACHE_MODES`.
        cache_dir: folder for ``"disk"`` caching (created if missing).
        cache_rate: share of cases cached for ``"memory"``.
        num_workers: threads filling the memory cache.

    Returns:
        The dataset.

    Raises:
        ValueError: when ``cache`` is unknown (with a suggestion) or ``"disk"`` has no ``cache_dir``.
    """
    mode = look_up_option(cache, CACHE_MODES)
    if mode == "none":
        return Dataset(list(data), transform)
    if mode == "memory":
        return CacheDataset(list(data), transform, cache_rate=cache_rate, num_workers=num_workers, progress=False)
    if cache_dir is None:
        raise ValueError("`cache_dir` is needed for cache='disk'")
    folder = Path(cache_dir).expanduser().absolute()
    folder.mkdir(parents=True, exist_ok=True)
    return PersistentDataset(list(data), transform, cache_dir=folder)
