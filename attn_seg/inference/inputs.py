"""What to segment: one image file, a folder of images (or of DICOM series, or one series), or a datalist (Decathlon
``dataset.json``, JSON, CSV)."""

from __future__ import annotations

import os
from pathlib import Path

from attn_seg.data.datalist import image_inputs
from attn_seg.data.layouts import load_cases
from attn_seg.data.readers import READABLE_SUFFIXES
from attn_seg.data.synthesize import DATASET_JSON

__all__ = ["DATALIST_SUFFIXES", "list_inputs"]

#: File endings read as datalists rather than images.
DATALIST_SUFFIXES = (".json", ".csv")


def _from_datalist(path: Path) -> list[Path]:
    """Images of a datalist: its ``test`` list, else its ``training`` list (a plain list or CSV as it is)."""
    try:
        cases = load_cases(path, key="test")
    except ValueError as err:
        if "has no 'test' list" not in str(err):
            raise
        cases = load_cases(path, key="training")
    images = []
    for i, case in enumerate(cases):
        image = case["image"]
        if not isinstance(image, str):
            raise ValueError(f"{path} entry {i}: multi-file images (a list of channels) are not supported, got {image}")
        images.append(Path(image))
    return images


def list_inputs(source: str | os.PathLike[str]) -> list[Path]:
    """The image files to segment.

    Args:
        source: an image file; a folder: its ``dataset.json`` if it has one, else what
            :func:`~attn_seg.data.datalist.image_inputs` lists (the folder itself when it holds a DICOM series, else
            its image files and its DICOM series sub-folders, sorted by name, hidden names ignored); or a datalist
            file (``.json``/``.csv``), whose entries may name DICOM series folders.

    Returns:
        Absolute paths (a DICOM series as its folder), in datalist or name order, without duplicates. Files are not
        opened here: a missing or corrupt one fails on its own when it is read.

    Raises:
        FileNotFoundError: when ``source`` does not exist or a folder holds no image.
        ValueError: when ``source`` is a malformed datalist or of an unknown type, or a folder holds DICOM files
            beside other images.
    """
    path = Path(source).expanduser().absolute()
    if not path.exists():
        raise FileNotFoundError(f"input {path} does not exist")
    if path.is_dir():
        listing = path / DATASET_JSON
        images = _from_datalist(listing) if listing.is_file() else image_inputs(path)
        if not images:
            raise FileNotFoundError(f"input folder {path} holds no image file ({', '.join(READABLE_SUFFIXES)}) and "
                                    f"no DICOM series folder")
    elif path.name.lower().endswith(DATALIST_SUFFIXES):
        images = _from_datalist(path)
    elif path.name.lower().endswith(READABLE_SUFFIXES):
        images = [path]
    else:
        kinds = ", ".join(READABLE_SUFFIXES)
        raise ValueError(f"input {path} is neither an image ({kinds}) nor a datalist (.json, .csv)")
    return list(dict.fromkeys(images))
