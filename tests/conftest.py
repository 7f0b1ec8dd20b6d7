"""Shared fixtures: small synthetic NIfTI data sets written to temporary folders, and bundle helpers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from bundle_helpers import in_place

from attn_seg.bundles import bundle_command, find_bundle
from attn_seg.data import SyntheticSpec, write_synthetic_dataset

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ATTN_SEG_SHARED_DATA", REPO.parent / "shared" / "data"))

#: Overrides that make a bundle run take seconds: coarse spacing, a small patch and a small network.
TINY_3D = {
    "pixdim": [3.0, 3.0, 4.0],
    "roi_size": [32, 32, 16],
    "network_def#channels": [4, 8, 16],
    "network_def#strides": [2, 2],
    "batch_size": 1,
    "num_samples": 1,
}


@pytest.fixture(scope="session")
def shared_data() -> Callable[[str], Path]:
    """``shared_data("isbi2012_membrane")``: a folder of the shared real data, or skip the test where it is absent.

    The data lie in ``../shared/data`` beside the checkout, or in ``$ATTN_SEG_SHARED_DATA``.
    """

    def _folder(name: str) -> Path:
        if not (SHARED_DATA / name).is_dir():
            pytest.skip(f"shared data {SHARED_DATA / name} is absent (set ATTN_SEG_SHARED_DATA to its folder)")
        return SHARED_DATA / name

    return _folder


@pytest.fixture(scope="session")
def synthetic_3d(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3D CT set with 4 training and 2 held-out cases, 2 foreground classes (read-only for tests)."""
    out = tmp_path_factory.mktemp("synthetic") / "ct3d"
    write_synthetic_dataset(out, spec=SyntheticSpec(spatial_dims=3), num_cases=4, num_test=2, seed=7)
    return out


@pytest.fixture
def bundle_copy(tmp_path: Path) -> Path:
    """A fresh copy of the 3D CT bundle (configs only), so that runs never write into the repository."""
    target = tmp_path / "bundle"
    shutil.copytree(find_bundle("attention_unet_3d_ct"), target, ignore=shutil.ignore_patterns("data", "eval", "*.pt"))
    (target / "models").mkdir(exist_ok=True)
    return target


@pytest.fixture
def tiny_3d() -> dict:
    """Bundle overrides for a run of seconds (a fresh copy per test)."""
    return dict(TINY_3D)


def _run_bundle_cli(bundle: Path, config: str, run_id: str, overrides: dict, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``python -m monai.bundle run`` in a child process, as a user would; fail the test on error. Training and
    evaluation runs keep their checkpoints and logs in the bundle copy (:func:`bundle_helpers.in_place`) unless the
    overrides name ``ckpt_dir``."""
    configs = [config] if isinstance(config, str) else list(config)
    if "train.json" in configs:
        overrides = in_place(bundle, overrides)
    cmd = bundle_command(bundle, config, run_id, overrides)
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, encoding="utf-8", errors="replace", check=False)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


@pytest.fixture
def run_bundle_cli():
    """The function that runs a bundle config through MONAI's runner in a child process."""
    return _run_bundle_cli


@pytest.fixture
def python() -> str:
    """The interpreter running the tests, for child processes."""
    return sys.executable


def _write_predictions(data: Path, out: Path) -> None:
    """Predictions made by perturbing the held-out labels (no network), with two fake attention maps each.

    First case: exact copy; second: moved 2 voxels along the first axis; third: class 2 removed (missed).
    Attention maps are blurred foreground masks in [0, 1], float32 (nibabel cannot write float16 NIfTI).
    """
    import nibabel as nib
    import numpy as np
    from scipy.ndimage import gaussian_filter

    out.mkdir()
    for i, label_file in enumerate(sorted((data / "labelsTs").glob("*.nii.gz"))):
        img = nib.load(label_file)
        label = np.asarray(img.dataobj)
        pred = label.copy() if i == 0 else np.roll(label, 2, axis=0) if i == 1 else np.where(label == 2, 0, label)
        case = label_file.name.removesuffix(".nii.gz")
        nib.save(nib.Nifti1Image(pred.astype(np.uint8), img.affine), out / f"{case}_seg.nii.gz")
        for gate, sigma in enumerate((1.0, 2.5)):
            heat = gaussian_filter((label > 0).astype(np.float32), sigma)
            nib.save(nib.Nifti1Image(heat / heat.max(), img.affine), out / f"{case}_attn_g{gate}.nii.gz")


def _write_event_file(log_dir: Path) -> None:
    """TensorBoard scalars as a training run logs them: loss per iteration, lr and validation Dice per epoch."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(log_dir))
    for it in range(1, 31):
        writer.add_scalar("train_loss", 1.5 / it, it)
    for epoch in range(1, 4):
        writer.add_scalar("lr", 0.003 * 0.5**epoch, epoch)
        writer.add_scalar("val_mean_dice", 0.2 * epoch, epoch)
        writer.add_scalar("val_dice_class1", 0.25 * epoch, epoch)
    writer.close()


@pytest.fixture(scope="session")
def evaluation_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A synthetic evaluation input (read-only for tests): ``data`` (Decathlon, 3 held-out cases with labels),
    ``pred`` (perturbed labels + attention maps, see :func:`_write_predictions`) and ``logs`` (event file)."""
    root = tmp_path_factory.mktemp("evaluation")
    write_synthetic_dataset(root / "data", spec=SyntheticSpec(spatial_dims=3), num_cases=1, num_test=3, seed=11)
    _write_predictions(root / "data", root / "pred")
    _write_event_file(root / "logs")
    return {"data": root / "data", "pred": root / "pred", "logs": root / "logs"}
