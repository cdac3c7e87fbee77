"""upfirdn2d: upsample by zero insertion, pad (negative = crop), FIR filter, downsample.

Semantics follow the official op so stored filters and padding conventions carry over unchanged:
the filter is applied as a true convolution (flipped) unless `flip_filter`, a 1-D filter is applied
separably along x then y, and `gain` multiplies the filter as gain**(ndim/2) per pass so the total
gain of a 2-D or separable filter is `gain`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from stylegan3.ops import autograd, backend
from stylegan3.ops.derived import DerivedCache


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    a, b = value
    return int(a), int(b)


def parse_padding(padding: int | Sequence[int]) -> tuple[int, int, int, int]:
    """Padding as (x0, x1, y0, y1) from an int, (px, py) or (x0, x1, y0, y1)."""
    if isinstance(padding, int):
        return padding, padding, padding, padding
    padding = [int(p) for p in padding]
    if len(padding) == 2:
        px, py = padding
        return px, px, py, py
    x0, x1, y0, y1 = padding
    return x0, x1, y0, y1


def filter_size(f: torch.Tensor | None) -> tuple[int, int]:
    """(width, height) of a 1-D or 2-D filter; (1, 1) for None."""
    if f is None:
        return 1, 1
    if f.ndim == 1:
        return int(f.shape[0]), int(f.shape[0])
    return int(f.shape[-1]), int(f.shape[-2])


def setup_filter(
    f: Sequence[float] | np.ndarray | torch.Tensor | None,
    device: torch.device | str = "cpu",
    normalize: bool = True,
    flip_filter: bool = False,
    gain: float = 1.0,
    separable: bool | None = None,
) -> torch.Tensor:
    """Filter tensor in the layout upfirdn2d expects (used when we build networks ourselves)."""
    if f is None:
        f = 1
    f = torch.as_tensor(f, dtype=torch.float32)
    if f.ndim == 0:
        f = f[np.newaxis]
    if separable is None:
        separable = f.ndim == 1 and f.numel() >= 8
    if f.ndim == 1 and not separable:
        f = f.ger(f)
    if normalize:
        f = f / f.sum()
    if flip_filter:
        f = f.flip(list(range(f.ndim)))
    f = f * (gain ** (f.ndim / 2))
    return f.to(device=device)


def upfirdn2d_ref(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: int | Sequence[int] = 1,
    down: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    flip_filter: bool = False,
    gain: float = 1.0,
) -> torch.Tensor:
    """Reference implementation with plain PyTorch ops (any device, any float dtype).

    Defined as zero insertion, pad/crop, convolution with f and decimation, but computed without
    the wasted work: upsampling is a strided transposed convolution (it never multiplies the
    inserted zeros) and downsampling a strided convolution (it never computes dropped samples).
    """
    if f is None:
        f = torch.ones([1, 1], dtype=torch.float32, device=x.device)
    upx, upy = _pair(up)
    downx, downy = _pair(down)
    padx0, padx1, pady0, pady1 = parse_padding(padding)
    n, c, h, w = x.shape
    f = (f * (gain ** (f.ndim / 2))).to(x.dtype)

    if upx > 1 or upy > 1:
        # Transposed convolution *convolves*; correlation with the flipped filter is convolution with f.
        kernel = f.flip(list(range(f.ndim))) if flip_filter else f
        out_w = w * upx + padx0 + padx1 - (f.shape[-1] - 1)
        out_h = h * upy + pady0 + pady1 - (f.shape[0] - 1)
        if f.ndim == 2:
            x = F.conv_transpose2d(x, kernel[None, None].repeat([c, 1, 1, 1]), stride=(upy, upx), groups=c)
        else:
            k = kernel[None, None].repeat([c, 1, 1])
            x = F.conv_transpose2d(x, k.unsqueeze(2), stride=(1, upx), groups=c)
            x = F.conv_transpose2d(x, k.unsqueeze(3), stride=(upy, 1), groups=c)
        # Sample o of the padded-then-filtered signal is sample o + K - 1 - pad0 of the full convolution.
        kw, kh = f.shape[-1], f.shape[0]
        left, top = padx0 - (kw - 1), pady0 - (kh - 1)
        x = F.pad(x, [left, out_w - (x.shape[3] + left), top, out_h - (x.shape[2] + top)])
        return x[:, :, ::downy, ::downx]

    # Positive padding adds zeros, negative padding crops.
    x = F.pad(x, [max(padx0, 0), max(padx1, 0), max(pady0, 0), max(pady1, 0)])
    x = x[:, :, max(-pady0, 0) : x.shape[2] - max(-pady1, 0), max(-padx0, 0) : x.shape[3] - max(-padx1, 0)]

    # conv2d correlates, so flip the filter to convolve unless the caller asked otherwise.
    if not flip_filter:
        f = f.flip(list(range(f.ndim)))
    if f.ndim == 2:
        return F.conv2d(x, f[None, None].repeat([c, 1, 1, 1]), stride=(downy, downx), groups=c)
    weight = f[None, None].repeat([c, 1, 1])
    x = F.conv2d(x, weight.unsqueeze(2), stride=(1, downx), groups=c)
    return F.conv2d(x, weight.unsqueeze(3), stride=(downy, 1), groups=c)


_FILTERS: DerivedCache[torch.Tensor] = DerivedCache()
_IDENTITY: dict[torch.device, torch.Tensor] = {}


def _cuda_filter(f: torch.Tensor | None, x: torch.Tensor, flip_filter: bool) -> torch.Tensor:
    """Correlation-ready float32 filter for the kernels (they never flip): 1-D stays 1-D (separable).

    Prepared filters are cached per source tensor, so a frame does not rebuild them layer by layer.
    """
    if f is None:
        # One identity filter per device: a fresh host tensor per call would mean a host->device copy
        # every frame (and one that a CUDA graph capture refuses).
        ones = _IDENTITY.get(x.device)
        if ones is None:
            ones = _IDENTITY[x.device] = torch.ones([1, 1], dtype=torch.float32, device=x.device)
        return ones

    def prepare() -> torch.Tensor:
        g = f.to(device=x.device, dtype=torch.float32)
        return (g if flip_filter else g.flip(list(range(g.ndim)))).contiguous()

    return _FILTERS.get(f, (str(x.device), flip_filter), prepare)


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: int | Sequence[int] = 1,
    down: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    flip_filter: bool = False,
    gain: float = 1.0,
) -> torch.Tensor:
    """Dispatching entry point: the kernels (with their gradient under autograd) where they serve, else reference."""
    kernels = backend.kernels_for(x, "upfirdn2d")
    if kernels is not None:
        upx, upy = _pair(up)
        downx, downy = _pair(down)
        px0, px1, py0, py1 = parse_padding(padding)
        # The kernels apply `gain` once in total, for 1-D (separable) and 2-D filters alike.
        f_c, g = _cuda_filter(f, x, flip_filter), float(gain)
        return autograd.run(kernels, "upfirdn2d", x.contiguous(), f_c, upx, upy, downx, downy, px0, px1, py0, py1, g)
    return upfirdn2d_ref(x, f, up=up, down=down, padding=padding, flip_filter=flip_filter, gain=gain)


def upsample2d(
    x: torch.Tensor, f: torch.Tensor | None, up: int = 2, padding: int | Sequence[int] = 0, gain: float = 1.0
) -> torch.Tensor:
    """Upsample keeping the image centred: pads so that output size is input size * up."""
    fw, fh = filter_size(f)
    px0, px1, py0, py1 = parse_padding(padding)
    pad = [px0 + (fw + up - 1) // 2, px1 + (fw - up) // 2, py0 + (fh + up - 1) // 2, py1 + (fh - up) // 2]
    return upfirdn2d(x, f, up=up, padding=pad, gain=gain * up * up)


def downsample2d(
    x: torch.Tensor, f: torch.Tensor | None, down: int = 2, padding: int | Sequence[int] = 0, gain: float = 1.0
) -> torch.Tensor:
    """Downsample keeping the image centred: output size is input size / down."""
    fw, fh = filter_size(f)
    px0, px1, py0, py1 = parse_padding(padding)
    pad = [px0 + (fw - down + 1) // 2, px1 + (fw - down) // 2, py0 + (fh - down + 1) // 2, py1 + (fh - down) // 2]
    return upfirdn2d(x, f, down=down, padding=pad, gain=gain)
