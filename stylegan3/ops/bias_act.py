"""bias_act: add a per-channel bias, apply an activation, scale by a gain, clamp.

The order (bias, activation, gain, clamp) and each activation's default gain match the official op,
because trained weights were fitted to exactly this sequence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from stylegan3.ops import autograd, backend


@dataclass(frozen=True)
class Activation:
    name: str
    default_alpha: float
    default_gain: float


ACTIVATIONS: dict[str, Activation] = {
    "linear": Activation("linear", 0.0, 1.0),
    "relu": Activation("relu", 0.0, math.sqrt(2)),
    "lrelu": Activation("lrelu", 0.2, math.sqrt(2)),
}


def _apply(x: torch.Tensor, act: str, alpha: float) -> torch.Tensor:
    if act == "linear":
        return x
    if act == "relu":
        return F.relu(x)
    if act == "lrelu":
        return F.leaky_relu(x, alpha)
    raise ValueError(f"unsupported activation {act!r}")


def bias_act_ref(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    dim: int = 1,
    act: str = "linear",
    alpha: float | None = None,
    gain: float | None = None,
    clamp: float | None = None,
) -> torch.Tensor:
    """Reference implementation with plain PyTorch ops."""
    spec = ACTIVATIONS[act]
    alpha = spec.default_alpha if alpha is None else float(alpha)
    gain = spec.default_gain if gain is None else float(gain)
    clamp = -1.0 if clamp is None else float(clamp)
    if b is not None:
        shape = [-1 if i == dim else 1 for i in range(x.ndim)]
        x = x + b.reshape(shape)
    x = _apply(x, act, alpha)
    if gain != 1:
        x = x * gain
    if clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    dim: int = 1,
    act: str = "linear",
    alpha: float | None = None,
    gain: float | None = None,
    clamp: float | None = None,
) -> torch.Tensor:
    """Dispatching entry point: the kernels (with their gradient under autograd) where they serve, else reference."""
    kernels = backend.kernels_for(x, "bias_act", b)
    if kernels is not None:
        spec = ACTIVATIONS[act]
        bias = b.to(x.dtype).contiguous() if b is not None else x.new_empty([0])
        return autograd.run(
            kernels,
            "bias_act",
            x.contiguous(),
            bias,
            dim,
            act,
            spec.default_alpha if alpha is None else float(alpha),
            spec.default_gain if gain is None else float(gain),
            -1.0 if clamp is None else float(clamp),
        )
    return bias_act_ref(x, b, dim=dim, act=act, alpha=alpha, gain=gain, clamp=clamp)
