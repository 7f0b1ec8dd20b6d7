"""Fixtures for inference tests: a tiny bundle (2D or 3D) with random weights, and images written as NIfTI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import pytest
from inference_helpers import affine_for, ct_volume, write_tiny_bundle


@pytest.fixture
def tiny_bundle(tmp_path: Path) -> Callable[[int], Path]:
    """``tiny_bundle(spatial_dims)``: a bundle folder with a tiny network and random weights (seed 0)."""
    return lambda spatial_dims=3: write_tiny_bundle(tmp_path / f"bundle{spatial_dims}d", spatial_dims)


@pytest.fixture
def write_image(tmp_path: Path) -> Callable[..., Path]:
    """``write_image(name, shape, layout)``: an int16 CT-like NIfTI in ``tmp_path/in`` (created)."""

    def _write(name: str, shape: tuple[int, ...], layout: str = "ras", seed: int = 0) -> Path:
        folder = tmp_path / "in"
        folder.mkdir(exist_ok=True)
        image = nib.Nifti1Image(ct_volume(shape, seed), affine_for(layout, len(shape)))
        image.header.set_slope_inter(1.0, -10.0)  # a scaled CT, as scanners store them
        path = folder / name
        nib.save(image, path)
        return path

    return _write
