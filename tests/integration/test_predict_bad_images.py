"""``attn-seg predict`` refuses images it cannot segment meaningfully, each with the file and the cause, writes
nothing for them and segments the good image beside them (exit status 1)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from inference_helpers import affine_for, ct_volume, write_tiny_bundle

SHAPE = (30, 28, 12)


def _infinite(path: Path) -> None:
    data = ct_volume(SHAPE).astype(np.float32)
    data[3, 4, 5], data[6, 7, 8] = np.inf, -np.inf
    nib.save(nib.Nifti1Image(data, affine_for("ras", 3)), path)


def _complex(path: Path) -> None:
    nib.save(nib.Nifti1Image(ct_volume(SHAPE).astype(np.complex64), affine_for("ras", 3)), path)


def _singular(path: Path) -> None:
    affine = affine_for("ras", 3)
    affine[:3, 2] = 0.0  # a zero column in the sform
    image = nib.Nifti1Image(ct_volume(SHAPE), None)
    image.set_sform(affine, code=1)
    image.set_qform(None, code=0)
    nib.save(image, path)


def _declared(shape: tuple[int, ...]) -> Callable[[Path], None]:
    def write(path: Path) -> None:  # a header declaring `shape` float32 voxels, then 1 KB of data
        header = nib.Nifti1Header()
        header.set_data_shape(shape)
        header.set_data_dtype(np.float32)
        header.set_sform(affine_for("ras", 3), code=1)
        header["vox_offset"] = 352
        path.write_bytes(header.binaryblock + b"\0" * 4 + b"\1" * 1024)

    return write


def _empty_axis(path: Path) -> None:
    nib.save(nib.Nifti1Image(np.zeros((30, 0, 12), np.float32), affine_for("ras", 3)), path)


BAD = {
    "infinite voxels": (_infinite, ".nii.gz", "0 NaN and 2 infinite voxels"),
    "complex voxels": (_complex, ".nii.gz", "holds complex voxels (complex64)"),
    "singular sform": (_singular, ".nii.gz", "has a singular affine"),
    "3000^3 voxels in 1 KB": (_declared((3000, 3000, 3000)), ".nii", "GB as float32, more than the memory budget"),
    "file shorter than declared": (_declared((64, 64, 64)), ".nii", "declares 1048576 bytes of voxels but the file"),
    "zero-length axis": (_empty_axis, ".nii.gz", "has an empty axis: shape (30, 0, 12)"),
}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path, Path]:
    """One ``attn-seg predict`` over a folder of every bad image and one good image: (process, input, output)."""
    tmp = tmp_path_factory.mktemp("bad_images")
    bundle = write_tiny_bundle(tmp / "bundle")
    source = tmp / "in"
    source.mkdir()
    nib.save(nib.Nifti1Image(ct_volume(SHAPE), affine_for("ras", 3)), source / "good.nii.gz")
    for i, (write, suffix, _) in enumerate(BAD.values()):
        write(source / f"bad{i}{suffix}")
    out = tmp / "out"
    cmd = [sys.executable, "-m", "attn_seg", "predict", "--bundle", str(bundle), "-i", str(source), "-o", str(out),
           "--device", "cpu", "--no-progress"]
    return subprocess.run(cmd, cwd=tmp, capture_output=True, encoding="utf-8", errors="replace", check=False), \
        source, out


def test_only_the_good_image_is_written(run: tuple[subprocess.CompletedProcess, Path, Path]) -> None:
    proc, _, out = run
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert f"1 written, 0 skipped (outputs exist), {len(BAD)} failed" in proc.stdout
    assert "MemoryError" not in proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["good_seg.nii.gz"]


@pytest.mark.parametrize("kind", list(BAD))
def test_bad_image_is_refused_with_the_file_and_the_cause(
    run: tuple[subprocess.CompletedProcess, Path, Path], kind: str
) -> None:
    proc, source, _ = run
    _, suffix, cause = BAD[kind]
    bad = source / f"bad{list(BAD).index(kind)}{suffix}"
    failure = [line for line in proc.stderr.splitlines() if str(bad) in line]
    assert failure, proc.stderr[-2000:]
    assert cause in failure[0], failure[0]
