"""Our generators against NVIDIA's own float32 outputs on every reference case (../shared/fixtures)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

import stylegan3
from stylegan3.networks.latents import class_vector, z_from_seed
from stylegan3.networks.layers import capture_layers
from stylegan3.networks.transform import set_input_transform

pytestmark = pytest.mark.fixtures
TOLERANCE = 1e-4


@functools.cache
def _load(path: str) -> torch.nn.Module:
    return stylegan3.load_network(path, device="cpu")


def _ws_and_image(fixtures_dir, case):
    G = _load(str(fixtures_dir / case["pickle"]))
    z = torch.from_numpy(z_from_seed(case["seed"], G.z_dim))
    c = class_vector(G.c_dim, case.get("c_label"))
    with torch.no_grad():
        ws = G.mapping(z, c, truncation_psi=case["psi"], truncation_cutoff=case["cutoff"])
        set_input_transform(G, tuple(case["translate"]), case["rotate"])
        img = G.synthesis(ws, noise_mode=case["noise_mode"], force_fp32=True)
    return G, ws, img


def test_every_case_matches_reference(fixtures_dir, fixture_cases):
    worst: dict[str, float] = {}
    for case in fixture_cases:
        _, ws, img = _ws_and_image(fixtures_dir, case)
        ref_ws = np.load(fixtures_dir / case["ws"])
        ref_img = np.load(fixtures_dir / case["output"])
        assert img.dtype == torch.float32 and tuple(img.shape) == ref_img.shape
        d_ws = float(np.abs(ws.numpy() - ref_ws).max())
        d_img = float(np.abs(img.numpy() - ref_img).max())
        assert d_ws <= TOLERANCE, (case["ws"], d_ws)
        assert d_img <= TOLERANCE, (case["output"], d_img)
        worst[case["pickle"]] = max(worst.get(case["pickle"], 0.0), d_ws, d_img)
    assert set(worst) >= {"sg3t.pkl", "sg3r.pkl", "sg2.pkl"}
    print("worst abs diff per net:", worst)


def test_cases_cover_transforms_truncation_and_noise(fixture_cases):
    # Guards the test above against a silently shrunken case list.
    assert any(c["rotate"] for c in fixture_cases)
    assert any(c["translate"] != [0, 0] for c in fixture_cases)
    assert any(c["cutoff"] is not None for c in fixture_cases)
    assert {c["noise_mode"] for c in fixture_cases} >= {"const", "none"}


def test_every_layer_output_matches_reference(fixtures_dir, fixture_cases):
    layer_cases = [c for c in fixture_cases if c.get("layers")]
    assert layer_cases
    for case in layer_cases:
        G = _load(str(fixtures_dir / case["pickle"]))
        ref = np.load(fixtures_dir / case["layers"])
        z = torch.from_numpy(z_from_seed(case["seed"], G.z_dim))
        with torch.no_grad():
            ws = G.mapping(z, None, truncation_psi=case["psi"], truncation_cutoff=case["cutoff"])
            set_input_transform(G, tuple(case["translate"]), case["rotate"])
            _, layers = capture_layers(G, ws, force_fp32=True)
        assert set(ref.keys()) == set(layers)
        for name in ref.keys():
            diff = float(np.abs(layers[name].numpy() - ref[name]).max())
            # Inner layers reach magnitudes of tens: compare relative to the layer's range.
            scale = max(1.0, float(np.abs(ref[name]).max()))
            assert diff <= TOLERANCE * scale, (case["layers"], name, diff)


def test_random_noise_differs_from_const_for_sg2(fixtures_dir):
    G = _load(str(fixtures_dir / "sg2.pkl"))
    z = torch.from_numpy(z_from_seed(0, G.z_dim)).float()
    with torch.no_grad():
        a = G(z, None, noise_mode="const")
        b = G(z, None, noise_mode="random")
        c = G(z, None, noise_mode="none")
    assert float((a - b).abs().max()) > 1e-3
    assert float((a - c).abs().max()) > 1e-3
