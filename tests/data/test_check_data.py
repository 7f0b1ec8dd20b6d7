"""``attn-seg check-data`` run as a user runs it, plus the fingerprint helpers behind it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from attn_seg.cli import main
from attn_seg.data import fingerprint, inspect_cases, load_cases, suggest_roi_size


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the command in this process (fast); the subprocess tests show it also works as users run it."""
    code = main(["check-data", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _check_data(python: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    cmd = [python, "-m", "attn_seg", "check-data", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, encoding="utf-8", errors="replace", check=False)


def test_synthetic_3d_set_is_clean(python: str, synthetic_3d: Path, tmp_path: Path) -> None:
    proc = _check_data(python, str(synthetic_3d), "--preset", "ct", "--json", "report.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "cases: 4 valid, 0 problem(s); 3D" in proc.stdout
    assert "label values: [0, 1, 2]" in proc.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    suggested = report["fingerprint"]["suggested"]
    assert all(n % 16 == 0 for n in suggested["roi_size"])
    assert suggested["hu_window"][0] < suggested["hu_window"][1]
    assert report["num_classes"] == 3


def test_refuses_to_overwrite_report(synthetic_3d: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.json"
    out.write_text("mine")
    code, _, err = _main(capsys, str(synthetic_3d), "--json", str(out))
    assert code == 1
    assert "already exists; pass --overwrite" in err
    assert out.read_text() == "mine"
    code, _, _ = _main(capsys, str(synthetic_3d), "--json", str(out), "--overwrite", "--headers-only")
    assert code == 0
    assert json.loads(out.read_text())["fingerprint"]["num_cases"] == 4


def test_isbi_2d_folder(
    python: str, tmp_path: Path, shared_data: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    isbi = shared_data("isbi2012_membrane")
    proc = _check_data(python, str(isbi), "--classes", "1", "--label-map", "255=1", "--spatial-dims", "2",
                       "--json", "isbi.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "cases: 30 valid, 0 problem(s); 2D" in proc.stdout
    assert "label values: [0, 1]" in proc.stdout
    assert json.loads((tmp_path / "isbi.json").read_text())["fingerprint"]["suggested"]["roi_size"] == [512, 512]
    code, _, _ = _main(capsys, str(isbi), "--classes", "1", "--headers-only")
    assert code == 0, "the header pass does not read label values"
    code, _, err = _main(capsys, str(isbi), "--classes", "1")  # 255 without --label-map
    lines = err.splitlines()
    assert code == 1
    assert len(lines) == 31, "one line per case, then the summary"
    assert lines[0].startswith(f"label {isbi / 'label' / '0.png'} has values [255] outside the declared classes 0..1")
    assert "map them with label_map, e.g. {255: 1}" in lines[0]


def test_bad_data_set_one_line_per_problem_nothing_written(
    pair: Callable[..., dict], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "my data"
    good, truncated, missing = pair("a", folder=data), pair("b", folder=data), pair("c", folder=data)
    Path(truncated["image"]).write_bytes(Path(truncated["image"]).read_bytes()[:60])
    Path(missing["label"]).unlink()
    code, _, err = _main(capsys, str(data), "--classes", "2", "--json", str(tmp_path / "out.json"))
    assert code == 1
    problems = err.splitlines()[:-1]
    assert len(problems) == 2, err
    assert problems[0].startswith(f"image {truncated['image']} is not a readable image (corrupt or truncated?)")
    assert problems[1] == f"label {missing['label']} does not exist"
    assert err.splitlines()[-1] == "attn-seg check-data: 2 problem(s); nothing written"
    assert not (tmp_path / "out.json").exists()
    assert good["image"] in str(load_cases(data))


def test_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _main(capsys, str(tmp_path / "nowhere"))
    assert code == 1
    assert "does not exist" in err
    with pytest.raises(SystemExit) as info:
        main(["check-data", str(tmp_path), "--label-map", "255"])
    assert info.value.code == 2
    assert "VALUE=CLASS" in capsys.readouterr().err


def test_fingerprint_of_synthetic_set(synthetic_3d: Path) -> None:
    report = fingerprint(inspect_cases(load_cases(synthetic_3d), num_classes=3), preset="ct")
    assert report["num_cases"] == 4
    assert report["labels"]["values"] == [0, 1, 2]
    assert sum(report["labels"]["voxel_fraction"].values()) == pytest.approx(1.0)
    assert report["foreground_intensity"]["p50"] > 0  # organs are brighter than water in HU
    assert report["suggested"]["pixdim"] == pytest.approx(report["spacing"]["median"], abs=1e-3)
    assert sum(report["orientations"].values()) == 4


def test_suggest_roi_size() -> None:
    roi = suggest_roi_size((200.0, 180.0, 90.0), max_voxels=96 * 96 * 64)
    assert all(n % 16 == 0 for n in roi)
    assert np.prod(roi) <= 96 * 96 * 64
    assert roi[0] >= roi[1] > roi[2], "the patch keeps the image's aspect"
    assert suggest_roi_size((40.0, 30.0), max_voxels=512 * 512) == [32, 16]
    assert suggest_roi_size((5.0, 5.0, 5.0), max_voxels=10**6) == [16, 16, 16]
    with pytest.raises(ValueError, match="max_voxels"):
        suggest_roi_size((64.0, 64.0, 64.0), max_voxels=10)


