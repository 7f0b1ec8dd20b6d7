"""Validation: every kind of bad input is caught with one line naming the file and the cause."""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from attn_seg.data import DataValidationError, inspect_cases, validate_cases


def _problems(cases: list[dict], **kwargs) -> list[str]:
    kwargs.setdefault("spatial_dims", 3)
    kwargs.setdefault("num_classes", 3)
    return inspect_cases(cases, **kwargs).problems


def _one_problem(cases: list[dict], pattern: str, **kwargs) -> str:
    problems = _problems(cases, **kwargs)
    assert len(problems) == 1, problems
    assert re.search(pattern, problems[0]), problems[0]
    return problems[0]


def test_clean_cases_pass_and_are_returned(pair: Callable[..., dict]) -> None:
    cases = [pair("a"), pair("b", seed=1)]
    assert validate_cases(cases, spatial_dims=3, num_classes=3) == cases
    report = inspect_cases(cases, spatial_dims=3, num_classes=3)
    assert [set(c.label_counts) for c in report.cases] == [{0, 1, 2}, {0, 1, 2}]
    assert sum(report.cases[0].label_counts.values()) == 12 * 10 * 6
    assert report.cases[0].orientation == "LPS"
    assert report.cases[0].spacing == pytest.approx((0.8, 0.8, 2.5))


def test_missing_file(pair: Callable[..., dict]) -> None:
    case = pair()
    Path(case["label"]).unlink()
    problem = _one_problem([case], "does not exist")
    assert problem.startswith(f"label {case['label']}")


def test_empty_file(pair: Callable[..., dict]) -> None:
    case = pair()
    Path(case["image"]).write_bytes(b"")
    _one_problem([case], rf"^image {case['image']} is an empty file")


def test_truncated_gzip(pair: Callable[..., dict]) -> None:
    case = pair(shape=(40, 40, 20))
    data = Path(case["image"]).read_bytes()
    Path(case["image"]).write_bytes(data[: len(data) // 2])
    _one_problem([case], rf"^image {case['image']} could not be read \(truncated or corrupt\?\)")


def test_gzip_of_garbage_and_text_file(pair: Callable[..., dict], tmp_path: Path) -> None:
    case = pair()
    Path(case["image"]).write_bytes(gzip.compress(b"this is a text, not a NIfTI image" * 20))
    _one_problem([case], rf"^image {case['image']} is not a readable image \(corrupt or truncated\?\)")
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    _one_problem([{"image": str(notes), "label": case["label"]}], rf"^image {notes} has an unsupported file type")


def test_garbage_nrrd_is_not_an_image(pair: Callable[..., dict], tmp_path: Path) -> None:
    case = pair()
    fake = tmp_path / "fake.nrrd"
    fake.write_bytes(b"\x00\x01garbage" * 50)
    fake_case = {"image": str(fake), "label": case["label"]}
    _one_problem([fake_case], rf"^image {fake} is not a readable image \(corrupt or truncated\?\)")


def test_shape_mismatch(pair: Callable[..., dict], nifti: Callable[..., Path]) -> None:
    case = pair()
    nifti(Path(case["label"]), np.zeros((12, 10, 7), np.uint8))
    _one_problem([case], rf"^label {case['label']} has shape \(12, 10, 7\) but image {case['image']} has \(12, 10, 6\)")


def test_affine_mismatch_beyond_tolerance(
    pair: Callable[..., dict], nifti: Callable[..., Path], lps_affine: np.ndarray
) -> None:
    case = pair()
    label = np.asarray(nib.load(case["label"]).dataobj)
    shifted = lps_affine.copy()
    shifted[:3, 3] += 0.0005  # within the default tolerance of 1e-3
    nifti(Path(case["label"]), label, shifted)
    assert _problems([case]) == []
    flipped = lps_affine.copy()
    flipped[0, 0] = 0.8
    nifti(Path(case["label"]), label, flipped)
    _one_problem([case], rf"^label {case['label']} does not lie on the grid of image .*orientation RPS vs LPS")


def test_4d_image_where_3d_expected(pair: Callable[..., dict], nifti: Callable[..., Path]) -> None:
    case = pair()
    nifti(Path(case["image"]), np.zeros((12, 10, 6, 2), np.int16))
    _one_problem([case], rf"^image {case['image']} is 4D \(12, 10, 6, 2\) but 3D images are expected")
    assert _problems([case], in_channels=2) == []  # a multi-channel image when declared


def test_trailing_singleton_axis_is_accepted(pair: Callable[..., dict], nifti: Callable[..., Path]) -> None:
    case = pair()
    nifti(Path(case["image"]), np.zeros((12, 10, 6, 1), np.int16))
    assert _problems([case]) == []


@pytest.mark.parametrize(
    ("shape", "dims", "pattern"), [((12, 10), 3, "is 2D .* but 3D"), ((12, 10, 6), 2, "is 3D .* but 2D")]
)
def test_2d_versus_3d(pair: Callable[..., dict], shape: tuple[int, ...], dims: int, pattern: str) -> None:
    case = pair(shape=shape)
    image_problem, label_problem = _problems([case], spatial_dims=dims)
    assert re.search(rf"^image {case['image']} {pattern}", image_problem), image_problem
    assert re.search(rf"^label {case['label']} {pattern}", label_problem), label_problem


@pytest.mark.parametrize(("value", "word"), [(np.nan, "1 NaN and 0 infinite"), (np.inf, "0 NaN and 1 infinite")])
def test_nan_and_inf_voxels(pair: Callable[..., dict], value: float, word: str, nifti: Callable[..., Path]) -> None:
    case = pair()
    image = np.asarray(nib.load(case["image"]).dataobj).astype(np.float32)
    image[3, 3, 3] = value
    nifti(Path(case["image"]), image)
    _one_problem([case], rf"^image {case['image']} has {word} voxels")
    assert _problems([case], check_arrays=False) == [], "the header pass alone does not read voxels"


def test_label_values_outside_declared_classes(pair: Callable[..., dict]) -> None:
    case = pair()
    _one_problem([case], rf"^label {case['label']} has values \[2\] outside the declared classes 0..1", num_classes=2)
    assert _problems([case], num_classes=2, label_map={2: 1}) == []


def test_non_integer_labels(pair: Callable[..., dict], nifti: Callable[..., Path]) -> None:
    case = pair()
    label = np.asarray(nib.load(case["label"]).dataobj).astype(np.float32)
    label[1, 1, 1] = 0.5
    nifti(Path(case["label"]), label)
    _one_problem([case], rf"^label {case['label']} has non-integer values \(e.g. 0.5\)")


def test_empty_datalist() -> None:
    with pytest.raises(DataValidationError, match="datalist is empty") as info:
        validate_cases([], spatial_dims=3, num_classes=2)
    assert isinstance(info.value, ValueError)
    assert len(info.value.problems) == 1


def test_duplicate_entries(pair: Callable[..., dict]) -> None:
    case = pair()
    problems = _problems([case, dict(case)])
    assert problems == [f"image {case['image']} is listed 2 times (duplicate entry)",
                        f"label {case['label']} is listed 2 times (duplicate entry)"]


def test_missing_label_key(pair: Callable[..., dict]) -> None:
    case = pair()
    _one_problem([{"image": case["image"]}], "entry 0 .* has no 'label'")
    assert _problems([{"image": case["image"]}], require_labels=False) == []


def test_spaces_and_non_ascii_paths_work(pair: Callable[..., dict], tmp_path: Path) -> None:
    case = pair("patient 7 Müller 患者", folder=tmp_path / "données IRM" / "scan 1")
    assert _problems([case]) == []


def test_every_problem_of_several_cases_is_reported(pair: Callable[..., dict]) -> None:
    good, missing, empty = pair("good"), pair("missing"), pair("empty")
    Path(missing["image"]).unlink()
    Path(empty["label"]).write_bytes(b"")
    with pytest.raises(DataValidationError) as info:
        validate_cases([good, missing, empty], spatial_dims=3, num_classes=3)
    assert len(info.value.problems) == 2
    assert str(info.value).splitlines()[0] == "2 problem(s) in the data:"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"spatial_dims": 4}, "spatial_dims"), ({"num_classes": 1}, "num_classes"), ({"in_channels": 0}, "in_channels")],
)
def test_invalid_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        inspect_cases([], **{"spatial_dims": 3, **kwargs})
