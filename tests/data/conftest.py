"""Helpers for data tests: tiny NIfTI files written to ``tmp_path``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

#: A non-RAS, anisotropic voxel-to-world matrix (LPS axes, 0.8 x 0.8 x 2.5 mm).
AFFINE = np.array([[-0.8, 0, 0, 10.0], [0, -0.8, 0, 20.0], [0, 0, 2.5, -30.0], [0, 0, 0, 1]])


def save_nifti(path: Path, array: np.ndarray, affine: np.ndarray = AFFINE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(array, affine), str(path))
    return path


def make_pair(folder: Path, name: str = "case", shape: tuple[int, ...] = (12, 10, 6), seed: int = 0) -> dict:
    """Write an int16 image and a {0, 1, 2} label with the same grid; return the datalist entry."""
    rng = np.random.default_rng(seed)
    image = rng.integers(-100, 300, size=shape).astype(np.int16)
    label = np.zeros(shape, dtype=np.uint8)
    label[2:6, 2:6] = 1
    label[7:9, 6:8] = 2
    affine = AFFINE if len(shape) >= 3 else np.diag([0.8, 0.8, 1.0, 1.0])
    return {
        "image": str(save_nifti(folder / f"{name}.nii.gz", image, affine)),
        "label": str(save_nifti(folder / f"{name}_seg.nii.gz", label, affine)),
    }


@pytest.fixture
def nifti() -> Callable[..., Path]:
    """``nifti(path, array, affine=AFFINE)`` saves a NIfTI file."""
    return save_nifti


@pytest.fixture
def lps_affine() -> np.ndarray:
    """The LPS, 0.8 x 0.8 x 2.5 mm affine of the test cases."""
    return AFFINE.copy()


@pytest.fixture
def pair(tmp_path: Path) -> Callable[..., dict]:
    """``pair(name, shape=..., folder=...)`` writes one image/label case in ``tmp_path``."""

    def _make(name: str = "case", shape: tuple[int, ...] = (12, 10, 6), folder: Path | None = None, seed: int = 0):
        return make_pair(folder or tmp_path, name, shape, seed)

    return _make
