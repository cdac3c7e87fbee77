"""Progressive GAN generator, written from the paper and the equations of its TF graph (`G_paper`).

Karras et al., "Progressive Growing of GANs for Improved Quality, Stability, and Variation", ICLR 2018.
The latent (and label, concatenated) is pixel-normalised and mapped by a dense layer to a 4x4 feature
map; every resolution up-samples (nearest + 3x3 convolution, or the equivalent fused transposed
convolution `Conv0_up`) and convolves again, each layer followed by bias, leaky ReLU and pixel norm. The
image is the final level's ToRGB (or the TF blend of two levels for a snapshot saved mid-growth).

ProGAN has no intermediate latent space W. To share the Generator API of the other families, `mapping`
is the input stage: it returns TF's network input `concat(z, c)` as `[N, 1, z_dim + c_dim]` ("ws"), and
`synthesis` runs the network on it. Truncation and style mixing therefore do not apply; the family says
so with `Capabilities.w_space = False`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import torch
import torch.nn.functional as F

from stylegan3.networks.cancel import RenderCancelled, ShouldStop
from stylegan3.networks.common import capture_set
from stylegan3.networks.tf_era import (
    SQRT2,
    EqualizedConv,
    ToRGB,
    activate,
    check_synthesis_args,
    faded_output,
    needed_rgb_levels,
    pixel_norm,
    up_conv,
    weight_scale,
)


class InputStage(torch.nn.Module):
    """z, c -> the network input `[N, 1, z_dim + c_dim]`; there is no W, so truncation arguments are ignored."""

    def __init__(self, z_dim: int, c_dim: int) -> None:
        super().__init__()
        self.z_dim, self.c_dim = z_dim, c_dim

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1,
                truncation_cutoff: int | None = None) -> torch.Tensor:
        del truncation_psi, truncation_cutoff  # no W to truncate towards: ProGAN has no mean latent
        x = z.to(torch.float32)
        if self.c_dim > 0:
            if c is None or c.shape[-1] != self.c_dim:
                raise ValueError(f"this network is conditional: c must be [N, {self.c_dim}]")
            x = torch.cat([x, c.to(torch.float32)], dim=1)
        return x[:, None]


class ConvLayer(torch.nn.Module):
    """[up-sampling] 3x3 convolution, bias, activation, pixel norm."""

    def __init__(self, in_channels: int, out_channels: int, resolution: int, tf_name: str, *, up: bool, fused: bool,
                 activation: str, use_pixelnorm: bool, eps: float, use_wscale: bool) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.resolution, self.tf_name = resolution, tf_name
        self.up, self.fused, self.activation, self.use_pixelnorm, self.eps = up, fused, activation, use_pixelnorm, eps
        self.conv = EqualizedConv(in_channels, out_channels, 3, SQRT2, use_wscale)
        self.bias = torch.nn.Parameter(torch.zeros([out_channels]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.conv.scaled()
        x = up_conv(x, w, self.fused) if self.up else F.conv2d(x, w, padding=1)
        x = activate(x + self.bias.view(1, -1, 1, 1), self.activation)
        return pixel_norm(x, self.eps) if self.use_pixelnorm else x


class DenseInput(torch.nn.Module):
    """Pixel-normalised latent -> dense (gain sqrt(2)/4, the Theano original's) -> [N, C, 4, 4], bias, act, PN."""

    def __init__(self, in_features: int, channels: int, *, normalize_latents: bool, activation: str,
                 use_pixelnorm: bool, eps: float, use_wscale: bool) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.resolution, self.tf_name = in_features, channels, 4, "4x4/Dense"
        self.normalize_latents, self.activation = normalize_latents, activation
        self.use_pixelnorm, self.eps = use_pixelnorm, eps
        self.weight = torch.nn.Parameter(torch.randn(channels * 16, in_features))
        self.bias = torch.nn.Parameter(torch.zeros([channels]))
        self.scale = weight_scale(in_features, SQRT2 / 4, use_wscale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.normalize_latents:
            x = pixel_norm(x, self.eps)
        x = (x @ (self.weight * self.scale).t()).reshape(-1, self.out_channels, 4, 4)
        x = activate(x + self.bias.view(1, -1, 1, 1), self.activation)
        return pixel_norm(x, self.eps) if self.use_pixelnorm else x


class SynthesisNetwork(torch.nn.Module):
    """The whole ProGAN generator on its input `[N, 1, z_dim + c_dim]`."""

    def __init__(self, in_features: int, img_resolution: int, img_channels: int, channels: list[int],
                 fused_scale: bool = True, normalize_latents: bool = True, use_pixelnorm: bool = True,
                 pixelnorm_epsilon: float = 1e-8, activation: str = "lrelu", use_wscale: bool = True,
                 lod: float = 0.0) -> None:
        super().__init__()
        log2 = check_synthesis_args(img_resolution, channels, activation, lod)
        self.w_dim, self.img_resolution, self.img_channels = in_features, img_resolution, img_channels
        self.lod = float(lod)
        self.num_ws = 1
        self.block_resolutions = [2**i for i in range(2, log2 + 1)]
        self.rgb_resolutions = needed_rgb_levels(img_resolution, self.lod)
        common = dict(activation=activation, use_pixelnorm=use_pixelnorm, eps=pixelnorm_epsilon, use_wscale=use_wscale)
        self._names: list[str] = []
        for i, res in enumerate(self.block_resolutions):
            if res > self.rgb_resolutions[-1]:
                break  # levels above the one drawn do not take part (a snapshot saved mid-growth)
            scope = f"{res}x{res}"
            if res == 4:
                self.add(f"b{res}_dense", DenseInput(in_features, channels[0], normalize_latents=normalize_latents,
                                                     **common))
                self.add(f"b{res}_conv", ConvLayer(channels[0], channels[0], 4, f"{scope}/Conv", up=False,
                                                   fused=False, **common))
            else:
                up_name = f"{scope}/Conv0_up" if fused_scale else f"{scope}/Conv0"
                self.add(f"b{res}_conv0", ConvLayer(channels[i - 1], channels[i], res, up_name, up=True,
                                                    fused=fused_scale, **common))
                self.add(f"b{res}_conv1", ConvLayer(channels[i], channels[i], res, f"{scope}/Conv1", up=False,
                                                    fused=False, **common))
            if res in self.rgb_resolutions:
                self.add(f"b{res}_torgb", ToRGB(channels[i], img_channels, res, f"ToRGB_lod{log2 - i - 2}",
                                                use_wscale))

    def add(self, name: str, module: torch.nn.Module) -> None:
        setattr(self, name, module)
        self._names.append(name)

    def layer_modules(self) -> list[tuple[str, torch.nn.Module]]:
        return [(name, getattr(self, name)) for name in self._names]

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", force_fp32: bool = False,
                noise_generator: torch.Generator | None = None, transform: Any = None, *,
                should_stop: ShouldStop | None = None, capture: Collection[str] | None = None,
                ) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Image [N, C, H, W]; `should_stop` and `capture` are per call, as for the other families."""
        del noise_mode, force_fp32, noise_generator  # no noise inputs; float32 as released
        if transform is not None:
            raise ValueError("Progressive GAN has no input transform: translation and rotation need StyleGAN3")
        if ws.ndim != 3 or ws.shape[1] != 1 or ws.shape[2] != self.w_dim:
            raise ValueError(f"the input must be [N, 1, {self.w_dim}] (z and labels), got {list(ws.shape)}")
        wanted = capture_set(capture, self._names) if capture else frozenset()
        kept: dict[str, torch.Tensor] = {}
        x = ws[:, 0].to(torch.float32)
        images: dict[int, torch.Tensor] = {}
        for name in self._names:
            if should_stop is not None and should_stop():
                raise RenderCancelled()
            module = getattr(self, name)
            out = module(x)
            if name.endswith("_torgb"):
                images[module.resolution] = out
            else:
                x = out
            if name in wanted:
                kept[name] = out
        img = faded_output(images, self.img_resolution, self.lod)
        return img if capture is None else (img, {name: kept[name] for name in capture})


class Generator(torch.nn.Module):
    """Progressive GAN: `G(z, c, ...)` like the other families; `mapping` is the input stage (no W)."""

    kind = "progan"

    def __init__(self, z_dim: int, c_dim: int, img_resolution: int, img_channels: int,
                 **synthesis_kwargs: Any) -> None:
        super().__init__()
        self.init_kwargs = dict(z_dim=z_dim, c_dim=c_dim, img_resolution=img_resolution, img_channels=img_channels,
                                **synthesis_kwargs)
        self.z_dim, self.c_dim = z_dim, c_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.w_dim = z_dim + c_dim  # the "ws" row is the network input itself
        self.num_ws = 1
        self.mapping = InputStage(z_dim, c_dim)
        self.synthesis = SynthesisNetwork(self.w_dim, img_resolution, img_channels, **synthesis_kwargs)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1,
                truncation_cutoff: int | None = None, noise_mode: str = "const", force_fp32: bool = False,
                **synthesis_kwargs: Any) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode, force_fp32=force_fp32, **synthesis_kwargs)
