"""Settings given at training time reach inference: a bundle trained with command-line overrides of spacing, patch,
classes and network is segmented by ``attn-seg predict`` and by MONAI's runner without repeating them, with the
labels of a run that repeats them; an inference setting that contradicts the record is refused by name."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from bundle_helpers import in_place

from attn_seg.bundles import bundle_command, find_bundle
from attn_seg.data import SyntheticSpec, write_synthetic_dataset
from attn_seg.engines import RECORD_FILE

#: Training overrides unlike inference.json's own values: spacing, patch, classes (one foreground) and network.
TRAINED = {
    "pixdim": [3.0, 3.0, 4.0],
    "roi_size": [32, 32, 16],
    "num_classes": 2,
    "class_names": ["lesion"],
    "network_def#channels": [4, 8, 16],
    "network_def#strides": [2, 2],
}


def _labels(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: np.asarray(nib.load(p).dataobj) for p in sorted(folder.glob("*_seg.nii.gz"))}


def _predict(python: str, bundle: Path, images: Path, out: Path, *sets: str) -> subprocess.CompletedProcess:
    settings = [a for s in sets for a in ("--set", s)]
    cmd = [python, "-m", "attn_seg", "predict", "--bundle", str(bundle), "-i", str(images), "-o", str(out),
           "--precision", "fp32", "--no-progress", *settings]
    return subprocess.run(cmd, capture_output=True, encoding="utf-8", errors="replace", check=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A CT bundle copy trained one epoch with :data:`TRAINED` on one-class data; returns (bundle, test images)."""
    root = tmp_path_factory.mktemp("record")
    data = root / "data"
    write_synthetic_dataset(data, spec=SyntheticSpec(spatial_dims=3, num_classes=1), num_cases=3, num_test=2, seed=3)
    bundle = root / "bundle"
    shutil.copytree(find_bundle("attention_unet_3d_ct"), bundle, ignore=shutil.ignore_patterns("data", "eval", "*.pt"))
    overrides = {**TRAINED, "dataset_dir": data, "epochs": 1, "val_interval": 1, "batch_size": 1, "tensorboard": False}
    proc = subprocess.run(bundle_command(bundle, "train.json", "training", in_place(bundle, overrides)), cwd=root,
                          capture_output=True, encoding="utf-8", errors="replace", check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return bundle, data / "imagesTs"


def test_training_writes_its_settings_beside_the_weights(trained: tuple[Path, Path]) -> None:
    bundle, _ = trained
    record = json.loads((bundle / "models" / RECORD_FILE).read_text(encoding="utf-8"))
    assert record["settings"] == {"num_classes": 2, "roi_size": [32, 32, 16], "pixdim": [3.0, 3.0, 4.0],
                                  "hu_window": [-200.0, 400.0], "class_names": ["lesion"]}
    assert record["network"]["target"].endswith("AttentionUNet")
    assert record["network"]["args"]["channels"] == [4, 8, 16]
    assert record["network"]["args"]["out_channels"] == 2


def test_predict_and_runner_use_the_record(trained: tuple[Path, Path], python: str, run_bundle_cli: Callable,
                                           tmp_path: Path) -> None:
    bundle, images = trained
    repeated = [f"{k}={json.dumps(v)}" for k, v in TRAINED.items() if k != "class_names"]
    for name, sets in (("plain", ()), ("repeated", repeated)):
        proc = _predict(python, bundle, images, tmp_path / f"predict_{name}", *sets)
        assert proc.returncode == 0, proc.stderr[-3000:]
    runner = {k: v for k, v in TRAINED.items() if k != "class_names"}
    for name, overrides in (("plain", {}), ("repeated", runner)):
        # the precision predict was given: `auto` is bf16 on a CPU with a native bf16 unit
        run_bundle_cli(bundle, "inference.json", "run", {**overrides, "precision": "fp32", "input_dir": images,
                                                          "output_dir": tmp_path / f"runner_{name}"}, cwd=tmp_path)
    repeated_labels = _labels(tmp_path / "predict_repeated")
    assert len(repeated_labels) == 2
    for name, labels in repeated_labels.items():
        assert set(np.unique(labels)) <= {0, 1}
        np.testing.assert_array_equal(_labels(tmp_path / "predict_plain")[name], labels)
        np.testing.assert_array_equal(_labels(tmp_path / "runner_plain")[name], labels)
        np.testing.assert_array_equal(_labels(tmp_path / "runner_repeated")[name], labels)


def test_predict_refuses_a_contradicting_setting(trained: tuple[Path, Path], python: str, tmp_path: Path) -> None:
    bundle, images = trained
    proc = _predict(python, bundle, images, tmp_path / "out", "pixdim=[1.5,1.5,2.0]")
    assert proc.returncode != 0
    assert "`pixdim` is [1.5, 1.5, 2.0], trained with [3.0, 3.0, 4.0]" in proc.stderr
    assert RECORD_FILE in proc.stderr
    assert not list((tmp_path / "out").glob("*.nii.gz"))


def test_runner_refuses_a_contradicting_setting(trained: tuple[Path, Path], tmp_path: Path) -> None:
    bundle, images = trained
    overrides = {"num_classes": 3, "input_dir": images, "output_dir": tmp_path / "out"}
    proc = subprocess.run(bundle_command(bundle, "inference.json", "run", overrides), cwd=tmp_path,
                          capture_output=True, encoding="utf-8", errors="replace", check=False)
    assert proc.returncode != 0
    assert "`num_classes` is 3, trained with 2" in proc.stderr
    assert not list((tmp_path / "out").glob("*.nii.gz"))


def test_a_different_window_is_warned_about(trained: tuple[Path, Path], python: str, tmp_path: Path) -> None:
    bundle, images = trained
    proc = _predict(python, bundle, images, tmp_path / "out", "roi_size=[48,48,16]")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "`roi_size` is [48, 48, 16] here, the model was trained with [32, 32, 16]" in proc.stderr
    assert len(_labels(tmp_path / "out")) == 2
