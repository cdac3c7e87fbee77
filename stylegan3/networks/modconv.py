"""The modulated convolution (StyleGAN3's here; StyleGAN2's in `sg2.py` uses the same rule), in the form that suits
the call.

Rendering: one grouped convolution with each sample's modulated weight (`modulate_weights`, `grouped_conv`).

Gradients through a frozen network (projection, drag-to-edit: the latents ask for gradients, the weights do not):
the same product regrouped. The modulated weight is weight[o, i, k] * a[n, o] * b[n, i] (a: demodulation times
the weight's prenormalisation, b: the normalised styles times the input gain), and a convolution is linear in
each input channel and each output channel, so

    conv(x, weight * a * b) = a * conv(x * b, weight).

Why: with the per-sample weight, autograd must compute that weight's gradient (a correlation of the layer's input
with its output gradient over the whole image) only to pass it back to the styles; on the CPU that costs 1.6-1.9x
a forward convolution (`benchmarks/NOTES.md`), and a projection step of the official SG3-T 256 config spent 4.2
of its 8.3 s in convolution backward passes. In the factored form the weight is a constant of the graph: the
convolution's backward is its input gradient alone, and the styles' gradient comes from two channel sums.
Equal up to float rounding (the products are taken in another order).

float32 only: fp16 layers (CUDA) keep the fused form, whose prenormalised weight keeps the values in fp16's range.
"""

from __future__ import annotations

import torch

from stylegan3.networks.common import _frozen_weight_stats, grouped_conv, modulate_weights, prenormalized_demodulation

__all__ = ["modulated_conv", "modulation_scales", "plain_demodulation", "factored_applies", "FACTORED"]

# The benchmarks turn this off to time the fused form with gradients (`benchmarks/bench_edit.py --with-before`).
FACTORED = True


def factored_applies(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor) -> bool:
    """Autograd records a gradient for the input or the styles, not for the weight, in float32."""
    return (
        FACTORED
        and torch.is_grad_enabled()
        and not weight.requires_grad
        and x.dtype == torch.float32
        and (x.requires_grad or styles.requires_grad)
    )


def modulation_scales(
    weight: torch.Tensor, styles: torch.Tensor, demodulate: bool, input_gain: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(b [N, I], a [N, O] or None for no output scale) with weight * a * b == modulate_weights(weight, styles,
    demodulate, input_gain), StyleGAN3's prenormalised form."""
    b, a = styles, None
    if demodulate:
        stats = _frozen_weight_stats(weight)
        if stats is None:  # not a frozen parameter: the same stats, computed here
            gain = weight.square().mean([1, 2, 3]).rsqrt()
            stats = (gain, weight.square().sum(dim=[2, 3]) * gain.square()[:, None])
        b, a = prenormalized_demodulation(weight, styles, stats)
    if input_gain is not None:
        b = b * input_gain.expand(styles.shape[0], weight.shape[1])
    return b, a


def plain_demodulation(weight: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
    """StyleGAN2's demodulation factors [N, O] of weight * styles, without prenormalisation: the same sum of squares
    as `modulate_weights(..., prenormalize=False)` takes over the modulated weight, regrouped as
    styles^2 @ (the weight's squares summed over the kernel taps)."""
    sq = weight.square().sum(dim=[2, 3])  # [O, I]
    return (styles.square() @ sq.t() + 1e-8).rsqrt()


def modulated_conv(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    demodulate: bool,
    input_gain: torch.Tensor | None = None,
    padding: int = 0,
) -> torch.Tensor:
    """conv2d of each sample of `x` with `weight` modulated by its styles (SG3's modulated_conv2d)."""
    if not factored_applies(x, weight, styles):
        w = modulate_weights(weight, styles, demodulate=demodulate, input_gain=input_gain)
        return grouped_conv(x, w, padding=padding)
    b, a = modulation_scales(weight, styles, demodulate, input_gain)
    y = torch.nn.functional.conv2d(x * b[:, :, None, None], weight, padding=padding)
    return y if a is None else y * a[:, :, None, None]
