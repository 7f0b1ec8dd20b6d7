"""Every bundle inside MONAI Label, in process: attn-seg's ``TrainTask`` trains it from a local datastore (from
fresh weights, into a run folder outside the bundle), then its ``InferTask`` loads the promoted model and segments
an image. Runs only where ``monailabel`` is installed (`pytest -m monailabel`,
in a separate environment: monailabel pins its own torch)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813  (the field's convention)

pytestmark = pytest.mark.monailabel


def _suffix(data: Path) -> str:
    """The image suffix of a synthetic set: ``.nii.gz`` volumes and slices, ``.png`` colour pictures."""
    return ".png" if any((data / "imagesTr").glob("*.png")) else ".nii.gz"


def _datastore(data: Path, root: Path):  # -> monailabel's LocalDatastore (an optional package)
    """A MONAI Label local datastore: images in the root, final labels in ``labels/final`` under the same name."""
    from monailabel.datastore.local import LocalDatastore

    (root / "labels" / "final").mkdir(parents=True)
    suffix = _suffix(data)
    for image in sorted((data / "imagesTr").glob(f"*{suffix}")):
        shutil.copy(image, root / image.name)
        shutil.copy(data / "labelsTr" / image.name, root / "labels" / "final" / image.name)
    return LocalDatastore(str(root), extensions=(f"*{suffix}",), auto_reload=False)


def test_bundle_trains_and_predicts_in_monailabel(
    bundle: Path, bundle_name: str, bundle_data: dict[str, Path], tmp_path: Path
) -> None:
    pytest.importorskip("monailabel", reason="monailabel is not installed")
    from attn_seg.monai_label.tasks import InferTask, TrainTask, bundle_labels

    data = bundle_data[bundle_name]
    datastore = _datastore(data, tmp_path / "datastore")
    assert len(datastore.datalist()) == 4

    trainer = TrainTask(str(bundle), {}, runs_root=tmp_path / "runs")
    assert trainer.is_valid()
    request = {"model": bundle_name, "device": "cpu", "max_epochs": 1, "val_split": 0.25, "pretrained": False,
               "multi_gpu": False}
    trainer(request, datastore)
    assert (bundle / "models" / "model.pt").is_file()  # the run's best model, promoted
    assert not (bundle / "data").exists()
    assert not (bundle / "runs").exists()
    assert len(list((tmp_path / "runs" / bundle.name).glob("*/models/model.pt"))) == 1

    infer = InferTask(str(bundle), {}, type="segmentation")
    assert infer.is_valid()
    image = sorted((data / "imagesTs").glob(f"*{_suffix(data)}"))[0]
    assert infer.dimension == sitk.ReadImage(str(image)).GetDimension()
    names = trainer.bundle_config["class_names"] or bundle_labels(bundle)
    assert set(infer.labels) == set(names)
    result_file, result_json = infer({"image": str(image), "device": "cpu"})
    pred, source = sitk.ReadImage(result_file), sitk.ReadImage(str(image))
    assert pred.GetSize() == source.GetSize()
    for geometry in ("GetOrigin", "GetSpacing", "GetDirection"):  # 2D NIfTI included; a PNG has none
        np.testing.assert_allclose(getattr(pred, geometry)(), getattr(source, geometry)(), atol=1e-4)
    assert pred.GetPixelID() == sitk.sitkUInt8
    values = sitk.GetArrayFromImage(pred)
    assert set(np.unique(values).tolist()) <= set(range(len(infer.labels) + 1))
    assert isinstance(result_json, dict)
