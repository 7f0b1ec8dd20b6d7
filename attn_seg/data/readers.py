"""Image readers: NIfTI, MGZ, NRRD, MetaImage, DICOM series, PNG/TIFF, with one geometry convention.

Every reader returns arrays indexed in world-axis order (``x, y[, z]``, as NIfTI and MONAI index them) and a
voxel-to-world affine in RAS+ millimetres, so that ``Orientationd``/``Spacingd`` treat every format alike:

- NIfTI (``.nii``, ``.nii.gz``) and FreeSurfer MGH (``.mgz``, ``.mgh``) through nibabel (already RAS+);
- NRRD, MetaImage, DICOM series (a folder, or one ``.dcm`` file) through SimpleITK, whose LPS+ geometry is
  converted to RAS+ as MONAI's ``ITKReader`` does;
- 2D pictures (PNG, TIFF, BMP, JPEG) through SimpleITK. They carry no patient orientation, so their affine is
  the plain pixel spacing (no LPS flip; 1 for JPEG, whose stored density is a print resolution): orienting them to
  ``"RA"`` leaves the pixels where they were. A colour picture is an ``(X, Y, 3)`` array (``(3, X, Y)`` through
  MONAI's loaders, channel first); an alpha channel is dropped (RGBA -> RGB, grey + alpha -> grey).

:func:`read_header` reads geometry only (cheap); :func:`read_image` reads pixels too; :func:`read_label` reads a
label map, always one channel (a grey mask saved as a colour picture, e.g. a JPEG mask, is merged into one).
:class:`MedicalImageReader` plugs the same code into MONAI's ``LoadImage``/``LoadImaged``
(``reader=MedicalImageReader``; ``label=True`` for label maps).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import nibabel as nib
import numpy as np
from monai.data import ImageReader
from monai.utils import MetaKeys, SpaceKeys

if TYPE_CHECKING:
    import SimpleITK

__all__ = [
    "LABEL_CHANNEL_TOLERANCE",
    "PICTURE_SUFFIXES",
    "READABLE_SUFFIXES",
    "ImageHeader",
    "ImageReadError",
    "MedicalImageReader",
    "image_files",
    "is_picture",
    "is_readable",
    "read_header",
    "read_image",
    "read_label",
]

_NIBABEL_SUFFIXES = (".nii.gz", ".nii", ".mgz", ".mgh")
_SITK_VOLUME_SUFFIXES = (".nrrd", ".nhdr", ".mha", ".mhd", ".dcm")
#: 2D picture formats: read without patient orientation (affine = pixel spacing).
PICTURE_SUFFIXES = (".png", ".tif", ".tiff", ".bmp", ".jpg", ".jpeg")
#: Pictures whose stored resolution is ignored (pixel spacing 1): JPEG's JFIF density is a print resolution (dots per
#: inch), set by cameras and editors, and differs between a picture and its mask (Kvasir-SEG has such pairs).
_PRINT_RESOLUTION_SUFFIXES = (".jpg", ".jpeg")
#: Every file ending the readers accept (a folder is read as a DICOM series).
READABLE_SUFFIXES = _NIBABEL_SUFFIXES + _SITK_VOLUME_SUFFIXES + PICTURE_SUFFIXES
#: Largest difference between the colour channels of a label picture, as a share of its largest value, under which
#: they count as one grey mask (JPEG compression leaves small differences between them).
LABEL_CHANNEL_TOLERANCE = 0.03


@functools.cache
def _sitk() -> ModuleType:
    """SimpleITK, imported on first use: it adds ~100 MB to a process, and NIfTI needs none of it."""
    import SimpleITK

    return SimpleITK


@functools.cache
def _sitk_dtypes() -> dict[int, str]:
    sitk = _sitk()
    return {
        getattr(sitk, f"sitk{prefix}{name}"): name.lower()
        for prefix in ("", "Vector")
        for name in ("UInt8", "Int8", "UInt16", "Int16", "UInt32", "Int32", "UInt64", "Int64", "Float32", "Float64")
    }


class ImageReadError(ValueError):
    """A file that cannot be read as an image; the message names the file and the cause."""


@dataclass(frozen=True)
class ImageHeader:
    """Geometry of an image, read without its pixels.

    Attributes:
        path: the file (or DICOM folder) read.
        shape: array shape in reader order, spatial axes first, then any channel/time axes.
        affine: voxel-to-world matrix in RAS+ millimetres, ``(S + 1, S + 1)`` for ``S`` = min(len(shape), 3).
        dtype: the stored voxel type, e.g. ``"int16"``.
        channels: components per pixel stored by the format itself (3 for an RGB PNG, also for an RGBA one: its
            alpha channel is dropped), else 1. A channel axis stored as an array axis (a 4D NIfTI) is in ``shape``.
    """

    path: str
    shape: tuple[int, ...]
    affine: np.ndarray
    dtype: str
    channels: int = 1

    @property
    def spacing(self) -> tuple[float, ...]:
        """Voxel size in millimetres along each spatial axis of the affine."""
        linear = self.affine[:-1, :-1]
        return tuple(float(v) for v in np.sqrt((linear**2).sum(axis=0)))

    @property
    def orientation(self) -> str:
        """Axis codes of the affine, e.g. ``"RAS"`` or ``"LPS"`` (``"RA"`` for 2D)."""
        affine = self.affine
        if affine.shape[0] == 3:  # 2D: embed in 3D to use nibabel's codes
            affine = np.eye(4)
            affine[:2, :2], affine[:2, 3] = self.affine[:2, :2], self.affine[:2, 2]
            return "".join(str(c) for c in nib.aff2axcodes(affine))[:2]
        return "".join(str(c) for c in nib.aff2axcodes(affine))


def is_picture(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a 2D picture (PNG, TIFF, BMP, JPEG): no patient geometry, maybe colour."""
    return Path(path).name.lower().endswith(PICTURE_SUFFIXES)


def _without_alpha(components: int, picture: bool) -> int:
    """Colour channels of a pixel: a picture's alpha channel (RGBA, grey + alpha) is not counted."""
    return components - 1 if picture and components in (2, 4) else components


def is_readable(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` has an image file ending the readers accept (folders count as DICOM series)."""
    p = Path(path)
    return p.is_dir() or p.name.lower().endswith(READABLE_SUFFIXES)


def image_files(folder: Path) -> list[Path]:
    """The image files of ``folder`` (a readable ending, any case), sorted by name. Hidden names are left out: the
    temporary files of an interrupted ``attn-seg predict`` run (``.partial-*``), editors' and macOS's ``._*``."""
    return sorted(
        p for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.name.lower().endswith(READABLE_SUFFIXES)
    )


def _check_path(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p} does not exist")
    if p.is_file() and p.stat().st_size == 0:
        raise ImageReadError(f"{p} is an empty file (0 bytes)")
    if p.is_file() and not p.name.lower().endswith(READABLE_SUFFIXES):
        raise ImageReadError(f"{p} has an unsupported file type (readable: {', '.join(READABLE_SUFFIXES)})")
    return p


def _dicom_files(folder: Path) -> list[str]:
    series = _sitk().ImageSeriesReader.GetGDCMSeriesIDs(str(folder))
    if not series:
        raise ImageReadError(f"{folder} is a folder but holds no DICOM series")
    if len(series) > 1:
        raise ImageReadError(f"{folder} holds {len(series)} DICOM series; give one folder per series")
    return list(_sitk().ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), series[0]))


def _sitk_affine(
    direction: Sequence[float], spacing: Sequence[float], origin: Sequence[float], picture: bool
) -> np.ndarray:
    n = len(spacing)
    affine = np.eye(n + 1)
    affine[:n, :n] = np.asarray(direction, dtype=float).reshape(n, n) @ np.diag(spacing)
    affine[:n, n] = origin
    if not picture:  # ITK's LPS+ -> RAS+: negate the first two world axes
        affine[: min(n, 2)] *= -1.0
    return affine


def _sitk_header(p: Path) -> ImageHeader:
    reader = _sitk().ImageFileReader()
    reader.SetFileName(_dicom_files(p)[0] if p.is_dir() else str(p))
    reader.ReadImageInformation()
    size = list(reader.GetSize())
    if p.is_dir():  # a series stacks its slices along the third axis
        image = _sitk_read(p)
        size, spacing = list(image.GetSize()), image.GetSpacing()
        direction, origin = image.GetDirection(), image.GetOrigin()
    else:
        spacing, direction, origin = reader.GetSpacing(), reader.GetDirection(), reader.GetOrigin()
    if p.name.lower().endswith(_PRINT_RESOLUTION_SUFFIXES):
        spacing = (1.0,) * len(spacing)
    picture = is_picture(p)
    affine = _sitk_affine(direction, spacing, origin, picture)
    pixel_id = reader.GetPixelID()
    dtype = _sitk_dtypes().get(pixel_id) or _sitk().GetPixelIDValueAsString(pixel_id)
    channels = _without_alpha(int(reader.GetNumberOfComponents()), picture)
    return ImageHeader(str(p), tuple(int(s) for s in size), affine, dtype, channels)


def _sitk_read(p: Path) -> SimpleITK.Image:
    if p.is_dir():
        series = _sitk().ImageSeriesReader()
        series.SetFileNames(_dicom_files(p))
        return series.Execute()
    return _sitk().ReadImage(str(p))


def _nib_header(p: Path) -> ImageHeader:
    img: Any = nib.load(str(p))
    shape = tuple(int(s) for s in img.shape)
    spatial = min(len(shape), 3)
    affine = np.asarray(img.affine, dtype=float)
    if spatial < 3:  # keep the in-plane part, as MONAI does for 2D images
        keep = [*range(spatial), 3]
        affine = affine[np.ix_(keep, keep)]
    return ImageHeader(str(p), shape, affine, str(img.get_data_dtype()))


def read_header(path: str | os.PathLike[str]) -> ImageHeader:
    """Read the geometry of an image without its pixels (a DICOM series is read whole).

    Args:
        path: an image file or a DICOM series folder.

    Returns:
        The header.

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        ImageReadError: when ``path`` is empty, of an unknown type, or not a readable image.
    """
    p = _check_path(path)
    try:
        if p.name.lower().endswith(_NIBABEL_SUFFIXES):
            return _nib_header(p)
        return _sitk_header(p)
    except ImageReadError:
        raise
    except Exception as err:  # nibabel and SimpleITK raise many kinds; all mean "not a readable image"
        raise ImageReadError(f"{p} is not a readable image (corrupt or truncated?): {_cause(err)}") from err


def read_image(path: str | os.PathLike[str]) -> tuple[np.ndarray, ImageHeader]:
    """Read an image's pixels and geometry.

    Args:
        path: an image file or a DICOM series folder.

    Returns:
        ``(array, header)``: the array has shape ``header.shape`` (spatial axes in world-axis order ``x, y[, z]``,
        then channels/time: ``(X, Y, 3)`` for a colour picture, alpha dropped), in the stored type (scaled to
        float where NIfTI asks for scaling).

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        ImageReadError: when the file is empty, truncated or not a readable image.
    """
    header = read_header(path)
    p = Path(path)
    try:
        if p.name.lower().endswith(_NIBABEL_SUFFIXES):
            img: Any = nib.load(str(p))
            array = np.asanyarray(img.dataobj)
        else:
            image = _sitk_read(p)
            array = _sitk().GetArrayFromImage(image)  # (z, y, x[, c])
            spatial = image.GetDimension()
            array = np.moveaxis(array, list(range(spatial)), list(range(spatial))[::-1])
            if header.channels < image.GetNumberOfComponentsPerPixel():  # a picture's alpha channel
                array = array[..., : header.channels]
                array = array[..., 0] if header.channels == 1 else array
    except Exception as err:
        raise ImageReadError(f"{p} could not be read (truncated or corrupt?): {_cause(err)}") from err
    header = ImageHeader(header.path, tuple(int(s) for s in array.shape), header.affine, header.dtype, header.channels)
    return array, header


def read_label(path: str | os.PathLike[str]) -> tuple[np.ndarray, ImageHeader]:
    """Read a label map: one class value per pixel.

    A colour picture whose channels are (nearly) equal, within :data:`LABEL_CHANNEL_TOLERANCE` of its largest value
    (a grey mask saved as RGB, as JPEG masks often are), is merged into one channel (their rounded mean).

    Args:
        path: a label file.

    Returns:
        ``(array, header)`` as :func:`read_image` returns them, without a colour axis; ``header.channels`` is 1.

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        ImageReadError: when the file is not a readable image, or a colour picture whose channels differ.
    """
    return _one_channel(*read_image(path))


def _one_channel(array: np.ndarray, header: ImageHeader) -> tuple[np.ndarray, ImageHeader]:
    """A label's pixels without a colour axis: equal channels merged, differing ones refused (see read_label)."""
    if header.channels == 1:
        return array, header
    values = array.astype(np.float64)
    spread = float((values.max(axis=-1) - values.min(axis=-1)).max(initial=0.0))
    top = float(np.abs(values).max(initial=0.0))
    if spread > LABEL_CHANNEL_TOLERANCE * max(top, 1.0):
        raise ImageReadError(
            f"{header.path} is a colour picture, but labels hold one class value per pixel: its {header.channels} "
            f"channels differ by up to {spread:g}; save the label as a grey mask (one class index per pixel)"
        )
    merged = values.mean(axis=-1)
    merged = (np.rint(merged) if np.issubdtype(array.dtype, np.integer) else merged).astype(array.dtype)
    return merged, ImageHeader(header.path, tuple(int(s) for s in merged.shape), header.affine, header.dtype, 1)


def _cause(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) < 200 else text[:197] + "..."


class MedicalImageReader(ImageReader):
    """MONAI ``ImageReader`` over :func:`read_image`: every format of this module, one convention.

    Use it as ``LoadImaged(keys, reader=MedicalImageReader, ensure_channel_first=True)``. Pixels come in
    world-axis order with a RAS+ affine (``space`` meta key ``RAS``); a trailing axis beyond the spatial ones (NIfTI
    time/modality, RGB components) is reported as the channel axis, so a colour picture loads as ``(3, X, Y)``.

    Args:
        label: read label maps (:func:`read_label`): one channel, a grey mask saved as colour merged into one.
    """

    def __init__(self, *, label: bool = False) -> None:
        super().__init__()
        self.label = label

    def verify_suffix(self, filename: Sequence[str | os.PathLike[str]] | str | os.PathLike[str]) -> bool:
        """Whether every file has an ending this reader reads (or is a DICOM folder)."""
        names = [filename] if isinstance(filename, (str, os.PathLike)) else list(filename)
        return all(is_readable(name) for name in names)

    def read(self, data: Sequence[str | os.PathLike[str]] | str | os.PathLike[str], **kwargs: Any) -> Any:
        """Read one file, or several files to stack as channels; returns ``(array, header)`` pairs."""
        if isinstance(data, (str, os.PathLike)):
            return read_image(data)
        return [read_image(name) for name in data]

    def get_data(self, img: Any) -> tuple[np.ndarray, dict]:
        """Return the array (channels stacked first when several files were read) and MONAI's meta dict.

        Raises:
            ImageReadError: for a label (``label=True``) that is a colour picture with differing channels. Raised
                here rather than in :meth:`read`, whose errors make ``LoadImage`` try MONAI's other readers, which
                would load the colour picture as it is.
        """
        items = [img] if isinstance(img, tuple) else list(img)
        if self.label:
            items = [_one_channel(array, header) for array, header in items]
        arrays, meta = [], {}
        for array, header in items:
            spatial = header.affine.shape[0] - 1
            meta = {
                MetaKeys.AFFINE: header.affine.copy(),
                MetaKeys.ORIGINAL_AFFINE: header.affine.copy(),
                MetaKeys.SPATIAL_SHAPE: np.asarray(array.shape[:spatial]),
                MetaKeys.SPACE: SpaceKeys.RAS,
                MetaKeys.ORIGINAL_CHANNEL_DIM: float("nan") if array.ndim == spatial else -1,
                "spacing": np.asarray(header.spacing),
            }
            arrays.append(array)
        if len(arrays) == 1:
            return arrays[0], meta
        meta[MetaKeys.ORIGINAL_CHANNEL_DIM] = 0
        return np.stack(arrays, axis=0), meta
