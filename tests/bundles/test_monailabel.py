"""Every bundle inside MONAI Label: ``BundleTrainTask`` trains it from a local datastore, then ``BundleInferTask``
loads the trained model and segments an image. Runs only where ``monailabel`` is installed (`pytest -m monailabel`,
in a separate environment: monailabel pins its own torch)."""

from __future__ import annotations

import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

pytestmark = pytest.mark.monailabel


def _datastore(data: Path, root: Path):  # -> monailabel's LocalDatastore (an optional package)
    """A MONAI Label local datastore: images in the root, final labels in ``labels/final`` under the same name."""
    from monailabel.datastore.local import LocalDatastore

    (root / "labels" / "final").mkdir(parents=True)
    for image in sorted((data / "imagesTr").glob("*.nii.gz")):
        shutil.copy(image, root / image.name)
        shutil.copy(data / "labelsTr" / image.name, root / "labels" / "final" / image.name)
    return LocalDatastore(str(root), extensions=("*.nii.gz",), auto_reload=False)


def test_bundle_trains_and_predicts_in_monailabel(
    bundle: Path, bundle_name: str, bundle_data: dict[str, Path], tmp_path: Path
) -> None:
    pytest.importorskip("monailabel", reason="monailabel is not installed")
    from monailabel.tasks.infer.bundle import BundleInferTask
    from monailabel.tasks.train.bundle import BundleTrainTask

    data = bundle_data[bundle_name]
    datastore = _datastore(data, tmp_path / "datastore")
    assert len(datastore.datalist()) == 4

    trainer = BundleTrainTask(str(bundle), {})
    assert trainer.is_valid()
    # "pretrained": True with no models/model.pt loads nothing (monailabel 0.8.5 crashes on False)
    request = {"model": bundle_name, "device": "cpu", "max_epochs": 1, "val_split": 0.25, "pretrained": True,
               "multi_gpu": False}
    trainer(request, datastore)
    assert (bundle / "models" / "model.pt").is_file()

    infer = BundleInferTask(str(bundle), {}, type="segmentation")
    assert infer.is_valid()
    assert infer.dimension == len(nib.load(next((data / "imagesTs").glob("*.nii.gz"))).shape)
    assert set(infer.labels) == set(trainer.bundle_config["class_names"])
    image = sorted((data / "imagesTs").glob("*.nii.gz"))[0]
    result_file, result_json = infer({"image": str(image), "device": "cpu"})
    pred = nib.load(result_file)
    assert pred.shape == nib.load(image).shape
    assert set(np.unique(np.asarray(pred.dataobj)).tolist()) <= set(range(len(infer.labels) + 1))
    assert isinstance(result_json, dict)
