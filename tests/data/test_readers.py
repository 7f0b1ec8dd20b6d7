"""Readers: every format gives the same voxels and the same RAS+ geometry, through MONAI's LoadImaged too; colour
pictures load as 3 channels, label pictures as one."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813
import torch
from dicom_helpers import to_sitk, write_dicom_series
from PIL import Image

from attn_seg.data import ImageReadError, MedicalImageReader, read_header, read_image, read_label
from attn_seg.transforms import loading

#: RAS+ affine of the test volume: 0.7 x 0.9 x 2.0 mm, axes L->R flipped (an "LAS" volume), shifted origin.
RAS_AFFINE = np.array([[-0.7, 0, 0, 40.0], [0, 0.9, 0, -12.0], [0, 0, 2.0, 7.5], [0, 0, 0, 1]])
#: DICOM series need a right-handed grid: an "LPS" volume, as scanners write them.
DICOM_AFFINE = np.array([[-0.7, 0, 0, 40.0], [0, -0.9, 0, -12.0], [0, 0, 2.0, 7.5], [0, 0, 0, 1]])


def _volume() -> np.ndarray:
    return np.arange(6 * 5 * 4, dtype=np.int16).reshape(6, 5, 4)


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
    itk_image = to_sitk(array, RAS_AFFINE)
    sitk.WriteImage(itk_image, str(paths["nrrd"]))
    sitk.WriteImage(itk_image, str(paths["mha"]))
    write_dicom_series(to_sitk(array, DICOM_AFFINE), paths["dicom"])
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


def _rgb(height: int = 7, width: int = 9) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 picture whose channels all differ."""
    rows, cols = np.mgrid[0:height, 0:width]
    return np.stack([rows * 20 + cols, 255 - rows * cols, (rows + 3 * cols) % 256], axis=-1).astype(np.uint8)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_rgb_pictures_load_as_three_channels(tmp_path: Path, suffix: str) -> None:
    picture = _rgb()
    path = tmp_path / f"photo ü{suffix}"
    Image.fromarray(picture).save(path, quality=100)
    header = read_header(path)
    assert (header.shape, header.channels) == ((9, 7), 3)
    array, _ = read_image(path)
    assert array.shape == (9, 7, 3)
    steps = loading(["image"], spatial_dims=2)
    image = steps[1](steps[0]({"image": str(path)}))["image"]
    assert tuple(image.shape) == (3, 9, 7)  # channel first, then x (columns), y (rows) as for grey pictures
    expected = np.moveaxis(picture, -1, 0).transpose(0, 2, 1).astype(np.float32)
    tolerance = 0 if suffix == ".png" else 12  # JPEG is lossy, even at quality 100
    np.testing.assert_allclose(image.numpy(), expected, atol=tolerance)


def test_rgba_picture_drops_alpha(tmp_path: Path) -> None:
    picture = _rgb()
    path = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([picture, np.full(picture.shape[:2], 17, np.uint8)])).save(path)
    assert read_header(path).channels == 3
    array, header = read_image(path)
    assert (array.shape, header.channels) == ((9, 7, 3), 3)
    np.testing.assert_array_equal(array, picture.transpose(1, 0, 2))


def test_colour_label_is_refused_with_the_file_named(tmp_path: Path) -> None:
    path = tmp_path / "mask red.png"
    Image.fromarray(_rgb()).save(path)
    with pytest.raises(ImageReadError, match=r"mask red\.png is a colour picture, but labels hold one class value"):
        read_label(path)
    steps = loading(["image", "label"], spatial_dims=2)
    with pytest.raises(ImageReadError, match=r"mask red\.png is a colour picture"):  # not read by MONAI's own readers
        steps[1]({"image": str(path), "label": str(path)})


def test_grey_mask_saved_as_rgb_reads_as_one_channel(tmp_path: Path) -> None:
    mask = np.zeros((7, 9), np.uint8)
    mask[2:5, 3:8] = 255
    path = tmp_path / "mask.png"
    Image.fromarray(np.dstack([mask] * 3)).save(path)
    array, header = read_label(path)
    assert (array.shape, header.channels, array.dtype) == ((9, 7), 1, np.uint8)
    np.testing.assert_array_equal(array, mask.T)


def test_noisy_jpeg_mask_is_thresholded_to_0_1(tmp_path: Path) -> None:
    mask = np.zeros((32, 40), np.uint8)
    mask[8:20, 10:30] = 255
    image, label = tmp_path / "image.jpg", tmp_path / "mask.jpg"
    Image.fromarray(_rgb(32, 40)).save(image)
    Image.fromarray(np.dstack([mask] * 3)).save(label, quality=75)  # an RGB JPEG mask, as Kvasir-SEG has them
    values = np.unique(read_label(label)[0])
    assert len(values) > 2  # compression noise near 0 and 255
    steps = loading(["image", "label"], spatial_dims=2, label_threshold=128)
    case = {"image": str(image), "label": str(label)}
    for step in steps:
        case = step(case)
    assert tuple(case["image"].shape) == (3, 40, 32)
    assert tuple(case["label"].shape) == (1, 40, 32)
    assert set(torch.unique(case["label"]).tolist()) == {0.0, 1.0}
    np.testing.assert_array_equal(case["label"][0].numpy(), (mask.T > 127).astype(np.float32))


def test_jpeg_print_resolution_is_not_a_pixel_spacing(tmp_path: Path) -> None:
    """Some Kvasir-SEG pictures store 102 dpi, their masks none: both are read with pixel spacing 1."""
    path = tmp_path / "photo.jpg"
    Image.fromarray(_rgb()).save(path, dpi=(102, 102))
    assert read_header(path).spacing == (1.0, 1.0)
