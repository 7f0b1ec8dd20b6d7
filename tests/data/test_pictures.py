"""Colour pictures as data: Kvasir-SEG's images/ + masks/ layout, RGB images against a network's in_channels in
validation and ``attn-seg check-data``, thresholded JPEG masks, and synthetic RGB picture sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from picture_helpers import write_kvasir_like
from PIL import Image

from attn_seg.cli import main
from attn_seg.data import SyntheticSpec, inspect_cases, load_cases, read_header, read_label, write_synthetic_dataset

SIZES = [(40, 52), (36, 30), (44, 44)]


def test_images_and_masks_folders_pair_by_name(tmp_path: Path) -> None:
    data = write_kvasir_like(tmp_path / "kvasir", SIZES)
    cases = load_cases(data)
    assert [(Path(c["image"]).parent.name, Path(c["label"]).parent.name) for c in cases] == [("images", "masks")] * 3
    assert [Path(c["image"]).name for c in cases] == [Path(c["label"]).name for c in cases]


def test_rgb_images_need_three_in_channels_and_jpeg_masks_a_threshold(tmp_path: Path) -> None:
    cases = load_cases(write_kvasir_like(tmp_path / "kvasir", SIZES))
    clean = inspect_cases(cases, spatial_dims=2, num_classes=2, in_channels=3, label_threshold=128)
    assert clean.problems == []
    assert all(c.label_counts.keys() == {0, 1} for c in clean.cases)
    unthresholded = inspect_cases(cases, spatial_dims=2, num_classes=2, in_channels=3)
    assert len(unthresholded.problems) == 3
    assert "outside the declared classes 0..1" in unthresholded.problems[0]
    grey_bundle = inspect_cases(cases, spatial_dims=2, num_classes=2, label_threshold=128)
    assert len(grey_bundle.problems) == 3
    assert grey_bundle.problems[0].startswith(
        f"image {cases[0]['image']} has 3 channel(s) but `network_def#in_channels` is 1: a colour (RGB) image"
    )


def test_check_data_refuses_rgb_for_a_grey_network_and_grey_for_an_rgb_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_kvasir_like(tmp_path / "kvasir", SIZES, grey_image=1)
    image = data / "images" / "case0.jpg"
    code = main(["check-data", str(data), "--spatial-dims", "2", "--classes", "1", "--label-threshold", "128"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"image {image} has 3 channel(s) but `--in-channels` is 1" in err
    code = main(["check-data", str(data), "--spatial-dims", "2", "--classes", "1", "--label-threshold", "128",
                 "--in-channels", "3"])
    lines = capsys.readouterr().err.splitlines()
    assert code == 1
    assert lines[0].startswith(f"image {data / 'images' / 'case1.jpg'} has 1 channel(s) but `--in-channels` is 3")
    assert lines[-1] == "attn-seg check-data: 1 problem(s); nothing written"


def test_colour_label_is_a_problem_naming_the_file(tmp_path: Path) -> None:
    data = write_kvasir_like(tmp_path / "kvasir", SIZES[:1])
    label = data / "masks" / "case0.jpg"
    Image.fromarray(np.dstack([np.full((40, 52), c, np.uint8) for c in (255, 0, 0)])).save(label)  # a red mask
    report = inspect_cases(load_cases(data), spatial_dims=2, num_classes=2, in_channels=3)
    assert len(report.problems) == 1
    assert report.problems[0].startswith(f"label {label} is a colour picture, but labels hold one class value")


def test_synthetic_rgb_set_is_pictures_with_0_255_masks(tmp_path: Path) -> None:
    spec = SyntheticSpec(spatial_dims=2, num_classes=1, modality="rgb")
    write_synthetic_dataset(tmp_path / "rgb", spec=spec, num_cases=2, num_test=1, seed=3)
    cases = load_cases(tmp_path / "rgb")
    assert [Path(c["image"]).name for c in cases] == ["case_0000.png", "case_0001.png"]
    header = read_header(cases[0]["image"])
    assert (header.channels, header.dtype) == (3, "uint8")
    label, label_header = read_label(cases[0]["label"])
    assert label_header.shape == header.shape
    assert set(np.unique(label).tolist()) == {0, 255}
    assert inspect_cases(cases, spatial_dims=2, num_classes=2, in_channels=3, label_threshold=128).problems == []
    assert (tmp_path / "rgb" / "imagesTs" / "case_0002.png").is_file()


@pytest.mark.parametrize("kwargs", [{"spatial_dims": 3, "num_classes": 1}, {"spatial_dims": 2, "num_classes": 2}])
def test_rgb_spec_is_2d_with_one_class(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="`modality` 'rgb' makes 2D pictures with one foreground class"):
        SyntheticSpec(modality="rgb", **kwargs)
