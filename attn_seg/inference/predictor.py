"""Sliding-window prediction over whole volumes: Gaussian blend with a cached window weight, half precision,
flip test-time augmentation, attention maps in the same pass, and a streaming label map."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from monai.utils import look_up_option
from torch import nn

from attn_seg.engines.precision import PRECISIONS as DTYPES
from attn_seg.engines.precision import native_cpu_bf16
from attn_seg.inference.windows import WindowRun, blend_labels, blend_logits, importance_map

__all__ = ["PRECISIONS", "Predictor", "resolve_precision"]

#: Names accepted by ``precision``: the training precisions and ``"auto"``, which is bf16 on a CPU with native bf16
#: (AVX512-BF16/AMX: :func:`~attn_seg.engines.precision.native_cpu_bf16`), fp32 on other CPUs (where bf16 is
#: emulated and slower), bf16 on a GPU that has it, else fp16.
PRECISIONS = ("auto", *DTYPES)


def resolve_precision(precision: str, device: torch.device) -> str:
    """``"auto"`` -> the precision used on ``device``; other names are checked and returned."""
    chosen = look_up_option(precision, PRECISIONS)
    if chosen != "auto":
        return str(chosen)
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if native_cpu_bf16() else "fp32"


def _flip_sets(axes: Sequence[int], spatial_dims: int) -> list[tuple[int, ...]]:
    """Every subset of the spatial ``axes`` as tensor dims of ``(B, C, *S)``; the empty set (no flip) first."""
    dims = sorted({int(a) for a in axes})
    if any(not 0 <= a < spatial_dims for a in dims):
        raise ValueError(f"`tta_axes` are spatial axes in 0..{spatial_dims - 1}, got {list(axes)}")
    return [tuple(d + 2 for d in subset) for n in range(len(dims) + 1) for subset in itertools.combinations(dims, n)]


class _WindowNetwork(nn.Module):
    """What the inferer calls per batch of windows: the network under autocast, over every flip, with the
    attention maps concatenated to the logits as extra channels (so that one blend handles both)."""

    def __init__(self, network: nn.Module, flips: list[tuple[int, ...]], precision: str, attention: bool) -> None:
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
                maps = list(self.network.attention_maps(x))  # type: ignore[operator]
        self.sizes = [int(out.shape[1]), *(int(m.shape[1]) for m in maps)]
        if not maps:
            return out.float()  # no concatenation copy
        return torch.cat([out.float(), *(m.float() for m in maps)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = self._once(x)
        for dims in self.flips[1:]:
            total += self._once(x.flip(dims)).flip(dims)
        return total / len(self.flips) if len(self.flips) > 1 else total


class Predictor:
    """Predict whole images window by window, with a Gaussian-weighted blend of overlapping windows.

    The windows lie on MONAI ``sliding_window_inference``'s grid with MONAI's Gaussian importance map
    (computed once), but the loop is our own (:mod:`attn_seg.inference.windows`), for memory: :meth:`labels`
    accumulates only the slab of the image that windows still overlap and returns ``uint8`` labels. The
    network runs under autocast in ``precision``; windows are blended in float32. Our ``AttentionUNet`` runs
    channels-last, and without autograd it frees each skip as soon as it is used and normalises in place.

    Args:
        network: a module mapping ``(B, C, *roi)`` to logits ``(B, K, *roi)`` (eager, TorchScript or
            :class:`~attn_seg.inference.OnnxModule`); with ``return_attention`` it may return ``(logits, maps)``.
        roi_size: window size per spatial dim.
        sw_batch_size: windows per network call.
        overlap: overlap of neighbouring windows, in [0, 1).
        device: where the network runs (``sw_device``).
        output_device: where the full-size blended output lives; ``"cpu"`` for volumes larger than accelerator
            memory; ``None``: ``device``.
        precision: one of :data:`PRECISIONS`.
        tta_axes: spatial axes to flip for test-time augmentation (every combination, ``2**len`` passes);
            empty for none.

    Raises:
        ValueError: for an out-of-range argument; the message names it.
    """

    def __init__(
        self,
        network: nn.Module,
        roi_size: Sequence[int],
        *,
        sw_batch_size: int = 1,
        overlap: float = 0.5,
        device: str | torch.device = "cpu",
        output_device: str | torch.device | None = None,
        precision: str = "auto",
        tta_axes: Sequence[int] = (),
    ) -> None:
        if sw_batch_size < 1:
            raise ValueError(f"`sw_batch_size` must be at least 1, got {sw_batch_size}")
        if not 0.0 <= overlap < 1.0:
            raise ValueError(f"`overlap` must be in [0, 1), got {overlap}")
        self.network = network
        self.roi_size = tuple(int(r) for r in roi_size)
        if any(r < 1 for r in self.roi_size):
            raise ValueError(f"`roi_size` must be positive, got {tuple(roi_size)}")
        self.sw_batch_size, self.overlap = sw_batch_size, float(overlap)
        self.device = torch.device(device)
        self.output_device = torch.device(output_device) if output_device is not None else self.device
        self.precision = resolve_precision(precision, self.device)
        self.flips = _flip_sets(tta_axes, len(self.roi_size))
        self.weight_map = importance_map(self.roi_size, self.device)  # computed once, used by every call

    def _check(self, image: torch.Tensor) -> None:
        if image.dim() != len(self.roi_size) + 2:
            dims = len(self.roi_size)
            raise ValueError(f"image must be (B, C, *S) with {dims} spatial dims, got {tuple(image.shape)}")

    def _run(self, window_net: _WindowNetwork) -> WindowRun:
        return WindowRun(window_net, self.sw_batch_size, self.device, self.output_device, self.weight_map)

    def logits(self, image: torch.Tensor, attention: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Blended logits, and optionally the blended attention maps, of a batch of whole images.

        Args:
            image: ``(B, C, *S)`` on any device; ``S`` of any size (padded to the window where smaller).
            attention: also return the attention maps of every gated level.

        Returns:
            ``(logits (B, K, *S), maps)``, float32 on ``output_device``; ``maps``: one ``(B, heads, *S)`` per gate,
            finest first (empty without ``attention``).

        Raises:
            ValueError: when ``image`` does not have ``len(roi_size)`` spatial dims.
        """
        self._check(image)
        window_net = _WindowNetwork(self.network, self.flips, self.precision, attention)
        with torch.inference_mode():
            out = blend_logits(_plain(image), self.roi_size, self.overlap, self._run(window_net))
        logits, *maps = out.split(window_net.sizes, dim=1)
        return logits, maps

    def labels(self, image: torch.Tensor) -> torch.Tensor:
        """The label map (argmax over classes) of a batch of whole images, with the least memory.

        The argmax of ``logits(image)[0]`` (up to ties within float32 rounding), but only the slab of the image
        that windows still overlap is accumulated in float32 (see :func:`~attn_seg.inference.windows.blend_labels`).

        Args:
            image: ``(B, C, *S)``.

        Returns:
            ``(B, *S)`` on ``output_device``: ``uint8`` up to 256 classes, else ``int32``.

        Raises:
            ValueError: when ``image`` does not have ``len(roi_size)`` spatial dims.
        """
        self._check(image)
        window_net = _WindowNetwork(self.network, self.flips, self.precision, False)
        with torch.inference_mode():
            return blend_labels(_plain(image), self.roi_size, self.overlap, self._run(window_net))

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(B, K, *S)`` (softmax of the blended logits)."""
        return torch.softmax(self.logits(image)[0], dim=1)


def _plain(image: torch.Tensor) -> torch.Tensor:
    """A float32 plain tensor (a ``MetaTensor``'s metadata would be carried through every window)."""
    return image.float().as_subclass(torch.Tensor)
