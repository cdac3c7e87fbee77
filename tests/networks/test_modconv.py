"""The modulated convolution's factored form (gradients through a frozen network) against the fused one."""

from __future__ import annotations

import pytest
import torch

from stylegan3.networks import modconv
from stylegan3.networks.common import grouped_conv, modulate_weights


def _layer(seed: int, k: int, batch: int = 2):
    g = torch.Generator().manual_seed(seed)
    weight = torch.nn.Parameter(torch.randn(6, 5, k, k, generator=g), requires_grad=False)
    x = torch.randn(batch, 5, 9, 11, generator=g)
    styles = torch.randn(batch, 5, generator=g) + 1
    gain = torch.rand(5, generator=g) + 0.5
    return weight, x, styles, gain


@pytest.mark.parametrize("demodulate", [True, False])
@pytest.mark.parametrize("k", [1, 3])
def test_scales_times_the_weight_are_the_modulated_weight(demodulate, k):
    weight, _, styles, gain = _layer(k, k)
    b, a = modconv.modulation_scales(weight, styles, demodulate, gain)
    got = weight.unsqueeze(0) * b[:, None, :, None, None]
    if a is not None:
        got = got * a[:, :, None, None, None]
    want = modulate_weights(weight, styles, demodulate=demodulate, input_gain=gain)
    assert (a is None) == (not demodulate)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("demodulate", [True, False])
@pytest.mark.parametrize("k", [1, 3])
def test_factored_form_gives_the_fused_outputs_and_gradients(demodulate, k):
    weight, x, styles, gain = _layer(10 + k, k)
    dy = torch.randn(2, 6, 9 + k - 1, 11 + k - 1, generator=torch.Generator().manual_seed(5))

    def run(factored: bool):
        xs, ss = x.clone().requires_grad_(True), styles.clone().requires_grad_(True)
        assert modconv.factored_applies(xs, weight, ss)
        old = modconv.FACTORED
        modconv.FACTORED = factored
        try:
            y = modconv.modulated_conv(xs, weight, ss, demodulate, gain, padding=k - 1)
        finally:
            modconv.FACTORED = old
        return (y, *torch.autograd.grad(y, (xs, ss), dy))

    for got, want in zip(run(True), run(False), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_rendering_and_trainable_weights_keep_the_fused_form(monkeypatch):
    weight, x, styles, gain = _layer(20, 3)
    calls = []
    monkeypatch.setattr(modconv, "grouped_conv", lambda *a, **kw: calls.append(1) or grouped_conv(*a, **kw))
    with torch.no_grad():
        modconv.modulated_conv(x, weight, styles.requires_grad_(True), True, gain, padding=2)
    assert len(calls) == 1  # no gradient recorded: one grouped convolution, as before
    assert not modconv.factored_applies(x, weight, styles.detach())  # nothing asks for a gradient
    trainable = torch.nn.Parameter(weight.detach().clone())
    assert not modconv.factored_applies(x, trainable, styles)  # the weight's own gradient is wanted
    assert not modconv.factored_applies(x.half(), weight, styles)  # fp16 layers (CUDA) stay fused
    assert modconv.factored_applies(x, weight, styles)
