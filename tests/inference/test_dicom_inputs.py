"""A DICOM series is one case: ``attn-seg predict`` reads a series folder (given with ``-i``, as a sub-folder of the
input folder, or as a datalist entry) as one 3D volume and writes ``<folder>_seg.nii.gz`` in the series' geometry."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813
from dicom_helpers import series_affine, to_sitk, write_dicom_series
from inference_helpers import ct_volume, write_tiny_bundle

from attn_seg.cli import main
from attn_seg.data import list_images
from attn_seg.inference import list_inputs

#: 8 axial slices of 32 x 32 at 0.8 x 0.7 x 2.5 mm, tilted 15 degrees about the first axis, off the origin (RAS+).
SHAPE = (32, 32, 8)
_TILT = np.deg2rad(15.0)
AFFINE = np.eye(4)
AFFINE[:3, :3] = np.array([[-1.0, 0.0, 0.0], [0.0, -np.cos(_TILT), -np.sin(_TILT)],
                           [0.0, -np.sin(_TILT), np.cos(_TILT)]]) @ np.diag([0.8, 0.7, 2.5])  # an LPS grid, tilted
AFFINE[:3, 3] = [12.5, -30.0, 55.0]


def _series(folder: Path, seed: int = 0) -> Path:
    image = to_sitk(ct_volume(SHAPE, seed), AFFINE)
    return write_dicom_series(image, folder, series_uid=f"1.2.826.0.1.3680043.9.{seed}")


def _predict(bundle: Path, source: Path, out: Path) -> None:
    code = main(["predict", "--bundle", str(bundle), "-i", str(source), "-o", str(out), "--device", "cpu",
                 "--precision", "fp32", "--no-progress"])
    assert code == 0


def _check_output(seg_file: Path, series: Path) -> None:
    """One 3D label volume with the series' size and world geometry, as nibabel and SimpleITK read it."""
    size, affine = series_affine(series)
    np.testing.assert_allclose(affine, AFFINE, atol=1e-4)  # the series holds the geometry it was written with
    seg = nib.load(seg_file)
    assert seg.shape == size == SHAPE
    np.testing.assert_allclose(seg.affine, affine, atol=1e-4)
    assert set(np.unique(np.asarray(seg.dataobj)).tolist()) <= {0, 1, 2}
    itk_seg = sitk.ReadImage(str(seg_file))
    itk_series = sitk.ReadImage(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(series)))
    assert itk_seg.GetSize() == itk_series.GetSize()
    for get in ("GetOrigin", "GetSpacing", "GetDirection"):  # in ITK's LPS+ terms too
        np.testing.assert_allclose(getattr(itk_seg, get)(), getattr(itk_series, get)(), atol=1e-4)


@pytest.mark.parametrize("given", ["series folder", "folder of series", "datalist entry"])
def test_predict_reads_a_dicom_series_as_one_volume(tmp_path: Path, given: str) -> None:
    bundle = write_tiny_bundle(tmp_path / "bundle")
    scans = tmp_path / "scans"
    series = _series(scans / "CT series 1")
    source = {"series folder": series, "folder of series": scans, "datalist entry": tmp_path / "list.json"}[given]
    if given == "folder of series":
        _series(scans / "CT series 2", seed=1)
        nib.save(nib.Nifti1Image(ct_volume(SHAPE, 2), AFFINE), scans / "plain.nii.gz")
    if given == "datalist entry":
        source.write_text(json.dumps([{"image": "scans/CT series 1"}]), encoding="utf-8")
    out = tmp_path / "out"
    _predict(bundle, source, out)
    written = sorted(p.name for p in out.iterdir())
    if given == "folder of series":
        assert written == ["CT series 1_seg.nii.gz", "CT series 2_seg.nii.gz", "plain_seg.nii.gz"]
        _check_output(out / "CT series 2_seg.nii.gz", scans / "CT series 2")
    else:
        assert written == ["CT series 1_seg.nii.gz"]
    _check_output(out / "CT series 1_seg.nii.gz", series)


def _touch(*paths: Path) -> None:
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def test_folder_listing_takes_each_series_whole(tmp_path: Path) -> None:
    # files are not opened when listing: empty stand-ins will do
    series = tmp_path / "series"
    _touch(*(series / f"IM{k}.DCM" for k in range(3)), series / ".partial-x.nii.gz")
    assert list_inputs(series) == [series]
    root = tmp_path / "root"
    _touch(root / "b.nii.gz", root / "a" / "1.dcm", root / "c" / "1.dcm", root / "notes" / "x.txt",
           root / ".hidden" / "1.dcm")
    assert list_inputs(root) == [root / "a", root / "b.nii.gz", root / "c"]
    assert [Path(case["image"]) for case in list_images(root)] == list_inputs(root)  # the bundle runner's datalist
    plain = tmp_path / "plain"
    _touch(plain / "z.nii.gz", plain / "y.nrrd")
    assert list_inputs(plain) == [plain / "y.nrrd", plain / "z.nii.gz"]
    assert list_inputs(series / "IM0.DCM") == [series / "IM0.DCM"]  # one file given: that file


def test_dicom_files_beside_other_images_are_refused(tmp_path: Path) -> None:
    _touch(tmp_path / "1.dcm", tmp_path / "2.dcm", tmp_path / "other.nii.gz")
    with pytest.raises(ValueError, match=r"holds DICOM files \(2 \.dcm, read as one series\) beside other images "
                                         r"\(other\.nii\.gz\); give the series a folder of its own"):
        list_inputs(tmp_path)


def test_output_folder_inside_a_series_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    series = tmp_path / "scans" / "s1"
    _touch(series / "1.dcm", series / "2.dcm")
    code = main(["predict", "--bundle", "b", "-i", str(tmp_path / "scans"), "-o", str(series), "--device", "cpu"])
    assert code == 1
    assert f"output folder {series} holds the inputs" in capsys.readouterr().err
    assert sorted(p.name for p in series.iterdir()) == ["1.dcm", "2.dcm"]
