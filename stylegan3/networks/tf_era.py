"""Building blocks shared by the TensorFlow-era generators (StyleGAN v1, Progressive GAN).

Both papers use the equalized learning rate: weights are stored with unit variance and scaled at run
time by `gain / sqrt(fan_in)` (times a learning-rate multiplier for StyleGAN's mapping), so the stored
tensors are what the files hold and the scale is recomputed from the shape. Layouts are PyTorch's
(`[out, in]`, `[out, in, kh, kw]`); the loaders transpose TF's once when reading.

Resampling is the TF code's: nearest-neighbour up-sampling (`tile`), and the "fused" up-sampling
convolution, a stride-2 transposed convolution of the 3x3 kernel summed over its four 2x2 shifts (a 4x4
kernel), which equals nearest up-sampling followed by the 3x3 convolution.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

SQRT2 = math.sqrt(2.0)
ACTIVATIONS = ("lrelu", "relu")


def activate(x: torch.Tensor, name: str) -> torch.Tensor:
    """TF-era activations carry no gain (the gain lives in the weight scale): max(x, 0.2 x) or max(x, 0)."""
    return F.leaky_relu(x, 0.2) if name == "lrelu" else F.relu(x)


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Normalise each feature vector (dim 1) to unit mean square."""
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + eps)


def upscale_nearest(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Nearest-neighbour up-sampling by an integer factor (TF's reshape + tile)."""
    if factor == 1:
        return x
    return x.repeat_interleave(factor, dim=2).repeat_interleave(factor, dim=3)


def weight_scale(fan_in: int, gain: float, use_wscale: bool, lrmul: float = 1.0) -> float:
    """The run-time factor of a stored weight: He's std times lrmul when equalized, else lrmul alone."""
    return gain / math.sqrt(fan_in) * lrmul if use_wscale else lrmul


def fused_up_kernel(w: torch.Tensor) -> torch.Tensor:
    """[out, in, k, k] -> the [in, out, k+1, k+1] kernel of the equivalent stride-2 transposed convolution.

    The 3x3 kernel padded by one and summed over its four one-pixel shifts: each output pixel of nearest
    up-sampling + convolution sees 2x2 copies of one input pixel per tap, which the sum folds together."""
    p = F.pad(w, [1, 1, 1, 1])
    summed = p[:, :, 1:, 1:] + p[:, :, :-1, 1:] + p[:, :, 1:, :-1] + p[:, :, :-1, :-1]
    return summed.transpose(0, 1)


def up_conv(x: torch.Tensor, w: torch.Tensor, fused: bool) -> torch.Tensor:
    """2x up-sampling followed by a 'same' 3x3 convolution (w scaled already, [out, in, 3, 3])."""
    if fused:
        return F.conv_transpose2d(x, fused_up_kernel(w), stride=2, padding=(w.shape[-1] - 1) // 2)
    return F.conv2d(upscale_nearest(x, 2), w, padding=w.shape[-1] // 2)


class EqualizedConv(torch.nn.Module):
    """A bias-free convolution weight with the equalized-learning-rate scale (bias kept by the caller's layer)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, gain: float, use_wscale: bool) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.scale = weight_scale(in_channels * kernel * kernel, gain, use_wscale)

    def scaled(self) -> torch.Tensor:
        return self.weight * self.scale


class ToRGB(torch.nn.Module):
    """1x1 convolution to image channels (gain 1) plus bias: TF's `ToRGB_lod{k}`, the same in ProGAN and StyleGAN.

    The weight follows the input's dtype, so a half-precision pass works; in fp32 the cast is a no-op.
    """

    def __init__(self, in_channels: int, img_channels: int, resolution: int, tf_name: str, use_wscale: bool) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, img_channels
        self.resolution, self.tf_name = resolution, tf_name
        self.conv = EqualizedConv(in_channels, img_channels, 1, 1.0, use_wscale)
        self.bias = torch.nn.Parameter(torch.zeros([img_channels]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.conv.scaled().to(x.dtype)) + self.bias.view(1, -1, 1, 1)


def blur_kernel(taps: list[float] | None, channels: int) -> torch.Tensor | None:
    """StyleGAN's normalized separable low-pass filter as a depthwise kernel [C, 1, k, k], or None."""
    if not taps:
        return None
    f = torch.tensor(taps, dtype=torch.float32)
    f2 = f[:, None] * f[None, :]
    f2 = f2 / f2.sum()
    return f2[None, None].repeat(channels, 1, 1, 1)


def blur(x: torch.Tensor, kernel: torch.Tensor | None) -> torch.Tensor:
    """Depthwise 'same' filtering (an odd symmetric kernel, as TF's depthwise_conv2d with SAME padding)."""
    if kernel is None:
        return x
    k = kernel.shape[-1]
    pad0, pad1 = (k - 1) // 2, k // 2
    x = F.pad(x, [pad0, pad1, pad0, pad1])
    return F.conv2d(x, kernel.to(dtype=x.dtype), groups=x.shape[1])


def faded_output(images: dict[int, torch.Tensor], resolution: int, lod: float) -> torch.Tensor:
    """The output of a progressively grown network at level of detail `lod` (0 = the final resolution).

    `images[res]` is ToRGB at `res`; TF draws level r = log2(resolution) - floor(lod), blended with the level
    below it by the fractional part (lerp towards the nearest-upscaled coarser image), nearest-upscaled to the
    full size."""
    log2 = int(math.log2(resolution))
    whole = math.floor(lod)
    frac = lod - whole
    res = 2 ** (log2 - whole)
    img = images[res]
    if frac > 0:
        coarse = upscale_nearest(images[res // 2], 2)
        img = img + (coarse - img) * frac
    return upscale_nearest(img, 2**whole)


def needed_rgb_levels(resolution: int, lod: float) -> tuple[int, ...]:
    """Resolutions whose ToRGB layers the output at `lod` reads (one, or two while fading)."""
    log2 = int(math.log2(resolution))
    whole = math.floor(lod)
    res = 2 ** (log2 - whole)
    return (res // 2, res) if lod - whole > 0 else (res,)


def check_synthesis_args(img_resolution: int, channels: list[int], activation: str, lod: float) -> int:
    """Validate what every TF-era synthesis network (ProGAN, StyleGAN v1) takes and return log2(img_resolution).

    Both lineages grow from 4x4 by doubling, list one channel count per level and fade between levels by `lod`,
    so the same arguments are wrong in the same ways; one check keeps their messages identical.
    """
    log2 = int(math.log2(img_resolution))
    if img_resolution != 2**log2 or img_resolution < 4:
        raise ValueError(f"img_resolution must be a power of two >= 4, got {img_resolution}")
    if len(channels) != log2 - 1:
        raise ValueError(f"channels must list {log2 - 1} counts (4x4 to {img_resolution}x{img_resolution})")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    if not 0 <= lod <= log2 - 2:
        raise ValueError(f"lod must be within 0..{log2 - 2}, got {lod}")
    return log2
