"""Fixtures of the study tests: a tiny 2D data set and study files that train for seconds."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from attn_seg.data import SyntheticSpec, write_synthetic_dataset

REPO = Path(__file__).resolve().parents[2]
BUNDLE_2D = REPO / "bundles" / "attention_unet_2d"


@pytest.fixture(scope="session")
def data_2d(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2D MRI-like set of 6 labelled cases (read-only for tests)."""
    out = tmp_path_factory.mktemp("study_data") / "mri2d"
    spec = SyntheticSpec(spatial_dims=2, num_classes=1, modality="mri")
    write_synthetic_dataset(out, spec=spec, num_cases=6, num_test=0, seed=3)
    return out


@pytest.fixture
def make_study(tmp_path: Path, data_2d: Path) -> Callable[..., Path]:
    """``make_study(parameters=..., **keys)``: write a study file of a tiny 2D network and return its path."""

    def _make(name: str = "tiny", **keys: Any) -> Path:
        study: dict[str, Any] = {
            "name": name,
            "bundle": str(BUNDLE_2D),
            "overrides": {
                "dataset_dir": str(data_2d), "roi_size": [32, 32], "num_samples": 1, "batch_size": 2,
                "network_def#channels": [4, 8, 16], "network_def#strides": [2, 2], "tensorboard": False,
                "val_interval": 1,
            },
            "parameters": {"network": {"choices": {"unet": {"network_def#gated_levels": []}, "attention": {}}}},
            "epochs": 2,
        }
        study.update(keys)
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(study), encoding="utf-8")
        return path

    return _make
