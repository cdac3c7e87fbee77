"""Reading official-layout pickles written by test code: tensors, kwargs, kinds, and the built module."""

from __future__ import annotations

import collections
import io
import pickle

import numpy as np
import pytest
import torch

from stylegan3.errors import UnsupportedNetworkError
from stylegan3.loading import load_network, read_official_pickle
from stylegan3.loading.safe_unpickler import restricted_load
from tests.support.nets import tiny_net
from tests.support.official_fakes import (
    EasyDict,
    Persistent,
    dump_official,
    module_state,
    official_pickle_bytes,
    official_top,
    official_tree,
)


def _roundtrip(obj):
    return restricted_load(io.BytesIO(dump_official(obj)), "test")


@pytest.mark.parametrize("name, variant", [("sg3t", "SG3-T"), ("sg3r", "SG3-R"), ("sg2", "SG2")])
def test_parse_gives_every_tensor_with_official_names(name, variant):
    G = tiny_net(name, res=16, c_dim=2 if name == "sg2" else 0, perturb=0.01)
    parsed = read_official_pickle(official_pickle_bytes(G))
    expected = G.state_dict()
    assert parsed.kind == ("sg2" if name == "sg2" else "sg3")
    assert parsed.variant == variant
    assert parsed.class_name == "Generator"
    assert list(parsed.state_dict) == list(expected)  # same names, same order as Module.state_dict()
    for key, tensor in expected.items():
        assert parsed.state_dict[key].dtype == tensor.dtype
        assert torch.equal(parsed.state_dict[key], tensor), key


def test_init_kwargs_become_plain_values():
    G = tiny_net("SG3-T", res=16, perturb=0.01)
    parsed = read_official_pickle(official_pickle_bytes(G))
    beta = parsed.init_kwargs.pop("magnitude_ema_beta")
    assert type(beta) is float and beta == pytest.approx(0.5 ** (32 / 20_000), rel=1e-15)
    assert parsed.init_kwargs == G.init_kwargs
    assert parsed.extra["keys"] == ["G", "D", "G_ema", "augment_pipe", "training_set_kwargs"]
    assert parsed.extra["version"] == 6
    assert type(parsed.extra["training_set_kwargs"]) is dict  # EasyDict read as a plain dict
    assert parsed.extra["training_set_kwargs"] == {"resolution": 16, "use_labels": False}


def test_path_and_bytes_give_the_same_result(tmp_path):
    data = official_pickle_bytes(tiny_net("SG2", res=16, c_dim=2, perturb=0.01))
    path = tmp_path / "net.pkl"
    path.write_bytes(data)
    a, b = read_official_pickle(path), read_official_pickle(data)
    assert a.init_kwargs == b.init_kwargs and a.kind == b.kind
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in b.state_dict)
    assert a.extra["source"] == str(path)


def test_positional_init_args_are_named():
    G = tiny_net("SG2", res=16, c_dim=2, perturb=0.01)
    tree = official_tree(G)
    kwargs = tree.meta["state"]["_init_kwargs"]
    positional = tuple(kwargs.pop(k) for k in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels"))
    tree.meta["state"]["_init_args"] = positional
    parsed = read_official_pickle(dump_official(official_top(tree)))
    assert parsed.init_kwargs == G.init_kwargs


def test_non_persistent_buffers_are_left_out():
    state = module_state(torch.nn.Module())
    state["_buffers"]["kept"] = torch.ones(2)
    state["_buffers"]["scratch"] = torch.zeros(3)
    state["_non_persistent_buffers_set"] = {"scratch"}
    synthesis_state = module_state(torch.nn.Module())
    synthesis_state["_parameters"]["freqs"] = torch.ones(4, 2)
    input_record = Persistent("SynthesisInput", synthesis_state)
    synth = module_state(torch.nn.Module())
    synth["_modules"]["input"] = input_record
    state["_modules"]["synthesis"] = Persistent("SynthesisNetwork", synth)
    state["_init_kwargs"] = {"z_dim": 1}
    parsed = read_official_pickle(dump_official({"G_ema": Persistent("Generator", state)}))
    assert list(parsed.state_dict) == ["kept", "synthesis.input.freqs"]
    assert parsed.kind == "sg3"


def test_kind_from_module_source_when_structure_is_silent():
    state = module_state(torch.nn.Module())
    state["_init_kwargs"] = {}
    src = "import torch\n\nclass SynthesisInput(torch.nn.Module):\n    pass\n"
    assert read_official_pickle(dump_official({"G_ema": Persistent("Generator", state, src)})).kind == "sg3"
    with pytest.raises(UnsupportedNetworkError, match="neither a StyleGAN3 nor a StyleGAN2"):
        read_official_pickle(dump_official({"G_ema": Persistent("Generator", state, "x = 1\n")}))


def test_other_keys_and_wrong_classes():
    data = official_pickle_bytes(tiny_net("SG2", res=16, c_dim=2, perturb=0.01))
    with pytest.raises(UnsupportedNetworkError, match="'D' holds a Discriminator, not a generator"):
        read_official_pickle(data, key="D")
    with pytest.raises(UnsupportedNetworkError, match=r"no 'Gs' in this pickle; it holds: 'G', 'D', 'G_ema'"):
        read_official_pickle(data, key="Gs")
    with pytest.raises(UnsupportedNetworkError, match=r"'augment_pipe' is empty \(None\)"):
        read_official_pickle(data, key="augment_pipe")
    with pytest.raises(UnsupportedNetworkError, match="'training_set_kwargs' holds a dict, not a network"):
        read_official_pickle(data, key="training_set_kwargs")


def test_tensor_layouts_survive():
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    tensors = {"t": base, "transposed": base.t(), "view": base[1:, ::2], "half": base.half(), "scalar": base[2, 3],
               "long": torch.arange(5), "param": torch.nn.Parameter(torch.ones(3)), "dtype": torch.float16}
    out = _roundtrip(tensors)
    for key in ("t", "transposed", "view", "half", "scalar", "long"):
        assert out[key].dtype == tensors[key].dtype
        assert torch.equal(out[key], tensors[key]), key
    assert type(out["param"]) is torch.Tensor and torch.equal(out["param"], torch.ones(3))
    assert out["dtype"] is torch.float16


def test_numpy_values_survive():
    values = {
        "f64": np.float64(0.25), "f32": np.float32(1.5), "i64": np.int64(-7), "bool": np.bool_(True),
        "array": np.arange(6, dtype=np.float32).reshape(2, 3), "fortran": np.asfortranarray(np.eye(3)),
        "big_endian": np.array([1.0, 2.0], dtype=">f4"), "easy": EasyDict(a=1),
        "ordered": collections.OrderedDict(x=1),
    }
    out = _roundtrip(values)
    assert out["f64"] == 0.25 and type(out["f64"]) is float
    assert out["f32"] == 1.5 and out["i64"] == -7 and out["bool"] is True
    np.testing.assert_array_equal(out["array"], values["array"])
    assert out["array"].dtype == np.float32
    np.testing.assert_array_equal(out["fortran"], np.eye(3))
    np.testing.assert_array_equal(out["big_endian"], [1.0, 2.0])
    assert type(out["easy"]) is dict and out["easy"] == {"a": 1}
    assert type(out["ordered"]) is collections.OrderedDict


def test_shared_sub_objects_are_not_expanded_exponentially():
    node: list = [torch.ones(1)]
    for _ in range(80):  # 2**80 paths through 80 shared lists
        node = [node, node]
    out = _roundtrip({"deep": node})
    for _ in range(80):
        out["deep"] = out["deep"][0]
    assert torch.equal(out["deep"][0], torch.ones(1))


@pytest.mark.parametrize("name", ["sg3t", "sg3r", "sg2"])
def test_load_network_builds_an_equal_module(tmp_path, name):
    G = tiny_net(name, res=16, c_dim=2 if name == "sg2" else 0, perturb=0.01)
    path = tmp_path / "snapshot.pkl"
    path.write_bytes(official_pickle_bytes(G))
    loaded = load_network(path, device="cpu")
    assert type(loaded) is type(G)
    assert not loaded.training
    assert not any(p.requires_grad for p in loaded.parameters())
    assert {t.device.type for t in loaded.state_dict().values()} == {"cpu"}
    for key, tensor in G.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], tensor), key
    if name != "sg2":
        return  # equal tensors in equal modules: one forward pass below (the cheap net) checks the plumbing
    z = torch.from_numpy(np.random.RandomState(3).randn(1, G.z_dim)).float()
    c = torch.zeros(1, G.c_dim)
    c[:, 0] = 1
    with torch.no_grad():
        expected = G(z, c, truncation_psi=0.7, noise_mode="const", force_fp32=True)
        got = loaded(z, c, truncation_psi=0.7, noise_mode="const", force_fp32=True)
    assert expected.shape == (1, 3, 16, 16)
    assert torch.equal(got, expected)


def test_mismatched_tensors_give_one_line(tmp_path):
    G = tiny_net("SG2", res=16, c_dim=2, perturb=0.01)
    tree = official_tree(G)
    tree.meta["state"]["_init_kwargs"]["channel_max"] = 32  # the weights were made for 16 channels
    with pytest.raises(UnsupportedNetworkError, match="do not fit a SG2 generator: wrong shape") as info:
        from stylegan3.loading import build_network

        build_network(read_official_pickle(dump_official(official_top(tree))), device="cpu")
    assert "\n" not in str(info.value)


def test_bad_constructor_arguments_are_reported(tmp_path):
    tree = official_tree(tiny_net("SG2", res=16, c_dim=2, perturb=0.01))
    tree.meta["state"]["_init_kwargs"]["no_such_argument"] = 1
    path = tmp_path / "odd.pkl"
    path.write_bytes(dump_official(official_top(tree)))
    with pytest.raises(UnsupportedNetworkError, match="cannot build a SG2 generator from its constructor arguments"):
        load_network(path, device="cpu")


def test_pickle_protocols_2_to_5(tmp_path):
    tree = official_tree(tiny_net("SG2", res=16, c_dim=2, perturb=0.01))
    from tests.support.official_fakes import official_module_names

    for protocol in (2, 3, 5):
        with official_module_names():
            data = pickle.dumps(official_top(tree), protocol=protocol)
        assert read_official_pickle(data).kind == "sg2"
