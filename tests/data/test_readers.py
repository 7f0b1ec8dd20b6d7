"""Readers: every format gives the same voxels and the same RAS+ geometry, through MONAI's LoadImaged too."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813
import torch

from attn_seg.data import ImageReadError, MedicalImageReader, read_header, read_image
from attn_seg.transforms import loading

#: RAS+ affine of the test volume: 0.7 x 0.9 x 2.0 mm, axes L->R flipped (an "LAS" volume), shifted origin.
RAS_AFFINE = np.array([[-0.7, 0, 0, 40.0], [0, 0.9, 0, -12.0], [0, 0, 2.0, 7.5], [0, 0, 0, 1]])
#: DICOM series need a right-handed grid: an "LPS" volume, as scanners write them.
DICOM_AFFINE = np.array([[-0.7, 0, 0, 40.0], [0, -0.9, 0, -12.0], [0, 0, 2.0, 7.5], [0, 0, 0, 1]])


def _volume() -> np.ndarray:
    return np.arange(6 * 5 * 4, dtype=np.int16).reshape(6, 5, 4)


def _to_sitk(array: np.ndarray, affine: np.ndarray) -> sitk.Image:
    """The same voxels and world geometry as an ITK image (LPS+, array indexed z, y, x)."""
    image = sitk.GetImageFromArray(np.ascontiguousarray(array.transpose(2, 1, 0)))
    spacing = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    flip = np.diag([-1.0, -1.0, 1.0])
    image.SetSpacing(spacing.tolist())
    image.SetDirection((flip @ affine[:3, :3] / spacing).ravel().tolist())
    image.SetOrigin((flip @ affine[:3, 3]).tolist())
    return image


def _write_dicom_series(image: sitk.Image, folder: Path) -> None:
    folder.mkdir(parents=True)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    direction = image.GetDirection()
    orientation = "\\".join(str(v) for v in (*direction[0:9:3], *direction[1:9:3]))
    for k in range(image.GetDepth()):
        slice_k = image[:, :, k]
        tags = {
            "0008|0060": "CT", "0020|000d": "1.2.826.0.1.3680043.2.1125.1", "0020|000e": "1.2.826.0.1.3680043.2.1125.2",
            "0020|0013": str(k + 1), "0020|0037": orientation, "0018|0050": str(image.GetSpacing()[2]),
            "0020|0032": "\\".join(str(v) for v in image.TransformIndexToPhysicalPoint((0, 0, k))),
        }
        for tag, value in tags.items():
            slice_k.SetMetaData(tag, value)
        writer.SetFileName(str(folder / f"slice {k:03d}.dcm"))
        writer.Execute(slice_k)


@pytest.fixture
def volumes(tmp_path: Path) -> dict[str, Path]:
    """The test volume in every 3D format, under a folder with a space and a non-ASCII name."""
    root = tmp_path / "scans 患者 ü"
    root.mkdir()
    array = _volume()
    paths = {"nifti": root / "v.nii.gz", "nii": root / "v.nii", "mgz": root / "v.mgz", "nrrd": root / "v a.nrrd",
             "mha": root / "v.mha", "dicom": root / "dicom series"}
    for key in ("nifti", "nii"):
        nib.save(nib.Nifti1Image(array, RAS_AFFINE), str(paths[key]))
    nib.save(nib.MGHImage(array.astype(np.int32), RAS_AFFINE), str(paths["mgz"]))
    itk_image = _to_sitk(array, RAS_AFFINE)
    sitk.WriteImage(itk_image, str(paths["nrrd"]))
    sitk.WriteImage(itk_image, str(paths["mha"]))
    _write_dicom_series(_to_sitk(array, DICOM_AFFINE), paths["dicom"])
    return paths


@pytest.mark.parametrize("fmt", ["nifti", "nii", "mgz", "nrrd", "mha"])
def test_every_3d_format_reads_alike(volumes: dict[str, Path], fmt: str) -> None:
    header = read_header(volumes[fmt])
    assert header.shape == (6, 5, 4)
    np.testing.assert_allclose(header.affine, RAS_AFFINE, atol=1e-5)
    assert header.orientation == "LAS"
    assert header.spacing == pytest.approx((0.7, 0.9, 2.0))
    array, _ = read_image(volumes[fmt])
    np.testing.assert_array_equal(array, _volume())


def test_dicom_series_folder(volumes: dict[str, Path]) -> None:
    array, header = read_image(volumes["dicom"])
    np.testing.assert_array_equal(array, _volume())
    np.testing.assert_allclose(header.affine, DICOM_AFFINE, atol=1e-5)
    assert header.orientation == "LPS"


@pytest.mark.parametrize("fmt", ["nifti", "nrrd", "dicom", "mgz"])
def test_load_imaged_orients_to_ras(volumes: dict[str, Path], fmt: str) -> None:
    out = loading(["image"], spatial_dims=3)
    image = out[1](out[0]({"image": str(volumes[fmt])}))["image"]
    assert tuple(image.shape) == (1, 6, 5, 4)
    assert nib.aff2axcodes(image.affine.numpy()) == ("R", "A", "S")
    expected = _volume()[::-1, ::-1] if fmt == "dicom" else _volume()[::-1]  # L->R (and P->A) flipped
    np.testing.assert_array_equal(image[0].numpy(), expected)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_2d_pictures_keep_their_pixels(tmp_path: Path, suffix: str) -> None:
    picture = np.arange(7 * 9, dtype=np.uint8).reshape(7, 9)  # 7 rows (height), 9 columns (width)
    path = tmp_path / f"slide ü{suffix}"
    sitk.WriteImage(sitk.GetImageFromArray(picture), str(path))
    header = read_header(path)
    assert header.shape == (9, 7)  # x (columns) first, as MONAI's PILReader
    assert header.orientation == "RA"
    steps = loading(["image"], spatial_dims=2)
    image = steps[1](steps[0]({"image": str(path)}))["image"]
    assert tuple(image.shape) == (1, 9, 7)
    np.testing.assert_array_equal(image[0].numpy(), picture.T)


def test_channel_files_stack(volumes: dict[str, Path]) -> None:
    reader = MedicalImageReader()
    assert reader.verify_suffix([volumes["nifti"], volumes["nrrd"]])
    assert not reader.verify_suffix("notes.txt")
    array, meta = reader.get_data(reader.read([volumes["nifti"], volumes["nrrd"]]))
    assert array.shape == (2, 6, 5, 4)
    assert meta["original_channel_dim"] == 0
    assert torch.equal(torch.as_tensor(array[0]), torch.as_tensor(array[1]))


def test_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing\.nii\.gz does not exist"):
        read_header(tmp_path / "missing.nii.gz")
    bad = tmp_path / "bad.mha"
    bad.write_text("not an image")
    with pytest.raises(ImageReadError, match=r"bad\.mha is not a readable image"):
        read_header(bad)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageReadError, match="holds no DICOM series"):
        read_header(tmp_path / "empty")
