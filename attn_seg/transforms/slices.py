"""2D from 3D at inference: predict a volume slice by slice with a 2D network and stack the slices back."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from monai.inferers import SliceInferer

__all__ = ["slice_inferer", "stack_slices"]


def slice_inferer(
    roi_size: Sequence[int], *, axis: int = 2, sw_batch_size: int = 8, overlap: float = 0.25
) -> SliceInferer:
    """MONAI's ``SliceInferer``: a 2D network applied to every slice across ``axis`` of ``(B, C, H, W, D)``.

    Each slice is segmented with a 2D sliding window of ``roi_size``; the output is a volume
    ``(B, K, H, W, D)`` on the input grid.

    Args:
        roi_size: 2D window ``(H, W)``, as the 2D network was trained.
        axis: spatial axis the slices cut across (0, 1 or 2), as in :func:`attn_seg.transforms.slice_sampling`.
        sw_batch_size: windows per forward pass.
        overlap: window overlap within a slice.

    Returns:
        The inferer; call it as ``inferer(volume, network_2d)``.

    Raises:
        ValueError: when ``roi_size`` is not 2D or ``axis`` is out of range.
    """
    if len(roi_size) != 2:
        raise ValueError(f"`roi_size` must be a 2D window (H, W), got {list(roi_size)!r}")
    if axis not in (0, 1, 2):
        raise ValueError(f"`axis` must be 0, 1 or 2, got {axis!r}")
    return SliceInferer(roi_size=list(roi_size), sw_batch_size=sw_batch_size, spatial_dim=axis, overlap=overlap,
                        mode="gaussian", progress=False)


def stack_slices(
    volume: torch.Tensor, predict: Callable[[torch.Tensor], torch.Tensor], *, axis: int = 2, batch_size: int = 8
) -> torch.Tensor:
    """Predict a volume with a 2D function, ``batch_size`` slices at a time, and stack the predictions.

    Args:
        volume: ``(C, H, W, D)`` (channel-first, one case).
        predict: maps a batch of slices ``(N, C, h, w)`` to ``(N, K, h, w)`` (e.g. a 2D network or inferer).
        axis: spatial axis the slices cut across.
        batch_size: slices per call of ``predict``.

    Returns:
        ``(K, H, W, D)``: slice ``i`` of the output is the prediction of slice ``i`` of the input.

    Raises:
        ValueError: when ``volume`` is not ``(C, H, W, D)`` or ``axis`` is out of range.
    """
    if volume.ndim != 4:
        raise ValueError(f"`volume` must be (C, H, W, D), got shape {tuple(volume.shape)}")
    if axis not in (0, 1, 2):
        raise ValueError(f"`axis` must be 0, 1 or 2, got {axis!r}")
    slices = volume.movedim(axis + 1, 0)  # (N, C, h, w)
    outputs = [predict(slices[i : i + batch_size]) for i in range(0, slices.shape[0], batch_size)]
    return torch.cat(outputs, dim=0).movedim(0, axis + 1)
