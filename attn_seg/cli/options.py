"""Argument types of the ``attn-seg`` subcommands: argparse ``type=`` functions that check a value when the command
line is parsed, before anything heavy (torch, MONAI) loads.

A wrong value ends the command at once with argparse's one ``error:`` line, naming the flag and the value, and exit
status 2: ``attn-seg predict: error: argument --tta: expected comma-separated spatial axes like 0,1,2, got 'x'``.
This module imports nothing but the standard library.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
from collections.abc import Callable

__all__ = [
    "DEVICE_TYPES",
    "MAX_SPATIAL_DIMS",
    "bounded_int",
    "device",
    "fraction",
    "non_negative_int",
    "positive_float",
    "positive_int",
    "setting",
    "tta_axes",
]

#: Device types ``torch.device`` accepts (c10's ``DeviceType`` names), written out so that parsing loads no torch
#: (a test keeps them in step with torch).
DEVICE_TYPES = (
    "cpu", "cuda", "mps", "xpu", "hip", "hpu", "ipu", "mtia", "maia", "xla", "lazy", "meta", "vulkan", "ve", "fpga",
    "mkldnn", "opengl", "opencl", "ideep", "privateuseone",
)
#: Spatial dims a bundle can have: flip axes are 0, 1 and, for 3D bundles, 2.
MAX_SPATIAL_DIMS = 3
_DEVICE = re.compile(rf"^(?:{'|'.join(DEVICE_TYPES)})(?::\d+)?$")
_TTA_FORM = "comma-separated spatial axes like 0,1,2 (or --tta alone for every axis)"


def _integer(text: str, expected: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None


def bounded_int(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in ``low..high`` (no upper bound when ``high`` is ``None``).

    Args:
        low: the smallest value accepted.
        high: the largest value accepted, or ``None``.

    Returns:
        The type function; its error names the value and the range.

    Raises:
        ValueError: when ``high`` is below ``low``.
    """
    if high is not None and high < low:
        raise ValueError(f"`high` must be at least `low` ({low}), got {high}")
    expected = f"an integer from {low} to {high}" if high is not None else f"an integer >= {low}"

    def _parse(text: str) -> int:
        value = _integer(text, expected)
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return _parse


#: An integer >= 1 (counts, batch sizes).
positive_int = bounded_int(1)
#: An integer >= 0.
non_negative_int = bounded_int(0)


def positive_float(text: str) -> float:
    """A number > 0 (a tolerance in mm)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def fraction(text: str) -> float:
    """A number in [0, 1) (a window overlap)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), e.g. 0.5, got {text!r}")
    return value


def tta_axes(text: str) -> list[int] | str:
    """``--tta`` axes: ``0,1`` -> ``[0, 1]``; the bracketed form ``[0,1]`` (as a config writes it) too; ``all`` stays
    a word (the bundle's spatial dims tell which axes).

    Raises:
        argparse.ArgumentTypeError: for anything else, an axis outside 0..2 or a repeated axis; the message gives
            the expected form.
    """
    if text.strip() == "all":
        return "all"
    inner = text.strip()
    if inner.startswith("[") and inner.endswith("]"):
        inner = inner[1:-1]
    items = [item.strip() for item in inner.split(",")]
    if not all(re.fullmatch(r"\d+", item) for item in items):
        raise argparse.ArgumentTypeError(f"expected {_TTA_FORM}, got {text!r}")
    axes = [int(item) for item in items]
    if max(axes) >= MAX_SPATIAL_DIMS or len(set(axes)) < len(axes):
        raise argparse.ArgumentTypeError(
            f"expected {_TTA_FORM}, each once and below {MAX_SPATIAL_DIMS}, got {text!r}"
        )
    return axes


def setting(text: str) -> tuple[str, object]:
    """``ID=VALUE`` of ``--set``: the config id, and the value read as JSON (``[1,1,1]``, ``3``, ``true``, ``null``),
    else as a Python literal (``True``, ``None``, ``(1, 2)``), else as a string (a path, a ``$`` expression).

    Raises:
        argparse.ArgumentTypeError: when there is no ``=``, no id before it or no value after it.
    """
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key or not value.strip() or any(c.isspace() for c in key):
        raise argparse.ArgumentTypeError(f"expected ID=VALUE, a config id and its value like roi_size=[96,96,64], "
                                         f"got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        pass
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return key, value


def device(text: str) -> str:
    """A torch device string: ``cpu``, ``cuda``, ``cuda:1``, ``mps``, ...

    Raises:
        argparse.ArgumentTypeError: for other text (``gpu``, ``cuda1``), naming the usual forms.
    """
    if not _DEVICE.match(text):
        hint = " (did you mean cuda?)" if text.lower().startswith("gpu") else ""
        raise argparse.ArgumentTypeError(f"expected a device like cpu, cuda or cuda:1, got {text!r}{hint}")
    return text
