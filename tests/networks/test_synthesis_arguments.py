"""Cancel and layer capture are arguments of synthesis (and cancel of mapping), like the transform.

`should_stop` is asked once between layers and a True stops the pass with `RenderCancelled`; `capture` names
layers whose outputs come back next to the image. The official call (`G.synthesis(ws, noise_mode=,
force_fp32=, transform=)`) still returns the image alone, unchanged.
"""

from __future__ import annotations

import pytest
import torch

from stylegan3.networks.cancel import RenderCancelled
from stylegan3.networks.info import describe
from stylegan3.networks.layers import capture_layers, list_layers
from tests.support.service import KINDS, tiny_net


def _ws(G: torch.nn.Module, n: int = 2) -> torch.Tensor:
    return G.mapping(torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(3)), None, truncation_psi=0.8)


def _hooked_outputs(G: torch.nn.Module, ws: torch.Tensor, names: list[str], **kwargs) -> dict[str, torch.Tensor]:
    """The reference: what forward hooks on (the test's own copy of) the layers see."""
    seen: dict[str, torch.Tensor] = {}
    handles = [G.synthesis.get_submodule(n).register_forward_hook(
        lambda _m, _i, out, n=n: seen.__setitem__(n, out[0] if isinstance(out, tuple) else out)) for n in names]
    try:
        G.synthesis(ws, **kwargs)
    finally:
        for h in handles:
            h.remove()
    return seen


@pytest.mark.parametrize("kind", KINDS)
def test_captured_layers_equal_what_the_layers_output_and_the_image_is_unchanged(kind):
    G = tiny_net(kind, res=16)
    ws = _ws(G)
    names = [info.name for info in list_layers(G)]
    with torch.no_grad():
        plain = G.synthesis(ws, noise_mode="const", force_fp32=True)
        img, layers = G.synthesis(ws, noise_mode="const", force_fp32=True, capture=names)
        reference = _hooked_outputs(G, ws, names, noise_mode="const", force_fp32=True)
    assert isinstance(plain, torch.Tensor) and torch.equal(img, plain)
    assert list(layers) == names  # in the order asked
    for name in names:
        assert torch.equal(layers[name], reference[name]), name


@pytest.mark.parametrize("kind", KINDS)
def test_capture_of_some_layers_returns_just_those(kind):
    G = tiny_net(kind, res=16)
    ws = _ws(G, 1)
    names = [info.name for info in list_layers(G)]
    wanted = [names[-1], names[1]]
    with torch.no_grad():
        img, layers = G.synthesis(ws, noise_mode="const", capture=wanted)
        empty_img, empty = G.synthesis(ws, noise_mode="const", capture=())
    assert list(layers) == wanted and empty == {} and torch.equal(img, empty_img)
    info = describe(G, kind)
    for name in wanted:
        layer = info.layer(name)
        assert tuple(layers[name].shape) == (1, layer.channels, layer.height, layer.width)


@pytest.mark.parametrize("kind", KINDS)
def test_unknown_layer_name_is_refused_before_any_work(kind):
    G = tiny_net(kind, res=16)
    calls = []
    with pytest.raises(ValueError, match="nope"):
        G.synthesis(_ws(G, 1), capture=["nope"], should_stop=lambda: calls.append(1) or False)
    assert calls == []


def test_capture_layers_keeps_its_api():
    G = tiny_net("SG3-T", res=16)
    ws = _ws(G, 1)
    with torch.no_grad():
        img, layers = capture_layers(G, ws, names=["input"], noise_mode="const")
        _, every = capture_layers(G, ws, noise_mode="const")
    assert list(layers) == ["input"] and torch.equal(img, G.synthesis(ws, noise_mode="const"))
    assert list(every) == [info.name for info in list_layers(G)]
    assert torch.equal(every["input"], layers["input"])


def test_capture_with_a_per_sample_transform_follows_the_transform():
    from stylegan3.networks.transform import input_transform

    G = tiny_net("SG3-T", res=16)
    ws = _ws(G, 2)
    moved = torch.from_numpy(input_transform((0.25, 0.0), 0.0)).float()
    with torch.no_grad():
        _, base = G.synthesis(ws, noise_mode="const", capture=["input"])
        _, shifted = G.synthesis(ws, noise_mode="const", capture=["input"], transform=moved)
    assert not torch.allclose(base["input"], shifted["input"])


@pytest.mark.parametrize("kind", KINDS)
def test_should_stop_is_asked_once_per_layer_and_a_false_changes_nothing(kind):
    G = tiny_net(kind, res=16)
    ws = _ws(G, 1)
    calls = []
    with torch.no_grad():
        plain = G.synthesis(ws, noise_mode="const")
        checked = G.synthesis(ws, noise_mode="const", should_stop=lambda: calls.append(1) or False)
    assert torch.equal(plain, checked)
    # SG3: the Fourier input and each layer; SG2: each block
    assert len(calls) == (len(G.synthesis.layer_names) + (1 if kind != "SG2" else 0))


@pytest.mark.parametrize("kind", KINDS)
def test_should_stop_true_stops_synthesis_before_the_next_layer(kind):
    G = tiny_net(kind, res=16)
    ws = _ws(G, 1)
    ran: list[str] = []
    handles = [m.register_forward_pre_hook(lambda m, _i, n=n: ran.append(n))  # test's own instrument
               for n, m in G.synthesis.named_children()]
    calls = []

    def stop_at_third() -> bool:
        calls.append(1)
        return len(calls) == 3

    try:
        with torch.no_grad(), pytest.raises(RenderCancelled):
            G.synthesis(ws, noise_mode="const", should_stop=stop_at_third)
    finally:
        for h in handles:
            h.remove()
    assert len(calls) == 3 and len(ran) == 2  # two layers (or blocks) ran, the third never started


@pytest.mark.parametrize("kind", KINDS)
def test_mapping_takes_should_stop_too(kind):
    G = tiny_net(kind, res=16)
    z = torch.randn(1, G.z_dim)
    calls = []
    with torch.no_grad():
        plain = G.mapping(z, None, truncation_psi=0.7)
        checked = G.mapping(z, None, truncation_psi=0.7, should_stop=lambda: calls.append(1) or False)
        assert torch.equal(plain, checked) and len(calls) == G.mapping.num_layers
        with pytest.raises(RenderCancelled):
            G.mapping(z, None, should_stop=lambda: True)


def test_generator_call_passes_both_arguments_on():
    G = tiny_net("SG3-T", res=16)
    z = torch.randn(1, G.z_dim)
    calls = []
    with torch.no_grad():
        img, layers = G(z, None, noise_mode="const", capture=["input"], should_stop=lambda: calls.append(1) or False)
        assert torch.equal(img, G(z, None, noise_mode="const"))
    assert list(layers) == ["input"]
    assert len(calls) == G.mapping.num_layers + len(G.synthesis.layer_names) + 1
