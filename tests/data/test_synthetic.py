"""Synthetic data sets: realistic geometry and intensities, reproducibility, and safe writing."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from monai.data import load_decathlon_datalist

from attn_seg.data import SyntheticSpec, ensure_dataset, make_case, split_datalist, write_synthetic_dataset


def _load(path: str | Path) -> nib.Nifti1Image:
    return nib.load(str(path))


def test_dataset_json_lists_every_case(synthetic_3d: Path) -> None:
    training = load_decathlon_datalist(synthetic_3d / "dataset.json", True, "training")
    test = load_decathlon_datalist(synthetic_3d / "dataset.json", True, "test")
    manifest = json.loads((synthetic_3d / "dataset.json").read_text())
    assert len(training) == manifest["numTraining"] == 4
    assert len(test) == manifest["numTest"] == 2
    assert manifest["labels"] == {"0": "background", "1": "organ", "2": "lesion"}
    for item in training:
        assert Path(item["image"]).is_file()
        assert Path(item["label"]).is_file()
    for rel in manifest["test_labels"]:
        assert (synthetic_3d / rel).is_file()


def test_cases_look_like_scanner_ct(synthetic_3d: Path) -> None:
    shapes = set()
    for item in load_decathlon_datalist(synthetic_3d / "dataset.json", True, "training"):
        image, label = _load(item["image"]), _load(item["label"])
        assert image.shape == label.shape
        assert len(image.shape) == 3
        np.testing.assert_allclose(image.affine, label.affine)
        assert nib.aff2axcodes(image.affine) != ("R", "A", "S")
        zooms = image.header.get_zooms()
        assert zooms[2] > 1.5 * zooms[0], f"expected thick slices, got spacing {zooms}"
        assert image.get_data_dtype() == np.int16
        hu = np.asarray(image.dataobj)
        assert hu.min() <= -900
        assert np.median(hu) < 0
        assert hu.max() > 100
        values = set(np.unique(np.asarray(label.dataobj)).tolist())
        assert values == {0, 1, 2}
        shapes.add(image.shape)
    assert len(shapes) == 4, "case sizes should vary"
    assert any(any(n % 16 for n in s) for s in shapes)


def test_same_seed_same_data_other_seed_other_data() -> None:
    spec = SyntheticSpec(spatial_dims=3, size_mm=(48.0, 48.0, 40.0))
    a = make_case(np.random.default_rng(3), spec)
    b = make_case(np.random.default_rng(3), spec)
    c = make_case(np.random.default_rng(4), spec)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.label, b.label)
    assert a.image.shape != c.image.shape or not np.array_equal(a.image, c.image)


@pytest.mark.parametrize("modality", ["ct", "mri"])
def test_2d_cases(tmp_path: Path, modality: str) -> None:
    spec = SyntheticSpec(spatial_dims=2, num_classes=3, modality=modality, size_mm=(96.0, 96.0))
    write_synthetic_dataset(tmp_path / "d", spec=spec, num_cases=2, seed=1)
    item = load_decathlon_datalist(tmp_path / "d" / "dataset.json", True, "training")[0]
    image, label = _load(item["image"]), _load(item["label"])
    assert len(image.shape) == 2
    assert image.shape == label.shape
    assert set(np.unique(np.asarray(label.dataobj)).tolist()) == {0, 1, 2, 3}
    data = np.asarray(image.dataobj)
    if modality == "mri":
        assert data.dtype == np.float32
        assert data.min() >= 0.0
    else:
        assert data.dtype == np.int16


def test_refuses_to_write_into_existing_data(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not empty"):
        write_synthetic_dataset(target, num_cases=1)
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["mine"], "no partial folder may be left behind"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"spatial_dims": 4}, "spatial_dims"),
        ({"num_classes": 0}, "num_classes"),
        ({"modality": "pet"}, "modality"),
        ({"size_mm": (10.0,)}, "size_mm"),
    ],
)
def test_invalid_spec(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SyntheticSpec(**kwargs)


@pytest.mark.parametrize(("kwargs", "match"), [({"num_cases": 0}, "num_cases"), ({"num_test": -1}, "num_test")])
def test_invalid_counts(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        write_synthetic_dataset(tmp_path / "x", **kwargs)
    assert not (tmp_path / "x").exists()


def test_ensure_dataset_creates_then_reuses(tmp_path: Path) -> None:
    target = tmp_path / "embedded"
    ensure_dataset(target, num_cases=2, num_test=1, seed=5)
    stamp = (target / "dataset.json").stat().st_mtime_ns
    assert ensure_dataset(target, num_cases=9) == str(target)
    assert (target / "dataset.json").stat().st_mtime_ns == stamp
    assert len(list((target / "imagesTr").iterdir())) == 2


def test_ensure_dataset_rejects_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "scan.nii.gz").write_bytes(b"not ours")
    with pytest.raises(FileNotFoundError, match=r"no dataset\.json"):
        ensure_dataset(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["scan.nii.gz"]


def test_split_is_deterministic_and_disjoint() -> None:
    items = [{"image": f"{i}.nii.gz"} for i in range(10)]
    train, val = split_datalist(items, 0.2, seed=1)
    assert (train, val) == split_datalist(items, 0.2, seed=1)
    assert len(val) == 2
    assert len(train) == 8
    assert sorted(d["image"] for d in train + val) == sorted(d["image"] for d in items)
    assert split_datalist(items, 0.2, seed=2)[1] != val or split_datalist(items, 0.2, seed=3)[1] != val


@pytest.mark.parametrize(("fraction", "n", "match"), [(0.0, 4, "val_fraction"), (1.0, 4, "val_fraction"),
                                                      (0.5, 1, "at least 2")])
def test_split_rejects_bad_arguments(fraction: float, n: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        split_datalist([{"image": str(i)} for i in range(n)], fraction)


def test_k_fold_split_validates_every_case_once() -> None:
    items = [{"image": str(i)} for i in range(11)]
    seen: list[str] = []
    for fold in range(4):
        train, val = split_datalist(items, 0.2, seed=2, fold=fold, num_folds=4)
        assert len(train) + len(val) == 11
        assert not {i["image"] for i in train} & {i["image"] for i in val}
        assert len(val) in (2, 3)
        seen += [i["image"] for i in val]
    assert sorted(seen) == sorted(i["image"] for i in items)
    assert split_datalist(items, 0.2, seed=2, fold=1, num_folds=4) != split_datalist(items, 0.2, seed=3, fold=1,
                                                                                      num_folds=4)


@pytest.mark.parametrize(
    ("fold", "num_folds", "match"),
    [(4, 4, r"`fold` must be an int in \[0, 3\]"), (-1, 3, "`fold`"), (0, 1, "`num_folds`"), (0, 12, "`num_folds`")],
)
def test_k_fold_split_rejects_bad_folds(fold: int, num_folds: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        split_datalist([{"image": str(i)} for i in range(11)], 0.2, fold=fold, num_folds=num_folds)
