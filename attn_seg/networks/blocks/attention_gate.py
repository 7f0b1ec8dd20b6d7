"""Additive attention gate of Oktay et al., "Attention U-Net: Learning Where to Look for the Pancreas" (2018).

Two ways to gate a skip connection ``x`` with a gating signal ``g``:

- ``gating="grid"`` (the paper's grid attention): ``g`` comes from the coarser level and stays there.
  ``theta`` is a strided convolution (kernel = stride = ``sub_sample_factor``) taking ``x`` down to ``g``'s
  grid, ``phi`` a 1x1 convolution of ``g``; ``alpha = sigmoid(psi(relu(theta(x) + phi(g))))`` is computed
  at the coarse resolution, resampled (bi/trilinear) to ``x``'s size and multiplies ``x``. With
  ``output_transform=True`` a 1x1 convolution + norm (``W``, from the reference code Attention-Gated-Networks;
  the paper's equations stop at ``x * alpha``) follows. Only the resample, the product and ``W`` run at
  ``x``'s resolution.
- ``gating="same_scale"`` (MONAI's ``AttentionUnet``, LeeJunHyun's Image_Segmentation): ``g`` is already at
  ``x``'s resolution (the upsampled decoder feature); ``W_g`` and ``W_x`` are 1x1 convolutions + norm,
  ``alpha = sigmoid(psi(relu(W_g(g) + W_x(x))))``, output ``x * alpha``. ``psi`` has no norm here: a
  per-image norm of a one-channel map would force half of every image to be attended.

With ``heads > 1``, ``psi`` gives one map per head and each map gates its own ``C_x / heads`` channels.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from monai.networks.layers.factories import Conv
from torch import nn

from attn_seg.networks.blocks.convolutions import make_norm
from attn_seg.networks.utils import (
    LayerSpec,
    check_choice,
    check_layer_spec,
    check_positive_int,
    check_spatial_dims,
    ensure_tuple_dims,
)

__all__ = ["GATING_MODES", "AttentionGate"]

GATING_MODES = ("grid", "same_scale")


def _conv_norm(spatial_dims: int, c_in: int, c_out: int, norm: LayerSpec) -> nn.Module:
    conv = Conv[Conv.CONV, spatial_dims](c_in, c_out, kernel_size=1, bias=norm is None)
    if norm is None:
        return conv
    return nn.Sequential(conv, make_norm(norm, spatial_dims, c_out))


class AttentionGate(nn.Module):
    """Additive attention gate on a skip connection (see the module docstring for both modes).

    Args:
        spatial_dims: 2 or 3.
        in_channels: channels ``C_x`` of the gated skip connection ``x``.
        gating_channels: channels ``C_g`` of the gating signal ``g``.
        inter_channels: channels of the intermediate space; default ``max(C_x // 2, 1)``.
        sub_sample_factor: ``"grid"`` only: how much coarser ``g`` is than ``x`` (an int or one per spatial
            dim); it is the kernel size and stride of ``theta``.
        gating: ``"grid"`` (the paper) or ``"same_scale"`` (MONAI style).
        heads: number of attention maps; ``C_x`` must be divisible by it.
        norm: MONAI norm name or ``(name, kwargs)`` for ``W`` (grid) or ``W_g``/``W_x`` (same_scale).
        output_transform: ``"grid"`` only: apply ``W`` (1x1 conv + norm) to the gated skip.

    Raises:
        ValueError: for an unknown ``gating`` or ``norm``, non-positive sizes, or ``in_channels`` not
            divisible by ``heads``.
        TypeError: for arguments of the wrong type.
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        gating_channels: int,
        *,
        inter_channels: int | None = None,
        sub_sample_factor: Sequence[int] | int = 2,
        gating: str = "grid",
        heads: int = 1,
        norm: LayerSpec = "instance",
        output_transform: bool = True,
    ) -> None:
        super().__init__()
        self.spatial_dims = check_spatial_dims(spatial_dims)
        self.in_channels = check_positive_int("in_channels", in_channels)
        self.gating_channels = check_positive_int("gating_channels", gating_channels)
        if inter_channels is None:
            inter_channels = max(in_channels // 2, 1)
        self.inter_channels = check_positive_int("inter_channels", inter_channels)
        self.gating = check_choice("gating", gating, GATING_MODES)
        self.heads = check_positive_int("heads", heads)
        if in_channels % heads != 0:
            raise ValueError(f"`in_channels` ({in_channels}) must be divisible by `heads` ({heads})")
        norm = check_layer_spec("norm", norm, "norm")
        self.sub_sample_factor = ensure_tuple_dims("sub_sample_factor", sub_sample_factor, spatial_dims)
        self.interp_mode = "trilinear" if spatial_dims == 3 else "bilinear"
        conv_type = Conv[Conv.CONV, spatial_dims]
        self.is_grid = self.gating == "grid"
        if self.is_grid:
            ssf = self.sub_sample_factor
            self.theta: nn.Module = conv_type(in_channels, inter_channels, kernel_size=ssf, stride=ssf, bias=False)
            self.phi: nn.Module = conv_type(gating_channels, inter_channels, kernel_size=1, bias=True)
            self.out_transform: nn.Module = nn.Identity()
            if output_transform:
                self.out_transform = _conv_norm(spatial_dims, in_channels, in_channels, norm)
        else:
            self.theta = _conv_norm(spatial_dims, in_channels, inter_channels, norm)
            self.phi = _conv_norm(spatial_dims, gating_channels, inter_channels, norm)
            self.out_transform = nn.Identity()
        self.psi = conv_type(inter_channels, heads, kernel_size=1, bias=True)

    def attention(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Compute the attention coefficients at the resolution of ``x``.

        Args:
            x: skip connection, ``(B, C_x, *S_x)``.
            g: gating signal, ``(B, C_g, *S_g)``; ``S_g = S_x / sub_sample_factor`` for ``"grid"`` (``S_x`` a
                multiple of ``sub_sample_factor``), ``S_g = S_x`` for ``"same_scale"``.

        Returns:
            Coefficients in ``[0, 1]``, ``(B, heads, *S_x)``.
        """
        # no branching on sizes: it would put shape guards into exported graphs with dynamic sizes
        alpha = torch.sigmoid(self.psi(F.relu(self.theta(x) + self.phi(g))))
        if self.is_grid:
            alpha = F.interpolate(alpha, size=x.shape[2:], mode=self.interp_mode, align_corners=False)
        return alpha

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Gate ``x`` with ``g``.

        Args:
            x: skip connection, ``(B, C_x, *S_x)``.
            g: gating signal, ``(B, C_g, *S_g)`` (see :meth:`attention`).

        Returns:
            The gated skip ``(B, C_x, *S_x)`` and the coefficients ``(B, heads, *S_x)`` in ``[0, 1]``.
        """
        alpha = self.attention(x, g)
        # each map gates its own group of C / heads channels; x's memory format (channels-last) is kept, so
        # that the decoder's concatenation stays channels-last too (a product of 6D views loses it for
        # torch.cat, which then copies the full-resolution concatenation once more for the convolution)
        return self.out_transform(x * self.per_channel(alpha)), alpha

    def per_channel(self, alpha: torch.Tensor) -> torch.Tensor:
        """The coefficients ``(B, heads, *S)`` broadcastable over ``x``'s ``C`` channels."""
        return alpha if self.heads == 1 else alpha.repeat_interleave(self.in_channels // self.heads, dim=1)

    @torch.jit.unused
    def forward_inplace(self, x: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`forward` without autograd, gating ``x`` in place (no second full-size tensor); ``x`` must not
        be needed afterwards."""
        if torch.is_grad_enabled():
            raise RuntimeError("AttentionGate.forward_inplace works in place: call it with autograd off")
        alpha = self.attention(x, g)
        return self.out_transform(x.mul_(self.per_channel(alpha).to(x.dtype))), alpha
