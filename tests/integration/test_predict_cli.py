"""``attn-seg predict`` as a real child process: a SIGKILL mid-folder leaves no partial files and a rerun completes
the rest; a corrupt case, or a colour picture given to a bundle for grey images, is reported, the others written,
exit status 1; inputs are never overwritten."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from inference_helpers import affine_for, ct_volume, write_tiny_bundle
from picture_helpers import rgb_picture
from PIL import Image

SHAPE = (41, 37, 13)


def _cases(folder: Path, count: int) -> list[Path]:
    folder.mkdir()
    paths = []
    for i in range(count):
        path = folder / f"case_{i:02d}.nii.gz"
        nib.save(nib.Nifti1Image(ct_volume(SHAPE, seed=i), affine_for("oblique", 3)), path)
        paths.append(path)
    return paths


def _command(bundle: Path, source: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "attn_seg", "predict", "--bundle", str(bundle), "-i", str(source), "-o", str(out),
            "--device", "cpu", "--no-progress", *extra]


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, encoding="utf-8", errors="replace", check=False)


def _segmentations(out: Path) -> list[Path]:
    """Segmentations under their real names; pathlib's ``*`` also matches the hidden ``.partial-...`` files."""
    return sorted(p for p in out.glob("*_seg.nii.gz") if not p.name.startswith("."))


def test_kill_mid_folder_leaves_no_partial_files_and_rerun_completes(tmp_path: Path) -> None:
    bundle = write_tiny_bundle(tmp_path / "bundle")
    images = _cases(tmp_path / "in", 8)
    out = tmp_path / "out"
    # flip TTA over all axes (8 passes) and probabilities make each case last long enough to be killed mid-run
    cmd = _command(bundle, tmp_path / "in", out, "--tta", "--save-probs")
    child = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while child.poll() is None and not _segmentations(out):
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    finished = _segmentations(out)
    assert 1 <= len(finished) < len(images)
    for path in out.iterdir():  # every file under a real name is complete
        if not path.name.startswith("."):
            np.asarray(nib.load(path).dataobj)
    proc = _run(cmd, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"{len(images) - len(finished)} written, {len(finished)} skipped" in proc.stdout
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"case_{i:02d}_{kind}.nii.gz" for i in range(8) for kind in ("seg", "probs"))
    for image in images:
        assert nib.load(out / f"{image.name[:-7]}_seg.nii.gz").shape == SHAPE


def test_corrupt_case_is_reported_and_the_others_written(tmp_path: Path) -> None:
    bundle = write_tiny_bundle(tmp_path / "bundle")
    images = _cases(tmp_path / "in", 2)
    bad = images[0].with_name("case_00b.nii.gz")
    bad.write_bytes(images[0].read_bytes()[:400])  # a truncated download
    before = {p: p.read_bytes() for p in (tmp_path / "in").iterdir()}
    proc = _run(_command(bundle, tmp_path / "in", tmp_path / "out"), tmp_path)
    assert proc.returncode == 1
    assert "1 case(s) failed" in proc.stderr
    assert str(bad) in proc.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["case_00_seg.nii.gz", "case_01_seg.nii.gz"]
    assert {p: p.read_bytes() for p in (tmp_path / "in").iterdir()} == before  # inputs untouched


@pytest.mark.parametrize("what", ["missing input", "output is the input folder"])
def test_bad_invocations_fail_cleanly(tmp_path: Path, what: str) -> None:
    bundle = write_tiny_bundle(tmp_path / "bundle")
    _cases(tmp_path / "in", 1)
    source = tmp_path / ("nowhere" if what == "missing input" else "in")
    out = tmp_path / "in" if what != "missing input" else tmp_path / "out"
    proc = _run(_command(bundle, source, out), tmp_path)
    assert proc.returncode == 1
    assert "attn-seg predict: error:" in proc.stderr
    assert str(source) in proc.stderr
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["case_00.nii.gz"]


def test_colour_picture_for_a_grey_bundle_is_refused_and_the_others_written(tmp_path: Path) -> None:
    bundle = write_tiny_bundle(tmp_path / "bundle", spatial_dims=2)
    (tmp_path / "in").mkdir()
    grey, colour = tmp_path / "in" / "grey.png", tmp_path / "in" / "colour.png"
    Image.fromarray(rgb_picture(40, 52, seed=1)).convert("L").save(grey)
    Image.fromarray(rgb_picture(40, 52, seed=2)).save(colour)
    proc = _run(_command(bundle, tmp_path / "in", tmp_path / "out"), tmp_path)
    assert proc.returncode == 1
    assert "1 written" in proc.stdout
    assert f"image {colour} has 3 channel(s) but `network_def#in_channels` is 1" in proc.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["grey_seg.nii.gz"]
    assert nib.load(tmp_path / "out" / "grey_seg.nii.gz").shape == (52, 40)
