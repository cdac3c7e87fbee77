"""Self-contained generator tests on networks built by our own code (no fixtures needed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylegan3.networks import build_generator, network_kind
from stylegan3.networks.layers import capture_layers, list_layers
from stylegan3.networks.transform import make_transform, set_input_transform

SG3_SMALL = dict(
    z_dim=16, w_dim=16, c_dim=0, img_resolution=32, img_channels=3, channel_base=512, channel_max=32,
    mapping_kwargs={"num_layers": 2},
)  # fmt: skip
SG2_SMALL = dict(z_dim=16, w_dim=16, c_dim=0, img_resolution=32, img_channels=3, channel_base=256, channel_max=32)


def _sg3(**overrides):
    torch.manual_seed(0)
    return build_generator("sg3", {**SG3_SMALL, **overrides}).eval().requires_grad_(False)


def _sg2(**overrides):
    torch.manual_seed(0)
    return build_generator("sg2", {**SG2_SMALL, **overrides}).eval().requires_grad_(False)


def test_sg3_t_official_layer_names_and_shapes():
    G = _sg3()
    assert G.num_ws == 16 and network_kind(G) == "SG3-T"
    assert len(G.synthesis.layer_names) == 15
    assert G.synthesis.layer_names[0] == "L0_36_32" and G.synthesis.layer_names[-1] == "L14_32_3"
    for name in G.synthesis.layer_names:
        layer = getattr(G.synthesis, name)
        assert name == f"L{name[1:].split('_')[0]}_{layer.out_size[0]}_{layer.out_channels}"
    img = G(torch.randn(2, 16), None)
    assert img.shape == (2, 3, 32, 32) and img.dtype == torch.float32
    assert torch.isfinite(img).all() and float(img.std()) > 0


def test_sg3_r_uses_1x1_convs_and_radial_filters():
    G = _sg3(conv_kernel=1, use_radial_filters=True, channel_base=1024, channel_max=64)
    assert network_kind(G) == "SG3-R"
    layer = getattr(G.synthesis, G.synthesis.layer_names[1])
    assert layer.weight.shape[2:] == (1, 1)
    assert layer.down_filter.ndim == 2  # radially symmetric (non-separable) downsampling filter
    critical = getattr(G.synthesis, G.synthesis.layer_names[-2])
    assert critical.down_filter.ndim == 1  # critically sampled layers keep separable filters
    assert G(torch.randn(1, 16), None).shape == (1, 3, 32, 32)


def test_state_dict_names_follow_official_layout():
    names = set(_sg3().state_dict())
    for expected in (
        "mapping.fc0.weight", "mapping.w_avg", "synthesis.input.freqs", "synthesis.input.transform",
        "synthesis.input.affine.weight", "synthesis.L0_36_32.up_filter", "synthesis.L0_36_32.magnitude_ema",
    ):  # fmt: skip
        assert expected in names
    assert "synthesis.L14_32_3.up_filter" not in names  # identity filters are absent, as officially
    sg2_names = set(_sg2().state_dict())
    for expected in ("synthesis.b4.const", "synthesis.b8.conv0.noise_const", "synthesis.b32.torgb.weight"):
        assert expected in sg2_names


def test_truncation_psi_zero_gives_w_avg_up_to_cutoff():
    G = _sg3()
    G.mapping.w_avg.copy_(torch.linspace(-1, 1, 16))
    z = torch.randn(3, 16)
    ws = G.mapping(z, None, truncation_psi=0.0, truncation_cutoff=4)
    assert torch.allclose(ws[:, :4], G.mapping.w_avg.expand(3, 4, 16))
    assert not torch.allclose(ws[:, 4:], G.mapping.w_avg.expand(3, 12, 16))
    full = G.mapping(z, None, truncation_psi=0.5)
    plain = G.mapping(z, None)
    assert torch.allclose(full, G.mapping.w_avg.lerp(plain, 0.5), atol=1e-6)


def test_conditional_mapping_depends_on_label():
    G = _sg3(c_dim=5)
    z = torch.randn(1, 16)
    c0, c1 = torch.eye(5)[:1], torch.eye(5)[1:2]
    assert not torch.allclose(G.mapping(z, c0), G.mapping(z, c1))
    with pytest.raises(ValueError):
        G.mapping(z, None)


def test_input_translation_moves_the_fourier_features():
    G = _sg3()
    ws = G.mapping(torch.randn(1, 16), None)
    _, base = capture_layers(G, ws, names=["input"])
    size = base["input"].shape[-1]
    rate = G.synthesis.input.sampling_rate
    # Translating by k samples (in image units: k / sampling_rate) shifts the input grid by k pixels.
    set_input_transform(G, translate=(2 / rate, 0.0))
    _, moved = capture_layers(G, ws, names=["input"])
    a, b = base["input"][0], moved["input"][0]
    assert torch.allclose(a[:, :, : size - 2], b[:, :, 2:], atol=1e-4)
    assert float((a - b).abs().max()) > 1e-2


def test_make_transform_is_the_official_convention():
    m = make_transform((0.25, -0.1), 0.25)
    np.testing.assert_allclose(m, [[0, 1, 0.25], [-1, 0, -0.1], [0, 0, 1]], atol=1e-12)


@pytest.mark.parametrize("architecture", ["orig", "skip", "resnet"])
def test_sg2_architectures_render(architecture):
    G = _sg2(architecture=architecture)
    assert network_kind(G) == "SG2"
    z = torch.randn(2, 16)
    a = G(z, None, noise_mode="const")
    assert a.shape == (2, 3, 32, 32) and torch.isfinite(a).all()
    assert torch.equal(a, G(z, None, noise_mode="const"))


def test_sg2_noise_modes():
    G = _sg2()
    for module in G.modules():
        if hasattr(module, "noise_strength"):
            module.noise_strength.fill_(0.5)
    z = torch.randn(1, 16)
    const, none, rnd = (G(z, None, noise_mode=m) for m in ("const", "none", "random"))
    assert float((const - none).abs().max()) > 1e-3
    assert float((rnd - const).abs().max()) > 1e-3
    with pytest.raises(ValueError):
        G(z, None, noise_mode="bogus")


def test_ada_style_synthesis_kwargs_dict_is_accepted():
    torch.manual_seed(0)
    kwargs = {k: v for k, v in SG2_SMALL.items() if k not in ("channel_base", "channel_max")}
    G = build_generator("sg2", {**kwargs, "synthesis_kwargs": {"channel_base": 128, "channel_max": 8}})
    assert G.synthesis.b4.const.shape[0] == 8
    assert G.init_kwargs["channel_base"] == 128


def test_list_layers_reports_band_limits():
    G = _sg3()
    layers = list_layers(G)
    assert layers[0].name == "input" and layers[-1].name == "L14_32_3"
    cutoffs = [info.cutoff for info in layers[1:]]
    assert cutoffs == sorted(cutoffs) and cutoffs[-1] == 16  # reaches Nyquist of a 32x32 image
    for info in layers[1:]:
        assert info.stopband > info.cutoff
        assert info.sampling_rate / 2 >= info.cutoff


def test_capture_layers_returns_every_layer_and_same_image():
    G = _sg3()
    ws = G.mapping(torch.randn(1, 16), None)
    img, layers = capture_layers(G, ws)
    assert list(layers) == [info.name for info in list_layers(G)]
    assert torch.equal(img, G.synthesis(ws))
    assert layers["L14_32_3"].shape == (1, 3, 32, 32)


def test_frozen_weight_modulation_matches_the_plain_formula():
    """The per-frame fast path (precomputed weight statistics) equals the plain modulation up to rounding,
    follows in-place weight updates, and steps aside when gradients are wanted."""
    from stylegan3.networks import common

    torch.manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(16, 8, 3, 3), requires_grad=False)
    styles = torch.randn(2, 8) * 3
    gain = torch.tensor(0.7)
    plain = common.modulate_weights(weight.detach().clone(), styles, demodulate=True, input_gain=gain)
    common._WEIGHT_STATS.clear()
    fast = common.modulate_weights(weight, styles, demodulate=True, input_gain=gain)
    assert len(common._WEIGHT_STATS) == 1  # the fast path ran
    assert fast.shape == (2, 16, 8, 3, 3)
    torch.testing.assert_close(fast, plain, rtol=1e-6, atol=1e-7)
    # Demodulated: every output filter of every sample has unit norm before the input gain.
    norms = (fast / gain).square().sum(dim=[2, 3, 4]).sqrt()
    torch.testing.assert_close(norms, torch.ones(2, 16), rtol=1e-5, atol=0)

    with torch.no_grad():
        weight.mul_(-2.0)  # a new state dict loaded in place
    again = common.modulate_weights(weight, styles, demodulate=True, input_gain=gain)
    torch.testing.assert_close(again, -fast, rtol=1e-6, atol=1e-7)  # demodulation cancels the scale, not the sign

    trainable = torch.nn.Parameter(torch.randn(4, 3, 3, 3))
    common._WEIGHT_STATS.clear()
    out = common.modulate_weights(trainable, torch.randn(1, 3), demodulate=True)
    assert len(common._WEIGHT_STATS) == 0 and out.requires_grad  # autograd: plain path
