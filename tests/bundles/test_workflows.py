"""Every bundle through MONAI's ``ConfigWorkflow``, as the model zoo's CI runs it: train, evaluate and infer, each
``initialize()``, ``check_properties()`` with nothing missing, ``run()``, ``finalize()``; ``attn-seg predict`` writes
the label files of the bundle's inference; and the bundles share one structure (the MRI and 2D configs differ from
the CT ones only in settings and preprocessing)."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser, ConfigWorkflow

from attn_seg.bundles import find_bundle
from attn_seg.cli import main
from attn_seg.data.readers import image_files, read_header
from attn_seg.inference import case_name


def _workflow(bundle: Path, files: list[str], workflow_type: str, overrides: dict) -> ConfigWorkflow:
    configs = bundle / "configs"
    return ConfigWorkflow(
        config_file=[str(configs / f) for f in files],
        meta_file=str(configs / "metadata.json"),
        logging_file=str(configs / "logging.conf"),
        workflow_type=workflow_type,
        **{"bundle_root": str(bundle), **overrides},
    )


def _run(workflow: ConfigWorkflow) -> None:
    workflow.initialize()
    assert workflow.check_properties() == []
    workflow.run()
    workflow.finalize()


def test_train_evaluate_infer_workflows(
    bundle: Path, bundle_name: str, bundle_data: dict[str, Path], tiny: dict, tiny_train: dict, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The user's default flow: training writes its own run folder under ``runs/<bundle>/`` (relative to the
    current directory) and, with ``promote``, its best model into the bundle; evaluation reads the latest run."""
    data = bundle_data[bundle_name]
    monkeypatch.chdir(tmp_path)
    _run(_workflow(bundle, ["train.json"], "train", {**tiny_train, "dataset_dir": str(data), "promote": True}))
    (run,) = (tmp_path / "runs" / bundle.name).iterdir()
    history = json.loads((run / "eval" / "history.json").read_text(encoding="utf-8"))["epochs"]
    assert [row["epoch"] for row in history] == [1]
    state = torch.load(bundle / "models" / "model.pt", map_location="cpu", weights_only=True)
    best = torch.load(run / "models" / "model.pt", map_location="cpu", weights_only=True)
    assert all(torch.equal(best[k], v) for k, v in state.items())

    _run(_workflow(bundle, ["train.json", "evaluate.json"], "eval", {**tiny, "dataset_dir": str(data)}))
    assert (run / "eval" / "report" / "report.html").is_file()
    assert list((run / "eval" / "predictions").glob("*_seg.nii.gz"))

    out = tmp_path / "predictions"
    infer = _workflow(bundle, ["inference.json"], "infer", {**tiny, "input_dir": str(data / "imagesTs"),
                                                            "output_dir": str(out)})
    _run(infer)
    loaded = infer.parser.get_parsed_content("network").state_dict()  # CheckpointLoader loaded the trained model
    assert all(torch.equal(loaded[k], v) for k, v in state.items())
    inputs = image_files(data / "imagesTs")  # NIfTI, or RGB PNG pictures for the polyp bundle
    outputs = sorted(p.name for p in out.iterdir() if p.is_file())  # the polyp bundle's PNG masks are in png/
    assert outputs == [f"{case_name(p)}_seg.nii.gz" for p in inputs]
    for image in inputs:
        pred_file = out / f"{case_name(image)}_seg.nii.gz"
        pred, source = read_header(pred_file), read_header(image)
        assert pred.shape == source.shape
        # 2D: MONAI keeps a 3x3 in-plane affine (and read_header the in-plane part of a 2D NIfTI's), so a 2D NIfTI
        # slice's through-plane offset is not written back
        np.testing.assert_allclose(pred.affine, source.affine, atol=1e-3)
        labels = np.asarray(nib.load(pred_file).dataobj)
        assert set(np.unique(labels).tolist()) <= set(range(infer.parser.get_parsed_content("num_classes")))

    # one inference path: predict runs the bundle's own pieces (settings from the training record, not repeated)
    assert main(["predict", "--bundle", str(bundle), "-i", str(data / "imagesTs"), "-o", str(tmp_path / "cli"),
                 "--no-progress"]) == 0
    for image in inputs:
        name = f"{case_name(image)}_seg.nii.gz"
        runner, cli = nib.load(out / name), nib.load(tmp_path / "cli" / name)
        np.testing.assert_array_equal(np.asarray(cli.dataobj), np.asarray(runner.dataobj))
        np.testing.assert_array_equal(cli.affine, runner.affine)


#: The argument with which a bundle thresholds its masks (labels only: inference has none).
LABEL_THRESHOLD = ", label_threshold=@label_threshold"


def _without(expression: str, *arguments: str) -> str:
    for argument in arguments:
        expression = expression.replace(argument, "")
    return expression


def _structure(config: dict, settings: set[str]) -> dict:
    """A config without its settings (top-level values that are neither sections nor expressions)."""
    return {k: v for k, v in config.items() if k not in settings}


def test_bundles_share_one_structure(bundle_names: list[str]) -> None:
    """MRI and 2D reuse the CT bundle's logic: train.json differs only in settings, network sizes and the preset;
    evaluate.json, multi_gpu_train.json and logging.conf are the same files; inference.json has the same sections."""
    ct = find_bundle("attention_unet_3d_ct") / "configs"
    ct_train = ConfigParser.load_config_file(str(ct / "train.json"))
    settings = {"batch_size", "num_samples", "num_classes", "class_names", "roi_size", "pixdim", "hu_window",
                "synthetic_modality", "preprocessing_transforms", "network_def", "epochs", "val_interval",
                "record_settings", "scheduler_name", "augmentations", "augmentation_prob", "flip_axes",
                "label_threshold", "stream_labels", "precision"}
    for name in bundle_names:
        configs = find_bundle(name) / "configs"
        train = ConfigParser.load_config_file(str(configs / "train.json"))
        # the recipe: patches and augmentation from attn_seg.transforms (the polyp bundle resizes instead of cropping)
        recipe = {**train["train"], "random_transforms": ct_train["train"]["random_transforms"]}
        # the polyp bundle's validation also checks the image channels and thresholds its masks
        datalist = _without(train["datalist"], ", in_channels=@network_def#in_channels", LABEL_THRESHOLD)
        assert _structure({**train, "train": recipe, "datalist": datalist}, settings) == _structure(
            ct_train, settings
        ), name
        assert {k for k in train["network_def"] if k not in ("spatial_dims", "channels", "strides")} == {
            k for k in ct_train["network_def"] if k not in ("spatial_dims", "channels", "strides")
        }
        assert "preset(" in train["preprocessing_transforms"]
        assert train["preprocessing_transforms"].endswith(
            ".deterministic"
        )
        for same in ("evaluate.json", "multi_gpu_train.json", "logging.conf"):
            assert (configs / same).read_bytes() == (ct / same).read_bytes(), f"{name}/{same}"
        assert (find_bundle(name) / "LICENSE").is_file()
        assert (find_bundle(name) / "docs" / "README.md").is_file()
        inference = ConfigParser.load_config_file(str(configs / "inference.json"))
        trained = {k: v for k, v in train["network_def"].items() if k != "deep_supervision"}
        assert inference["network_def"] == {**trained, "return_attention": "@save_attention"}
        if name != "attention_unet_3d_ct":  # the MRI and 2D inference runs the training's preset on the image
            assert inference["preprocessing"]["transforms"] == _without(
                train["preprocessing_transforms"].replace("label_map=@label_values", "keys=['image']"), LABEL_THRESHOLD
            )
