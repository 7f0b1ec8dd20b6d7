"""Names of cases and of the files written for them, in one place: the inference writer names its outputs with
:func:`output_name` and the evaluation pairs them back with :func:`parse_output`.

For an image ``<case>.<ext>`` (any ending the readers know), the outputs are ``<case>_seg.nii.gz`` (the label
map), ``<case>_probs.nii.gz`` (class probabilities) and ``<case>_attn_g<k>.nii.gz`` (the attention map of gate
``k``, finest first). A bare ``<case>.<ext>`` in a prediction folder is read as a label map too.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from attn_seg.data.readers import READABLE_SUFFIXES

__all__ = ["ATTENTION", "PROBS", "SEG", "attention_kind", "case_name", "output_name", "parse_output"]

#: Output kinds: the label map and the class probabilities; attention maps are ``attn_g<k>``.
SEG, PROBS = "seg", "probs"
ATTENTION = "attn_g"
_SUFFIXES = tuple(sorted(READABLE_SUFFIXES, key=len, reverse=True))  # ".nii.gz" before ".gz"
_KIND = re.compile(rf"^(?P<case>.+)_(?P<kind>{SEG}|{PROBS}|{ATTENTION}\d+)$")


def case_name(path: str | os.PathLike[str]) -> str:
    """The file name without its image ending (any case): ``"a/case 1.nii.gz"`` -> ``"case 1"``."""
    name = Path(path).name
    for suffix in _SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def attention_kind(gate: int) -> str:
    """The output kind of gate ``gate``'s attention map: ``"attn_g<gate>"``."""
    return f"{ATTENTION}{int(gate)}"


def output_name(case: str, kind: str, ext: str = ".nii.gz") -> str:
    """The file name of a case's output: ``output_name("c1", "seg")`` -> ``"c1_seg.nii.gz"``."""
    return f"{case}_{kind}{ext}"


def parse_output(path: str | os.PathLike[str]) -> tuple[str, str]:
    """``(case, kind)`` of an output file: ``"c1_attn_g0.nii.gz"`` -> ``("c1", "attn_g0")``; a name without a
    kind is a label map: ``"c1.png"`` -> ``("c1", "seg")``."""
    stem = case_name(path)
    match = _KIND.match(stem)
    return (match["case"], match["kind"]) if match else (stem, SEG)
