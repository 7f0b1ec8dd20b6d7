"""What inference writes, as MONAI post-processing: the inferer's output split into label map, probabilities and
attention maps, inverted to the input's own geometry with MONAI's ``Invertd``, and saved as NIfTI through
MONAI's writer interface, atomically.

Output names (:mod:`attn_seg.data.naming`), for an input ``<case>.<ext>``:

- ``<case>_seg.nii.gz``: the label map, uint8 (uint16 beyond 255 classes), the input's affine and header;
- ``<case>_probs.nii.gz``: class probabilities in [0, 1], channels on the last axis (``(*S, K)``; a 2D input
  gets ``(H, W, 1, K)`` so that the channel axis is always the fourth);
- ``<case>_attn_g<k>.nii.gz``: the attention map of gate ``k`` (gated levels counted finest first), in [0, 1].

NIfTI has no float16 type: probabilities and attention maps are stored as uint16 with NIfTI scaling
(``scl_slope``), 2 bytes a voxel like float16 and finer (steps of ~1.5e-5); nibabel's ``get_fdata`` and MONAI's
``LoadImage`` read them back as floats in [0, 1]. Every file is written under a hidden temporary name and renamed
into place when complete (:func:`attn_seg.files.atomic_path`); the label map is written last, so its presence
marks a finished case.

Where the label map comes from (``labels_in_network_grid``): the argmax in the network's grid, resampled to the
input with nearest neighbours (what the streaming label-only inferer gives, at the memory of one label volume),
or the argmax of the probabilities resampled linearly to the input (smoother where the network's grid is much
coarser than the input's, at the memory of ``K`` float volumes of the input's size).
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import torch
from monai.data import NibabelWriter, PILWriter
from monai.data.utils import to_affine_nd
from monai.transforms import (
    AsDiscreted,
    CopyItemsd,
    Invertd,
    InvertibleTransform,
    KeepLargestConnectedComponentd,
    MapTransform,
    SaveImaged,
    SqueezeDimd,
    Transform,
)

from attn_seg.data.naming import PROBS, SEG, attention_kind, case_name, output_name
from attn_seg.files import atomic_path
from attn_seg.inference.inferer import SegmentationInferer

__all__ = [
    "AtomicNiftiWriter",
    "AtomicPILWriter",
    "SaveOutputsd",
    "SplitOutputsd",
    "image_like",
    "output_paths",
    "output_transforms",
]

_NIFTI_SUFFIXES = (".nii.gz", ".nii")
#: Keys of the post-processed sample: the label map (MONAI Label reads ``pred``), probabilities, attention maps.
PRED, PROBS_KEY, ATTENTION_KEY = "pred", "probs", "attention"
_GATE_CHANNELS = "attention_channels"


def output_paths(out_dir: Path, case: str, *, probs: bool = False, attention_gates: int = 0) -> dict[str, Path]:
    """The files a case gets: ``{"seg": ..., ["probs": ...], ["attn_g0": ...], ...}``."""
    kinds = [SEG, *([PROBS] if probs else []), *(attention_kind(k) for k in range(attention_gates))]
    return {kind: out_dir / output_name(case, kind) for kind in kinds}


def _nifti_source(source: Any) -> Any | None:
    """``source`` as a nibabel image (header only read) when it is a NIfTI file, else None."""
    if isinstance(source, (str, os.PathLike)) and str(source).lower().endswith(_NIFTI_SUFFIXES):
        return nib.load(str(source))
    return None


def _nifti_image(array: np.ndarray, affine: np.ndarray, header: Any | None) -> nib.Nifti1Image:
    """A NIfTI image; float arrays (probabilities, attention, in [0, 1]) are stored as uint16 with NIfTI scaling
    (NIfTI has no float16): 2 bytes a voxel, read back as floats."""
    header = header.copy() if header is not None else nib.Nifti1Header()
    header.set_data_dtype(np.dtype(np.uint16) if array.dtype.kind == "f" else array.dtype)
    image = nib.Nifti1Image(array, affine, header)
    if array.dtype.kind == "f":
        image.header.set_slope_inter(None, None)  # nibabel picks the scaling that fits the values when saving
    else:
        image.header.set_slope_inter(1.0, 0.0)  # the input's scaling (e.g. CT int16 -> HU) is not the labels'
    return image


def image_like(array: np.ndarray, source: str | os.PathLike[str]) -> nib.Nifti1Image:
    """``array`` (in ``source``'s voxel grid) as a NIfTI image on the NIfTI file ``source``'s affine and header, as
    this module's writers store it; an array without ``source``'s trailing axes of length 1 (a 2D slice stored
    with a third axis) takes its shape.

    Raises:
        ValueError: ``source`` is not a NIfTI file, or ``array`` does not fit ``source``'s shape.
    """
    image = _nifti_source(source)
    if image is None:
        raise ValueError(f"`source` {source}: not a NIfTI file")
    shape = tuple(image.shape)
    if array.shape != shape:
        if array.size != int(np.prod(shape)) or array.shape != shape[: array.ndim]:
            raise ValueError(f"`array` of shape {array.shape} does not fit `source` {source} of shape {shape}")
        array = array.reshape(shape)
    return _nifti_image(array, image.affine, image.header)


class AtomicNiftiWriter(NibabelWriter):
    """MONAI's ``NibabelWriter`` (usable as ``SaveImaged(writer=...)``) whose files appear complete or not at all,
    that keeps a NIfTI input's header and affine (codes, units, description; a 2D NIfTI's third axis) and stores
    floats as scaled uint16. The data must lie in the input's grid (after ``Invertd``, or with ``resample``)."""

    def set_metadata(self, meta_dict: Mapping | None, resample: bool = True, **options: Any) -> None:
        """As ``NibabelWriter``'s (without ``resample``, the affine is taken as it is); also reads the header of
        the input file named in ``filename_or_obj``."""
        if resample:
            super().set_metadata(meta_dict, resample, **options)
        else:  # NibabelWriter would still run a resampler, which does not take a 2D image's (H, W, 1, K) layout
            self.affine = (meta_dict or {}).get("affine")
        self.source = _nifti_source((meta_dict or {}).get("filename_or_obj"))

    def write(self, filename: str | os.PathLike[str], verbose: bool = False, **obj_kwargs: Any) -> None:
        """Save the data as NIfTI at ``filename`` through a hidden temporary file renamed into place."""
        data = self.data_obj
        array = data.detach().cpu().numpy() if isinstance(data, torch.Tensor) else np.asarray(data)
        if self.output_dtype is not None:
            array = array.astype(self.output_dtype, copy=False)
        source = getattr(self, "source", None)
        if source is not None:
            affine, header = np.asarray(source.affine, dtype=float), source.header
        else:
            affine = self.affine if self.affine is not None else np.eye(4)
            affine, header = to_affine_nd(3, np.asarray(torch.as_tensor(affine).cpu().numpy(), dtype=float)), None
        with atomic_path(Path(filename)) as tmp:
            nib.save(_nifti_image(array, affine, header), str(tmp))


class AtomicPILWriter(PILWriter):
    """MONAI's ``PILWriter`` (PNG, JPEG, ...) whose files appear complete or not at all."""

    def write(self, filename: str | os.PathLike[str], verbose: bool = False, **kwargs: Any) -> None:
        """Save the picture at ``filename`` through a hidden temporary file (same ending) renamed into place."""
        with atomic_path(Path(filename)) as tmp:
            super().write(str(tmp), verbose, **kwargs)


class SplitOutputsd(MapTransform):
    """Take a :class:`~attn_seg.inference.SegmentationInferer` output apart (one image, after decollation).

    A label map under ``pred`` is left as it is. Probabilities and attention maps become ``pred`` (the label map,
    argmax in the network's grid, with ``labels_in_network_grid``; otherwise the probabilities, turned into
    labels after the inversion), ``probs`` (with ``probs``, when labels come from the network's grid) and
    ``attention`` (every gate's map, with their channel counts under ``attention_channels``).

    Args:
        inferer: the inferer that made the output (it knows the channel counts).
        labels_in_network_grid: take the argmax before the inversion.
        probs: keep the probabilities under ``probs``.
        keys: the output's key.
    """

    def __init__(self, inferer: SegmentationInferer, labels_in_network_grid: bool = True, probs: bool = False,
                 keys: str = PRED) -> None:
        super().__init__(keys)
        self.inferer, self.labels_in_network_grid, self.probs = inferer, labels_in_network_grid, probs

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        """Split the output under each key (``pred``)."""
        d = dict(data)
        for key in self.key_iterator(d):
            out = d[key]
            if not torch.is_floating_point(out):
                continue  # already a label map (labels_only)
            probs, maps = self.inferer.split(out, channel_dim=0)
            if maps:
                d[ATTENTION_KEY], d[_GATE_CHANNELS] = torch.cat(maps), [int(m.shape[0]) for m in maps]
            if not self.labels_in_network_grid:
                d[key] = probs
                continue
            d[key] = probs.argmax(0, keepdim=True).to(torch.uint8 if probs.shape[0] <= 256 else torch.int32)
            if self.probs:
                d[PROBS_KEY] = probs
        return d


def _label_dtype(num_classes: int) -> type:
    return np.uint8 if num_classes <= 256 else np.uint16


class SaveOutputsd(SaveImaged):
    """Save a case's label map (``pred``), probabilities (``probs``) and attention maps (``attention``, one file
    per gate) with :class:`AtomicNiftiWriter`, named by :mod:`attn_seg.data.naming` after the input file.

    A ``SaveImaged``, so that hosts which drop the bundle's writers (MONAI Label) drop it too. Label maps are
    written last; a NIfTI input whose shape differs from the output's is refused, naming the file.

    Args:
        output_dir: the folder (created when missing).
        num_classes: classes including background (the label map's dtype: uint8 up to 256).
    """

    def __init__(self, output_dir: str | os.PathLike[str], num_classes: int) -> None:
        super().__init__(keys=[ATTENTION_KEY, PROBS_KEY, PRED], output_dir=str(output_dir), writer=AtomicNiftiWriter,
                         resample=False, separate_folder=False, print_log=False, allow_missing_keys=True)
        self.output_dir, self.num_classes = Path(output_dir), int(num_classes)

    def _outputs(self, d: Mapping[Hashable, Any]) -> list[tuple[str, torch.Tensor, Any]]:
        """``(kind, channel-first array, dtype)`` to write, label map last."""
        outputs: list[tuple[str, torch.Tensor, Any]] = []
        if ATTENTION_KEY in d:
            maps = torch.as_tensor(d[ATTENTION_KEY]).split(list(d[_GATE_CHANNELS]))
            outputs += [(attention_kind(k), m.clamp(0.0, 1.0), np.float32) for k, m in enumerate(maps)]
        if PROBS_KEY in d:
            outputs.append((PROBS, torch.as_tensor(d[PROBS_KEY]).clamp(0.0, 1.0), np.float32))
        outputs.append((SEG, torch.as_tensor(d[PRED]).round(), _label_dtype(self.num_classes)))
        return outputs

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        """Write the outputs of the case in ``data`` (inverted to the grid ``image`` was loaded in)."""
        d = dict(data)
        meta = dict(d["image"].meta)  # the input's: its file, and the affine it was loaded with
        meta["affine"] = meta.get("original_affine", meta.get("affine"))
        source = meta.get("filename_or_obj")
        spatial = tuple(int(s) for s in d[PRED].shape[1:])
        nifti = _nifti_source(source)
        if nifti is not None and tuple(int(s) for s in nifti.shape[: len(spatial)]) != spatial:
            raise ValueError(f"{source}: the inverted prediction has shape {spatial}, the input {nifti.shape}")
        self.output_dir.mkdir(parents=True, exist_ok=True)
        case = case_name(str(source))
        for kind, array, dtype in self._outputs(d):
            writer = AtomicNiftiWriter(output_dtype=dtype)
            writer.set_data_array(array.detach().cpu(), channel_dim=0)
            writer.set_metadata(meta, resample=False)
            writer.write(self.output_dir / output_name(case, kind))
        return d


def output_transforms(
    preprocessing: InvertibleTransform,
    inferer: SegmentationInferer,
    output_dir: str | os.PathLike[str],
    num_classes: int,
    *,
    labels_in_network_grid: bool = True,
    probs: bool = False,
    largest_component: bool = False,
    png_dir: str | os.PathLike[str] | None = None,
) -> list[Transform]:
    """The post-processing of every inference path: split, invert to the input's geometry, label, save.

    Args:
        preprocessing: the transforms that made the network input from the file (inverted on the outputs).
        inferer: the inferer that makes the output.
        output_dir: where ``<case>_seg.nii.gz`` (and ``_probs``, ``_attn_g<k>``) go.
        num_classes: classes including background.
        labels_in_network_grid: the label map is the argmax in the network's grid, resampled with nearest
            neighbours (the streaming label-only path); otherwise the argmax of the resampled probabilities.
        probs: also write the probabilities.
        largest_component: keep the largest connected component of each foreground class.
        png_dir: also write the label map as a picture there (``<case>_seg.png``, 0 and 255: two-class 2D
            bundles), and leave ``pred`` as ``(H, W)`` for hosts that write it themselves (MONAI Label).

    Returns:
        The transforms, for a ``Compose``.
    """
    keys = [PRED, PROBS_KEY, ATTENTION_KEY]
    transforms: list[Transform] = [
        SplitOutputsd(inferer, labels_in_network_grid, probs),
        Invertd(keys=keys, transform=preprocessing, orig_keys="image", nearest_interp=[labels_in_network_grid,
                False, False], to_tensor=True, allow_missing_keys=True),
    ]
    if not labels_in_network_grid:
        transforms += [CopyItemsd(keys=PRED, names=PROBS_KEY)] if probs else []
        transforms.append(AsDiscreted(keys=PRED, argmax=True))
    if largest_component and num_classes > 1:
        transforms.append(KeepLargestConnectedComponentd(keys=PRED, applied_labels=list(range(1, num_classes))))
    transforms.append(SaveOutputsd(output_dir, num_classes))
    if png_dir is not None:
        transforms += [
            SaveImaged(keys=PRED, output_dir=str(png_dir), output_postfix=SEG, output_ext=".png", output_dtype=np.uint8,
                       scale=255, resample=False, separate_folder=False, print_log=False, writer=AtomicPILWriter),
            SqueezeDimd(keys=PRED, dim=0),
        ]
    return transforms

