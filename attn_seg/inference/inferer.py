"""The sliding-window inferer of every inference path (bundle ``inference.json`` and ``evaluate.json``,
``attn-seg predict``, MONAI Label): a MONAI ``Inferer`` over MONAI's ``SlidingWindowInferer``, with flip
test-time augmentation, a network precision, attention maps from the same pass, and a label-only streaming mode."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import torch
from monai.data import MetaTensor
from monai.inferers import Inferer, SlidingWindowInferer
from monai.utils import look_up_option
from torch import nn

from attn_seg.engines.precision import DTYPES, PRECISIONS, resolve_precision
from attn_seg.inference.windows import WindowRun, blend_labels, importance_map

__all__ = ["PRECISIONS", "SegmentationInferer", "resolve_precision"]

#: MONAI's Gaussian window weight, as :func:`~attn_seg.inference.windows.importance_map` computes it.
_SIGMA_SCALE = 0.125


def _flip_sets(axes: Sequence[int], spatial_dims: int) -> list[tuple[int, ...]]:
    """Every subset of the spatial ``axes`` as tensor dims of ``(B, C, *S)``; the empty set (no flip) first."""
    dims = sorted({int(a) for a in axes})
    if any(not 0 <= a < spatial_dims for a in dims):
        raise ValueError(f"`tta_axes` are spatial axes in 0..{spatial_dims - 1}, got {list(axes)}")
    return [tuple(d + 2 for d in subset) for n in range(len(dims) + 1) for subset in itertools.combinations(dims, n)]


class _WindowNetwork(nn.Module):
    """What runs per batch of windows: the network under autocast, over every flip, with the attention maps
    concatenated to the logits as extra channels (so that one blend handles both)."""

    def __init__(self, network: Any, flips: list[tuple[int, ...]], precision: str, attention: bool) -> None:
        super().__init__()
        self.network, self.flips, self.precision, self.attention = network, flips, precision, attention
        self.sizes: list[int] = []  # channels of the logits, then of each attention map

    def _once(self, x: torch.Tensor) -> torch.Tensor:
        dtype = DTYPES[self.precision]
        with torch.autocast(x.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            out = self.network(x)
            maps: list[torch.Tensor] = []
            if isinstance(out, (tuple, list)):  # (logits, maps) from a module built with return_attention
                out, maps = out[0], list(out[1]) if self.attention else []
            elif self.attention:
                maps = list(self.network.attention_maps(x))
        self.sizes = [int(out.shape[1]), *(int(m.shape[1]) for m in maps)]
        if not maps:
            return out.float()  # no concatenation copy
        return torch.cat([out.float(), *(m.float() for m in maps)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = self._once(x)
        for dims in self.flips[1:]:
            total += self._once(x.flip(dims)).flip(dims)
        return total / len(self.flips) if len(self.flips) > 1 else total


class SegmentationInferer(Inferer):
    """Segment whole images window by window: MONAI's ``SlidingWindowInferer`` (Gaussian blend) underneath.

    Called as any MONAI inferer, ``inferer(images, network)`` with ``images`` ``(B, C, *S)``. It returns either

    - ``labels_only``: the label map ``(B, 1, *S)``, ``uint8`` (``int32`` beyond 256 classes), from a streaming
      blend that holds only the slab of the image that windows still overlap
      (:func:`~attn_seg.inference.windows.blend_labels`: the argmax of MONAI's blend, same windows and weights);
    - otherwise the class probabilities (softmax of the blended logits), followed, with ``attention``, by the
      blended attention map of every gate as further channels: ``(B, K + sum(heads), *S)`` float32;
      :meth:`split` takes them apart.

    The network runs under autocast in ``precision``; windows are blended in float32.

    Args:
        roi_size: window size per spatial dim.
        sw_batch_size: windows per network call.
        overlap: overlap of neighbouring windows, in [0, 1).
        labels_only: return the streamed label map (not with ``attention``).
        attention: also return the attention maps (the network returns ``(logits, maps)`` when built with
            ``return_attention``, or has ``attention_maps(x)``).
        tta_axes: spatial axes to flip for test-time augmentation (every combination, ``2**len`` passes).
        precision: one of :data:`PRECISIONS`.
        sw_device: where the network runs; ``None``: the images' device.
        device: where the full-size output lives (``"cpu"`` for volumes beyond accelerator memory); ``None``: the
            images' device.

    Raises:
        ValueError: for an out-of-range argument; the message names it.
    """

    def __init__(
        self,
        roi_size: Sequence[int],
        sw_batch_size: int = 1,
        overlap: float = 0.5,
        *,
        labels_only: bool = False,
        attention: bool = False,
        tta_axes: Sequence[int] = (),
        precision: str = "auto",
        sw_device: str | torch.device | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        super().__init__()
        self.roi_size = tuple(int(r) for r in roi_size)
        if not self.roi_size or any(r < 1 for r in self.roi_size):
            raise ValueError(f"`roi_size` must be positive, got {list(roi_size)}")
        if sw_batch_size < 1:
            raise ValueError(f"`sw_batch_size` must be at least 1, got {sw_batch_size}")
        if not 0.0 <= overlap < 1.0:
            raise ValueError(f"`overlap` must be in [0, 1), got {overlap}")
        if labels_only and attention:
            raise ValueError("`labels_only` returns a label map, without the maps that `attention` asks for")
        self.sw_batch_size, self.overlap = int(sw_batch_size), float(overlap)
        self.labels_only, self.attention = bool(labels_only), bool(attention)
        self.flips = _flip_sets(tta_axes, len(self.roi_size))
        self.precision = str(look_up_option(precision, PRECISIONS))
        self.sw_device = torch.device(sw_device) if sw_device is not None else None
        self.device = torch.device(device) if device is not None else None
        self.sizes: list[int] = []  # after a call: channels of the probabilities, then of each attention map
        self._weight = importance_map(self.roi_size, "cpu")  # the streaming blend's window weight, computed once
        self._blend = SlidingWindowInferer(self.roi_size, self.sw_batch_size, self.overlap, mode="gaussian",
                                           sigma_scale=_SIGMA_SCALE, sw_device=self.sw_device, device=self.device)

    def window_network(self, network: Any, device: torch.device) -> _WindowNetwork:
        """The per-window callable: ``network`` under autocast over every flip (maps as extra channels)."""
        return _WindowNetwork(network, self.flips, resolve_precision(self.precision, device), self.attention)

    def __call__(self, inputs: torch.Tensor, network: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
        """Labels ``(B, 1, *S)`` or probabilities and maps ``(B, K + sum(heads), *S)`` of ``inputs`` ``(B, C, *S)``.

        Raises:
            ValueError: when ``inputs`` does not have ``len(roi_size)`` spatial dims.
        """
        if inputs.dim() != len(self.roi_size) + 2:
            raise ValueError(f"images must be (B, C, *S) with {len(self.roi_size)} spatial dims, "
                             f"got {tuple(inputs.shape)}")
        images = inputs.float().as_subclass(torch.Tensor)  # a MetaTensor's metadata would follow every window
        sw_device = self.sw_device or images.device
        window_net = self.window_network(network, sw_device)
        with torch.no_grad():  # not inference_mode: postprocessing may change the output in place
            if self.labels_only:
                run = WindowRun(window_net, self.sw_batch_size, sw_device, self.device or images.device,
                                self._weight.to(sw_device))
                return _like(blend_labels(images, self.roi_size, self.overlap, run).unsqueeze(1), inputs)
            out = torch.as_tensor(self._blend(images, window_net))
            self.sizes = list(window_net.sizes)
            classes = self.sizes[0]
            out[:, :classes] = torch.softmax(out[:, :classes], dim=1)
        return _like(out, inputs)

    def split(self, output: torch.Tensor, channel_dim: int = 1) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``(probabilities, [map of gate 0, ...])`` of an output of this inferer (batched: ``channel_dim=1``;
        one image: ``0``).

        Raises:
            RuntimeError: before the first call, or after a ``labels_only`` one (the sizes are unknown).
        """
        if not self.sizes:
            raise RuntimeError("the inferer has not returned probabilities yet: nothing to split")
        probs, *maps = output.split(self.sizes, dim=channel_dim)
        return probs, maps


def _like(output: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """``output`` with the metadata and applied transforms of ``inputs`` where it is a ``MetaTensor`` (as MONAI's
    inferers return it), so that ``Invertd`` can bring it back to the input's geometry."""
    if isinstance(inputs, MetaTensor):
        return MetaTensor(output, meta=dict(inputs.meta), applied_operations=list(inputs.applied_operations))
    return output
