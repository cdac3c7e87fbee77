"""The render request: exact JSON round trip, clear errors, and the one request -> ws / transform path."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from stylegan3.request import (
    SCHEMA_VERSION,
    FFTView,
    Latent,
    LayerView,
    NetworkRef,
    Noise,
    RenderRequest,
    RequestError,
    StyleMix,
    Synthesis,
    Transform,
    Truncation,
    Untransform,
    from_dict,
    from_json,
    to_dict,
    to_json,
)

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
small = st.integers(min_value=-(2**40), max_value=2**40)
opt_int = st.none() | st.integers(min_value=0, max_value=64)
text = st.text(max_size=30)

requests = st.builds(
    RenderRequest,
    network=st.builds(NetworkRef, text, text),
    latent=st.builds(Latent, finite, finite, small),
    mix=st.builds(StyleMix, small, st.lists(st.integers(0, 40), max_size=8).map(tuple)),
    truncation=st.builds(Truncation, finite, opt_int),
    noise=st.builds(Noise, st.sampled_from(["const", "random", "none"]), small),
    transform=st.builds(Transform, st.tuples(finite, finite), finite),
    layer=st.builds(LayerView, st.none() | text, opt_int, st.booleans(), finite),
    fft=st.builds(FFTView, st.booleans(), st.sampled_from(["kaiser", "hann", "none"]), finite),
    untransform=st.builds(Untransform, st.booleans(), st.sampled_from(["warped", "difference"]), finite),
    synthesis=st.builds(Synthesis, st.booleans(), st.booleans()),
)


@settings(max_examples=200, deadline=None)
@given(requests)
def test_any_request_round_trips_through_json_exactly(request):
    text = to_json(request)
    back = from_json(text)
    assert back == request
    assert hash(back) == hash(request)
    assert to_json(back) == text  # and the text is stable


def test_lists_and_ints_are_normalised_so_equal_requests_compare_equal():
    a = RenderRequest(mix=StyleMix(3, [1, 2]), transform=Transform([1, 0], 0))
    b = RenderRequest(mix=StyleMix(3, (1, 2)), transform=Transform((1.0, 0.0), 0.0))
    assert a == b and isinstance(a.mix.ws, tuple) and isinstance(a.transform.translate[0], float)
    assert from_json(to_json(a)) == b


def _doc(**edits):
    data = to_dict(RenderRequest())
    for dotted, value in edits.items():
        *parents, leaf = dotted.split(".")
        node = data
        for p in parents:
            node = node[p]
        if value is KeyError:
            del node[leaf]
        else:
            node[leaf] = value
    return data


@pytest.mark.parametrize(
    ("edits", "message"),
    [
        ({"latent.seed": 3}, "RenderRequest.latent: unknown field 'seed' (known: x, y, class_idx)"),
        ({"truncation.psi": KeyError}, "RenderRequest.truncation: missing field 'psi'"),
        ({"truncation.psi": "0.7"}, "RenderRequest.truncation.psi: expected a number, got '0.7' (str)"),
        ({"latent.class_idx": True}, "RenderRequest.latent.class_idx: expected an integer, got True (bool)"),
        ({"latent.class_idx": 1.5}, "RenderRequest.latent.class_idx: expected an integer, got 1.5 (float)"),
        ({"mix.ws": [1, "a"]}, "RenderRequest.mix.ws[1]: expected an integer, got 'a' (str)"),
        ({"transform.translate": [1.0]}, "RenderRequest.transform.translate: expected a list of 2 values, got 1"),
        ({"noise.mode": "loud"}, "RenderRequest.noise.mode: expected one of 'const', 'random', 'none', got 'loud'"),
        ({"layer": None}, "RenderRequest.layer: expected an object, got None (null)"),
        ({"fft.enabled": 1}, "RenderRequest.fft.enabled: expected true or false, got 1 (int)"),
        ({"schema": 2}, "render request schema version 2 is not supported (this program reads version 1)"),
    ],
)
def test_bad_documents_name_the_field(edits, message):
    with pytest.raises(RequestError) as err:
        from_dict(_doc(**edits))
    assert str(err.value) == message


def test_not_json_truncated_json_and_non_finite_numbers_are_refused():
    text = to_json(RenderRequest())
    with pytest.raises(RequestError, match="not valid JSON"):
        from_json(text[: len(text) // 2])
    with pytest.raises(RequestError, match="not valid JSON"):
        from_json(b"\xff\xfe garbage")
    with pytest.raises(RequestError, match="expected a finite number"):
        from_json(text.replace('"psi": 1.0', '"psi": NaN'))
    with pytest.raises(RequestError, match="expected an object"):
        from_json("[1, 2, 3]")


def test_code_built_requests_are_checked_too():
    with pytest.raises(RequestError, match="Noise.mode"):
        Noise(mode="loud")
    with pytest.raises(RequestError, match="Truncation.psi: expected a number"):
        Truncation(psi="high")


def test_defaults_and_schema():
    r = RenderRequest()
    data = json.loads(to_json(r))
    assert data["schema"] == SCHEMA_VERSION == 1
    assert list(data) == ["schema", "network", "latent", "mix", "truncation", "noise", "transform", "layer",
                          "fft", "untransform", "synthesis"]
    assert r.with_seed(7).latent == Latent(7.0, 0.0, 0) and r.with_seed(7).latent.seed == 7


def test_request_ws_matches_the_official_seed_to_w_path():
    from service_support import tiny_net

    from stylegan3.latents import z_from_seed
    from stylegan3.render.inputs import request_ws

    G = tiny_net("SG3-T")
    r = RenderRequest(latent=Latent(5.0), truncation=Truncation(0.7, None), mix=StyleMix(9, (2, 3)))
    ws = request_ws(G, r, torch.device("cpu"))
    expect = G.mapping(torch.from_numpy(z_from_seed(5, G.z_dim)).float(), None, truncation_psi=0.7)
    mixed = G.mapping(torch.from_numpy(z_from_seed(9, G.z_dim)).float(), None, truncation_psi=0.7)
    expect[:, [2, 3]] = mixed[:, [2, 3]]
    assert torch.equal(ws, expect)


def test_request_transform_is_the_viewer_matrix_and_the_input_gets_its_inverse():
    from stylegan3.render.inputs import input_transform, request_transform

    r = RenderRequest(transform=Transform((0.25, -0.1), 0.125))
    m = request_transform(r)
    c = s = np.sqrt(0.5)
    np.testing.assert_allclose(m, [[c, s, 0.25], [-s, c, -0.1], [0, 0, 1]], atol=1e-12)
    np.testing.assert_allclose(input_transform(r) @ m, np.eye(3), atol=1e-12)
