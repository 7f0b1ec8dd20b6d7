"""Helpers for inference tests (unit and CLI): a tiny bundle with random weights and CT-like NIfTI images.

Plain functions, importable from any test folder (``tests/`` is on ``sys.path`` through the root conftest).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch

from attn_seg.bundles import find_bundle
from attn_seg.inference import read_bundle

__all__ = ["TINY", "affine_for", "ct_volume", "write_tiny_bundle"]

#: The tiny settings written into the copied bundle's inference.json, per spatial_dims.
TINY = {
    3: {"channels": [4, 8, 16], "strides": [2, 2], "roi_size": [32, 32, 16], "pixdim": [3.0, 3.0, 4.0]},
    2: {"channels": [4, 8, 16], "strides": [2, 2], "roi_size": [32, 32], "pixdim": [2.0, 2.0]},
}


def write_tiny_bundle(target: Path, spatial_dims: int = 3, seed: int = 0) -> Path:
    """Copy the 3D CT bundle's configs to ``target``, make its inference network tiny, save random weights."""
    shutil.copytree(find_bundle("attention_unet_3d_ct") / "configs", target / "configs")
    config_file = target / "configs" / "inference.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    tiny = TINY[spatial_dims]
    config["network_def"].update(spatial_dims=spatial_dims, channels=tiny["channels"], strides=tiny["strides"])
    config.update(roi_size=tiny["roi_size"], pixdim=tiny["pixdim"], sw_batch_size=2)  # ct_preset orients to RAS[:dims]
    config_file.write_text(json.dumps(config, indent=2), encoding="utf-8")
    (target / "models").mkdir()
    torch.manual_seed(seed)
    torch.save(read_bundle(target).network_def().state_dict(), target / "models" / "model.pt")
    return target


def ct_volume(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """An int16 CT-like image: a bright ellipsoid in soft tissue, with noise."""
    rng = np.random.default_rng(seed)
    grid = np.meshgrid(*[np.linspace(-1, 1, s) for s in shape], indexing="ij")
    inside = sum(g**2 for g in grid) < 0.4
    image = np.where(inside, 300.0, 0.0) + rng.normal(0, 30, shape)
    return image.astype(np.int16)


def affine_for(layout: str, spatial_dims: int) -> np.ndarray:
    """A 4x4 affine: ``ras``, ``lps``, ``oblique`` (LPS tilted 20 degrees) or ``anisotropic`` (0.7 x 1.1 x 4 mm)."""
    spacing = {"anisotropic": [0.7, 1.1, 4.0]}.get(layout, [1.5, 1.5, 2.0])
    signs = [-1.0, -1.0, 1.0] if layout in ("lps", "oblique") else [1.0, 1.0, 1.0]
    linear = np.diag([s * d for s, d in zip(signs, spacing, strict=True)])
    if layout == "oblique":
        angle = np.deg2rad(20.0)
        c, s = np.cos(angle), np.sin(angle)
        tilt = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) if spatial_dims == 2 else \
            np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
        linear = tilt @ linear
    affine = np.eye(4)
    affine[:3, :3], affine[:3, 3] = linear, [12.0, -30.0, 55.0]
    return affine
