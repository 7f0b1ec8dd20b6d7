"""Write synthetic data sets to disk in the Medical Segmentation Decathlon layout.

The layout (``imagesTr/``, ``labelsTr/``, ``imagesTs/``, ``labelsTs/`` and ``dataset.json``) is the one MONAI's
``load_decathlon_datalist`` reads. Held-out cases keep their labels in ``labelsTs/`` so that predictions can be
scored. A data set is written into a temporary sibling folder and renamed into place at the end, so an
interrupted run never leaves a half-written data set behind, and an existing folder with content is never
touched. Colour pictures (modality ``rgb``) are written as RGB PNG with 0/255 PNG masks, as picture data sets
store them.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np

from attn_seg.data.synthetic import CLASS_NAMES, SyntheticCase, SyntheticSpec, make_case

__all__ = ["DATASET_JSON", "ensure_dataset", "write_synthetic_dataset"]

DATASET_JSON = "dataset.json"


def _save_nifti(array: np.ndarray, affine: np.ndarray, path: Path) -> None:
    """Save with scanner-anatomical qform/sform codes and millimetre units, as scanners' converters do."""
    img = nib.Nifti1Image(array, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    img.header.set_xyzt_units("mm", "sec")
    nib.save(img, str(path))


def _save_png(array: np.ndarray, path: Path) -> None:
    """Save an ``(X, Y[, 3])`` array as a PNG picture (rows are ``Y``), through SimpleITK like the readers."""
    import SimpleITK as sitk  # noqa: N813 (imported here: NIfTI sets need none of it)

    rows = np.ascontiguousarray(np.swapaxes(array, 0, 1))
    sitk.WriteImage(sitk.GetImageFromArray(rows, isVector=array.ndim == 3), str(path))


def _write_case(case: SyntheticCase, root: Path, image_rel: str, label_rel: str) -> None:
    if image_rel.endswith(".png"):  # a picture: RGB, and its mask as 0/255
        _save_png(case.image, root / image_rel)
        _save_png((case.label > 0).astype(np.uint8) * 255, root / label_rel)
        return
    _save_nifti(case.image, case.affine, root / image_rel)
    _save_nifti(case.label, case.affine, root / label_rel)


def _manifest(spec: SyntheticSpec, training: list[dict], test: list[str], seed: int) -> dict:
    modality = {"ct": {"0": "CT"}, "mri": {"0": "MRI"}, "rgb": {"0": "R", "1": "G", "2": "B"}}[spec.modality]
    labels = {"0": "background"}
    labels.update({str(c): CLASS_NAMES[(c - 1) % len(CLASS_NAMES)] for c in range(1, spec.num_classes + 1)})
    return {
        "name": f"attn-seg synthetic {spec.spatial_dims}D {spec.modality.upper()}",
        "description": f"Synthetic {spec.modality.upper()} cases made by `attn-seg synth` (seed {seed}).",
        "reference": "attn-seg",
        "licence": "CC0-1.0",
        "tensorImageSize": f"{spec.spatial_dims}D",
        "modality": modality,
        "labels": labels,
        "numTraining": len(training),
        "numTest": len(test),
        "training": training,
        "test": test,
        "test_labels": [p.replace("imagesTs/", "labelsTs/") for p in test],
        "seed": seed,
    }


def _check_target(out_dir: Path) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise FileExistsError(
            f"output folder {out_dir} already exists and is not empty; choose a new folder "
            "(attn-seg never writes into or over existing data)"
        )


def write_synthetic_dataset(
    out_dir: str | os.PathLike[str],
    *,
    spec: SyntheticSpec | None = None,
    num_cases: int = 12,
    num_test: int = 0,
    seed: int = 0,
) -> Path:
    """Generate a data set and write it in the Decathlon layout.

    Args:
        out_dir: destination folder; must not exist or be empty.
        spec: image settings (dimensions, classes, modality); defaults to 3D CT with 2 classes.
        num_cases: number of labelled training cases (``training`` in ``dataset.json``).
        num_test: number of held-out cases (``test``), whose labels go to ``labelsTs/``.
        seed: seed of the generator; equal seeds give identical data sets.

    Returns:
        The path of the written ``dataset.json``.

    Raises:
        ValueError: when ``num_cases`` < 1 or ``num_test`` < 0.
        FileExistsError: when ``out_dir`` exists and is not empty.
    """
    spec = spec or SyntheticSpec()
    if num_cases < 1:
        raise ValueError(f"`num_cases` must be at least 1, got {num_cases!r}")
    if num_test < 0:
        raise ValueError(f"`num_test` must be 0 or more, got {num_test!r}")
    out_dir = Path(out_dir).expanduser().absolute()
    _check_target(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        for sub in ("imagesTr", "labelsTr", "imagesTs", "labelsTs"):
            (tmp / sub).mkdir()
        training: list[dict] = []
        test: list[str] = []
        ext = ".png" if spec.modality == "rgb" else ".nii.gz"
        for i in range(num_cases + num_test):
            name, part = f"case_{i:04d}{ext}", ("Tr" if i < num_cases else "Ts")
            image_rel, label_rel = f"images{part}/{name}", f"labels{part}/{name}"
            _write_case(make_case(rng, spec), tmp, image_rel, label_rel)
            if part == "Tr":
                training.append({"image": f"./{image_rel}", "label": f"./{label_rel}"})
            else:
                test.append(f"./{image_rel}")
        manifest = _manifest(spec, training, test, seed)
        (tmp / DATASET_JSON).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _check_target(out_dir)
        if out_dir.exists():
            out_dir.rmdir()
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir / DATASET_JSON


def ensure_dataset(
    dataset_dir: str | os.PathLike[str],
    *,
    spatial_dims: int = 3,
    num_classes: int = 2,
    modality: str = "ct",
    num_cases: int = 16,
    num_test: int = 4,
    seed: int = 0,
) -> str:
    """Return ``dataset_dir``, creating the synthetic data set there first if the folder holds no data.

    This is the bundles' embedded default: pointing ``dataset_dir`` at an empty or missing folder gives a
    working synthetic data set, and a folder with a ``dataset.json`` is used as it is.

    Args:
        dataset_dir: folder with a ``dataset.json`` (used as is), or empty/missing (synthesised).
        spatial_dims: 2 or 3, for a synthesised set.
        num_classes: foreground classes of a synthesised set.
        modality: ``"ct"``, ``"mri"`` or ``"rgb"`` (2D colour pictures, one class), for a synthesised set.
        num_cases: training cases of a synthesised set.
        num_test: held-out cases of a synthesised set.
        seed: generator seed of a synthesised set.

    Returns:
        ``dataset_dir`` as an absolute path string.

    Raises:
        FileNotFoundError: when ``dataset_dir`` holds files but no ``dataset.json``.
    """
    path = Path(dataset_dir).expanduser().absolute()
    if (path / DATASET_JSON).is_file():
        return str(path)
    if path.exists() and any(path.iterdir()):
        raise FileNotFoundError(
            f"dataset_dir {path} holds files but no {DATASET_JSON}; add a Decathlon-style {DATASET_JSON} "
            "listing the cases, or point dataset_dir at an empty folder to generate synthetic data"
        )
    spec = SyntheticSpec(spatial_dims=spatial_dims, num_classes=num_classes, modality=modality)
    try:
        write_synthetic_dataset(path, spec=spec, num_cases=num_cases, num_test=num_test, seed=seed)
    except FileExistsError:
        if not (path / DATASET_JSON).is_file():  # another process (e.g. a second DDP rank) won the race
            raise
    return str(path)
