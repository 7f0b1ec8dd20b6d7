"""Datalists from every supported layout, and deterministic splits written back as JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from attn_seg.data import declared_num_classes, load_cases, pair_folders, split_datalist, validate_cases, write_split


def _names(cases: list[dict]) -> list[tuple[str, str]]:
    return [(Path(c["image"]).name, Path(c["label"]).name) for c in cases]


def test_decathlon_dataset_json(synthetic_3d: Path) -> None:
    by_folder = load_cases(synthetic_3d)
    assert by_folder == load_cases(synthetic_3d / "dataset.json")
    assert len(by_folder) == 4
    assert all(Path(c["image"]).is_absolute() and Path(c["label"]).is_file() for c in by_folder)
    test = load_cases(synthetic_3d, key="test")
    assert len(test) == 2
    assert "label" not in test[0]
    assert declared_num_classes(synthetic_3d) == 3
    with pytest.raises(ValueError, match=r"has no 'validation' list \(found \["):
        load_cases(synthetic_3d, key="validation")


def test_image_and_label_folders_same_names(pair: Callable[..., dict], tmp_path: Path) -> None:
    (tmp_path / "image").mkdir()
    (tmp_path / "label").mkdir()
    for name in ("b", "a"):
        case = pair(name)
        Path(case["image"]).rename(tmp_path / "image" / f"{name}.nii.gz")
        Path(case["label"]).rename(tmp_path / "label" / f"{name}.nii.gz")
    assert _names(load_cases(tmp_path)) == [("a.nii.gz", "a.nii.gz"), ("b.nii.gz", "b.nii.gz")]


def test_folders_with_label_suffix(pair: Callable[..., dict], tmp_path: Path) -> None:
    pair("case_0001", folder=tmp_path / "imagesTr")
    pair("case_0002", folder=tmp_path / "imagesTr")
    (tmp_path / "labelsTr").mkdir()
    for label in (tmp_path / "imagesTr").glob("*_seg.nii.gz"):
        label.rename(tmp_path / "labelsTr" / label.name)
    expected = [("case_0001.nii.gz", "case_0001_seg.nii.gz"), ("case_0002.nii.gz", "case_0002_seg.nii.gz")]
    assert _names(load_cases(tmp_path)) == expected  # suffix detected
    assert _names(load_cases(tmp_path, label_suffix="_seg")) == expected
    missing = load_cases(tmp_path, label_suffix="_mask")  # a wrong suffix: validation names the missing label
    assert not Path(missing[0]["label"]).exists()
    with pytest.raises(ValueError, match="does not exist"):
        validate_cases(missing, spatial_dims=3, num_classes=3)


def test_images_and_labels_side_by_side(pair: Callable[..., dict], tmp_path: Path) -> None:
    pair("x1")
    pair("x2")
    assert _names(load_cases(tmp_path)) == [("x1.nii.gz", "x1_seg.nii.gz"), ("x2.nii.gz", "x2_seg.nii.gz")]
    assert _names(pair_folders(tmp_path, label_suffix="_seg")) == _names(load_cases(tmp_path))
    with pytest.raises(ValueError, match="label_suffix"):
        pair_folders(tmp_path, tmp_path, label_suffix="")


def test_csv_with_relative_paths_spaces_and_non_ascii(pair: Callable[..., dict], tmp_path: Path) -> None:
    folder = tmp_path / "études" / "run 1"
    pair("patiënt 1", folder=folder)
    csv_file = tmp_path / "list.csv"
    csv_file.write_text("Image,Label,site\nétudes/run 1/patiënt 1.nii.gz,études/run 1/patiënt 1_seg.nii.gz,A\n",
                        encoding="utf-8")
    cases = load_cases(csv_file)
    assert cases == [{"image": str(folder / "patiënt 1.nii.gz"), "label": str(folder / "patiënt 1_seg.nii.gz")}]
    assert validate_cases(cases, spatial_dims=3, num_classes=3) == cases
    (tmp_path / "bad.csv").write_text("path,mask\na,b\n")
    with pytest.raises(ValueError, match=r"bad\.csv needs a header row with an 'image' column"):
        load_cases(tmp_path / "bad.csv")


def test_explicit_json_list(pair: Callable[..., dict], tmp_path: Path) -> None:
    case = pair("c")
    listing = tmp_path / "cases.json"
    listing.write_text(json.dumps([{"image": "c.nii.gz", "label": str(case["label"])}]))
    assert load_cases(listing) == [case]
    listing.write_text(json.dumps([{"label": "c.nii.gz"}]))
    with pytest.raises(ValueError, match="entry 0 must be a path or a dict with an 'image' key"):
        load_cases(listing)
    listing.write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        load_cases(listing)


def test_unknown_layouts(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_cases(tmp_path / "nowhere")
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(FileNotFoundError, match=r"no dataset\.json, no image/label folders"):
        load_cases(tmp_path)


def test_split_by_fraction_and_by_fold() -> None:
    cases = [{"image": f"{i}.nii.gz"} for i in range(10)]
    train, val = split_datalist(cases, 0.3, seed=4)
    assert (len(train), len(val)) == (7, 3)
    assert split_datalist(cases, 0.3, seed=4) == (train, val)
    folds = [split_datalist(cases, 0.2, seed=1, fold=k, num_folds=3)[1] for k in range(3)]
    assert sorted(c["image"] for fold in folds for c in fold) == sorted(c["image"] for c in cases)
    assert [len(f) for f in folds] == [4, 3, 3]
    assert folds[0] == split_datalist(cases, 0.2, seed=1, fold=0, num_folds=3)[1]
    assert folds[0] != split_datalist(cases, 0.2, seed=2, fold=0, num_folds=3)[1]


@pytest.mark.parametrize(("kwargs", "match"), [({"fold": 3, "num_folds": 3}, "fold"), ({"fold": 0, "num_folds": 11},
                                               "num_folds"), ({"val_fraction": 1.0}, "val_fraction")])
def test_split_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    kwargs = {"val_fraction": 0.2, **kwargs}
    with pytest.raises(ValueError, match=match):
        split_datalist([{"image": str(i)} for i in range(10)], **kwargs)


def test_write_split_round_trip_and_refuses_overwrite(pair: Callable[..., dict], tmp_path: Path) -> None:
    cases = [pair(f"c{i}", seed=i) for i in range(4)]
    train, val = split_datalist(cases, 0.2, seed=0, fold=1, num_folds=2)
    out = write_split(train, val, tmp_path / "split.json", seed=0, fold=1)
    assert load_cases(out) == train
    assert load_cases(out, key="validation") == val
    assert json.loads(out.read_text())["fold"] == 1
    with pytest.raises(FileExistsError, match="already exists"):
        write_split(val, train, out)
    assert load_cases(out) == train
    write_split(val, train, out, overwrite=True)
    assert load_cases(out) == val
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".partial-")] == []
