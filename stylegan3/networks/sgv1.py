"""StyleGAN (v1) generator, written from the paper and the equations of NVlabs/stylegan's TF graph.

Karras et al., "A Style-Based Generator Architecture for Generative Adversarial Networks", CVPR 2019.
Mapping: optional label embedding concatenated to z, pixel norm, `num_layers` dense layers with a
learning-rate multiplier, W broadcast to every layer; truncation towards `w_avg` on the first
`truncation_cutoff` layers. Synthesis: a learned 4x4 constant, then per resolution an up-sampling
convolution (fused transposed convolution from 128x128 on, as the TF default decides) followed by a
blur, and a 3x3 convolution; every layer ends with noise, bias, activation, instance norm and AdaIN style
modulation (`x * (1 + s) + b`). The image is the final level's ToRGB, or a blend of two levels for a
network saved during progressive growing (`lod` > 0), as TF draws it.

Module names keep the TF scopes visible: `synthesis.b4.input` is `4x4/Const`, `synthesis.b8.conv0` is
`8x8/Conv0_up`, `synthesis.b8.torgb` is `ToRGB_lod{L-3}` (`tf_name` on every layer module).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import torch

from stylegan3.documents.request import NOISE_MODES
from stylegan3.networks.cancel import RenderCancelled, ShouldStop
from stylegan3.networks.common import capture_set
from stylegan3.networks.tf_era import (
    ACTIVATIONS,
    SQRT2,
    EqualizedConv,
    ToRGB,
    activate,
    blur,
    blur_kernel,
    check_synthesis_args,
    faded_output,
    needed_rgb_levels,
    pixel_norm,
    up_conv,
    weight_scale,
)


def instance_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    x = x - x.mean(dim=[2, 3], keepdim=True)
    return x * torch.rsqrt(x.square().mean(dim=[2, 3], keepdim=True) + eps)


class MappingNetwork(torch.nn.Module):
    """z (+ label) -> W broadcast to `num_ws` layers, with truncation towards `w_avg`."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: int, num_layers: int = 8,
                 layer_features: int = 512, lr_multiplier: float = 0.01, activation: str = "lrelu",
                 normalize_latents: bool = True, use_wscale: bool = True, truncation_cutoff: int | None = 8) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        self.num_layers, self.activation, self.lr_multiplier = num_layers, activation, lr_multiplier
        self.normalize_latents, self.use_wscale = normalize_latents, use_wscale
        self.truncation_cutoff = truncation_cutoff
        if c_dim > 0:  # LabelConcat: labels @ [c_dim, z_dim], no scaling, concatenated to z
            self.embed = torch.nn.Parameter(torch.randn(z_dim, c_dim))
        features = [z_dim + (z_dim if c_dim > 0 else 0)] + [layer_features] * (num_layers - 1) + [w_dim]
        for i in range(num_layers):
            fc = torch.nn.Linear(features[i], features[i + 1])
            fc.tf_name = f"mapping/Dense{i}"
            setattr(self, f"fc{i}", fc)
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1,
                truncation_cutoff: int | None = None) -> torch.Tensor:
        x = z.to(torch.float32)
        if self.c_dim > 0:
            if c is None or c.shape[-1] != self.c_dim:
                raise ValueError(f"this network is conditional: c must be [N, {self.c_dim}]")
            x = torch.cat([x, c.to(torch.float32) @ self.embed.t()], dim=1)
        if self.normalize_latents:
            x = pixel_norm(x)
        for i in range(self.num_layers):
            fc = getattr(self, f"fc{i}")
            scale = weight_scale(fc.in_features, SQRT2, self.use_wscale, self.lr_multiplier)
            x = activate(x @ (fc.weight * scale).t() + fc.bias * self.lr_multiplier, self.activation)
        ws = x[:, None].repeat(1, self.num_ws, 1)
        if truncation_psi != 1:
            cutoff = self.truncation_cutoff if truncation_cutoff is None else truncation_cutoff
            layers = self.num_ws if cutoff is None else max(0, min(int(cutoff), self.num_ws))
            avg = self.w_avg.to(ws.dtype)
            ws = ws.clone()
            ws[:, :layers] = avg + (ws[:, :layers] - avg) * truncation_psi
        return ws


class StyleLayer(torch.nn.Module):
    """One synthesis layer: [convolution], [blur], then the epilogue (noise, bias, act, norms, AdaIN)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, tf_name: str, *,
                 kernel: int | None, const_input: bool = False, up: bool = False, fused: bool = False,
                 blur_taps: list[float] | None = None,
                 use_noise: bool = True, activation: str = "lrelu", use_pixel_norm: bool = False,
                 use_instance_norm: bool = True, use_wscale: bool = True) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.resolution, self.tf_name = resolution, tf_name
        self.up, self.fused, self.activation = up, fused, activation
        self.use_noise, self.use_pixel_norm, self.use_instance_norm = use_noise, use_pixel_norm, use_instance_norm
        self.conv = EqualizedConv(in_channels, out_channels, kernel, SQRT2, use_wscale) if kernel else None
        if const_input:  # TF's 4x4/Const/const: the learned input, a layer without a convolution
            self.const = torch.nn.Parameter(torch.ones([out_channels, resolution, resolution]))
        blur_f = blur_kernel(blur_taps, out_channels) if up else None
        if blur_f is not None:
            self.register_buffer("blur_filter", blur_f, persistent=False)  # derived from blur_filter settings
        else:
            self.blur_filter = None
        if use_noise:
            self.noise_strength = torch.nn.Parameter(torch.zeros([out_channels]))
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels]))
        self.style = torch.nn.Linear(w_dim, 2 * out_channels)
        self.style_scale = weight_scale(w_dim, 1.0, use_wscale)

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const",
                noise_generator: torch.Generator | None = None) -> torch.Tensor:
        if self.conv is not None:
            weight = self.conv.scaled().to(x.dtype)
            if self.up:
                x = up_conv(x, weight, self.fused)
            else:
                x = torch.nn.functional.conv2d(x, weight, padding=weight.shape[-1] // 2)
            x = blur(x, self.blur_filter)
        if self.use_noise and noise_mode != "none":
            if noise_mode == "const":
                noise = self.noise_const[None, None]
            else:
                shape = [x.shape[0], 1, x.shape[2], x.shape[3]]
                noise = torch.randn(shape, generator=noise_generator, device=x.device)
            x = x + noise.to(x.dtype) * self.noise_strength.view(1, -1, 1, 1)
        x = activate(x + self.bias.view(1, -1, 1, 1), self.activation)
        if self.use_pixel_norm:
            x = pixel_norm(x)
        if self.use_instance_norm:
            x = instance_norm(x)
        style = w @ (self.style.weight * self.style_scale).t() + self.style.bias
        scale, shift = style[:, : self.out_channels], style[:, self.out_channels :]
        return x * (scale[:, :, None, None] + 1) + shift[:, :, None, None]


class Block(torch.nn.Module):
    """The layers of one resolution (4x4: const + conv; above: conv0 (up) + conv1), plus its ToRGB if read."""

    def __init__(self, resolution: int, in_channels: int, out_channels: int, w_dim: int, img_channels: int,
                 tf_lod: int, with_rgb: bool, fused: bool, layer_kwargs: dict[str, Any]) -> None:
        super().__init__()
        self.resolution = resolution
        scope = f"{resolution}x{resolution}"
        if resolution == 4:
            self.input = StyleLayer(out_channels, out_channels, w_dim, 4, f"{scope}/Const", kernel=None,
                                    const_input=True, **layer_kwargs)
            self.conv1 = StyleLayer(out_channels, out_channels, w_dim, 4, f"{scope}/Conv", kernel=3, **layer_kwargs)
        else:
            self.conv0 = StyleLayer(in_channels, out_channels, w_dim, resolution, f"{scope}/Conv0_up", kernel=3,
                                    up=True, fused=fused, **layer_kwargs)
            self.conv1 = StyleLayer(out_channels, out_channels, w_dim, resolution, f"{scope}/Conv1", kernel=3,
                                    **layer_kwargs)
        if with_rgb:
            self.torgb = ToRGB(out_channels, img_channels, resolution, f"ToRGB_lod{tf_lod}",
                               layer_kwargs["use_wscale"])

    def layer_modules(self) -> list[tuple[str, torch.nn.Module]]:
        names = ["input", "conv1"] if self.resolution == 4 else ["conv0", "conv1"]
        return [(n, getattr(self, n)) for n in names] + ([("torgb", self.torgb)] if hasattr(self, "torgb") else [])


class SynthesisNetwork(torch.nn.Module):
    """ws [N, num_ws, w_dim] -> image; two ws per resolution (layer index = TF's)."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, channels: list[int],
                 fused_min_res: int | None = 128, blur_filter: list[float] | None = (1, 2, 1), use_noise: bool = True,
                 activation: str = "lrelu", use_pixel_norm: bool = False, use_instance_norm: bool = True,
                 use_wscale: bool = True, lod: float = 0.0) -> None:
        super().__init__()
        log2 = check_synthesis_args(img_resolution, channels, activation, lod)
        self.w_dim, self.img_resolution, self.img_channels, self.lod = w_dim, img_resolution, img_channels, float(lod)
        self.num_ws = 2 * log2 - 2
        self.block_resolutions = [2**i for i in range(2, log2 + 1)]
        rgb = needed_rgb_levels(img_resolution, self.lod)
        self.rgb_resolutions = rgb
        layer_kwargs = dict(blur_taps=list(blur_filter) if blur_filter else None, use_noise=use_noise,
                            activation=activation, use_pixel_norm=use_pixel_norm,
                            use_instance_norm=use_instance_norm, use_wscale=use_wscale)
        for i, res in enumerate(self.block_resolutions):
            if res > rgb[-1]:
                break  # levels above the one drawn do not take part (a snapshot saved mid-growth)
            fused = fused_min_res is not None and res >= fused_min_res
            block = Block(res, channels[max(i - 1, 0)], channels[i], w_dim, img_channels, log2 - i - 2,
                          res in rgb, fused, layer_kwargs)
            setattr(self, f"b{res}", block)

    def layer_modules(self) -> list[tuple[str, torch.nn.Module]]:
        """(name below G.synthesis, module) of every inspectable layer, in order."""
        out = []
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}", None)
            if block is not None:
                out += [(f"b{res}.{name}", module) for name, module in block.layer_modules()]
        return out

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", force_fp32: bool = False,
                noise_generator: torch.Generator | None = None, transform: Any = None, *,
                should_stop: ShouldStop | None = None, capture: Collection[str] | None = None,
                ) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Image [N, C, H, W]; `should_stop` and `capture` are per call, as for the other families
        (`stylegan3.networks.cancel`, `capture_layers`)."""
        del force_fp32  # always float32: the TF-era nets were trained and released in float32
        if transform is not None:
            raise ValueError("StyleGAN (v1) has no input transform: translation and rotation need StyleGAN3")
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ValueError(f"ws must be [N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")
        ws = ws.to(torch.float32)
        wanted = capture_set(capture, [name for name, _ in self.layer_modules()]) if capture else frozenset()
        kept: dict[str, torch.Tensor] = {}

        def keep(name: str, out: torch.Tensor) -> torch.Tensor:
            if name in wanted:
                kept[name] = out
            return out

        kwargs = dict(noise_mode=noise_mode, noise_generator=noise_generator)
        images: dict[int, torch.Tensor] = {}
        x = None
        for i, res in enumerate(self.block_resolutions):
            block = getattr(self, f"b{res}", None)
            if block is None:
                break
            if should_stop is not None and should_stop():
                raise RenderCancelled()
            if res == 4:
                x = block.input.const[None].repeat(ws.shape[0], 1, 1, 1)
                x = keep(f"b{res}.input", block.input(x, ws[:, 0], **kwargs))
            else:
                x = keep(f"b{res}.conv0", block.conv0(x, ws[:, 2 * i], **kwargs))
            x = keep(f"b{res}.conv1", block.conv1(x, ws[:, 2 * i + 1], **kwargs))
            if res in self.rgb_resolutions:
                images[res] = keep(f"b{res}.torgb", block.torgb(x))
        img = faded_output(images, self.img_resolution, self.lod)
        return img if capture is None else (img, {name: kept[name] for name in capture})


class Generator(torch.nn.Module):
    """StyleGAN (v1): `G(z, c, truncation_psi, truncation_cutoff, noise_mode, force_fp32)`, plus mapping/synthesis.

    `truncation_cutoff=None` means this network's default (the file's `truncation_cutoff`, else G_style's 8
    layers), as TF's G_style applies it."""

    kind = "sgv1"

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, img_resolution: int, img_channels: int,
                 mapping_kwargs: dict | None = None, **synthesis_kwargs: Any) -> None:
        super().__init__()
        mapping_kwargs = dict(mapping_kwargs or {})
        self.init_kwargs = dict(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=img_resolution,
                                img_channels=img_channels, mapping_kwargs=mapping_kwargs, **synthesis_kwargs)
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.synthesis = SynthesisNetwork(w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels,
                                          **synthesis_kwargs)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, num_ws=self.num_ws, **mapping_kwargs)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1,
                truncation_cutoff: int | None = None, noise_mode: str = "const", force_fp32: bool = False,
                **synthesis_kwargs: Any) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode, force_fp32=force_fp32, **synthesis_kwargs)
