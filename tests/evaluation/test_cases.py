"""Pairing predictions with labels by name, and geometry checks with errors that name the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813

from attn_seg.evaluation import case_name, load_case, pair_cases


def _save(path: Path, array: np.ndarray, affine: np.ndarray | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(array, np.diag([1.5, 1.5, 3.0, 1.0]) if affine is None else affine), path)
    return path


def _folders(tmp_path: Path) -> tuple[Path, Path]:
    label = np.zeros((8, 8, 4), dtype=np.uint8)
    label[2:5, 2:5, 1:3] = 1
    for case in ("a", "b"):
        _save(tmp_path / "labels" / f"{case}.nii.gz", label)
        _save(tmp_path / "pred" / f"{case}_seg.nii.gz", label)
    _save(tmp_path / "pred" / "a_probs.nii.gz", np.zeros((8, 8, 4, 2), dtype=np.float32))
    for gate in (1, 0):
        _save(tmp_path / "pred" / f"a_attn_g{gate}.nii.gz", np.full((8, 8, 4), 0.5, dtype=np.float32))
    _save(tmp_path / "images" / "b_0000.nii.gz", np.zeros((8, 8, 4), dtype=np.int16))
    return tmp_path / "pred", tmp_path / "labels"


def test_pairs_by_name_with_images_and_attention(tmp_path: Path) -> None:
    pred, labels = _folders(tmp_path)
    cases = pair_cases(pred, labels, image_dir=tmp_path / "images")
    assert [c.case for c in cases] == ["a", "b"]
    assert [p.name for p in cases[0].attention] == ["a_attn_g0.nii.gz", "a_attn_g1.nii.gz"]
    assert cases[0].image is None
    assert cases[1].image == tmp_path / "images" / "b_0000.nii.gz"
    loaded = load_case(cases[0])
    assert loaded.spacing == (1.5, 1.5, 3.0)
    assert len(loaded.attention) == 2
    assert loaded.label.dtype == np.int64
    assert case_name("/x/case_7.nii.gz") == "case_7"
    assert case_name("y.png") == "y"


def test_hidden_files_are_not_cases(tmp_path: Path) -> None:
    pred, labels = _folders(tmp_path)
    # what a predict run killed while writing leaves behind
    shutil.copy(pred / "a_seg.nii.gz", pred / ".partial-4242-c_seg.nii.gz")
    shutil.copy(labels / "a.nii.gz", labels / "._a.nii.gz")
    assert [c.case for c in pair_cases(pred, labels)] == ["a", "b"]


def test_plain_case_names_pair_and_png_labels_work(tmp_path: Path) -> None:
    mask = np.zeros((6, 7), dtype=np.uint8)
    mask[2:4, 1:5] = 1
    for folder in ("pred", "labels"):
        (tmp_path / folder).mkdir()
        sitk.WriteImage(sitk.GetImageFromArray(mask), str(tmp_path / folder / "slice_1.png"))
    (case,) = pair_cases(tmp_path / "pred", tmp_path / "labels")
    loaded = load_case(case)
    assert loaded.label.shape == (7, 6)
    assert int(loaded.label.sum()) == 8


def test_missing_partners_are_named(tmp_path: Path) -> None:
    pred, labels = _folders(tmp_path)
    (labels / "b.nii.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"prediction .*b_seg\.nii\.gz has no label"):
        pair_cases(pred, labels)
    shutil.copy(labels / "a.nii.gz", labels / "c.nii.gz")
    (pred / "b_seg.nii.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"label .*c\.nii\.gz has no prediction"):
        pair_cases(pred, labels)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        pair_cases(tmp_path / "nowhere", labels)


def test_ambiguous_predictions_and_gate_gaps_are_refused(tmp_path: Path) -> None:
    pred, labels = _folders(tmp_path)
    shutil.copy(pred / "a_seg.nii.gz", pred / "a.nii.gz")
    with pytest.raises(ValueError, match="two predictions"):
        pair_cases(pred, labels)
    (pred / "a.nii.gz").unlink()
    (pred / "a_attn_g0.nii.gz").unlink()
    with pytest.raises(ValueError, match=r"numbered \[1\]"):
        pair_cases(pred, labels)


@pytest.mark.parametrize(
    ("array", "affine", "match"),
    [
        (np.zeros((8, 8, 5), dtype=np.uint8), None, r"shape \(8, 8, 5\) but label .*a\.nii\.gz has \(8, 8, 4\)"),
        (np.zeros((8, 8, 4), dtype=np.uint8), np.diag([1.5, 1.5, 2.0, 1.0]), r"different affine .* label"),
        (np.full((8, 8, 4), 0.5, dtype=np.float32), None, "not a label map"),
    ],
)
def test_geometry_and_type_mismatches_name_the_file(
    tmp_path: Path, array: np.ndarray, affine: np.ndarray | None, match: str
) -> None:
    pred, labels = _folders(tmp_path)
    _save(pred / "a_seg.nii.gz", array, affine)
    case = pair_cases(pred, labels)[0]
    with pytest.raises(ValueError, match=match) as info:
        load_case(case)
    assert "a_seg.nii.gz" in str(info.value)
