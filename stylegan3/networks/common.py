"""Building blocks shared by the StyleGAN2 and StyleGAN3 generators.

Parameter names, shapes and scaling ("equalized learning rate": weights stored unit-variance and
scaled at run time) follow the official networks so their state dicts load unchanged.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import torch

from stylegan3.networks.cancel import RenderCancelled, ShouldStop
from stylegan3.ops import bias_act
from stylegan3.ops.derived import DerivedCache


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Scale each vector to unit root-mean-square, the input normalisation of the mapping network."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


class FullyConnectedLayer(torch.nn.Module):
    """Dense layer with run-time weight scaling and a learning-rate multiplier baked into the gains."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: str = "linear",
        bias: bool = True,
        lr_multiplier: float = 1.0,
        weight_init: float = 1.0,
        bias_init: float | Sequence[float] = 0.0,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        self.weight = torch.nn.Parameter(torch.randn([out_features, in_features]) * (weight_init / lr_multiplier))
        if bias:
            init = np.broadcast_to(np.asarray(bias_init, dtype=np.float32), [out_features])
            self.bias = torch.nn.Parameter(torch.from_numpy(init / lr_multiplier))
        else:
            self.bias = None
        self.weight_gain = lr_multiplier / np.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias
        if b is not None:
            b = b.to(x.dtype)
            if self.bias_gain != 1:
                b = b * self.bias_gain
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        x = x.matmul(w.t())
        return bias_act(x, b, act=self.activation)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, activation={self.activation}"


class MappingNetwork(torch.nn.Module):
    """z (+ class label) -> w, broadcast to num_ws copies, with the truncation trick.

    One class serves both generations: StyleGAN3 uses 2 layers and a w_dim-sized label embedding,
    StyleGAN2 8 layers and optional `embed_features` / `layer_features`.
    """

    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        num_ws: int,
        num_layers: int = 2,
        embed_features: int | None = None,
        layer_features: int | None = None,
        activation: str = "lrelu",
        lr_multiplier: float = 0.01,
        w_avg_beta: float = 0.998,
    ) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.num_ws = num_ws
        self.num_layers = num_layers
        self.w_avg_beta = w_avg_beta
        embed_features = (w_dim if embed_features is None else embed_features) if c_dim > 0 else 0
        layer_features = w_dim if layer_features is None else layer_features
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for idx in range(num_layers):
            layer = FullyConnectedLayer(
                features[idx], features[idx + 1], activation=activation, lr_multiplier=lr_multiplier
            )
            setattr(self, f"fc{idx}", layer)
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(
        self,
        z: torch.Tensor | None,
        c: torch.Tensor | None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,
        should_stop: ShouldStop | None = None,
    ) -> torch.Tensor:
        """ws [N, num_ws, w_dim]; `should_stop` is asked before each layer (`stylegan3.networks.cancel`)."""
        del update_emas  # inference only: the running average is loaded, never updated
        x = None
        if self.z_dim > 0:
            x = normalize_2nd_moment(z.to(torch.float32))
        if self.c_dim > 0:
            if c is None or c.ndim != 2 or c.shape[1] != self.c_dim:
                raise ValueError(f"this network needs a class label of size {self.c_dim}")
            y = normalize_2nd_moment(self.embed(c.to(torch.float32)))
            x = torch.cat([x, y], dim=1) if x is not None else y
        for idx in range(self.num_layers):
            if should_stop is not None and should_stop():
                raise RenderCancelled()
            x = getattr(self, f"fc{idx}")(x)
        x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            cutoff = self.num_ws if truncation_cutoff is None else int(truncation_cutoff)
            x[:, :cutoff] = self.w_avg.lerp(x[:, :cutoff], truncation_psi)
        return x

    def extra_repr(self) -> str:
        return f"z_dim={self.z_dim}, c_dim={self.c_dim}, w_dim={self.w_dim}, num_ws={self.num_ws}"


def capture_set(capture: Collection[str] | None, known: Collection[str]) -> frozenset[str]:
    """The layer names a synthesis pass keeps (empty for None), checked before any work is done.

    Layer capture is an argument of synthesis, not a forward hook on a shared module: see `capture_layers`
    in `stylegan3.networks.layers` for why.
    """
    if not capture:
        return frozenset()
    wanted = frozenset(capture)
    unknown = sorted(wanted.difference(known))
    if unknown:
        raise ValueError(f"no layer named {', '.join(map(repr, unknown))}; this network has: {', '.join(known)}")
    return wanted


_WEIGHT_STATS: DerivedCache[tuple[torch.Tensor, torch.Tensor | None]] = DerivedCache(limit=4096)


def _frozen_weight_stats(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """(per-output prenormalisation factor [O], the prenormalised weight's squares summed over the kernel taps
    [O, I], or None for 1x1 kernels) for a weight that cannot change.

    Both depend on the weight alone, yet the plain formulation recomputes them every frame in about ten passes
    over the weight tensor. Only for parameters outside autograd (rendering): cached per tensor and version, so
    an in-place update (a new state dict loaded) recomputes them. Nothing weight-sized is kept: the process
    holds one copy of the weights (a prenormalised copy, or the sums of a 1x1 kernel, which are as large as the
    kernel, would be a second one: SG3-R's layers are 1x1).
    """
    if not isinstance(weight, torch.nn.Parameter) or (torch.is_grad_enabled() and weight.requires_grad):
        return None

    def make() -> tuple[torch.Tensor, torch.Tensor | None]:
        w = weight.detach()
        gain = w.square().mean([1, 2, 3]).rsqrt()
        taps = w.shape[2] * w.shape[3]
        return gain, (w.square().sum(dim=[2, 3]) * gain.square()[:, None] if taps > 1 else None)

    return _WEIGHT_STATS.get(weight, "prenormalized", make)


def prenormalized_demodulation(
    weight: torch.Tensor, styles: torch.Tensor, stats: tuple[torch.Tensor, torch.Tensor | None]
) -> tuple[torch.Tensor, torch.Tensor]:
    """(styles normalised to unit mean square [N, I], per-output factor [N, O] = demodulation times the weight's
    prenormalisation) of StyleGAN3's modulation, from the weight's stats (`_frozen_weight_stats`' form: per-output
    gain, squared taps summed per input or None for 1x1). The modulated weight is weight * factor * styles; the
    rendering form multiplies that into the weight, the gradient form (`modconv`) scales input and output."""
    gain, sq = stats
    if sq is None:  # 1x1: the sums are the squares themselves
        sq = (weight[:, :, 0, 0] * gain[:, None]).square()
    styles = styles * styles.square().mean().rsqrt()
    dcoefs = (styles.square() @ sq.t() + 1e-8).rsqrt()  # [N, O]
    return styles, dcoefs * gain


def modulate_weights(
    weight: torch.Tensor,
    styles: torch.Tensor,
    demodulate: bool,
    input_gain: torch.Tensor | None = None,
    prenormalize: bool = True,
) -> torch.Tensor:
    """Per-sample weights [N, O, I, kh, kw]: scale input channels by styles, then normalise each output.

    Pre-normalising weight and styles (as StyleGAN3 does) keeps fp16 from overflowing and cancels out
    in the demodulation, so the result is the same as without it.

    For a frozen parameter the per-output demodulation factor comes from precomputed sums of squares
    (sum_i s_i^2 * sum_k w_oik^2, the same sum regrouped; for 1x1 kernels the squares of the weight, one pass)
    and all scale factors, the prenormalisation too, meet the weight in one multiply: one or two passes over
    the weight per frame instead of about ten. Equal up to float rounding.
    """
    batch = styles.shape[0]
    # StyleGAN3's form only (pre-normalised): StyleGAN2 keeps the plain order, closest to the official numbers.
    stats = _frozen_weight_stats(weight) if demodulate and prenormalize else None
    if stats is not None:
        styles, out_scale = prenormalized_demodulation(weight, styles, stats)
        scale = out_scale.unsqueeze(2) * styles.unsqueeze(1)  # [N, O, I]
        if input_gain is not None:
            scale = scale * input_gain.expand(batch, weight.shape[1]).unsqueeze(1)
        return weight.unsqueeze(0) * scale.reshape(batch, *scale.shape[1:], 1, 1)
    if demodulate and prenormalize:
        weight = weight * weight.square().mean([1, 2, 3], keepdim=True).rsqrt()
        styles = styles * styles.square().mean().rsqrt()
    w = weight.unsqueeze(0) * styles.reshape(batch, 1, -1, 1, 1)
    if demodulate:
        dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()
        w = w * dcoefs.reshape(batch, -1, 1, 1, 1)
    if input_gain is not None:
        w = w * input_gain.expand(batch, weight.shape[1]).reshape(batch, 1, -1, 1, 1)
    return w


def grouped_conv(x: torch.Tensor, w: torch.Tensor, padding: int = 0) -> torch.Tensor:
    """Convolve each sample with its own weights in one call (batch folded into groups)."""
    batch = x.shape[0]
    _, out_ch, in_ch, kh, kw = w.shape
    x = x.reshape(1, -1, *x.shape[2:])
    x = torch.nn.functional.conv2d(x, w.reshape(-1, in_ch, kh, kw).to(x.dtype), padding=padding, groups=batch)
    return x.reshape(batch, out_ch, *x.shape[2:])


class GeneratorBase(torch.nn.Module):
    """Mapping + synthesis with the official Generator's constructor arguments and call signature.

    Subclasses name their synthesis network class and the mapping depth their generation defaults to.
    `init_kwargs` keeps the constructor arguments: they fully determine the architecture, so they are
    what the native file format stores next to the weights.
    """

    kind = ""
    synthesis_class: type[torch.nn.Module]
    default_mapping_layers = 2

    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        mapping_kwargs: dict | None = None,
        **synthesis_kwargs: Any,
    ) -> None:
        super().__init__()
        mapping_kwargs = dict(mapping_kwargs or {})
        self.init_kwargs = dict(
            z_dim=z_dim,
            c_dim=c_dim,
            w_dim=w_dim,
            img_resolution=img_resolution,
            img_channels=img_channels,
            mapping_kwargs=mapping_kwargs,
            **synthesis_kwargs,
        )
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.synthesis = self.synthesis_class(
            w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels, **synthesis_kwargs
        )
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(
            z_dim=z_dim,
            c_dim=c_dim,
            w_dim=w_dim,
            num_ws=self.num_ws,
            **{"num_layers": self.default_mapping_layers, **mapping_kwargs},
        )

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None,
        truncation_psi: float = 1,
        truncation_cutoff: int | None = None,
        **synthesis_kwargs: Any,
    ) -> torch.Tensor:
        synthesis_kwargs.pop("update_emas", None)
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff,
                          should_stop=synthesis_kwargs.get("should_stop"))
        return self.synthesis(ws, **synthesis_kwargs)
