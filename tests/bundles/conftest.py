"""Fixtures for the tests of every bundle: a fresh copy of a bundle, tiny settings and a tiny synthetic data set."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from attn_seg.bundles import find_bundle
from attn_seg.data import SyntheticSpec, write_synthetic_dataset

#: The bundles shipped in ``bundles/``, with the synthetic data their defaults generate.
BUNDLES = {
    "attention_unet_3d_ct": SyntheticSpec(spatial_dims=3, num_classes=2, modality="ct"),
    "attention_unet_3d_mri": SyntheticSpec(spatial_dims=3, num_classes=2, modality="mri"),
    "attention_unet_2d": SyntheticSpec(spatial_dims=2, num_classes=1, modality="mri"),
    "attention_unet_hippocampus_mri": SyntheticSpec(spatial_dims=3, num_classes=2, modality="mri"),
    "attention_unet_polyp_2d": SyntheticSpec(spatial_dims=2, num_classes=1, modality="rgb"),
}
#: Network and patch overrides for runs of seconds (the network's keys also apply to inference.json; for the polyp
#: bundle ``roi_size`` is also the size every picture is resized to).
TINY = {
    3: {"pixdim": [3.0, 3.0, 4.0], "roi_size": [32, 32, 16], "network_def#channels": [4, 8, 16],
        "network_def#strides": [2, 2]},
    2: {"roi_size": [32, 32], "network_def#channels": [4, 8, 16], "network_def#strides": [2, 2]},
}
#: Extra overrides of the training config for a run of seconds.
TINY_TRAIN = {"batch_size": 1, "num_samples": 1, "epochs": 1, "val_interval": 1, "tensorboard": False}


@pytest.fixture
def tiny(bundle_name: str) -> dict:
    """Network and patch overrides of the bundle under test (a fresh dict; its network keys fit inference.json)."""
    return dict(TINY[BUNDLES[bundle_name].spatial_dims])


@pytest.fixture
def tiny_train(tiny: dict) -> dict:
    """Training overrides of the bundle under test for a run of seconds."""
    return {**tiny, **TINY_TRAIN}


@pytest.fixture(scope="session")
def bundle_names() -> list[str]:
    """The names of every shipped bundle."""
    return sorted(BUNDLES)


@pytest.fixture(params=sorted(BUNDLES))
def bundle_name(request: pytest.FixtureRequest) -> str:
    """Each bundle's name in turn."""
    return request.param


@pytest.fixture
def bundle(bundle_name: str, tmp_path: Path) -> Path:
    """A fresh copy of the bundle (configs, docs, licence), so that runs never write into the repository; shipped
    weights and their training record are left out (tests write their own tiny ones)."""
    target = tmp_path / bundle_name
    ignore = shutil.ignore_patterns("data", "eval", "runs", "*.pt", "*.ts", "training_settings.json")
    shutil.copytree(find_bundle(bundle_name), target, ignore=ignore)
    (target / "models").mkdir(exist_ok=True)
    return target


@pytest.fixture(scope="session")
def bundle_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Per bundle, a tiny synthetic set like its default (4 training, 2 held-out cases); read-only for tests."""
    root = tmp_path_factory.mktemp("bundle_data")
    sets = {}
    for name, spec in BUNDLES.items():
        write_synthetic_dataset(root / name, spec=spec, num_cases=4, num_test=2, seed=5)
        sets[name] = root / name
    return sets
