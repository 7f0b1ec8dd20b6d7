"""The polyp bundle on colour pictures: masks written at each picture's own size (PNG and NIfTI), ``attn-seg
predict`` on JPEG pictures with a grey one refused, and real Kvasir-SEG cases through its validation preprocessing."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from bundle_helpers import shipped_network
from monai.bundle import ConfigParser, ConfigWorkflow
from picture_helpers import rgb_picture, write_kvasir_like
from PIL import Image

from attn_seg.bundles import find_bundle
from attn_seg.cli import main
from attn_seg.data import load_cases, split_datalist, validate_cases
from attn_seg.evaluation import class_metrics

NAME = "attention_unet_polyp_2d"
REPO_ROOT = Path(__file__).resolve().parents[2]
#: (height, width) of the test pictures: neither is the bundle's roi_size.
SIZES = [(37, 50), (64, 48)]


def _weights(bundle: Path, tiny: dict) -> None:
    """Seeded random weights of the tiny network as ``models/model.pt``."""
    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "inference.json"))
    parser.update(tiny)
    torch.manual_seed(0)
    torch.save(parser.get_parsed_content("network_def").state_dict(), bundle / "models" / "model.pt")


@pytest.mark.parametrize("bundle_name", [NAME])
def test_inference_writes_masks_at_the_pictures_size(bundle: Path, tiny: dict, tmp_path: Path) -> None:
    _weights(bundle, tiny)
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    for i, (height, width) in enumerate(SIZES):
        Image.fromarray(rgb_picture(height, width, seed=i)).save(pictures / f"p{i}.png")
    out = tmp_path / "out"
    configs = bundle / "configs"
    workflow = ConfigWorkflow(
        config_file=str(configs / "inference.json"), meta_file=str(configs / "metadata.json"),
        logging_file=str(configs / "logging.conf"), workflow_type="infer",
        **{"bundle_root": str(bundle), **tiny, "input_dir": str(pictures), "output_dir": str(out)},
    )
    workflow.initialize()
    assert workflow.check_properties() == []
    workflow.run()
    workflow.finalize()
    assert tiny["roi_size"] not in ([h, w] for h, w in SIZES)
    for i, (height, width) in enumerate(SIZES):
        png = np.asarray(Image.open(out / "png" / f"p{i}_seg.png"))
        assert (png.shape, png.dtype) == ((height, width), np.uint8)
        assert set(np.unique(png).tolist()) <= {0, 255}
        labels = np.asarray(nib.load(out / f"p{i}_seg.nii.gz").dataobj)
        assert labels.shape == (width, height)  # x (columns) first, as the readers index pictures
        np.testing.assert_array_equal(png.T, labels * 255)


def _tiny_config(bundle: Path, tiny: dict) -> None:
    """Write the tiny settings into the copy's inference.json, for ``attn-seg predict`` (which reads it as is)."""
    config_file = bundle / "configs" / "inference.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    for key, value in tiny.items():
        section, _, name = key.partition("#")  # "network_def#channels" or "roi_size"
        if name:
            config[section][name] = value
        else:
            config[key] = value
    config_file.write_text(json.dumps(config, indent=2), encoding="utf-8")


@pytest.mark.parametrize("bundle_name", [NAME])
def test_predict_segments_colour_pictures_and_refuses_a_grey_one(
    bundle: Path, tiny: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _tiny_config(bundle, tiny)
    _weights(bundle, {})
    data = write_kvasir_like(tmp_path / "kvasir", SIZES, grey_image=1)
    out = tmp_path / "out"
    code = main(["predict", "--bundle", str(bundle), "-i", str(data / "images"), "-o", str(out), "--device", "cpu",
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1
    grey = data / "images" / "case1.jpg"
    assert f"image {grey} has 1 channel(s) but `network_def#in_channels` is 3: a grey image" in err
    assert sorted(p.name for p in out.iterdir()) == ["case0_seg.nii.gz", "png"]  # the bundle's own outputs
    assert sorted(p.name for p in (out / "png").iterdir()) == ["case0_seg.png"]
    height, width = SIZES[0]
    assert nib.load(out / "case0_seg.nii.gz").shape == (width, height)


def test_real_kvasir_cases_through_the_validation_preprocessing(shared_data: Callable[[str], Path]) -> None:
    kvasir = shared_data("kvasir_seg")
    cases = load_cases(kvasir)
    assert len(cases) == 800
    train, val = split_datalist(cases, 0.2, 0)  # the bundle's val_fraction and split_seed (= seed 0)
    assert (len(train), len(val)) == (640, 160)
    parser = ConfigParser()
    parser.read_config(str(find_bundle(NAME) / "configs" / "train.json"))
    parser.update({"dataset_dir": str(kvasir)})
    validate_cases(cases[:3], spatial_dims=2, num_classes=parser["num_classes"], in_channels=3,
                   label_threshold=parser["label_threshold"])
    preprocessing = parser.get_parsed_content("validate#preprocessing")
    roi = tuple(parser["roi_size"])
    for case in cases[:3]:
        loaded = preprocessing(case)
        assert tuple(loaded["image"].shape) == (3, *roi)
        assert tuple(loaded["label"].shape) == (1, *roi)
        assert set(torch.unique(loaded["label"]).tolist()) == {0.0, 1.0}  # JPEG noise thresholded away
        means = loaded["image"].mean(dim=(1, 2))
        torch.testing.assert_close(means, torch.zeros(3), atol=0.05, rtol=0)  # each colour z-scored


#: Three Kvasir-SEG cases for the smoke test: the first three of its training split
#: (seed 0) by name; the held-out figures come from the split run in docs/real_data/polyp/.
SMOKE_CASES = ("cju0qkwl35piu0993l0dewei2", "cju0qx73cjw570799j4n5cjze", "cju0s2a9ekvms080138tjjpxr")


def test_shipped_weights_are_small_load_strictly_and_match_the_model_card() -> None:
    parser = shipped_network(find_bundle(NAME))
    assert parser.get_parsed_content("trained")["class_names"] == ["polyp"]  # the record beside the weights


def _predict_dice(kvasir: Path, cases: list[str], out: Path, *flags: str) -> dict[str, float]:
    """Dice of the shipped model's PNG masks (``attn-seg predict`` with ``flags``, else its defaults) per case."""
    listing = out.parent / f"{out.name}.json"
    listing.write_text(json.dumps([{"image": str(kvasir / "images" / f"{c}.jpg")} for c in cases]))
    assert main(["predict", "--bundle", NAME, "-i", str(listing), "-o", str(out), "--no-progress", *flags]) == 0
    scores = {}
    for case in cases:
        truth = np.asarray(Image.open(kvasir / "masks" / f"{case}.jpg").convert("L")) >= 128
        pred = np.asarray(Image.open(out / "png" / f"{case}_seg.png")) == 255
        assert pred.shape == truth.shape  # at the picture's own size
        scores[case] = class_metrics(pred, truth, (1.0, 1.0)).dice
    return scores


def test_shipped_model_reproduces_its_filed_held_out_scores(shared_data: Callable[[str], Path], tmp_path: Path) -> None:
    """``attn-seg predict --no-tta`` gives the filed held-out Dice of the first 3 held-out pictures by name
    (docs/real_data/polyp/seed0/metrics.csv, scored by the bundle's evaluate.json, which does not flip)."""
    kvasir = shared_data("kvasir_seg")
    filed = REPO_ROOT / "docs" / "real_data" / "polyp" / "seed0" / "metrics.csv"
    with filed.open(encoding="utf-8") as f:
        rows = sorted(csv.DictReader(f), key=lambda row: row["case"])[:3]
    scores = _predict_dice(kvasir, [row["case"] for row in rows], tmp_path / "out", "--no-tta")
    for row in rows:
        assert abs(scores[row["case"]] - float(row["dice"])) <= 0.02, (row["case"], scores[row["case"]], row["dice"])


@pytest.mark.xfail(strict=True, reason="issue 15: the shipped polyp model (held-out Dice 0.813, 0.824 with its "
                   "default flips) is below the 0.85 target; its first training picture scored 0.78 without flips. "
                   "Remove this mark when a better model ships.")
def test_shipped_model_segments_real_pictures_out_of_the_box(
    shared_data: Callable[[str], Path], tmp_path: Path
) -> None:
    scores = _predict_dice(shared_data("kvasir_seg"), list(SMOKE_CASES), tmp_path / "out")
    assert min(scores.values()) >= 0.85, scores
