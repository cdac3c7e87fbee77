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


@pytest.mark.parametrize("up, k, demodulate", [(1, 3, True), (2, 3, True), (1, 1, False), (2, 1, True)])
def test_stylegan2_factored_form_gives_the_fused_outputs_and_gradients(up, k, demodulate):
    from stylegan3.networks.sg2 import modulated_conv2d
    from stylegan3.ops import setup_filter

    weight, x, styles, _ = _layer(30 + up + k, k)
    noise = torch.randn(1, 1, 9 * up, 11 * up, generator=torch.Generator().manual_seed(3)) * 0.1
    f = setup_filter([1, 3, 3, 1])

    def run(factored: bool):
        xs, ss = x.clone().requires_grad_(True), styles.clone().requires_grad_(True)
        old = modconv.FACTORED
        modconv.FACTORED = factored
        try:
            y = modulated_conv2d(xs, weight, ss, noise=noise, up=up, padding=k // 2, resample_filter=f,
                                 demodulate=demodulate, flip_weight=up == 1)  # fmt: skip
        finally:
            modconv.FACTORED = old
        dy = torch.randn(y.shape, generator=torch.Generator().manual_seed(4))
        return (y, *torch.autograd.grad(y, (xs, ss), dy))

    for got, want in zip(run(True), run(False), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["SG3-T", "SG3-R", "SG2"])
def test_gradient_of_the_latents_is_the_same_in_both_forms(kind, monkeypatch):
    """What projection and drag differentiate: d loss / d ws through a whole synthesis network."""
    from stylegan3.networks import sg2, sg3
    from tests.support.nets import tiny_net

    factored = []

    def spy(*args):
        applies = modconv.factored_applies(*args)
        factored.append(applies)
        return applies

    monkeypatch.setattr(sg2, "factored_applies", spy)
    monkeypatch.setattr(sg3, "modulated_conv", _spying_modulated_conv(factored))

    G = tiny_net(kind, res=32, official=True)
    ws = torch.randn(1, G.num_ws, G.w_dim, generator=torch.Generator().manual_seed(7))
    target = torch.randn(1, G.img_channels, 32, 32, generator=torch.Generator().manual_seed(8))

    def grad(factored: bool) -> torch.Tensor:
        old = modconv.FACTORED
        modconv.FACTORED = factored
        try:
            w = ws.clone().requires_grad_(True)
            loss = (G.synthesis(w, noise_mode="const", force_fp32=True) - target).square().mean()
            return torch.autograd.grad(loss, w)[0]
        finally:
            modconv.FACTORED = old

    got = grad(True)
    assert factored and all(factored)  # every layer took the factored form
    want = grad(False)
    assert float(want.abs().max()) > 0
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4 * float(want.abs().max()))


def _spying_modulated_conv(log: list):
    real = modconv.modulated_conv

    def spying(x, weight, styles, *args, **kwargs):
        log.append(modconv.factored_applies(x, weight, styles))
        return real(x, weight, styles, *args, **kwargs)

    return spying
