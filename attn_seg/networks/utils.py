"""Argument checks and shape helpers shared by the network blocks and nets.

Every check raises ``ValueError`` or ``TypeError`` with a message that names the argument, what was
expected and what was given, so that a wrong bundle setting fails at construction, not deep inside a
forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from monai.networks.layers.factories import Act, Norm
from monai.utils import look_up_option

__all__ = [
    "LayerSpec",
    "check_choice",
    "check_dropout",
    "check_gated_levels",
    "check_layer_spec",
    "check_positive_int",
    "check_spatial_dims",
    "crop_to",
    "ensure_tuple_dims",
    "pad_to_multiple",
]

LayerSpec = str | tuple[str, dict[str, Any]] | None
"""A norm or activation: a MONAI factory name, ``(name, kwargs)``, or ``None`` for none."""


def check_spatial_dims(spatial_dims: object) -> int:
    """Check that ``spatial_dims`` is 2 or 3 (MONAI's factories silently treat 0 as 3).

    Args:
        spatial_dims: the value to check.

    Returns:
        ``spatial_dims`` as an ``int``.

    Raises:
        TypeError: if it is not an integer.
        ValueError: if it is not 2 or 3.
    """
    if isinstance(spatial_dims, bool) or not isinstance(spatial_dims, int):
        raise TypeError(f"`spatial_dims` must be an int (2 or 3), got {type(spatial_dims).__name__} {spatial_dims!r}")
    if spatial_dims not in (2, 3):
        raise ValueError(f"`spatial_dims` must be 2 or 3, got {spatial_dims}")
    return spatial_dims


def check_positive_int(name: str, value: object, minimum: int = 1) -> int:
    """Check that ``value`` is an integer ``>= minimum`` (booleans are refused).

    Args:
        name: the argument's name, used in the error message.
        value: the value to check.
        minimum: the smallest allowed value.

    Returns:
        ``value`` as an ``int``.

    Raises:
        TypeError: if it is not an integer.
        ValueError: if it is smaller than ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"`{name}` must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}, got {value}")
    return value


def check_dropout(dropout: object) -> float:
    """Check that ``dropout`` is a probability in ``[0, 1)``.

    Args:
        dropout: the value to check.

    Returns:
        ``dropout`` as a ``float``.

    Raises:
        TypeError: if it is not a number.
        ValueError: if it lies outside ``[0, 1)``.
    """
    if isinstance(dropout, bool) or not isinstance(dropout, int | float):
        raise TypeError(f"`dropout` must be a float in [0, 1), got {type(dropout).__name__} {dropout!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1), got {dropout}")
    return float(dropout)


def check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    """Check a string option, suggesting the closest choice on a typo.

    Args:
        name: the argument's name, used in the error message.
        value: the value to check.
        choices: the allowed (lower-case) values.

    Returns:
        The matched choice.

    Raises:
        TypeError: if ``value`` is not a string.
        ValueError: if it is not one of ``choices`` ("did you mean ...?").
    """
    if not isinstance(value, str):
        raise TypeError(f"`{name}` must be one of {list(choices)}, got {type(value).__name__} {value!r}")
    try:
        return str(look_up_option(value.lower(), choices))
    except ValueError as err:
        raise ValueError(f"`{name}`: {err}") from None


def check_layer_spec(name: str, spec: object, kind: str) -> LayerSpec:
    """Check a MONAI-style norm or activation specification.

    Args:
        name: the argument's name, used in the error message.
        spec: ``None``, a factory name (``"instance"``), or ``(name, kwargs)``.
        kind: ``"norm"`` or ``"act"``: which MONAI factory the name must exist in.

    Returns:
        The specification, names in lower case.

    Raises:
        TypeError: if ``spec`` has the wrong type.
        ValueError: if the name is unknown ("did you mean ...?").
    """
    if spec is None:
        return None
    factory_names = Norm.names if kind == "norm" else Act.names
    if isinstance(spec, str):
        layer_name, kwargs = spec, {}
    elif isinstance(spec, Sequence) and len(spec) == 2 and isinstance(spec[0], str) and isinstance(spec[1], dict):
        layer_name, kwargs = spec[0], dict(spec[1])
    else:
        raise TypeError(f"`{name}` must be None, a name or (name, kwargs), got {spec!r}")
    matched = check_choice(name, layer_name, [n.lower() for n in factory_names])
    return (matched, kwargs) if kwargs else matched


def ensure_tuple_dims(name: str, value: object, spatial_dims: int) -> tuple[int, ...]:
    """Expand an int or a per-dimension sequence of positive ints to a ``spatial_dims``-tuple.

    Args:
        name: the argument's name, used in the error message.
        value: an ``int`` or a sequence of ``spatial_dims`` ints.
        spatial_dims: 2 or 3.

    Returns:
        A tuple of ``spatial_dims`` positive ints.

    Raises:
        TypeError: if an entry is not an integer.
        ValueError: if the length is wrong or an entry is < 1.
    """
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != spatial_dims:
            raise ValueError(f"`{name}` needs {spatial_dims} entries (one per spatial dim), got {len(value)}: {value}")
        return tuple(check_positive_int(name, v) for v in value)
    return (check_positive_int(name, value),) * spatial_dims


def pad_to_multiple(x: torch.Tensor, multiple: list[int]) -> torch.Tensor:
    """Zero-pad the spatial dims of ``x`` at their end up to a multiple of ``multiple``.

    Padding at the end keeps voxel 0 on the stride grid, so a voxel's receptive field does not shift
    with the input size. The pad is applied even when it is zero everywhere: a branch on the size would
    put a guard on the size into an exported (ONNX / ``torch.export``) graph with dynamic shapes.

    Args:
        x: a tensor of shape ``(B, C, *spatial)``.
        multiple: one positive int per spatial dim.

    Returns:
        ``x`` padded to shape ``(B, C, *[ceil(s / m) * m])``.
    """
    pads: list[int] = []
    # F.pad takes (last_begin, last_end, ..., first_begin, first_end); the padded size is written as
    # m * ceil(s / m) so that symbolic shape tracing (torch.export) sees it is a multiple of m
    for dim in range(len(multiple) - 1, -1, -1):
        size, m = x.shape[dim + 2], multiple[dim]
        pads += [0, (size + m - 1) // m * m - size]
    return F.pad(x, pads)


def crop_to(x: torch.Tensor, size: list[int]) -> torch.Tensor:
    """Crop the spatial dims of ``x`` to ``size`` from their start (the inverse of ``pad_to_multiple``).

    Args:
        x: a tensor of shape ``(B, C, *spatial)`` with ``spatial >= size``.
        size: the target spatial size.

    Returns:
        A view of shape ``(B, C, *size)``.
    """
    for dim, s in enumerate(size):
        x = x.narrow(dim + 2, 0, s)
    return x


def check_gated_levels(gated_levels: Sequence[int] | None, n_skips: int) -> tuple[int, ...]:
    """Check the skip levels to gate (0 = finest).

    Args:
        gated_levels: ``None`` (all levels) or distinct ints in ``[0, n_skips)``.
        n_skips: number of skip connections, ``len(channels) - 1``.

    Returns:
        The levels, sorted.

    Raises:
        TypeError: if ``gated_levels`` is not ``None`` or a sequence of ints.
        ValueError: for a level out of range or repeated.
    """
    if gated_levels is None:
        return tuple(range(n_skips))
    if isinstance(gated_levels, str | bytes) or not isinstance(gated_levels, Sequence):
        raise TypeError(f"`gated_levels` must be None or a sequence of ints, got {gated_levels!r}")
    levels = tuple(check_positive_int("gated_levels", lvl, minimum=0) for lvl in gated_levels)
    bad = [lvl for lvl in levels if lvl >= n_skips]
    if bad:
        raise ValueError(f"`gated_levels` must lie in [0, {n_skips - 1}] (skip levels, 0 = finest), got {bad}")
    if len(set(levels)) != len(levels):
        raise ValueError(f"`gated_levels` has repeated levels: {list(gated_levels)}")
    return tuple(sorted(levels))
