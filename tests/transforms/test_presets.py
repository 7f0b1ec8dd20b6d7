"""Presets, patch sampling, augmentation and 2D-from-3D, on tiny files and on the shared real scans."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.transforms import Compose
from monai.utils import set_determinism

from attn_seg.data import read_image
from attn_seg.transforms import (
    augmentation,
    ct_preset,
    mri_preset,
    patch_sampling,
    preset,
    slice_inferer,
    slice_sampling,
    stack_slices,
)

LPS = np.array([[-1.5, 0, 0, 0], [0, -1.5, 0, 0], [0, 0, 3.0, 0], [0, 0, 0, 1]])


@pytest.fixture
def case(tmp_path: Path) -> Callable[[int], dict]:
    """``case(spatial_dims)``: a CT-like image (HU) with a cube label 0/1/2, on an LPS 1.5 x 1.5 x 3 mm grid."""

    def _make(spatial_dims: int = 3) -> dict:
        shape = (24, 20, 10)[:spatial_dims]
        image = np.full(shape, -1000.0, dtype=np.float32)
        label = np.zeros(shape, dtype=np.uint8)
        inner = tuple(slice(2, n - 2) for n in shape)
        image[inner] = 40.0
        label[tuple(slice(2, 6) for _ in shape)] = 1
        label[tuple(slice(6, 10) for _ in shape)] = 2
        affine = LPS if spatial_dims == 3 else np.diag([1.5, 1.5, 1.0, 1.0])
        paths = {}
        for key, array in (("image", image), ("label", label)):
            paths[key] = str(tmp_path / f"{key}{spatial_dims}.nii.gz")
            nib.save(nib.Nifti1Image(array, affine), paths[key])
        return paths

    return _make


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_ct_preset_resamples_orients_and_windows(case: Callable[[int], dict], spatial_dims: int) -> None:
    pixdim = [3.0, 3.0, 3.0][:spatial_dims]
    out = ct_preset(spatial_dims=spatial_dims, pixdim=pixdim, hu_window=(-200, 400)).eval()(case(spatial_dims))
    image, label = out["image"], out["label"]
    assert image.shape == label.shape
    assert tuple(image.shape) == (1, 12, 10, 10)[: spatial_dims + 1]
    assert float(image.min()) == 0.0
    assert float(image.max()) == pytest.approx((40 + 200) / 600)
    assert set(torch.unique(label).tolist()) == {0.0, 1.0, 2.0}
    spacing = np.sqrt((image.affine.numpy()[:spatial_dims, :spatial_dims] ** 2).sum(axis=0))
    np.testing.assert_allclose(spacing, pixdim)
    assert np.all(np.diag(image.affine.numpy())[:spatial_dims] > 0), "RAS: positive diagonal"


def test_mri_preset_zscores_non_zero_voxels(case: Callable[[int], dict]) -> None:
    paths = case(3)
    image = nib.load(paths["image"])
    mri = np.where(np.asarray(image.dataobj) > 0, np.arange(24 * 20 * 10).reshape(24, 20, 10) % 7 + 100.0, 0.0)
    nib.save(nib.Nifti1Image(mri.astype(np.float32), image.affine), paths["image"])
    out = preset("mri", spatial_dims=3).eval()(paths)["image"]
    inside = out[0][torch.as_tensor(mri[::-1, ::-1].copy() > 0)]
    assert float(inside.mean()) == pytest.approx(0.0, abs=1e-4)
    assert float(inside.std()) == pytest.approx(1.0, abs=1e-2)
    assert float(out[0][torch.as_tensor(mri[::-1, ::-1].copy() == 0)].abs().max()) == 0.0


def test_train_split_deterministic_then_random(case: Callable[[int], dict]) -> None:
    set_determinism(seed=0)
    transforms = mri_preset(spatial_dims=3, pixdim=[1.5, 1.5, 3.0])
    random = patch_sampling([8, 8, 8], num_samples=3) + augmentation(("flip", "rot90", "affine", "intensity",
                                                                       "contrast"), spatial_dims=3)
    samples = Compose([*transforms.deterministic, *random])(case(3))
    assert len(samples) == 3
    assert all(tuple(s["image"].shape) == (1, 8, 8, 8) for s in samples)
    assert all(set(torch.unique(s["label"]).tolist()) <= {0.0, 1.0, 2.0} for s in samples)
    assert len(transforms.eval().transforms) == len(transforms.deterministic)


def test_colour_casts_each_channel_on_its_own_and_leaves_the_label() -> None:
    set_determinism(seed=3)
    label = torch.zeros(1, 16, 16)
    label[:, 4:12, 4:12] = 1
    case = {"image": torch.full((3, 16, 16), 0.5), "label": label.clone()}
    out = Compose(augmentation(("colour",), spatial_dims=2, prob=1.0))(case)
    means = [float(out["image"][c].mean()) for c in range(3)]
    assert len({round(m, 6) for m in means}) == 3, means  # three different casts
    assert all(float(out["image"][c].std()) < 1e-6 for c in range(3))  # uniform within a channel
    torch.testing.assert_close(torch.as_tensor(out["label"]), label)


def test_zoom_moves_image_and_label_together() -> None:
    set_determinism(seed=4)
    label = torch.zeros(1, 32, 32)
    label[:, 8:24, 12:20] = 1
    case = {"image": label.clone(), "label": label.clone()}
    zoom = Compose(augmentation(("zoom",), spatial_dims=2, prob=1.0))
    zoomed = [zoom(dict(case)) for _ in range(4)]
    areas = {int(torch.as_tensor(z["label"]).sum()) for z in zoomed}
    assert len(areas) > 1, areas  # the object changes size, differently each time
    for z in zoomed:
        assert set(torch.unique(torch.as_tensor(z["label"])).tolist()) <= {0.0, 1.0}  # nearest neighbour
        moved = (torch.as_tensor(z["image"]) >= 0.5) == (torch.as_tensor(z["label"]) > 0)
        assert float(moved.float().mean()) > 0.99  # the image moved with its label (edges may differ)


def test_sampling_by_class_reaches_the_rare_class(case: Callable[[int], dict]) -> None:
    set_determinism(seed=1)
    steps = ct_preset(spatial_dims=3).deterministic + patch_sampling([4, 4, 4], mode="classes", num_classes=3,
                                                                     ratios=[0, 0, 1], num_samples=4)
    samples = Compose(steps)(case(3))
    assert all(float(s["label"].max()) == 2.0 for s in samples)


def test_slices_of_volumes_for_a_2d_net(case: Callable[[int], dict]) -> None:
    set_determinism(seed=2)
    steps = ct_preset(spatial_dims=3).deterministic + slice_sampling([16, 16], num_samples=5, pos=1, neg=0)
    samples = Compose(steps)(case(3))
    assert len(samples) == 5
    assert all(tuple(s["image"].shape) == (1, 16, 16) for s in samples)
    assert all(float(s["label"].max()) > 0 for s in samples)


def test_2d_predictions_stack_back_into_the_volume() -> None:
    volume = torch.arange(2 * 6 * 5 * 4, dtype=torch.float32).reshape(2, 6, 5, 4)
    double = stack_slices(volume, lambda x: torch.cat([x, 2 * x], dim=1)[:, :3], axis=2, batch_size=3)
    assert tuple(double.shape) == (3, 6, 5, 4)
    torch.testing.assert_close(double[:2], volume)
    net = torch.nn.Conv2d(2, 3, kernel_size=1)
    out = slice_inferer([6, 5], axis=2, sw_batch_size=2)(volume[None], net)
    assert tuple(out.shape) == (1, 3, 6, 5, 4)
    with torch.no_grad():
        expected = stack_slices(volume, net, axis=2)
    torch.testing.assert_close(out[0], expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: ct_preset(spatial_dims=1), "spatial_dims"),
    (lambda: ct_preset(pixdim=[1.0, 1.0]), "pixdim"),
    (lambda: ct_preset(hu_window=(400, -200)), "hu_window"),
    (lambda: preset("ctt"), "ct"),
    (lambda: patch_sampling([8, 8], mode="classes"), "num_classes"),
    (lambda: augmentation(("flipp",)), "flip"),
    (lambda: slice_sampling([8, 8, 8]), "roi_size"),
    (lambda: stack_slices(torch.zeros(4, 4, 4), lambda x: x), "volume"),
])
def test_invalid_arguments(call: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_real_brain_mr_nrrd(shared_data: Callable[[str], Path]) -> None:
    folder = shared_data("pyradiomics_brain1")
    case = {"image": str(folder / "brain1_image.nrrd"), "label": str(folder / "brain1_label.nrrd")}
    out = mri_preset(spatial_dims=3, pixdim=[1.5, 1.5, 6.5]).eval()(case)
    image, label = out["image"], out["label"]
    assert nib.aff2axcodes(image.affine.numpy()) == ("R", "A", "S")
    np.testing.assert_allclose(np.sqrt((image.affine.numpy()[:3, :3] ** 2).sum(axis=0)), [1.5, 1.5, 6.5], atol=1e-6)
    assert tuple(image.shape) == (1, 134, 134, 25)
    assert image.shape == label.shape
    assert set(torch.unique(label).tolist()) == {0.0, 1.0}
    native = mri_preset(spatial_dims=3).eval()(case)["label"]
    raw, header = read_image(folder / "brain1_label.nrrd")
    assert header.orientation == "LAS", "the NRRD's flipped axis, in RAS terms"
    np.testing.assert_array_equal(native[0].numpy(), raw[::-1].astype(np.float32))
    assert float(native.sum()) == pytest.approx(float(label.sum()) * (1.5 / 0.78125) ** 2, rel=0.1)


def test_real_abdominal_ct(shared_data: Callable[[str], Path]) -> None:
    folder = shared_data("totalsegmentator_ct_small")
    case = {"image": str(folder / "example_ct_sm.nii.gz"), "label": str(folder / "example_seg.nii.gz")}
    out = ct_preset(spatial_dims=3, pixdim=[4.5, 4.5, 4.5], axcodes="LPS").eval()(case)
    image, label = out["image"], out["label"]
    assert nib.aff2axcodes(image.affine.numpy()) == ("L", "P", "S")
    np.testing.assert_allclose(np.sqrt((image.affine.numpy()[:3, :3] ** 2).sum(axis=0)), [4.5] * 3, atol=1e-6)
    assert tuple(image.shape) == (1, 82, 68, 20)
    assert float(image.min()) >= 0.0
    assert float(image.max()) <= 1.0
    assert {1.0, 5.0} <= set(torch.unique(label).tolist()), "spleen and liver survive resampling"
