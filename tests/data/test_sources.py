"""bundle_cases: where a bundle's cases come from (synthetic default, any folder layout, a datalist file)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from attn_seg.data import bundle_cases, bundle_class_names, dataset_folder, list_images


def test_missing_default_folder_gets_the_synthetic_data(tmp_path: Path) -> None:
    default = tmp_path / "data"
    cases = bundle_cases(default, synthetic_dir=default, spatial_dims=2, num_classes=1, modality="mri")
    assert len(cases) == 16
    assert (default / "dataset.json").is_file()
    assert all(Path(c["image"]).is_file() and Path(c["label"]).is_file() for c in cases)


@pytest.mark.parametrize("made", [False, True], ids=["missing", "empty"])
def test_a_named_folder_that_holds_nothing_is_an_error_naming_it(tmp_path: Path, made: bool) -> None:
    """A mistyped path to real data must not train on synthetic data: only the default location is filled."""
    named = tmp_path / "Task04_Hipocampus"
    if made:
        named.mkdir()
    with pytest.raises(FileNotFoundError, match=rf"dataset_dir {named} {'is empty' if made else 'does not exist'}"):
        bundle_cases(named, synthetic_dir=tmp_path / "default")
    assert sorted(p.name for p in tmp_path.iterdir()) == (["Task04_Hipocampus"] if made else [])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        dataset_folder(named / "sub")


def test_class_names_come_from_the_setting_then_the_data_set(synthetic_3d: Path, tmp_path: Path) -> None:
    assert bundle_class_names(["liver", "tumour"], synthetic_3d, None, 3) == ["liver", "tumour"]
    assert bundle_class_names(None, synthetic_3d, None, 3) == ["organ", "lesion"]  # its dataset.json labels
    manifest = tmp_path / "split.json"
    manifest.write_text(json.dumps({"labels": {"0": "background", "1": "Anterior", "2": "Posterior"},
                                    "training": []}))
    assert bundle_class_names(None, synthetic_3d, manifest, 3) == ["Anterior", "Posterior"]  # the datalist wins
    assert bundle_class_names(None, tmp_path / "no_manifest", None, 4) == ["class 1", "class 2", "class 3"]


def test_class_names_that_do_not_fit_num_classes_are_refused(synthetic_3d: Path) -> None:
    with pytest.raises(ValueError, match=r"`class_names` needs 3 names \(num_classes - 1\), got 2"):
        bundle_class_names(["a", "b"], None, None, 4)
    with pytest.raises(ValueError, match="set --num_classes 3 or give `class_names`"):
        bundle_class_names(None, synthetic_3d, None, 2)


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
    cases = bundle_cases(tmp_path / "never_made", listing, synthetic_dir=tmp_path / "never_made")
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
