"""StyleGAN3 generator (alias-free; configs T and R), written from the paper.

Karras et al., "Alias-Free Generative Adversarial Networks", NeurIPS 2021. The module tree, the
tensor names and the constructor arguments are those of the official networks, so an official
state dict loads unchanged and layers keep their official names (e.g. `L3_52_512`).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
import torch

from stylegan3.networks.cancel import RenderCancelled, ShouldStop
from stylegan3.networks.common import FullyConnectedLayer, GeneratorBase, capture_set
from stylegan3.networks.filters import design_lowpass_filter
from stylegan3.networks.modconv import modulated_conv
from stylegan3.ops import filtered_lrelu


class SynthesisInput(torch.nn.Module):
    """Fourier features: sinusoids of fixed random frequencies inside a disc of radius `bandwidth`.

    The user's inverse transform of the output image (3x3) translates / rotates the continuous input
    signal. Callers pass it to `forward` (`transform=`, one matrix or one per sample), so a network shared
    by the window, comparison panes and analysis jobs is never modified by a view; the `transform` buffer
    (identity by default) is only the default, kept because official pickles carry it and code written
    for the official networks sets it (`set_transform`).
    """

    def __init__(self, w_dim: int, channels: int, size: int | list[int], sampling_rate: float, bandwidth: float):
        super().__init__()
        self.w_dim = w_dim
        self.channels = channels
        self.size = np.broadcast_to(np.asarray(size), [2])
        self.sampling_rate = sampling_rate
        self.bandwidth = bandwidth
        # Frequencies uniform in a disc: direction from a Gaussian, radius pushed inward by exp(r^2)^(1/4).
        freqs = torch.randn([channels, 2])
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs /= radii * radii.square().exp().pow(0.25)
        freqs *= bandwidth
        phases = torch.rand([channels]) - 0.5
        self.weight = torch.nn.Parameter(torch.randn([channels, channels]))
        self.affine = FullyConnectedLayer(w_dim, 4, weight_init=0, bias_init=[1, 0, 0, 0])
        self.register_buffer("transform", torch.eye(3, 3))
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", phases)

    def user_transform(self, transform: torch.Tensor | np.ndarray | None, batch: int, device) -> torch.Tensor:
        """[1 or N, 3, 3] float32: the given transform(s), or the buffer."""
        if transform is None:
            return self.transform.unsqueeze(0)
        t = torch.as_tensor(transform, device=device).to(self.transform.dtype)
        if t.ndim == 2:
            t = t.unsqueeze(0)
        if t.ndim != 3 or t.shape[1:] != (3, 3) or t.shape[0] not in (1, batch):
            raise ValueError(f"transform must be [3, 3] or [{batch}, 3, 3], got {list(t.shape)}")
        return t

    @torch.no_grad()
    def set_transform(self, matrix: torch.Tensor | np.ndarray) -> None:
        """Set the default transform (the buffer official code writes); renderers pass `transform=` instead."""
        self.transform.copy_(torch.as_tensor(matrix).to(self.transform))

    def forward(self, w: torch.Tensor, transform: torch.Tensor | np.ndarray | None = None) -> torch.Tensor:
        batch = w.shape[0]
        transforms = self.user_transform(transform, batch, w.device)
        freqs = self.freqs.unsqueeze(0)
        phases = self.phases.unsqueeze(0)

        # The affine layer predicts a rotation (cos, sin) and translation per sample from w.
        t = self.affine(w)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        m_r = torch.eye(3, device=w.device).unsqueeze(0).repeat([batch, 1, 1])
        m_r[:, 0, 0] = t[:, 0]
        m_r[:, 0, 1] = -t[:, 1]
        m_r[:, 1, 0] = t[:, 1]
        m_r[:, 1, 1] = t[:, 0]
        m_t = torch.eye(3, device=w.device).unsqueeze(0).repeat([batch, 1, 1])
        m_t[:, 0, 2] = -t[:, 2]
        m_t[:, 1, 2] = -t[:, 3]
        # Learned rotation first, then learned translation, then the user's transform.
        transforms = m_r @ m_t @ transforms

        phases = phases + (freqs @ transforms[:, :2, 2:]).squeeze(2)
        freqs = freqs @ transforms[:, :2, :2]

        # A user transform can push frequencies past the band limit: fade them out instead of aliasing.
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)

        theta = torch.eye(2, 3, device=w.device)
        theta[0, 0] = 0.5 * self.size[0] / self.sampling_rate
        theta[1, 1] = 0.5 * self.size[1] / self.sampling_rate
        grids = torch.nn.functional.affine_grid(
            theta.unsqueeze(0), [1, 1, int(self.size[1]), int(self.size[0])], align_corners=False
        )
        x = (grids.unsqueeze(3) @ freqs.permute(0, 2, 1).unsqueeze(1).unsqueeze(2)).squeeze(3)
        x = x + phases.unsqueeze(1).unsqueeze(2)
        x = torch.sin(x * (np.pi * 2))
        x = x * amplitudes.unsqueeze(1).unsqueeze(2)
        x = x @ (self.weight / np.sqrt(self.channels)).t()
        return x.permute(0, 3, 1, 2)

    def extra_repr(self) -> str:
        return (
            f"w_dim={self.w_dim}, channels={self.channels}, size={list(self.size)}, "
            f"sampling_rate={self.sampling_rate:g}, bandwidth={self.bandwidth:g}"
        )


class SynthesisLayer(torch.nn.Module):
    """Modulated conv -> bias -> upsample -> leaky ReLU -> clamp -> downsample, with designed filters."""

    def __init__(
        self,
        w_dim: int,
        is_torgb: bool,
        is_critically_sampled: bool,
        use_fp16: bool,
        in_channels: int,
        out_channels: int,
        in_size: int | list[int],
        out_size: int | list[int],
        in_sampling_rate: float,
        out_sampling_rate: float,
        in_cutoff: float,
        out_cutoff: float,
        in_half_width: float,
        out_half_width: float,
        conv_kernel: int = 3,
        filter_size: int = 6,
        lrelu_upsampling: int = 2,
        use_radial_filters: bool = False,
        conv_clamp: float | None = 256,
        magnitude_ema_beta: float = 0.999,
    ) -> None:
        super().__init__()
        self.w_dim = w_dim
        self.is_torgb = is_torgb
        self.is_critically_sampled = is_critically_sampled
        self.use_fp16 = use_fp16
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.in_size = np.broadcast_to(np.asarray(in_size), [2])
        self.out_size = np.broadcast_to(np.asarray(out_size), [2])
        self.in_sampling_rate = in_sampling_rate
        self.out_sampling_rate = out_sampling_rate
        self.tmp_sampling_rate = max(in_sampling_rate, out_sampling_rate) * (1 if is_torgb else lrelu_upsampling)
        self.in_cutoff = in_cutoff
        self.out_cutoff = out_cutoff
        self.in_half_width = in_half_width
        self.out_half_width = out_half_width
        self.conv_kernel = 1 if is_torgb else conv_kernel
        self.conv_clamp = conv_clamp
        self.magnitude_ema_beta = magnitude_ema_beta

        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = torch.nn.Parameter(torch.randn([out_channels, in_channels, self.conv_kernel, self.conv_kernel]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels]))
        self.register_buffer("magnitude_ema", torch.ones([]))

        # The nonlinearity runs at tmp_sampling_rate: upsample to it, then back down to the output rate.
        self.up_factor = int(np.rint(self.tmp_sampling_rate / in_sampling_rate))
        self.up_taps = filter_size * self.up_factor if self.up_factor > 1 and not is_torgb else 1
        self.register_buffer(
            "up_filter",
            design_lowpass_filter(self.up_taps, in_cutoff, in_half_width * 2, self.tmp_sampling_rate),
        )
        self.down_factor = int(np.rint(self.tmp_sampling_rate / out_sampling_rate))
        self.down_taps = filter_size * self.down_factor if self.down_factor > 1 and not is_torgb else 1
        self.down_radial = use_radial_filters and not is_critically_sampled
        self.register_buffer(
            "down_filter",
            design_lowpass_filter(
                self.down_taps, out_cutoff, out_half_width * 2, self.tmp_sampling_rate, radial=self.down_radial
            ),
        )

        # Padding so that sample positions stay centred (the paper's symmetric interpretation, App. C.3).
        pad_total = (self.out_size - 1) * self.down_factor + 1
        pad_total -= (self.in_size + self.conv_kernel - 1) * self.up_factor
        pad_total += self.up_taps + self.down_taps - 2
        pad_lo = (pad_total + self.up_factor) // 2
        pad_hi = pad_total - pad_lo
        self.padding = [int(pad_lo[0]), int(pad_hi[0]), int(pad_lo[1]), int(pad_hi[1])]

    @property
    def stopband(self) -> float:
        return self.out_cutoff + self.out_half_width

    def compute_dtype(self, x: torch.Tensor, force_fp32: bool) -> torch.dtype:
        """fp16 only where the network asks for it, and only on CUDA (CPU fp16 is slow and lossy)."""
        if self.use_fp16 and not force_fp32 and x.device.type == "cuda":
            return torch.float16
        return torch.float32

    def forward(
        self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random", force_fp32: bool = False, **_: Any
    ) -> torch.Tensor:
        del noise_mode  # StyleGAN3 has no noise inputs; accepted for a uniform API
        input_gain = self.magnitude_ema.rsqrt()
        styles = self.affine(w)
        if self.is_torgb:
            styles = styles * (1 / np.sqrt(self.in_channels * (self.conv_kernel**2)))
        dtype = self.compute_dtype(x, force_fp32)
        x = modulated_conv(
            x.to(dtype),
            self.weight,
            styles,
            demodulate=not self.is_torgb,
            input_gain=input_gain,
            padding=self.conv_kernel - 1,
        )
        gain = 1 if self.is_torgb else np.sqrt(2)
        slope = 1 if self.is_torgb else 0.2
        return filtered_lrelu(
            x,
            fu=self.up_filter,
            fd=self.down_filter,
            b=self.bias.to(x.dtype),
            up=self.up_factor,
            down=self.down_factor,
            padding=self.padding,
            gain=gain,
            slope=slope,
            clamp=self.conv_clamp,
        )

    def extra_repr(self) -> str:
        return (
            f"is_torgb={self.is_torgb}, critical={self.is_critically_sampled}, fp16={self.use_fp16}, "
            f"in={list(self.in_size)}@{self.in_sampling_rate:g}, out={list(self.out_size)}@{self.out_sampling_rate:g}, "
            f"cutoff={self.out_cutoff:g}, channels={self.in_channels}->{self.out_channels}"
        )


class SynthesisNetwork(torch.nn.Module):
    """Fourier input followed by num_layers+1 layers whose cutoffs grow geometrically to Nyquist."""

    def __init__(
        self,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        channel_base: int = 32768,
        channel_max: int = 512,
        num_layers: int = 14,
        num_critical: int = 2,
        first_cutoff: float = 2,
        first_stopband: float = 2**2.1,
        last_stopband_rel: float = 2**0.3,
        margin_size: int = 10,
        output_scale: float = 0.25,
        num_fp16_res: int = 4,
        **layer_kwargs: Any,
    ) -> None:
        super().__init__()
        self.w_dim = w_dim
        self.num_ws = num_layers + 2
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.num_layers = num_layers
        self.num_critical = num_critical
        self.margin_size = margin_size
        self.output_scale = output_scale
        self.num_fp16_res = num_fp16_res

        # Cutoff f_c and minimum stopband f_t per layer: geometric from the first to the last
        # value, then flat for the critically sampled layers at the end.
        last_cutoff = img_resolution / 2
        last_stopband = last_cutoff * last_stopband_rel
        exponents = np.minimum(np.arange(num_layers + 1) / (num_layers - num_critical), 1)
        cutoffs = first_cutoff * (last_cutoff / first_cutoff) ** exponents
        stopbands = first_stopband * (last_stopband / first_stopband) ** exponents
        sampling_rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, img_resolution))))
        half_widths = np.maximum(stopbands, sampling_rates / 2) - cutoffs
        sizes = sampling_rates + margin_size * 2
        sizes[-2:] = img_resolution
        channels = np.rint(np.minimum((channel_base / 2) / cutoffs, channel_max))
        channels[-1] = img_channels

        self.input = SynthesisInput(
            w_dim=w_dim,
            channels=int(channels[0]),
            size=int(sizes[0]),
            sampling_rate=sampling_rates[0],
            bandwidth=cutoffs[0],
        )
        self.layer_names: list[str] = []
        for idx in range(num_layers + 1):
            prev = max(idx - 1, 0)
            layer = SynthesisLayer(
                w_dim=w_dim,
                is_torgb=idx == num_layers,
                is_critically_sampled=idx >= num_layers - num_critical,
                use_fp16=bool(sampling_rates[idx] * (2**num_fp16_res) > img_resolution),
                in_channels=int(channels[prev]),
                out_channels=int(channels[idx]),
                in_size=int(sizes[prev]),
                out_size=int(sizes[idx]),
                in_sampling_rate=int(sampling_rates[prev]),
                out_sampling_rate=int(sampling_rates[idx]),
                in_cutoff=cutoffs[prev],
                out_cutoff=cutoffs[idx],
                in_half_width=half_widths[prev],
                out_half_width=half_widths[idx],
                **layer_kwargs,
            )
            name = f"L{idx}_{layer.out_size[0]}_{layer.out_channels}"
            setattr(self, name, layer)
            self.layer_names.append(name)

    def forward(
        self,
        ws: torch.Tensor,
        transform: torch.Tensor | np.ndarray | None = None,
        *,
        should_stop: ShouldStop | None = None,
        capture: Collection[str] | None = None,
        **layer_kwargs: Any,
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Image [N, C, H, W]; `transform` is the inverse user transform (default: the input's buffer).

        Per call, never stored on the module: `should_stop` is asked before the input and before each layer
        (`RenderCancelled` when it says so); with `capture` (names from `layers.list_layers`: 'input' and the
        `L{idx}_{size}_{channels}` layers) the result is (image, {name: that layer's output}) in the order asked.
        """
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ValueError(f"ws must be [N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")
        wanted = capture_set(capture, ("input", *self.layer_names)) if capture else frozenset()
        layer_kwargs.pop("update_emas", None)
        ws = ws.to(torch.float32).unbind(dim=1)
        if should_stop is not None and should_stop():
            raise RenderCancelled()
        x = self.input(ws[0], transform=transform)
        kept = {"input": x} if "input" in wanted else {}
        for name, w in zip(self.layer_names, ws[1:], strict=True):
            if should_stop is not None and should_stop():
                raise RenderCancelled()
            x = getattr(self, name)(x, w, **layer_kwargs)
            if name in wanted:
                kept[name] = x
        if self.output_scale != 1:
            x = x * self.output_scale
        img = x.to(torch.float32)
        return img if capture is None else (img, {name: kept[name] for name in capture})


class Generator(GeneratorBase):
    """StyleGAN3 generator (T or R, decided by `conv_kernel` / `use_radial_filters`)."""

    kind = "sg3"
    synthesis_class = SynthesisNetwork
    default_mapping_layers = 2
