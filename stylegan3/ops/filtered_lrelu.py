"""filtered_lrelu: StyleGAN3's alias-suppressing nonlinearity.

bias -> upsample (zero insertion + low-pass `fu`) -> leaky ReLU * gain -> clamp -> low-pass `fd` and
downsample. Running the nonlinearity at a higher sampling rate and filtering afterwards is what keeps
the new high frequencies it creates from aliasing (StyleGAN3 paper, section 3.2).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from stylegan3.ops import autograd, backend
from stylegan3.ops.bias_act import bias_act_ref
from stylegan3.ops.upfirdn2d import _cuda_filter, filter_size, parse_padding, upfirdn2d_ref


def output_size(
    in_size: tuple[int, int], fu: torch.Tensor | None, fd: torch.Tensor | None, up: int, down: int, padding
) -> tuple[int, int]:
    """(width, height) produced for an input of (width, height)."""
    fu_w, fu_h = filter_size(fu)
    fd_w, fd_h = filter_size(fd)
    px0, px1, py0, py1 = parse_padding(padding)
    w, h = in_size
    out_w = (w * up + px0 + px1 - (fu_w - 1) - (fd_w - 1) + (down - 1)) // down
    out_h = (h * up + py0 + py1 - (fu_h - 1) - (fd_h - 1) + (down - 1)) // down
    return out_w, out_h


def filtered_lrelu_ref(
    x: torch.Tensor,
    fu: torch.Tensor | None = None,
    fd: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int | Sequence[int] = 0,
    gain: float = float(np.sqrt(2)),
    slope: float = 0.2,
    clamp: float | None = None,
    flip_filter: bool = False,
) -> torch.Tensor:
    """Reference implementation built from the reference upfirdn2d and bias_act."""
    if b is not None:
        x = bias_act_ref(x, b)
    x = upfirdn2d_ref(x, fu, up=up, padding=parse_padding(padding), gain=up**2, flip_filter=flip_filter)
    x = bias_act_ref(x, act="lrelu", alpha=slope, gain=gain, clamp=clamp)
    return upfirdn2d_ref(x, fd, down=down, flip_filter=flip_filter)


def filtered_lrelu(
    x: torch.Tensor,
    fu: torch.Tensor | None = None,
    fd: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int | Sequence[int] = 0,
    gain: float = float(np.sqrt(2)),
    slope: float = 0.2,
    clamp: float | None = None,
    flip_filter: bool = False,
) -> torch.Tensor:
    """Dispatching entry point: the fused kernel where the kernels serve (under autograd: the kernels' gradient
    path, `stylegan3.ops.autograd`), else the reference."""
    kernels = backend.kernels_for(x, "filtered_lrelu", b)
    if kernels is not None:
        px0, px1, py0, py1 = parse_padding(padding)
        bias = b.to(x.dtype).contiguous() if b is not None else x.new_empty([0])
        return autograd.run(
            kernels,
            "filtered_lrelu",
            x.contiguous(),
            _cuda_filter(fu, x, flip_filter),
            _cuda_filter(fd, x, flip_filter),
            bias,
            int(up),
            int(down),
            px0,
            px1,
            py0,
            py1,
            float(gain),
            float(slope),
            -1.0 if clamp is None else float(clamp),
        )
    return filtered_lrelu_ref(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter)
