"""NVIDIA-made fixture pickles: every tensor name and shape, the built modules, and convert -> load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from stylegan3.errors import UnsupportedNetworkError
from stylegan3.loading import build_network, load_network, read_native, read_official_pickle, write_native

pytestmark = pytest.mark.fixtures

NETS = [("sg3t", "sg3", "SG3-T"), ("sg3r", "sg3", "SG3-R"), ("sg2", "sg2", "SG2")]


@pytest.fixture(scope="module")
def parsed_fixtures(fixtures_dir):
    return {name: read_official_pickle(fixtures_dir / f"{name}.pkl") for name, _, _ in NETS}


@pytest.mark.parametrize("name, kind, variant", NETS)
def test_every_tensor_name_and_shape(fixtures_dir, parsed_fixtures, name, kind, variant):
    reference = json.loads((fixtures_dir / f"{name}.json").read_text())
    parsed = parsed_fixtures[name]
    assert parsed.kind == kind and parsed.variant == variant and parsed.class_name == "Generator"
    assert parsed.init_kwargs == reference["init_kwargs"]
    assert list(parsed.state_dict) == list(reference["tensors"])
    for key, shape in reference["tensors"].items():
        assert list(parsed.state_dict[key].shape) == shape, key
        assert parsed.state_dict[key].dtype == torch.float32, key
    assert parsed.extra["keys"] == ["G", "D", "G_ema", "augment_pipe", "training_set_kwargs"]


def test_other_networks_in_the_snapshot(fixtures_dir):
    path = fixtures_dir / "sg3t.pkl"
    G = read_official_pickle(path, key="G")  # the non-EMA generator parses just the same
    assert G.kind == "sg3" and len(G.state_dict) == 114
    with pytest.raises(UnsupportedNetworkError, match="'D' holds a Discriminator, not a generator"):
        read_official_pickle(path, key="D")


@pytest.mark.parametrize("name, kind, variant", NETS)
def test_built_module_holds_the_pickle_tensors(parsed_fixtures, name, kind, variant):
    parsed = parsed_fixtures[name]
    G = build_network(parsed, device="cpu")
    state = G.state_dict()
    assert list(state) == list(parsed.state_dict)
    for key, tensor in parsed.state_dict.items():
        assert torch.equal(state[key], tensor), key
    assert not G.training and not any(p.requires_grad for p in G.parameters())


@pytest.mark.parametrize("name", ["sg3t", "sg3r", "sg2"])
def test_convert_then_load_gives_the_same_module(tmp_path, fixtures_dir, name):
    native = write_native(read_official_pickle(fixtures_dir / f"{name}.pkl"), tmp_path / f"{name}.safetensors")
    G_native = load_network(native, device="cpu")
    G_pickle = load_network(fixtures_dir / f"{name}.pkl", device="cpu")
    assert type(G_native) is type(G_pickle) and G_native.init_kwargs == G_pickle.init_kwargs
    assert list(G_native.state_dict()) == list(G_pickle.state_dict())
    for key, tensor in G_pickle.state_dict().items():
        assert torch.equal(G_native.state_dict()[key], tensor), key


def test_convert_then_load_reproduces_the_official_output(tmp_path, fixtures_dir, fixture_cases):
    """Pickle -> native file -> module: the output equals NVIDIA's reference output (SG2: the fast net)."""
    name = "sg2"
    case = next(c for c in fixture_cases if c["pickle"] == f"{name}.pkl" and c["c_label"] is None
                and c["psi"] == 1.0 and c["translate"] == [0, 0] and c["rotate"] == 0 and c["noise_mode"] == "const")
    native = write_native(read_official_pickle(fixtures_dir / f"{name}.pkl"), tmp_path / f"{name}.safetensors")
    assert read_native(native).kind == "sg2"
    G_native = load_network(native, device="cpu")
    z = torch.from_numpy(np.random.RandomState(case["seed"]).randn(1, G_native.z_dim)).float()
    with torch.no_grad():
        ws = G_native.mapping(z, None, truncation_psi=case["psi"], truncation_cutoff=case["cutoff"])
        img = G_native.synthesis(ws, noise_mode="const", force_fp32=True)
    np.testing.assert_allclose(ws.numpy(), np.load(fixtures_dir / case["ws"]), atol=1e-4, rtol=0)
    np.testing.assert_allclose(img.numpy(), np.load(fixtures_dir / case["output"]), atol=1e-4, rtol=0)
