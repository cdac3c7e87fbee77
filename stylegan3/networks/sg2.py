"""StyleGAN2 generator (architectures 'orig', 'skip', 'resnet'), written from the paper.

Karras et al., "Analyzing and Improving the Image Quality of StyleGAN", CVPR 2020, in the PyTorch
layout of ADA / StyleGAN3 releases: module tree, tensor names and constructor arguments match, so
official state dicts load unchanged.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from stylegan3.networks.cancel import RenderCancelled, ShouldStop
from stylegan3.networks.common import FullyConnectedLayer, GeneratorBase, capture_set, modulate_weights
from stylegan3.networks.modconv import factored_applies, plain_demodulation
from stylegan3.ops import bias_act, setup_filter, upfirdn2d, upsample2d
from stylegan3.ops.upfirdn2d import filter_size

LRELU_GAIN = float(np.sqrt(2))


def conv2d_resample(
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor | None = None,
    up: int = 1,
    padding: int = 0,
    groups: int = 1,
    flip_weight: bool = True,
) -> torch.Tensor:
    """2-D convolution, optionally preceded by 2x upsampling with the low-pass filter `f`.

    Upsampling is done as a strided transposed convolution followed by the filter, which is the
    same linear map as zero-insertion + filter + convolution but cheaper. Only the cases the
    generator uses are implemented (no downsampling: that belongs to the discriminator).
    """
    out_channels, in_per_group, kh, kw = w.shape
    if up == 1:
        if not flip_weight and (kh > 1 or kw > 1):
            w = w.flip([2, 3])
        return F.conv2d(x, w, padding=padding, groups=groups)

    fw, fh = filter_size(f)
    px0 = padding + (fw + up - 1) // 2 - (kw - 1)
    px1 = padding + (fw - up) // 2 - (kw - up)
    py0 = padding + (fh + up - 1) // 2 - (kh - 1)
    py1 = padding + (fh - up) // 2 - (kh - up)
    if kh == 1 and kw == 1:
        # 1x1: convolve at low resolution, then upsample (cheaper, same result).
        x = F.conv2d(x, w, groups=groups)
        return upfirdn2d(x, f, up=up, padding=[px0 + kw - 1, px1 + kw - up, py0 + kh - 1, py1 + kh - up], gain=up**2)
    if groups == 1:
        wt = w.transpose(0, 1)
    else:
        wt = w.reshape(groups, out_channels // groups, in_per_group, kh, kw).transpose(1, 2)
        wt = wt.reshape(groups * in_per_group, out_channels // groups, kh, kw)
    if flip_weight:  # conv_transpose2d convolves; a correlating layer needs flipped taps
        wt = wt.flip([2, 3])
    pxt = max(min(-px0, -px1), 0)
    pyt = max(min(-py0, -py1), 0)
    x = F.conv_transpose2d(x, wt, stride=up, padding=[pyt, pxt], groups=groups)
    return upfirdn2d(x, f, padding=[px0 + pxt, px1 + pxt, py0 + pyt, py1 + pyt], gain=up**2)


class Conv2dLayer(torch.nn.Module):
    """Plain (unmodulated) convolution; the generator uses it only for the resnet skip path."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: str = "linear",
        up: int = 1,
        down: int = 1,
        resample_filter: list[float] | None = None,
        conv_clamp: float | None = None,
        channels_last: bool = False,
        trainable: bool = True,
    ) -> None:
        super().__init__()
        if down != 1:
            raise ValueError("downsampling convolutions are not part of a generator")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.activation = activation
        self.up = up
        self.conv_clamp = conv_clamp
        self.register_buffer("resample_filter", setup_filter(resample_filter or [1, 3, 3, 1]))
        self.padding = kernel_size // 2
        self.weight_gain = 1 / np.sqrt(in_channels * kernel_size**2)
        self.act_gain = {"linear": 1.0, "relu": LRELU_GAIN, "lrelu": LRELU_GAIN}[activation]
        self.weight = torch.nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels])) if bias else None

    def forward(self, x: torch.Tensor, gain: float = 1) -> torch.Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        b = self.bias.to(x.dtype) if self.bias is not None else None
        x = conv2d_resample(x, w, f=self.resample_filter, up=self.up, padding=self.padding, flip_weight=self.up == 1)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, b, act=self.activation, gain=self.act_gain * gain, clamp=clamp)


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    noise: torch.Tensor | None = None,
    up: int = 1,
    padding: int = 0,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
    flip_weight: bool = True,
) -> torch.Tensor:
    """Modulate/demodulate per sample and convolve the whole batch as one grouped convolution; with gradients
    through the frozen weight (projection, drag), in the factored form of `stylegan3.networks.modconv`."""
    batch = x.shape[0]
    in_channels, kh, kw = weight.shape[1:]
    if factored_applies(x, weight, styles):
        x = conv2d_resample(x * styles[:, :, None, None], weight, f=resample_filter, up=up, padding=padding,
                            flip_weight=flip_weight)  # fmt: skip
        if demodulate:
            x = x * plain_demodulation(weight, styles)[:, :, None, None]
        return x if noise is None else x + noise.to(x.dtype)
    if x.dtype == torch.float16 and demodulate:
        # Keep fp16 in range: scale weights and styles to unit max-norm (cancels in demodulation).
        weight = weight * (1 / np.sqrt(in_channels * kh * kw) / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True))
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)
    w = modulate_weights(weight, styles, demodulate=demodulate, prenormalize=False)
    x = x.reshape(1, -1, *x.shape[2:])
    w = w.reshape(-1, in_channels, kh, kw).to(x.dtype)
    x = conv2d_resample(x, w, f=resample_filter, up=up, padding=padding, groups=batch, flip_weight=flip_weight)
    x = x.reshape(batch, -1, *x.shape[2:])
    if noise is not None:
        x = x + noise.to(x.dtype)
    return x


class SynthesisLayer(torch.nn.Module):
    """Modulated 3x3 conv (optionally upsampling), per-pixel noise, bias + leaky ReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        kernel_size: int = 3,
        up: int = 1,
        use_noise: bool = True,
        activation: str = "lrelu",
        resample_filter: list[float] | None = None,
        conv_clamp: float | None = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.w_dim = w_dim
        self.resolution = resolution
        self.up = up
        self.use_noise = use_noise
        self.activation = activation
        self.conv_clamp = conv_clamp
        self.register_buffer("resample_filter", setup_filter(resample_filter or [1, 3, 3, 1]))
        self.padding = kernel_size // 2
        self.act_gain = {"linear": 1.0, "relu": LRELU_GAIN, "lrelu": LRELU_GAIN}[activation]
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = torch.nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = torch.nn.Parameter(torch.zeros([]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels]))

    def forward(
        self,
        x: torch.Tensor,
        w: torch.Tensor,
        noise_mode: str = "random",
        gain: float = 1,
        noise_generator: torch.Generator | None = None,
        **_: Any,
    ) -> torch.Tensor:
        if noise_mode not in ("random", "const", "none"):
            raise ValueError(f"noise_mode must be 'random', 'const' or 'none', not {noise_mode!r}")
        styles = self.affine(w)
        noise = None
        if self.use_noise and noise_mode == "random":
            shape = [x.shape[0], 1, self.resolution, self.resolution]
            if noise_generator is not None:
                rnd = torch.randn(shape, generator=noise_generator, device=noise_generator.device)
            else:
                rnd = torch.randn(shape, device=x.device)
            noise = rnd.to(x.device) * self.noise_strength
        elif self.use_noise and noise_mode == "const":
            noise = self.noise_const * self.noise_strength
        x = modulated_conv2d(
            x,
            self.weight,
            styles,
            noise=noise,
            up=self.up,
            padding=self.padding,
            resample_filter=self.resample_filter,
            flip_weight=self.up == 1,
        )
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias.to(x.dtype), act=self.activation, gain=self.act_gain * gain, clamp=clamp)


class ToRGBLayer(torch.nn.Module):
    """1x1 modulated conv without demodulation: features -> image channels."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        kernel_size: int = 1,
        conv_clamp: float | None = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.w_dim = w_dim
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = torch.nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / np.sqrt(in_channels * kernel_size**2)

    def forward(self, x: torch.Tensor, w: torch.Tensor, **_: Any) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False)
        return bias_act(x, self.bias.to(x.dtype), clamp=self.conv_clamp)


class SynthesisBlock(torch.nn.Module):
    """One resolution: (const input | upsampling conv) + conv, plus ToRGB / skip connections."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        img_channels: int,
        is_last: bool,
        architecture: str = "skip",
        resample_filter: list[float] | None = None,
        conv_clamp: float | None = 256,
        use_fp16: bool = False,
        fp16_channels_last: bool = False,
        fused_modconv_default: bool | str = True,
        **layer_kwargs: Any,
    ) -> None:
        if architecture not in ("orig", "skip", "resnet"):
            raise ValueError(f"unknown StyleGAN2 architecture {architecture!r}")
        super().__init__()
        resample_filter = resample_filter or [1, 3, 3, 1]
        self.in_channels = in_channels
        self.w_dim = w_dim
        self.resolution = resolution
        self.img_channels = img_channels
        self.is_last = is_last
        self.architecture = architecture
        self.use_fp16 = use_fp16
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.num_conv = 0
        self.num_torgb = 0
        if in_channels == 0:
            self.const = torch.nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(
                in_channels, out_channels, w_dim=w_dim, resolution=resolution, up=2,
                resample_filter=resample_filter, conv_clamp=conv_clamp, **layer_kwargs,
            )  # fmt: skip
            self.num_conv += 1
        self.conv1 = SynthesisLayer(
            out_channels, out_channels, w_dim=w_dim, resolution=resolution, conv_clamp=conv_clamp, **layer_kwargs
        )
        self.num_conv += 1
        if is_last or architecture == "skip":
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim=w_dim, conv_clamp=conv_clamp)
            self.num_torgb += 1
        if in_channels != 0 and architecture == "resnet":
            self.skip = Conv2dLayer(
                in_channels, out_channels, kernel_size=1, bias=False, up=2, resample_filter=resample_filter
            )

    def forward(
        self,
        x: torch.Tensor | None,
        img: torch.Tensor | None,
        ws: torch.Tensor,
        force_fp32: bool = False,
        parts: dict[str, torch.Tensor] | None = None,
        **layer_kwargs: Any,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(features, image so far); `parts`, when given, receives this call's conv0 / conv1 / torgb outputs by
        name (the synthesis network's layer capture)."""
        layer_kwargs.pop("fused_modconv", None)
        layer_kwargs.pop("update_emas", None)
        w_iter = iter(ws.unbind(dim=1))
        use_fp16 = self.use_fp16 and not force_fp32 and ws.device.type == "cuda"
        dtype = torch.float16 if use_fp16 else torch.float32
        keep = parts if parts is not None else {}
        if self.in_channels == 0:
            x = self.const.to(dtype).unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
            x = keep["conv1"] = self.conv1(x, next(w_iter), **layer_kwargs)
        elif self.architecture == "resnet":
            x = x.to(dtype)
            y = self.skip(x, gain=np.sqrt(0.5))
            x = keep["conv0"] = self.conv0(x, next(w_iter), **layer_kwargs)
            x = keep["conv1"] = self.conv1(x, next(w_iter), gain=np.sqrt(0.5), **layer_kwargs)
            x = y + x
        else:
            x = x.to(dtype)
            x = keep["conv0"] = self.conv0(x, next(w_iter), **layer_kwargs)
            x = keep["conv1"] = self.conv1(x, next(w_iter), **layer_kwargs)
        if img is not None:
            img = upsample2d(img, self.resample_filter)
        if self.is_last or self.architecture == "skip":
            y = keep["torgb"] = self.torgb(x, next(w_iter))
            y = y.to(torch.float32)
            img = img + y if img is not None else y
        return x, img


class SynthesisNetwork(torch.nn.Module):
    """Blocks b4, b8, ... up to the output resolution; each block takes num_conv (+ torgb) ws."""

    def __init__(
        self,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        channel_base: int = 32768,
        channel_max: int = 512,
        num_fp16_res: int = 4,
        **block_kwargs: Any,
    ) -> None:
        if img_resolution < 4 or img_resolution & (img_resolution - 1):
            raise ValueError(f"StyleGAN2 resolution must be a power of two >= 4, not {img_resolution}")
        super().__init__()
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_resolution_log2 = int(np.log2(img_resolution))
        self.img_channels = img_channels
        self.num_fp16_res = num_fp16_res
        self.block_resolutions = [2**i for i in range(2, self.img_resolution_log2 + 1)]
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        fp16_resolution = max(2 ** (self.img_resolution_log2 + 1 - num_fp16_res), 8)
        self.num_ws = 0
        for res in self.block_resolutions:
            block = SynthesisBlock(
                channels[res // 2] if res > 4 else 0,
                channels[res],
                w_dim=w_dim,
                resolution=res,
                img_channels=img_channels,
                is_last=res == img_resolution,
                use_fp16=res >= fp16_resolution,
                **block_kwargs,
            )
            self.num_ws += block.num_conv
            if res == img_resolution:
                self.num_ws += block.num_torgb
            setattr(self, f"b{res}", block)

    @property
    def layer_names(self) -> list[str]:
        return [f"b{res}" for res in self.block_resolutions]

    @property
    def capturable(self) -> list[str]:
        """What `capture` may name: each block's convolutions and ToRGB (`b64.conv0`, `b64.torgb`, ...)."""
        return [f"b{res}.{part}" for res in self.block_resolutions for part in ("conv0", "conv1", "torgb")
                if hasattr(getattr(self, f"b{res}"), part)]

    def forward(
        self,
        ws: torch.Tensor,
        transform: Any = None,
        *,
        should_stop: ShouldStop | None = None,
        capture: Collection[str] | None = None,
        **block_kwargs: Any,
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Image [N, C, H, W]. Per call, never stored on the module: `should_stop` is asked before each block
        (`RenderCancelled` when it says so); with `capture` (names of `capturable`) the result is
        (image, {name: that layer's output}) in the order asked."""
        if transform is not None:
            raise ValueError("StyleGAN2 has no input transform: translation and rotation need StyleGAN3")
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ValueError(f"ws must be [N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")
        wanted = capture_set(capture, self.capturable) if capture else frozenset()
        ws = ws.to(torch.float32)
        x = img = None
        w_idx = 0
        kept: dict[str, torch.Tensor] = {}
        for res in self.block_resolutions:
            if should_stop is not None and should_stop():
                raise RenderCancelled()
            block = getattr(self, f"b{res}")
            # Consecutive blocks share one w: a block's ToRGB uses the w of the next block's first conv.
            block_ws = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)
            w_idx += block.num_conv
            parts: dict[str, torch.Tensor] | None = {} if wanted else None
            x, img = block(x, img, block_ws, parts=parts, **block_kwargs)
            for part, t in (parts or {}).items():
                if f"b{res}.{part}" in wanted:
                    kept[f"b{res}.{part}"] = t
        return img if capture is None else (img, {name: kept[name] for name in capture})


class Generator(GeneratorBase):
    """StyleGAN2 generator. ADA-era pickles pass synthesis arguments as a `synthesis_kwargs` dict,
    StyleGAN3-era ones as keyword arguments; both are accepted."""

    kind = "sg2"
    synthesis_class = SynthesisNetwork
    default_mapping_layers = 8

    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        mapping_kwargs: dict | None = None,
        synthesis_kwargs: dict | None = None,
        **extra_synthesis_kwargs: Any,
    ) -> None:
        super().__init__(
            z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs,
            **{**(synthesis_kwargs or {}), **extra_synthesis_kwargs},
        )  # fmt: skip
