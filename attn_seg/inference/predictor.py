"""Sliding-window prediction over whole volumes: MONAI's ``SlidingWindowInferer`` with a cached Gaussian map,
half precision, flip test-time augmentation and attention maps in the same pass."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from monai.inferers import SlidingWindowInferer
from monai.utils import look_up_option
from torch import nn

__all__ = ["PRECISIONS", "Predictor", "resolve_precision"]

#: Names accepted by ``precision``; ``"auto"`` is bf16 on a CPU with native bf16 (AVX512-BF16/AMX), fp32 on
#: other CPUs, bf16 on a GPU that has it, else fp16.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_precision(precision: str, device: torch.device) -> str:
    """``"auto"`` -> the precision used on ``device``; other names are checked and returned."""
    chosen = look_up_option(precision, PRECISIONS)
    if chosen != "auto":
        return str(chosen)
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"


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
        with torch.autocast(x.device.type, dtype=_DTYPES.get(self.precision, torch.float32),
                            enabled=self.precision in _DTYPES):
            out = self.network(x)
            maps: list[torch.Tensor] = []
            if isinstance(out, (tuple, list)):  # (logits, maps) from a module built with return_attention
                out, maps = out[0], list(out[1]) if self.attention else []
            elif self.attention:
                maps = list(self.network.attention_maps(x))  # type: ignore[operator]
        self.sizes = [int(out.shape[1]), *(int(m.shape[1]) for m in maps)]
        return torch.cat([out.float(), *(m.float() for m in maps)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = self._once(x)
        for dims in self.flips[1:]:
            total += self._once(x.flip(dims)).flip(dims)
        return total / len(self.flips) if len(self.flips) > 1 else total


class Predictor:
    """Predict whole images window by window, with a Gaussian-weighted blend of overlapping windows.

    Built on MONAI's :class:`~monai.inferers.SlidingWindowInferer` (``mode="gaussian"``,
    ``cache_roi_weight_map=True``: the Gaussian map is computed once, not per call). The network runs under
    autocast in ``precision``; windows are blended in float32. Our ``AttentionUNet`` already runs channels-last.

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
        self.device = torch.device(device)
        self.output_device = torch.device(output_device) if output_device is not None else self.device
        self.precision = resolve_precision(precision, self.device)
        self.flips = _flip_sets(tta_axes, len(self.roi_size))
        self.inferer = SlidingWindowInferer(
            roi_size=self.roi_size, sw_batch_size=sw_batch_size, overlap=overlap, mode="gaussian",
            sw_device=self.device, device=self.output_device, cache_roi_weight_map=True, progress=False,
        )

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
        if image.dim() != len(self.roi_size) + 2:
            dims = len(self.roi_size)
            raise ValueError(f"image must be (B, C, *S) with {dims} spatial dims, got {tuple(image.shape)}")
        window_net = _WindowNetwork(self.network, self.flips, self.precision, attention)
        with torch.inference_mode():
            out = self.inferer(image.float().as_subclass(torch.Tensor), window_net)
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"the network must return one tensor or (logits, maps), got {type(out).__name__}")
        logits, *maps = out.split(window_net.sizes, dim=1)
        return logits, maps

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(B, K, *S)`` (softmax of the blended logits)."""
        return torch.softmax(self.logits(image)[0], dim=1)
