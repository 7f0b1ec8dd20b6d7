"""Load the network a predictor runs: an eager module from a state dict, TorchScript, or an ONNX model."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from attn_seg.inference.settings import BundleSettings, default_weights

__all__ = ["OnnxModule", "count_gates", "load_model", "read_state_dict"]


class OnnxModule(nn.Module):
    """An ONNX model run by onnxruntime behind the ``nn.Module`` call interface (inference only).

    Args:
        path: the ``.onnx`` file; its first input takes images ``(B, C, *S)`` float32, its first output the logits.
        providers: onnxruntime execution providers; default: CUDA where available, then CPU.

    Raises:
        ImportError: when onnxruntime is not installed.
    """

    def __init__(self, path: str | os.PathLike[str], providers: list[str] | None = None) -> None:
        super().__init__()
        import onnxruntime as ort

        available = ort.get_available_providers()
        chosen = providers or [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        self.session = ort.InferenceSession(str(path), providers=chosen)
        self.input_name = self.session.get_inputs()[0].name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, K, *S)`` for images ``(B, C, *S)`` (computed in float32, returned on ``x``'s device)."""
        array = x.detach().float().cpu().numpy()
        (logits, *_) = self.session.run(None, {self.input_name: array})
        return torch.from_numpy(logits).to(x.device)


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The network state dict in a ``.pt`` file: a plain state dict, or the ``"model"`` entry of a checkpoint.

    Raises:
        ValueError: when the file cannot be read as one; the message names it.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"weights {path} could not be read as a state dict: {err}") from err
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # a CheckpointSaver file holding several objects
    if not isinstance(state, dict):
        raise ValueError(f"weights {path} hold a {type(state).__name__}, expected a state dict")
    return state


def load_model(
    settings: BundleSettings,
    weights: str | os.PathLike[str] | None = None,
    *,
    device: str | torch.device = "cpu",
    attention: bool = False,
) -> nn.Module:
    """The bundle's network with its weights, in eval mode.

    Args:
        settings: the bundle settings (``network_def`` builds the eager module).
        weights: ``.pt`` (a plain state dict, into ``network_def``), ``.ts`` (TorchScript) or ``.onnx``;
            ``None`` takes the bundle's ``models/model.pt``, else ``model.ts``, else ``model.onnx``.
        device: where the module lives (ONNX models run on onnxruntime's providers).
        attention: build the eager module with ``return_attention=True`` so that one forward pass gives logits
            and attention maps (TorchScript modules give them through ``attention_maps``; ONNX cannot).

    Returns:
        The module, in eval mode.

    Raises:
        FileNotFoundError: when the weights are missing.
        ValueError: when they cannot be read or do not fit the network; the message names the file.
    """
    path = Path(weights).expanduser().absolute() if weights else default_weights(settings.bundle_dir)
    if not path.is_file():
        raise FileNotFoundError(f"weights {path} do not exist")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        if attention:
            raise ValueError(f"{path}: an ONNX model returns logits only; attention maps need a .pt or .ts model")
        return OnnxModule(path).eval()
    if suffix == ".ts":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = torch.jit.load(str(path), map_location=device)
        return module.eval()
    network = settings.network_def(return_attention=True) if attention else settings.network_def()
    try:
        network.load_state_dict(read_state_dict(path), strict=True)
    except RuntimeError as err:
        raise ValueError(f"weights {path} do not fit the bundle's network_def: {str(err)[:300]}") from err
    return network.to(device).eval()


def count_gates(module: nn.Module) -> int:
    """Attention gates of an ``AttentionUNet`` (eager or TorchScript); 0 for other modules."""
    decoder = getattr(module, "decoder", None)
    try:
        return len(decoder.gated_levels) if decoder is not None else 0
    except (AttributeError, TypeError, RuntimeError):
        return 0
