"""The kernels' API (ops/cuda/binding.cpp) computed by the reference ops: what any kernels module must equal.

The self-check compares a kernels module call by call against this one, with the very arguments the
dispatch passed while rendering (filters already flipped into correlation order, four paddings, clamp < 0
for none, an empty bias for none), so a disagreement names the op and its arguments. It runs on any torch
device, which makes it the yardstick for the CUDA kernels and for kernels built for the CPU alike.
"""

from __future__ import annotations

import torch

from stylegan3.ops.bias_act import bias_act_ref
from stylegan3.ops.filtered_lrelu import filtered_lrelu_ref
from stylegan3.ops.upfirdn2d import upfirdn2d_ref

OPS = ("upfirdn2d", "bias_act", "filtered_lrelu")


def _bias(b: torch.Tensor, x: torch.Tensor) -> torch.Tensor | None:
    return b.to(x.dtype) if b.numel() else None


class ReferenceKernels:
    """upfirdn2d / bias_act / filtered_lrelu with the binding's signatures (plain correlation filters)."""

    def upfirdn2d(self, x, f, upx, upy, downx, downy, padx0, padx1, pady0, pady1, gain) -> torch.Tensor:
        return upfirdn2d_ref(
            x, f.to(x.device), up=(upx, upy), down=(downx, downy), padding=[padx0, padx1, pady0, pady1],
            flip_filter=True, gain=gain,
        )

    def bias_act(self, x, b, dim, act, alpha, gain, clamp) -> torch.Tensor:
        clamp = None if clamp < 0 else clamp
        return bias_act_ref(x, _bias(b, x), dim=dim, act=act, alpha=alpha, gain=gain, clamp=clamp)

    def filtered_lrelu(self, x, fu, fd, b, up, down, padx0, padx1, pady0, pady1, gain, slope, clamp) -> torch.Tensor:
        return filtered_lrelu_ref(
            x, fu.to(x.device), fd.to(x.device), _bias(b, x), up, down, [padx0, padx1, pady0, pady1], gain, slope,
            None if clamp < 0 else clamp, True,
        )
