"""``attn-seg label-app``: the MONAI Label app folder it lays out (no ``monailabel`` needed); the server itself is
tested in ``tests/bundles/test_monailabel_server.py`` where MONAI Label is installed."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from attn_seg.monai_label.folder import MAIN_PY, make_app

BUNDLE = "attention_unet_hippocampus_mri"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "attn_seg", "label-app", *args], cwd=cwd, capture_output=True,
                          text=True, check=False)


def test_app_folder_has_main_and_the_bundle_with_its_weights(tmp_path: Path) -> None:
    proc = _cli("--out", "app", "--bundle", BUNDLE, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    app = tmp_path / "app"
    tree = ast.parse((app / "main.py").read_text())
    imported = [a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and node.module == "attn_seg.monai_label.app" for a in node.names]
    assert imported == ["App"]
    bundle = app / "model" / BUNDLE
    assert (bundle / "configs" / "inference.json").is_file()
    assert (bundle / "models" / "model.pt").is_file()
    assert not (bundle / "data").exists()
    assert not (bundle / "runs").exists()
    assert f"--app app --studies <images folder> --conf models {BUNDLE}" in proc.stdout


def test_bundles_are_added_but_never_replaced(tmp_path: Path) -> None:
    make_app(tmp_path / "app", [BUNDLE])
    make_app(tmp_path / "app", ["attention_unet_2d"])
    assert sorted(p.name for p in (tmp_path / "app" / "model").iterdir()) == ["attention_unet_2d", BUNDLE]
    weights = tmp_path / "app" / "model" / BUNDLE / "models" / "model.pt"
    weights.write_bytes(b"the user's own retrained model")
    proc = _cli("--out", "app", "--bundle", BUNDLE, cwd=tmp_path)
    assert proc.returncode == 1
    assert f"{tmp_path / 'app' / 'model' / BUNDLE} exists already" in proc.stderr
    assert weights.read_bytes() == b"the user's own retrained model"


def test_another_apps_main_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.py").write_text("# someone else's app\n")
    with pytest.raises(FileExistsError, match="not an attn-seg app"):
        make_app(tmp_path / "app", [BUNDLE])
    assert (tmp_path / "app" / "main.py").read_text() == "# someone else's app\n"
    assert not (tmp_path / "app" / "model").exists()


def test_unknown_bundle_is_named_and_nothing_written(tmp_path: Path) -> None:
    proc = _cli("--out", "app", "--bundle", BUNDLE, "--bundle", "no_such_bundle", cwd=tmp_path)
    assert proc.returncode == 1
    assert "'no_such_bundle' not found" in proc.stderr
    assert not (tmp_path / "app").exists()


def test_main_py_is_the_one_written(tmp_path: Path) -> None:
    make_app(tmp_path / "app", [BUNDLE])
    assert (tmp_path / "app" / "main.py").read_text() == MAIN_PY
