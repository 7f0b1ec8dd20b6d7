"""Mixed precision for MONAI's engines: CUDA AMP through the engines' ``amp`` flag, CPU bf16 by a thin wrapper.

MONAI's ``SupervisedTrainer``/``SupervisedEvaluator`` autocast on CUDA only (``torch.autocast("cuda")``). On a
CPU, :class:`Autocast` runs the wrapped network's forward under ``torch.autocast("cpu", bfloat16)`` and hands
back fp32 logits, so the loss, metrics and post-processing stay in fp32.
"""

from __future__ import annotations

import logging
import platform
from pathlib import Path
from typing import Any

import torch
from monai.utils import look_up_option
from torch import nn

__all__ = [
    "DTYPES",
    "PRECISIONS",
    "Autocast",
    "amp_kwargs",
    "autocast_network",
    "cpu_model",
    "native_cpu_bf16",
    "resolve_precision",
    "uses_engine_amp",
]

#: The autocast dtype of each precision (``None``: no autocast).
DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
#: Names accepted wherever a precision is set: those of :data:`DTYPES` and ``"auto"``, which is bf16 on a CPU with
#: a native bf16 unit (:func:`native_cpu_bf16`), fp32 on other CPUs (where bf16 is emulated and slower), bf16 on a
#: GPU that has it, else fp16.
PRECISIONS = ("auto", *DTYPES)

_LOGGER = logging.getLogger(__name__)


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or the platform's processor string elsewhere: benchmarks record
    it, since precision choices and speed depend on it."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def native_cpu_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX).

    oneDNN also runs bf16 on plain AVX512 (``torch.ops.mkldnn._is_mkldnn_bf16_supported()`` is true there), but
    by converting to fp32 and back: measured on such a CPU (Xeon, AVX512F/BW without AVX512-BF16), a 96^3 window of
    the CT bundle's network took 4.0 s in bf16 against 1.6 s in fp32. Only a native unit makes bf16 worth its
    rounding.
    """
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(bool(check()) for check in checks if check is not None)


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """``"auto"`` -> the precision used on ``device``; other names are checked and returned.

    Raises:
        ValueError: for a name not in :data:`PRECISIONS`.
    """
    chosen = str(look_up_option(precision, PRECISIONS))
    if chosen != "auto":
        return chosen
    if torch.device(device).type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if native_cpu_bf16() else "fp32"


def _check(precision: str, device: torch.device | str) -> tuple[str, torch.device]:
    device = torch.device(device)
    precision = resolve_precision(precision, device)
    if precision == "fp16" and device.type != "cuda":
        raise ValueError(f"`precision` 'fp16' needs a CUDA device, got device {device}; use 'bf16' on a CPU")
    return precision, device


def uses_engine_amp(precision: str, device: torch.device | str) -> bool:
    """Whether the MONAI engine's own ``amp`` flag does the mixed precision (CUDA with fp16/bf16)."""
    precision, device = _check(precision, device)
    return precision != "fp32" and device.type == "cuda"


def amp_kwargs(precision: str, device: torch.device | str) -> dict[str, Any]:
    """The engines' ``amp_kwargs`` for ``precision`` on ``device`` (the autocast dtype)."""
    dtype = DTYPES[_check(precision, device)[0]]
    return {} if dtype is None else {"dtype": dtype}


def _to_float(output: Any) -> Any:
    if isinstance(output, torch.Tensor):
        return output.float()
    if isinstance(output, (list, tuple)):
        return type(output)(_to_float(o) for o in output)
    return output


class Autocast(nn.Module):
    """Run ``module`` under CPU autocast and return fp32 outputs (tensors, lists and tuples of them).

    The wrapper holds no parameters of its own: save and load the wrapped ``module``'s state dict.

    Args:
        module: the network.
        dtype: the autocast dtype, ``torch.bfloat16`` on CPUs.
    """

    def __init__(self, module: nn.Module, dtype: torch.dtype = torch.bfloat16) -> None:
        super().__init__()
        self.module = module
        self.dtype = dtype

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The wrapped forward, autocast on the inputs' device type."""
        device_type = args[0].device.type if args and isinstance(args[0], torch.Tensor) else "cpu"
        with torch.autocast(device_type, dtype=self.dtype):
            return _to_float(self.module(*args, **kwargs))


def autocast_network(network: nn.Module, precision: str, device: torch.device | str) -> nn.Module:
    """The network the engines should run for ``precision`` on ``device``.

    Args:
        network: the network (already on ``device``).
        precision: one of :data:`PRECISIONS` (``fp16`` on CUDA only); the one used is logged.
        device: the engines' device.

    Returns:
        ``network`` itself for fp32 or on CUDA (the engines' ``amp`` flag autocasts there), else an
        :class:`Autocast` wrapper around it.

    Raises:
        ValueError: for an unknown precision, or fp16 on a CPU.
    """
    given = precision
    precision, device = _check(precision, device)
    if given == "auto" and device.type == "cpu":
        unit = "has a" if precision == "bf16" else "has no"
        _LOGGER.info("network precision: %s (auto: this CPU %s native bf16 unit)", precision, unit)
    else:
        _LOGGER.info("network precision: %s on %s", precision, device)
    dtype = DTYPES[precision]
    if dtype is None or device.type == "cuda":
        return network
    return Autocast(network, dtype)
