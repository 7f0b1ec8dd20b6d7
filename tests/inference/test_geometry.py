"""Outputs are written in the input's own geometry: shape, affine and header, for 2D and 3D, any orientation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from attn_seg.data.naming import case_name
from attn_seg.inference import load_model, output_paths, predict_file, predict_files, read_bundle

SHAPES = {3: (41, 37, 13), 2: (45, 38)}


def _predict(bundle: Path, image: Path, out: Path, probs: bool = False, attention: bool = False,
             **settings: object) -> dict[str, Path]:
    """Segment ``image`` with the bundle's own pieces (as ``attn-seg predict``); the files written, by kind."""
    options = {"output_dir": str(out), "save_probs": probs, "save_attention": attention, "precision": "fp32"}
    bundle_settings = read_bundle(bundle, {**options, **settings})
    network = load_model(bundle_settings, attention=attention)
    predict_file(image, network, bundle_settings)
    return output_paths(out, case_name(image), probs=probs, attention_gates=2 if attention else 0)


@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize("layout", ["ras", "lps", "oblique", "anisotropic"])
def test_outputs_keep_shape_affine_and_header(
    tiny_bundle: Callable, write_image: Callable, tmp_path: Path, spatial_dims: int, layout: str
) -> None:
    image_path = write_image("case 1.nii.gz", SHAPES[spatial_dims], layout)
    # labels from the resampled probabilities, so that they can be checked against the stored probabilities
    paths = _predict(tiny_bundle(spatial_dims), image_path, tmp_path / "out", probs=True, attention=True,
                     stream_labels=False)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "case 1_attn_g0.nii.gz", "case 1_attn_g1.nii.gz", "case 1_probs.nii.gz", "case 1_seg.nii.gz"]
    source = nib.load(image_path)
    seg = nib.load(paths["seg"])
    assert seg.shape == source.shape
    np.testing.assert_allclose(seg.affine, source.affine, atol=1e-5)
    assert seg.header.get_sform(coded=True)[1] == source.header.get_sform(coded=True)[1]
    assert seg.header.get_qform(coded=True)[1] == source.header.get_qform(coded=True)[1]
    assert seg.get_data_dtype() == np.uint8
    assert set(np.unique(np.asarray(seg.dataobj)).tolist()) <= {0, 1, 2}  # no CT scaling leaked into labels
    probs = nib.load(paths["probs"])
    expected = (*source.shape, 3) if spatial_dims == 3 else (*source.shape, 1, 3)
    assert probs.shape == expected
    p = probs.get_fdata()
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, atol=1e-3)
    flat, labels = p.reshape(-1, 3), np.asarray(seg.dataobj).reshape(-1)
    differ = flat.argmax(axis=1) != labels  # only where stored probabilities tie within their 2-byte precision
    assert np.all(flat[differ].max(axis=1) - flat[differ, labels[differ]] < 1e-4)
    for key in ("attn_g0", "attn_g1"):
        attn = nib.load(paths[key])
        assert attn.shape == source.shape
        np.testing.assert_allclose(attn.affine, source.affine, atol=1e-5)
        values = attn.get_fdata()
        assert values.min() >= 0.0
        assert values.max() <= 1.0


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_streamed_labels_do_not_depend_on_the_other_outputs(
    tiny_bundle: Callable, write_image: Callable, tmp_path: Path, spatial_dims: int
) -> None:
    """Label-only runs stream the labels in the network's grid and resample them with nearest neighbours; a run
    that also writes probabilities and maps takes the same argmax in the same grid: the label maps are equal."""
    image_path = write_image("c.nii.gz", SHAPES[spatial_dims], "oblique")  # resampled and reoriented
    bundle = tiny_bundle(spatial_dims)
    alone = _predict(bundle, image_path, tmp_path / "alone")
    full = _predict(bundle, image_path, tmp_path / "full", probs=True, attention=True)
    assert sorted(p.name for p in (tmp_path / "alone").iterdir()) == ["c_seg.nii.gz"]
    seg_alone, seg_full = nib.load(alone["seg"]), nib.load(full["seg"])
    np.testing.assert_array_equal(np.asarray(seg_alone.dataobj), np.asarray(seg_full.dataobj))
    np.testing.assert_allclose(seg_alone.affine, nib.load(image_path).affine, atol=1e-5)
    assert len(np.unique(np.asarray(seg_alone.dataobj))) > 1  # not a blank map that would match trivially


def test_nrrd_input_gets_nifti_in_its_world_geometry(
    tiny_bundle: Callable, shared_data: Callable, tmp_path: Path
) -> None:
    from attn_seg.data import read_header

    image = shared_data("pyradiomics_brain1") / "brain1_image.nrrd"
    paths = _predict(tiny_bundle(3), image, tmp_path / "out")
    header = read_header(image)
    seg = nib.load(paths["seg"])
    assert paths["seg"].name == "brain1_image_seg.nii.gz"
    assert seg.shape == header.shape
    np.testing.assert_allclose(seg.affine, header.affine, atol=1e-4)


def test_largest_component_keeps_one_blob_per_class(
    tiny_bundle: Callable, write_image: Callable, tmp_path: Path
) -> None:
    from skimage.measure import label

    image_path = write_image("a.nii.gz", SHAPES[3])
    paths = _predict(tiny_bundle(3), image_path, tmp_path / "out", largest_component=True)
    seg = np.asarray(nib.load(paths["seg"]).dataobj)
    for value in (1, 2):
        assert label(seg == value, connectivity=3).max() <= 1


def test_folder_run_reports_a_corrupt_case_and_writes_the_others(
    tiny_bundle: Callable, write_image: Callable, tmp_path: Path
) -> None:
    good = [write_image(f"case_{i}.nii.gz", SHAPES[3], seed=i) for i in range(2)]
    bad = good[0].with_name("broken.nii.gz")
    bad.write_bytes(good[0].read_bytes()[:300])
    settings = read_bundle(tiny_bundle(3), {"output_dir": str(tmp_path / "out"), "precision": "fp32"})
    network = load_model(settings)
    report = predict_files([good[0], bad, good[1]], network, settings, progress=False)
    assert report.written == good
    assert [p for p, _ in report.failed] == [bad]
    assert str(bad) in report.failed[0][1]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["case_0_seg.nii.gz", "case_1_seg.nii.gz"]
    again = predict_files([good[0], good[1]], network, settings, progress=False)
    assert again.skipped == good
