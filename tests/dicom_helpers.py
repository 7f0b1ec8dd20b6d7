"""Helpers for tests of DICOM input: a volume written as a real DICOM series (one ``.dcm`` file per slice) with
SimpleITK, and the RAS+ affine the readers should report for it.

Plain functions, importable from any test folder (``tests/`` is on ``sys.path`` through the root conftest).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk  # noqa: N813

__all__ = ["series_affine", "to_sitk", "write_dicom_series"]

#: ITK's LPS+ world axes to RAS+ and back: the first two axes negated.
_LPS = np.diag([-1.0, -1.0, 1.0])


def to_sitk(array: np.ndarray, affine: np.ndarray) -> sitk.Image:
    """The voxels of ``array`` (indexed ``x, y, z``) with the world geometry of the RAS+ ``affine`` as an ITK image
    (LPS+, array indexed ``z, y, x``)."""
    image = sitk.GetImageFromArray(np.ascontiguousarray(array.transpose(2, 1, 0)))
    spacing = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    image.SetSpacing(spacing.tolist())
    image.SetDirection((_LPS @ affine[:3, :3] / spacing).ravel().tolist())
    image.SetOrigin((_LPS @ affine[:3, 3]).tolist())
    return image


def write_dicom_series(image: sitk.Image, folder: Path, *, series_uid: str = "1.2.826.0.1.3680043.2.1125.2") -> Path:
    """Write a 3D ITK image as a CT DICOM series, one ``slice NNN.dcm`` per slice, into ``folder`` (created).

    The direction must be right-handed (a rotation), as DICOM's slice normal is the cross product of its row and
    column directions. Returns ``folder``.
    """
    folder.mkdir(parents=True)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    direction = image.GetDirection()
    orientation = "\\".join(str(v) for v in (*direction[0:9:3], *direction[1:9:3]))
    for k in range(image.GetDepth()):
        slice_k = image[:, :, k]
        tags = {
            "0008|0060": "CT", "0020|000d": "1.2.826.0.1.3680043.2.1125.1", "0020|000e": series_uid,
            "0020|0013": str(k + 1), "0020|0037": orientation, "0018|0050": str(image.GetSpacing()[2]),
            "0020|0032": "\\".join(str(v) for v in image.TransformIndexToPhysicalPoint((0, 0, k))),
        }
        for tag, value in tags.items():
            slice_k.SetMetaData(tag, value)
        writer.SetFileName(str(folder / f"slice {k:03d}.dcm"))
        writer.Execute(slice_k)
    return folder


def series_affine(folder: Path) -> tuple[tuple[int, ...], np.ndarray]:
    """``(size, affine)`` of the DICOM series in ``folder`` as SimpleITK reads it: its size ``(X, Y, Z)`` and its
    voxel-to-world matrix turned from ITK's LPS+ to RAS+ (as NIfTI, nibabel and the project's writers give it)."""
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))
    image = reader.Execute()
    lps = np.eye(4)
    lps[:3, :3] = np.asarray(image.GetDirection()).reshape(3, 3) @ np.diag(image.GetSpacing())
    lps[:3, 3] = image.GetOrigin()
    ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps
    return tuple(int(s) for s in image.GetSize()), ras
