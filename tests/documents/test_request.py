"""The render request: exact JSON round trip, clear errors, and the one request -> ws / transform path."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from stylegan3.documents.request import (
    NOISE_MODES,
    SCHEMA_VERSION,
    UNTRANSFORM_VIEWS,
    WINDOWS,
    ExplicitLatent,
    FFTView,
    Latent,
    LatentMove,
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
    explicit=st.builds(ExplicitLatent, st.none() | st.integers(1, 4).flatmap(
        lambda n: st.lists(st.lists(finite, min_size=n, max_size=n).map(tuple), min_size=1, max_size=3).map(tuple)),
        text, st.tuples(finite, finite)),
    moves=st.lists(st.builds(LatentMove, st.lists(finite, max_size=5).map(tuple), finite,
                             st.none() | st.lists(st.integers(0, 40), max_size=4).map(tuple), text),
                   max_size=3).map(tuple),
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
        ({"schema": 3}, "render request schema version 3 is not supported (this program reads versions 1, 2)"),
        ({"explicit.w": [[1.0, 2.0], [3.0]]},
         "ExplicitLatent.w: expected one or more rows of equal, non-zero length"),
        ({"moves": [{"vector": [1.0], "strength": "x", "ws": None, "label": ""}]},
         "RenderRequest.moves[0].strength: expected a number, got 'x' (str)"),
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
    assert data["schema"] == SCHEMA_VERSION == 2
    assert list(data) == ["schema", "network", "latent", "mix", "truncation", "noise", "transform", "layer",
                          "fft", "untransform", "synthesis", "explicit", "moves"]
    assert data["explicit"] == {"w": None, "label": "", "at": [0.0, 0.0]} and data["moves"] == []
    assert r.with_seed(7).latent == Latent(7.0, 0.0, 0) and r.with_seed(7).latent.seed == 7


def test_panels_edit_one_section_of_a_frozen_request():
    r = RenderRequest()
    edited = r.edit("truncation", psi=0.7).edit("latent", x=3)
    assert edited.truncation == Truncation(0.7) and edited.latent == Latent(3.0) and r == RenderRequest()
    assert type(edited.latent.x) is float  # normalised: equal requests compare equal however they were edited
    with pytest.raises(RequestError, match="Noise.mode"):
        r.edit("noise", mode="loud")
    assert (NOISE_MODES, WINDOWS, UNTRANSFORM_VIEWS) == (("const", "random", "none"), ("kaiser", "hann", "none"),
                                                          ("warped", "difference"))


def test_a_frame_sends_the_explicit_latent_only_where_it_applies():
    pinned = ExplicitLatent(((0.5, -0.25),), "projection", (2.0, 0.0))
    at = RenderRequest(latent=Latent(2.0), explicit=pinned)
    assert at.for_frame() is at
    away = at.edit("latent", x=3.0)
    assert away.for_frame() == away.replace(explicit=ExplicitLatent()) and away.explicit == pinned
    assert RenderRequest().for_frame() == RenderRequest()


def test_the_latent_part_is_what_decides_the_ws_and_nothing_shown_after():
    move = LatentMove((1.0, 0.0), 2.0)
    r = RenderRequest(latent=Latent(2.0), explicit=ExplicitLatent(((0.5, -0.25),), "p", (2.0, 0.0)), moves=(move,))
    key = r.latent_part()
    for view in (r.edit("transform", translate=(0.25, 0.0)), r.edit("layer", layer="output", gain_db=6.0),
                 r.edit("fft", enabled=True), r.edit("untransform", enabled=True), r.edit("noise", mode="random")):
        assert view.latent_part() == key
    for latent in (r.edit("latent", y=0.5), r.edit("mix", ws=(1,)), r.edit("truncation", psi=0.5),
                   r.replace(moves=()), r.replace(moves=(move, move)), r.edit("synthesis", force_fp32=True),
                   r.replace(explicit=ExplicitLatent(((0.5, 0.25),), "p", (2.0, 0.0))),
                   r.replace(network=NetworkRef("other.pkl"))):
        assert latent.latent_part() != key
    # An explicit latent that no longer applies (another seed) is not part of it.
    elsewhere = r.edit("latent", x=4.0)
    assert elsewhere.latent_part() == elsewhere.replace(explicit=ExplicitLatent()).latent_part()


def test_request_ws_matches_the_official_seed_to_w_path():
    from stylegan3.networks.latents import z_from_seed
    from stylegan3.render.inputs import request_ws
    from tests.support.nets import tiny_net

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


V1_REQUEST = """{"schema": 1, "network": {"source": "demo-sg2", "key": "G_ema"},
 "latent": {"x": 4.0, "y": 0.5, "class_idx": 2}, "mix": {"seed": 7, "ws": [1, 3]},
 "truncation": {"psi": 0.7, "cutoff": null}, "noise": {"mode": "random", "seed": 11},
 "transform": {"translate": [0.125, -0.25], "rotate": 0.05},
 "layer": {"layer": "L3_52_512", "channel": 2, "normalize": true, "gain_db": 6.0},
 "fft": {"enabled": true, "window": "hann", "range_db": 60.0},
 "untransform": {"enabled": false, "view": "difference", "diff_gain_db": 20.0},
 "synthesis": {"force_fp32": true, "cuda_graphs": false}}"""


def test_a_version_1_request_still_loads_with_no_explicit_latent_and_no_moves():
    r = from_json(V1_REQUEST)
    assert r.schema == 2 and r.explicit == ExplicitLatent() and r.moves == ()
    assert r.latent == Latent(4.0, 0.5, 2) and r.mix == StyleMix(7, (1, 3)) and r.noise == Noise("random", 11)
    assert r.layer == LayerView("L3_52_512", 2, True, 6.0) and r.fft == FFTView(True, "hann", 60.0)
    assert r.synthesis == Synthesis(True, False) and r.transform == Transform((0.125, -0.25), 0.05)
    assert json.loads(to_json(r))["schema"] == 2
    with pytest.raises(RequestError, match="unknown field 'bogus'"):
        from_json(V1_REQUEST.replace('"schema": 1,', '"schema": 1, "bogus": 1,'))


def test_explicit_latent_replaces_the_seed_only_at_the_position_it_was_set_at():
    from stylegan3.render.inputs import explicit_latent, request_ws
    from tests.support.nets import tiny_net

    G = tiny_net("SG3-T")
    cpu = torch.device("cpu")
    target = torch.randn(1, G.num_ws, G.w_dim)
    base = RenderRequest(latent=Latent(3.0), truncation=Truncation(0.5, None))
    r = base.replace(explicit=explicit_latent(target, base.latent, "projected"))
    assert from_json(to_json(r)) == r and r.explicit.label == "projected"
    assert torch.equal(request_ws(G, r, cpu), target)  # float32 bits survive the float rows and the JSON
    assert torch.equal(request_ws(G, from_json(to_json(r)), cpu), target)
    moved = r.with_seed(4)
    assert torch.equal(request_ws(G, moved, cpu), request_ws(G, base.with_seed(4), cpu))
    w = explicit_latent(target[0, 0], base.latent)  # W: one row, used for every ws
    assert w.num_rows == 1
    assert torch.equal(request_ws(G, base.replace(explicit=w), cpu), target[:, :1].repeat(1, G.num_ws, 1))
    wrong = explicit_latent(torch.zeros(1, G.num_ws, G.w_dim + 1), base.latent)  # left over from another net
    assert torch.equal(request_ws(G, base.replace(explicit=wrong), cpu), request_ws(G, base, cpu))


def test_moves_carry_their_vector_and_add_strength_times_vector_on_their_ws():
    from stylegan3.explore.directions import DirectionMove, Directions, apply_moves, request_moves
    from stylegan3.render.inputs import request_ws
    from tests.support.nets import tiny_net

    G = tiny_net("SG3-T")
    cpu = torch.device("cpu")
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((3, G.w_dim)).astype(np.float32)
    d = Directions(vectors=vecs / np.linalg.norm(vecs, axis=1, keepdims=True), sigmas=np.array([1.5, 2.0, 0.5]),
                   mean=np.zeros(G.w_dim), kind="pca")
    moves = [DirectionMove(1, 2.0, (0, 2)), DirectionMove(2, -1.0, None)]
    lm = request_moves(d, moves)
    assert lm[0].strength == 4.0 and lm[0].ws == (0, 2) and lm[0].label == "PC1" and lm[1].ws is None
    r = RenderRequest(latent=Latent(2.0), moves=lm)
    assert from_json(to_json(r)) == r
    plain = request_ws(G, RenderRequest(latent=Latent(2.0)), cpu)
    got = request_ws(G, from_json(to_json(r)), cpu)
    expect = plain.clone()
    expect[:, [0, 2]] += torch.from_numpy(4.0 * d.vectors[1])
    expect[:] += torch.from_numpy(-0.5 * d.vectors[2])
    assert torch.allclose(got, expect, atol=1e-6) and not torch.equal(got, plain)
    assert torch.equal(got, apply_moves(plain, d, moves))  # the library's own entry point, same bits


def test_a_w_plus_latent_of_a_1024_net_fits_in_one_service_message():
    from stylegan3.render.inputs import explicit_latent
    from stylegan3.service.protocol import MAX_REQUEST_BYTES

    ws = torch.randn(1, 16, 512) * 3
    r = RenderRequest(explicit=explicit_latent(ws, Latent()))
    assert len(to_json(r).encode()) < MAX_REQUEST_BYTES / 2
