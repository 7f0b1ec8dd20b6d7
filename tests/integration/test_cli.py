"""The ``attn-seg`` command line, run as a user runs it: in a child process."""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest


def _cli(python: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    cmd = [python, "-m", "attn_seg", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, encoding="utf-8", errors="replace", check=False)


def test_synth_writes_a_dataset(python: str, tmp_path: Path) -> None:
    proc = _cli(python, "synth", "--out", "d", "--spatial-dims", "2", "--cases", "3", "--classes", "3",
                "--seed", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((tmp_path / "d" / "dataset.json").read_text())
    assert manifest["numTraining"] == 3
    assert manifest["tensorImageSize"] == "2D"
    assert len(manifest["labels"]) == 4
    assert len(list((tmp_path / "d" / "imagesTr").glob("*.nii.gz"))) == 3


def test_synth_refuses_existing_folder(python: str, tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "keep.txt").write_text("x")
    proc = _cli(python, "synth", "--out", "d", cwd=tmp_path)
    assert proc.returncode == 1
    assert "not empty" in proc.stderr
    assert str(tmp_path / "d") in proc.stderr
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["keep.txt"]


def test_synth_rejects_bad_arguments(python: str, tmp_path: Path) -> None:
    proc = _cli(python, "synth", "--out", "d", "--cases", "0", cwd=tmp_path)
    assert proc.returncode == 2
    assert "argument --cases: expected an integer >= 1, got '0'" in proc.stderr
    proc = _cli(python, "synth", "--out", "d", "--spatial-dims", "4", cwd=tmp_path)
    assert proc.returncode == 2
    assert "spatial-dims" in proc.stderr
    assert not (tmp_path / "d").exists()


def test_demo_end_to_end(python: str, tmp_path: Path, tiny_3d: dict) -> None:
    sets = [f"--set={k}={v}" for k, v in tiny_3d.items()]
    proc = _cli(python, "demo", "--out", "run", "--cases", "3", "--test-cases", "2", "--epochs", "1", *sets,
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = tmp_path / "run"
    summary = json.loads((out / "summary.json").read_text())
    assert [c["case"] for c in summary["cases"]] == ["case_0003", "case_0004"]
    assert summary["classes"] == ["organ", "lesion"]
    assert summary["training_cases"] == 3
    assert (out / "bundle" / "models" / "model.pt").is_file()
    for case in ("case_0003", "case_0004"):
        pred = nib.load(out / "predictions" / f"{case}_seg.nii.gz")
        image = nib.load(out / "data" / "imagesTs" / f"{case}.nii.gz")
        assert pred.shape == image.shape
        np.testing.assert_allclose(pred.affine, image.affine, atol=1e-4)
        for gate in (0, 1):  # tiny network: two gated skip levels
            attention = nib.load(out / "predictions" / f"{case}_attn_g{gate}.nii.gz")
            assert attention.shape == image.shape
            values = attention.get_fdata()
            assert values.min() >= 0.0
            assert values.max() <= 1.0
    assert "Mean Dice over cases" in (out / "summary.md").read_text()
    report = out / "report"
    assert len((report / "metrics.csv").read_text().splitlines()) == 1 + 2 * 2  # header + cases x classes
    assert {"report.html", "curves.png", "boxplots.png", "summary.json"} <= {p.name for p in report.iterdir()}
    assert list(report.glob("panel_worst_case_000*.png"))


def test_demo_refuses_non_empty_output(python: str, tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "results.csv").write_text("precious")
    proc = _cli(python, "demo", "--out", "run", cwd=tmp_path)
    assert proc.returncode == 1
    assert "not empty" in proc.stderr
    assert (tmp_path / "run" / "results.csv").read_text() == "precious"


_PREDICT = ["predict", "--bundle", "b", "-i", "x", "-o", "y"]
_EVALUATE = ["evaluate", "--pred", "p", "--label", "l", "-o", "o"]
#: A bad value of each checked flag of every subcommand, and the start of argparse's error line that names it.
BAD_ARGUMENTS = [
    ([*_PREDICT, "--precision", "fp8"], "argument --precision: invalid choice: 'fp8'"),
    ([*_PREDICT, "--tta", "x"], "argument --tta: expected comma-separated spatial axes like 0,1,2"),
    ([*_PREDICT, "--tta", "0,3"], "argument --tta: expected comma-separated spatial axes like 0,1,2"),
    ([*_PREDICT, "--set", "roi_size"], "argument --set: expected ID=VALUE"),
    ([*_PREDICT, "--set", "=3"], "argument --set: expected ID=VALUE"),
    ([*_PREDICT, "--overlap", "1"], "argument --overlap: expected a number in [0, 1)"),
    ([*_PREDICT, "--sw-batch-size", "0"], "argument --sw-batch-size: expected an integer >= 1"),
    ([*_PREDICT, "--device", "gpu"], "argument --device: expected a device like cpu, cuda or cuda:1"),
    ([*_PREDICT, "--output-device", "cuda1"], "argument --output-device: expected a device"),
    (["check-data", "d", "--classes", "0"], "argument --classes: expected an integer >= 1"),
    (["check-data", "d", "--in-channels", "0"], "argument --in-channels: expected an integer >= 1"),
    (["check-data", "d", "--divisor", "-16"], "argument --divisor: expected an integer >= 1"),
    ([*_EVALUATE, "--classes", "0=background"], "argument --classes: class entry '0=background'"),
    ([*_EVALUATE, "--tolerance", "0"], "argument --tolerance: expected a number > 0"),
    (["synth", "--out", "d", "--cases", "0"], "argument --cases: expected an integer >= 1"),
    (["synth", "--out", "d", "--test-cases", "-1"], "argument --test-cases: expected an integer >= 0"),
    (["synth", "--out", "d", "--classes", "7"], "argument --classes: expected an integer from 1 to 6"),
    (["study", "s.json", "--max-trials", "0"], "argument --max-trials: expected an integer >= 1"),
    (["study", "s.json", "--pictures", "-1"], "argument --pictures: expected an integer >= 0"),
]
#: Runs ``main`` on each argument list of ``sys.argv[1]`` (JSON) in one process; prints each exit status and error
#: text, and the heavy modules loaded by then.
_PROBE = """
import contextlib, io, json, sys
from attn_seg.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as stop:
            code = stop.code
    results.append([code, err.getvalue()])
heavy = sorted(m for m in ("torch", "monai", "attn_seg.data", "attn_seg.inference") if m in sys.modules)
print(json.dumps({"results": results, "loaded": heavy}))
"""


def test_argument_errors_are_reported_before_anything_heavy_loads(python: str, tmp_path: Path) -> None:
    # the parser and every subcommand's options load no torch, MONAI or data code: a wrong value fails at once,
    # in argparse's one error line naming the flag and the value, exit status 2
    argvs = [argv for argv, _ in BAD_ARGUMENTS]
    proc = subprocess.run([python, "-c", _PROBE, json.dumps(argvs)], cwd=tmp_path, capture_output=True,
                          encoding="utf-8", check=False)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["loaded"] == []
    for (argv, expected), (code, err) in zip(BAD_ARGUMENTS, report["results"], strict=True):
        assert code == 2, (argv, err)
        assert "Traceback" not in err
        last = err.strip().splitlines()[-1]
        assert last.startswith(f"attn-seg {argv[0]}: error: {expected}"), (argv, last)
        assert repr(argv[-1]) in last, (argv, last)


def test_tta_in_brackets_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    # an old README synopsis printed --tta [0,1,2]; users copy it
    from attn_seg.cli import main, predict

    seen: list[argparse.Namespace] = []
    monkeypatch.setattr(predict, "run", lambda args: seen.append(args) or 0)
    for value in ("[0,1,2]", "0,1,2"):
        assert main([*_PREDICT, "--tta", value, "--set", "overlap=0.25"]) == 0
    assert [args.tta for args in seen] == [[0, 1, 2], [0, 1, 2]]
    assert seen[0].overrides == [("overlap", 0.25)]


def test_no_tta_turns_the_bundle_default_off_and_excludes_tta(monkeypatch: pytest.MonkeyPatch) -> None:
    from attn_seg.cli import main, predict

    seen: list[argparse.Namespace] = []
    monkeypatch.setattr(predict, "run", lambda args: seen.append(args) or 0)
    assert main([*_PREDICT, "--no-tta"]) == 0
    assert seen[0].tta == []
    assert predict._overrides(seen[0], Path("y"), "cpu")["tta_axes"] == []
    with pytest.raises(SystemExit) as raised:
        main([*_PREDICT, "--no-tta", "--tta", "0"])
    assert raised.value.code == 2


def test_evaluate_classes_are_read_when_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    from attn_seg.cli import evaluate, main

    seen: list[argparse.Namespace] = []
    monkeypatch.setattr(evaluate, "run", lambda args: seen.append(args) or 0)
    assert main([*_EVALUATE, "--classes", "organ", "3=lesion"]) == 0
    assert seen[0].classes == {1: "organ", 3: "lesion"}


def test_bad_tta_is_one_error_line_without_a_traceback(python: str, tmp_path: Path) -> None:
    proc = _cli(python, *_PREDICT, "--tta", "x", cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert errors == ["attn-seg predict: error: argument --tta: expected comma-separated spatial axes like 0,1,2 "
                      "(or --tta alone for every axis), got 'x'"]


def test_the_precision_choices_are_the_engines() -> None:
    from attn_seg.cli.predict import PRECISIONS as CHOICES
    from attn_seg.engines import PRECISIONS

    assert CHOICES == PRECISIONS
