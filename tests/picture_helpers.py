"""Helpers for tests of colour pictures: small RGB pictures and a Kvasir-SEG-like folder (images/ + masks/ JPEG).

Plain functions, importable from any test folder (``tests/`` is on ``sys.path`` through the root conftest).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["rgb_picture", "write_kvasir_like"]


def rgb_picture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 endoscopy-like picture: reddish, with a paler disc in the middle and noise."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width]
    disc = (rows - height / 2) ** 2 + (cols - width / 2) ** 2 < (min(height, width) / 4) ** 2
    colour = np.where(disc[..., None], [230, 180, 130], [200, 90, 80]).astype(np.float64)
    return np.clip(colour + rng.normal(0, 6, size=(height, width, 3)), 0, 255).astype(np.uint8)


def write_kvasir_like(root: Path, sizes: Sequence[tuple[int, int]], *, grey_image: int | None = None) -> Path:
    """Write ``images/<id>.jpg`` (RGB) and ``masks/<id>.jpg`` (RGB JPEG 0/255 masks, noisy) of ``(H, W)`` sizes.

    Args:
        root: the data set folder (created).
        sizes: one ``(height, width)`` per case.
        grey_image: index of a case whose image is written in grey (1 channel) instead of colour.

    Returns:
        ``root``.
    """
    for folder in ("images", "masks"):
        (root / folder).mkdir(parents=True)
    for i, (height, width) in enumerate(sizes):
        picture = rgb_picture(height, width, seed=i)
        image = Image.fromarray(picture).convert("L") if i == grey_image else Image.fromarray(picture)
        image.save(root / "images" / f"case{i}.jpg", quality=90)
        rows, cols = np.mgrid[0:height, 0:width]
        mask = ((rows - height / 2) ** 2 + (cols - width / 2) ** 2 < (min(height, width) / 4) ** 2) * 255
        Image.fromarray(np.dstack([mask.astype(np.uint8)] * 3)).save(root / "masks" / f"case{i}.jpg", quality=75)
    return root
