"""The streaming label map behind :class:`~attn_seg.inference.SegmentationInferer`'s ``labels_only`` mode, on
MONAI's window grid with MONAI's Gaussian weights.

Windows lie on the grid of MONAI's ``sliding_window_inference`` (``int(roi * (1 - overlap))`` apart, the last
one flush with the end; images smaller than the window are zero-padded symmetrically) and are weighted by
MONAI's ``compute_importance_map`` (Gaussian, sigma ``0.125 * roi``, clamped at 1e-3), so the labels are the
argmax of MONAI's blend up to float32 summation order. What differs is memory: :func:`blend_labels` scans the
image along its first axis and accumulates only the slab that windows still overlap (weighted logits in float32;
the weight sum is not needed for an argmax); finished slices become ``uint8`` labels at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from monai.data.utils import compute_importance_map

__all__ = ["WindowGrid", "WindowRun", "blend_labels", "importance_map", "window_starts"]

#: Slices turned into labels per argmax call.
_ARGMAX_SLICES = 8

#: What runs one batch of windows ``(n, C, *roi)`` and returns ``(n, K, *roi)`` float32 logits.
WindowFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class WindowRun:
    """How windows are run: the network, windows per call, devices, the cached window weight ``(*roi)``."""

    fn: WindowFn
    batch_size: int
    device: torch.device
    output_device: torch.device
    weight: torch.Tensor


def importance_map(roi: Sequence[int], device: torch.device | str = "cpu") -> torch.Tensor:
    """The weight of one window, ``(*roi)``: MONAI's Gaussian importance map (sigma ``0.125 * roi``, >= 1e-3)."""
    return compute_importance_map(tuple(roi), mode="gaussian", sigma_scale=0.125, device=device)


def window_starts(size: int, roi: int, overlap: float) -> list[int]:
    """Start of every window along one axis of length ``size >= roi`` (MONAI's grid).

    Args:
        size: the (padded) image size along the axis.
        roi: the window size along the axis.
        overlap: fraction of the window shared by neighbours, in ``[0, 1)``.

    Returns:
        Increasing starts; the first is 0 and the last ``size - roi``.
    """
    if roi == size:
        return [0]
    interval = max(int(roi * (1 - overlap)), 1)
    count = next(d for d in range(size) if d * interval + roi >= size) + 1
    return sorted({min(d * interval, size - roi) for d in range(count)})


class WindowGrid:
    """The windows over one image: the starts along each axis (their Cartesian product is the window set).

    Args:
        size: spatial size of the (padded) image, at least ``roi`` per axis.
        roi: window size per axis.
        overlap: overlap of neighbouring windows, in ``[0, 1)``.
    """

    def __init__(self, size: Sequence[int], roi: Sequence[int], overlap: float) -> None:
        self.size, self.roi = tuple(size), tuple(roi)
        self.starts = [window_starts(s, r, overlap) for s, r in zip(self.size, self.roi, strict=True)]

    def windows(self, first: Sequence[int] | None = None) -> Iterator[tuple[int, ...]]:
        """Window origins in C order (the first axis slowest); ``first`` restricts the first axis's starts."""
        axes = [list(first) if first is not None else self.starts[0], *self.starts[1:]]
        yield from itertools.product(*axes)


def pad_to_roi(image: torch.Tensor, roi: Sequence[int]) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """Zero-pad ``(B, C, *S)`` symmetrically to at least ``roi`` per axis; the ``(before, after)`` per axis."""
    pads = []
    for size, r in zip(image.shape[2:], roi, strict=True):
        extra = max(r - size, 0)
        pads.append((extra // 2, extra - extra // 2))
    if any(p != (0, 0) for p in pads):
        flat = [v for before_after in reversed(pads) for v in before_after]
        image = F.pad(image, flat)
    return image, pads


def _crop(x: torch.Tensor, pads: list[tuple[int, int]], first: int) -> torch.Tensor:
    """Undo :func:`pad_to_roi` on the spatial axes of ``x`` starting at dim ``first``."""
    for d, (before, after) in enumerate(pads):
        x = x.narrow(first + d, before, x.shape[first + d] - before - after)
    return x


def _run_windows(
    image: torch.Tensor,
    origins: list[tuple[int, ...]],
    grid: WindowGrid,
    run: WindowRun,
) -> Iterator[tuple[tuple[int, ...], torch.Tensor]]:
    """Yield ``(origin, weighted logits (K, *roi))`` for each window of a single image ``(1, C, *S)``."""
    for i in range(0, len(origins), run.batch_size):
        batch = origins[i : i + run.batch_size]
        tiles = [image[0][(slice(None), *_window(org, grid.roi))] for org in batch]
        out = run.fn(torch.stack(tiles).to(run.device))
        for origin, logits in zip(batch, out, strict=True):
            yield origin, logits.mul_(run.weight.to(logits.device)).to(run.output_device)


def blend_labels(image: torch.Tensor, roi: Sequence[int], overlap: float, run: WindowRun) -> torch.Tensor:
    """Label map (argmax over classes of the blended logits), accumulating only the slab windows still overlap.

    The image is scanned along its first spatial axis; after each row of windows, the slices no later window
    reaches are turned into labels and dropped. The labels are the argmax of MONAI's Gaussian blend (the same
    weighted sums, before the division by the weight sum, which is common to all classes: only a tie within
    float32 rounding could come out differently).

    Args:
        image: ``(B, C, *S)``.
        roi: window size per axis.
        overlap: overlap of neighbouring windows.
        run: the network and how to run it.

    Returns:
        ``(B, *S)`` labels on ``run.output_device``: ``uint8`` up to 256 classes, else ``int32``.
    """
    return _each_image(image, roi, overlap, lambda padded, grid: _stream_one(padded, grid, run))


def _each_image(
    image: torch.Tensor,
    roi: Sequence[int],
    overlap: float,
    blend: Callable[[torch.Tensor, WindowGrid], torch.Tensor],
) -> torch.Tensor:
    """Pad each image of ``(B, C, *S)`` to the window, ``blend`` it over its grid into ``(*S)`` labels, crop the
    padding off, and stack the results (a single image is not copied)."""
    results = []
    for b in range(image.shape[0]):
        padded, pads = pad_to_roi(image[b : b + 1], roi)
        results.append(_crop(blend(padded, WindowGrid(padded.shape[2:], roi, overlap)), pads, 0))
    return results[0].unsqueeze(0) if len(results) == 1 else torch.stack(results)


def _window(origin: Sequence[int], roi: Sequence[int]) -> tuple[slice, ...]:
    return tuple(slice(o, o + r) for o, r in zip(origin, roi, strict=True))


def _stream_one(image: torch.Tensor, grid: WindowGrid, run: WindowRun) -> torch.Tensor:
    """Labels ``(*S)`` of one padded image ``(1, C, *S)``; the slab holds ``[origin, origin + roi[0])``.

    Only the weighted logits are summed: the sum of the weights is one positive number per voxel, the same for
    every class, so dividing by it cannot change which class is largest.
    """
    rows, depth = grid.starts[0], grid.roi[0]
    labels: torch.Tensor | None = None
    slab: torch.Tensor | None = None  # the weighted logits of [origin, origin + depth)
    origin = rows[0]
    for row in rows:
        if slab is not None and row > origin:
            labels = _finish(slab, labels, grid, origin, row)
            _shift(slab, row - origin)
            origin = row
        for start, logits in _run_windows(image, list(grid.windows([row])), grid, run):
            if slab is None:
                slab = torch.zeros((logits.shape[0], depth, *grid.size[1:]), device=run.output_device)
            rows_in_slab = slice(start[0] - origin, start[0] - origin + depth)
            slab[(slice(None), rows_in_slab, *_window(start[1:], grid.roi[1:]))] += logits
    if slab is None:
        raise RuntimeError("no window was run")
    return _finish(slab, labels, grid, origin, grid.size[0])


def _finish(slab: torch.Tensor, labels: torch.Tensor | None, grid: WindowGrid, origin: int, end: int) -> torch.Tensor:
    """Write the labels of slices ``[origin, end)``, held at the start of ``slab``."""
    if labels is None:
        dtype = torch.uint8 if slab.shape[0] <= 256 else torch.int32
        labels = torch.empty(grid.size, dtype=dtype, device=slab.device)
    for lo in range(origin, end, _ARGMAX_SLICES):  # a few slices at a time: the int64 argmax stays small
        hi = min(lo + _ARGMAX_SLICES, end)
        labels[lo:hi] = slab[:, lo - origin : hi - origin].argmax(0).to(labels.dtype)
    return labels


def _shift(slab: torch.Tensor, by: int) -> None:
    """Move ``slab[:, by:]`` to the front (in place, in pieces of at most ``by`` slices) and zero the rest."""
    depth = slab.shape[1]
    for lo in range(0, depth - by, by):
        hi = min(lo + by, depth - by)
        slab[:, lo:hi].copy_(slab[:, lo + by : hi + by])
    slab[:, max(depth - by, 0) :].zero_()
