"""The native .safetensors format: round trips, metadata, detection by content, and the demo source."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open

import stylegan3
from stylegan3.loading import load_network, read_native, read_official_pickle, save_native, write_native
from stylegan3.loading.formats import detect_format
from tests.support.nets import tiny_net
from tests.support.official_fakes import official_pickle_bytes


@pytest.mark.parametrize("name", ["sg3t", "sg3r", "sg2"])
def test_save_native_round_trip(tmp_path, name):
    G = tiny_net(name, res=16, c_dim=2 if name == "sg2" else 0, perturb=0.01)
    path = save_native(G, tmp_path / "net.safetensors")
    assert detect_format(path.read_bytes()[:64]) == "safetensors"
    assert [p.name for p in tmp_path.iterdir()] == ["net.safetensors"]  # no temp file left behind
    loaded = load_network(path, device="cpu")
    assert type(loaded) is type(G) and not loaded.training
    assert not any(p.requires_grad for p in loaded.parameters())
    expected = G.state_dict()
    assert set(loaded.state_dict()) == set(expected)
    for key, tensor in expected.items():
        assert torch.equal(loaded.state_dict()[key], tensor), key


def test_metadata(tmp_path):
    G = tiny_net("SG3-R", res=16, perturb=0.01)
    path = save_native(G, tmp_path / "net.safetensors")
    with safe_open(str(path), framework="pt") as file:
        metadata = file.metadata()
    assert metadata["format"] == "sg3-explorer"
    assert metadata["format_version"] == "1"
    assert metadata["kind"] == "sg3"
    assert metadata["class_name"] == "Generator"
    kwargs = json.loads(metadata["init_kwargs"])
    for key, value in G.init_kwargs.items():
        assert kwargs[key] == value


def test_pickle_to_native_keeps_everything(tmp_path):
    G = tiny_net("SG3-T", res=16, perturb=0.01)
    parsed = read_official_pickle(official_pickle_bytes(G))
    write_native(parsed, tmp_path / "net.safetensors")
    back = read_native(tmp_path / "net.safetensors")
    assert back.kind == parsed.kind == "sg3"
    assert back.variant == "SG3-T"
    assert back.init_kwargs == parsed.init_kwargs
    assert set(back.state_dict) == set(parsed.state_dict)
    for key, tensor in parsed.state_dict.items():
        assert back.state_dict[key].dtype == tensor.dtype
        assert torch.equal(back.state_dict[key], tensor), key


def test_outputs_identical_after_native_round_trip(tmp_path):
    G = tiny_net("SG2", res=16, c_dim=2, perturb=0.01)
    loaded = load_network(save_native(G, tmp_path / "g.safetensors"), device="cpu")
    z = torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(5))
    c = torch.eye(2)
    with torch.no_grad():
        expected = G(z, c, truncation_psi=0.5, noise_mode="const", force_fp32=True)
        got = loaded(z, c, truncation_psi=0.5, noise_mode="const", force_fp32=True)
    assert expected.abs().max() > 0
    assert torch.equal(got, expected)


def test_format_is_detected_by_content_not_extension(tmp_path):
    G = tiny_net("SG2", res=16, c_dim=2, perturb=0.01)
    native_named_pkl = save_native(G, tmp_path / "really_safetensors.pkl")
    pickle_named_safetensors = tmp_path / "really_pickle.safetensors"
    pickle_named_safetensors.write_bytes(official_pickle_bytes(G))
    for path in (native_named_pkl, pickle_named_safetensors):
        loaded = load_network(path, device="cpu")
        assert torch.equal(loaded.state_dict()["synthesis.b4.const"], G.state_dict()["synthesis.b4.const"])


def test_save_native_overwrites_atomically(tmp_path):
    path = tmp_path / "net.safetensors"
    save_native(tiny_net("SG2", res=16, seed=1, c_dim=2, perturb=0.01), path)
    G2 = tiny_net("SG2", res=16, seed=2, c_dim=2, perturb=0.01)
    save_native(G2, path)
    assert torch.equal(read_native(path).state_dict["mapping.fc0.weight"], G2.state_dict()["mapping.fc0.weight"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.safetensors"]


def test_save_native_needs_a_generator(tmp_path):
    with pytest.raises(TypeError, match="init_kwargs"):
        save_native(torch.nn.Linear(2, 2), tmp_path / "x.safetensors")
    assert not list(tmp_path.iterdir())


def test_demo_source_uses_the_demo_module(monkeypatch):
    import stylegan3.loading.demo

    calls = []

    def fake_demo(*args, **kwargs):
        calls.append((args, kwargs))
        return tiny_net("SG2", res=16, c_dim=2, perturb=0.01).train().requires_grad_(True)

    monkeypatch.setattr(stylegan3.loading.demo, "demo_network", fake_demo)
    G = stylegan3.load_network("demo", device="cpu")
    assert len(calls) == 1
    assert not G.training and not any(p.requires_grad for p in G.parameters())
    assert {t.device.type for t in G.state_dict().values()} == {"cpu"}


def test_default_device(tmp_path):
    G = load_network(save_native(tiny_net("SG2", res=16, c_dim=2, perturb=0.01), tmp_path / "g.safetensors"))
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert next(G.parameters()).device.type == expected


def test_unknown_device_is_a_user_error(tmp_path):
    path = save_native(tiny_net("SG2", res=16, c_dim=2, perturb=0.01), tmp_path / "g.safetensors")
    with pytest.raises(stylegan3.SG3Error, match="unknown device 'gpu0'"):
        load_network(path, device="gpu0")
