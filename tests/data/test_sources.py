"""bundle_cases: where a bundle's cases come from (synthetic default, any folder layout, a datalist file)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from attn_seg.data import bundle_cases, list_images


def test_missing_folder_gets_the_synthetic_default(tmp_path: Path) -> None:
    cases = bundle_cases(tmp_path / "data", spatial_dims=2, num_classes=1, modality="mri")
    assert len(cases) == 16
    assert (tmp_path / "data" / "dataset.json").is_file()
    assert all(Path(c["image"]).is_file() and Path(c["label"]).is_file() for c in cases)


def test_folder_layout_without_dataset_json(synthetic_3d: Path, tmp_path: Path) -> None:
    data = tmp_path / "folder"
    shutil.copytree(synthetic_3d / "imagesTr", data / "imagesTr")
    shutil.copytree(synthetic_3d / "labelsTr", data / "labelsTr")
    cases = bundle_cases(data)
    assert [Path(c["image"]).name for c in cases] == [f"case_{i:04d}.nii.gz" for i in range(4)]
    assert all(Path(c["label"]).parent.name == "labelsTr" for c in cases)
    assert not (data / "dataset.json").exists()  # nothing written into real data


def test_datalist_file_wins_over_dataset_dir(synthetic_3d: Path, tmp_path: Path) -> None:
    listing = tmp_path / "split.json"
    listing.write_text(json.dumps([{"image": str(synthetic_3d / "imagesTr" / "case_0001.nii.gz"),
                                    "label": str(synthetic_3d / "labelsTr" / "case_0001.nii.gz")}]))
    cases = bundle_cases(tmp_path / "never_made", listing)
    assert [Path(c["image"]).name for c in cases] == ["case_0001.nii.gz"]
    assert not (tmp_path / "never_made").exists()


def test_folder_in_no_known_layout_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a data set")
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        bundle_cases(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_list_images_lists_2d_pictures(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "0.png")
    (tmp_path / "readme.txt").write_text("x")
    assert [Path(c["image"]).name for c in list_images(tmp_path)] == ["0.png"]
