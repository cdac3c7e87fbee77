"""Hostile, broken and foreign TensorFlow-era pickles: one clear line each, and nothing from the file runs."""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
import types

import numpy as np
import pytest

from stylegan3.errors import UnsafePickleError, UnsupportedNetworkError
from stylegan3.loading import load_network
from tests.support import tf_fakes
from tests.support.hostile import Reduce, load_error, set_variable, write_file
from tests.support.tf_fakes import CONFIGS, Network, dump_tf, tf_discriminator, tf_generator, tf_network, tf_snapshot

CFG = CONFIGS["config-e-Gskip"]


def _snapshot_with(mutate, cfg=CFG) -> bytes:
    """A (G, D, Gs) snapshot whose Gs state `mutate(gs_state, synthesis_state, mapping_state)` has changed."""
    gs = tf_generator(cfg)
    state = gs._state
    mutate(state, state["components"]["synthesis"]._state, state["components"]["mapping"]._state)
    return dump_tf((tf_generator(cfg, 100, "G"), tf_discriminator(cfg), gs))


# --- code in the file never runs ----------------------------------------------------------------


def test_build_module_src_is_never_executed(tmp_path):
    """Every TF network carries the source TF's loader execs; here it is inert text, so the net loads as data."""
    marker = tmp_path / "ran.txt"
    src = f"open({str(marker)!r}, 'w').write('ran')\nimport os\nos.system('touch {marker}')\ndef G_main(): pass\n"

    def plant(gs, synthesis, mapping):
        for state in (gs, synthesis, mapping):
            state["build_module_src"] = src

    path = write_file(tmp_path, "src.pkl", _snapshot_with(plant))
    before = set(sys.modules)
    G = load_network(path, device="cpu")
    assert G.img_resolution == 32
    assert not marker.exists()
    assert not {"dnnlib", "dnnlib.tflib", "dnnlib.tflib.network", "tensorflow"} & (set(sys.modules) - before)


@pytest.mark.parametrize("where", ["static_kwargs", "variable", "build_module_src", "components"])
def test_reduce_to_os_system_is_refused(tmp_path, where):
    marker = tmp_path / "pwned.txt"
    payload = Reduce(os.system, f"touch {marker}")

    def plant(gs, synthesis, mapping):
        if where == "static_kwargs":
            gs["static_kwargs"]["fmap_max"] = payload
        elif where == "variable":
            set_variable(synthesis, "4x4/Conv/weight", payload)
        elif where == "build_module_src":
            synthesis["build_module_src"] = payload
        else:
            gs["components"]["extra"] = payload

    message = load_error(write_file(tmp_path, "evil.pkl", _snapshot_with(plant)), UnsafePickleError)
    assert "refused to load 'posix.system'" in message or "refused to load 'os.system'" in message
    assert not marker.exists()


def test_exec_of_the_source_is_refused(tmp_path):
    marker = tmp_path / "exec.txt"

    def plant(gs, synthesis, mapping):
        synthesis["build_module_src"] = Reduce(exec, f"open({str(marker)!r}, 'w')")

    message = load_error(write_file(tmp_path, "exec.pkl", _snapshot_with(plant)), UnsafePickleError)
    assert "refused to load 'builtins.exec'" in message
    assert not marker.exists()


def test_network_built_by_a_call_with_arguments_is_refused(tmp_path):
    class Called:
        def __reduce__(self):
            return (Network, ("x",))

    with tf_fakes.tf_module_names():
        data = pickle.dumps((Called(), None, None), protocol=4)
    assert "TensorFlow Network created with arguments" in load_error(write_file(tmp_path, "call.pkl", data))


def test_network_state_that_is_not_a_dict(tmp_path):
    data = dump_tf((tf_generator(CFG), tf_discriminator(CFG), Network(["not", "a", "dict"])))
    assert "state that is not a dict" in load_error(write_file(tmp_path, "state.pkl", data))


def test_network_that_contains_itself(tmp_path):
    gs = tf_generator(CFG)
    gs._state["components"]["synthesis"]._state["components"]["loop"] = gs
    message = load_error(write_file(tmp_path, "cycle.pkl", dump_tf((gs, gs, gs))))
    assert "cyclic" in message or "appears more than once" in message


# --- wrong or missing variables and settings ------------------------------------------------------


def test_wrong_shape(tmp_path):
    data = _snapshot_with(lambda gs, s, m: set_variable(s, "8x8/Conv1/weight", np.zeros([3, 3, 16, 8], np.float32)))
    message = load_error(write_file(tmp_path, "shape.pkl", data), UnsupportedNetworkError)
    assert "TensorFlow variable synthesis/8x8/Conv1/weight has shape [3, 3, 16, 8], expected [3, 3, 16, 16]" in message


def test_missing_variables(tmp_path):
    def drop(gs, synthesis, mapping):
        set_variable(synthesis, "noise3", None)
        set_variable(mapping, "Dense1/bias", None)
        set_variable(gs, "dlatent_avg", None)

    message = load_error(write_file(tmp_path, "missing.pkl", _snapshot_with(drop)), UnsupportedNetworkError)
    assert "TensorFlow variables missing: mapping/Dense1/bias, dlatent_avg, synthesis/noise3" in message


def test_unexpected_variable(tmp_path):
    data = _snapshot_with(lambda gs, s, m: set_variable(s, "64x64/Conv1/weight", np.zeros([3, 3, 4, 4], np.float32)))
    message = load_error(write_file(tmp_path, "extra.pkl", data), UnsupportedNetworkError)
    assert "unexpected TensorFlow variables for this configuration: synthesis/64x64/Conv1/weight" in message


def test_non_finite_values(tmp_path):
    bad = np.full([16], np.nan, np.float32)
    data = _snapshot_with(lambda gs, s, m: set_variable(s, "8x8/Conv1/bias", bad))
    message = load_error(write_file(tmp_path, "nan.pkl", data), UnsupportedNetworkError)
    assert "synthesis/8x8/Conv1/bias holds NaN" in message


def test_non_numeric_variable(tmp_path):
    data = _snapshot_with(lambda gs, s, m: set_variable(s, "8x8/Conv1/bias", "sixteen"))
    message = load_error(write_file(tmp_path, "str.pkl", data), UnsupportedNetworkError)
    assert "variable 8x8/Conv1/bias is not a numeric array" in message


@pytest.mark.parametrize(
    "setting, value, problem",
    [
        ("fancy_new_layer", True, "unknown TensorFlow generator setting 'fancy_new_layer'"),
        ("architecture", "unet", "architecture='unet' is not one of"),
        ("fmap_decay", 0.5, "fmap_decay=0.5 is not supported"),
        ("resample_kernel", None, "resample_kernel=None (box filter) is not supported"),  # TF's None is a box
        ("conv_clamp", None, None),  # None is TF's "no clamping", our default too: loads
        ("resolution", 48, "resolution=48 is not a power of two"),
        ("nonlinearity", "swish", "nonlinearity='swish' is not one of"),
    ],
)
def test_settings_we_cannot_honour(tmp_path, setting, value, problem):
    def change(gs, synthesis, mapping):
        gs["static_kwargs"][setting] = value

    path = write_file(tmp_path, "setting.pkl", _snapshot_with(change))
    if problem is None:
        assert load_network(path, device="cpu").img_resolution == 32
    else:
        assert problem in load_error(path, UnsupportedNetworkError)


def test_label_concat_conditioning_is_refused(tmp_path):
    def concat(gs, synthesis, mapping):
        gs["static_kwargs"]["label_size"] = 2
        set_variable(mapping, "LabelConcat/weight", np.zeros([2, 16], np.float32))

    message = load_error(write_file(tmp_path, "concat.pkl", _snapshot_with(concat)), UnsupportedNetworkError)
    assert "original LabelConcat label input" in message


def test_snapshot_taken_during_progressive_growing(tmp_path):
    cfg = CONFIGS["config-d"]
    data = _snapshot_with(lambda gs, s, m: set_variable(gs, "lod", np.float32(1.5)), cfg=cfg)
    message = load_error(write_file(tmp_path, "growing.pkl", data), UnsupportedNetworkError)
    assert "saved during progressive growing (lod=1.5); only finished networks (lod 0)" in message


def test_truncated_file(tmp_path):
    data = tf_snapshot(CFG)
    assert "truncated pickle" in load_error(write_file(tmp_path, "cut.pkl", data[: len(data) // 2]))


# --- other TensorFlow-era networks: read by their own readers (tests/loading/test_sgv1.py, test_progan.py);
# incomplete ones are refused by the variable they lack --------------------------------------------------


def test_incomplete_stylegan_v1_pickle(tmp_path):
    def v1(name):
        synthesis = tf_network("G_synthesis", "G_synthesis", {}, {"4x4/Const/const": np.zeros([1, 8, 4, 4], "f4")},
                               version=3)
        mapping = tf_network("G_mapping", "G_mapping", {}, {"Dense0/weight": np.zeros([8, 8], "f4")}, version=3)
        return tf_network(name, "G_style", {"resolution": 32}, {"dlatent_avg": np.zeros(8, "f4")},
                          {"synthesis": synthesis, "mapping": mapping}, version=3)

    data = dump_tf((v1("G"), tf_network("D", "D_basic", {}, {}, version=3), v1("Gs")))
    message = load_error(write_file(tmp_path, "karras2019stylegan-ffhq.pkl", data), UnsupportedNetworkError)
    assert "TensorFlow variables missing: mapping/Dense0/bias" in message


def test_incomplete_progan_pickle(tmp_path):
    class ProGANNetwork:
        def __getstate__(self):
            return {"version": 2, "name": "G", "build_func_name": "G_paper", "variables": []}

    ProGANNetwork.__module__, ProGANNetwork.__qualname__ = "tfutil", "Network"
    with _fake_module("tfutil", Network=ProGANNetwork):
        data = pickle.dumps((ProGANNetwork(), ProGANNetwork(), ProGANNetwork()), protocol=4)
    message = load_error(write_file(tmp_path, "karras2018iclr-celebahq.pkl", data), UnsupportedNetworkError)
    assert "TensorFlow variables missing: 4x4/Dense/weight" in message


def test_incomplete_progan_network_in_a_dnnlib_file(tmp_path):
    net = tf_network("Gs", "G_paper", {"resolution": 32}, {"4x4/Dense/weight": np.zeros([8, 8], "f4")})
    message = load_error(write_file(tmp_path, "progan.pkl", dump_tf((net, net, net))), UnsupportedNetworkError)
    assert "TensorFlow variables missing: 4x4/Dense/bias" in message


def test_discriminator_only_file(tmp_path):
    path = write_file(tmp_path, "D.pkl", dump_tf(tf_discriminator(CFG)))
    assert "a discriminator-only file (a discriminator (TensorFlow, D_stylegan2)), not a generator" in load_error(path)


def test_key_d_and_unknown_keys(tmp_path):
    path = write_file(tmp_path, "snap.pkl", tf_snapshot(CFG))
    assert "'D' is a discriminator (TensorFlow, D_stylegan2), not a generator" in load_error(path, key="D")
    assert "no 'G_ema_x' in this TensorFlow pickle; it holds: 'G', 'D', 'Gs'" in load_error(path, key="G_ema_x")


def test_old_network_version(tmp_path):
    gs = tf_generator(CFG)
    gs._state["version"] = 3
    path = write_file(tmp_path, "v3.pkl", dump_tf((gs, tf_discriminator(CFG), gs)))
    message = load_error(path, UnsupportedNetworkError)
    assert "TensorFlow network version 3 is not supported" in message


def test_cli_reports_one_line(tmp_path, capsys):
    from stylegan3.cli.main import main

    path = write_file(tmp_path, "D.pkl", dump_tf(tf_discriminator(CFG)))
    assert main(["info", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "discriminator-only file" in err


@contextlib.contextmanager
def _fake_module(name: str, **attrs):
    module = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(module, key, value)
    saved = sys.modules.get(name)
    sys.modules[name] = module
    try:
        yield
    finally:
        if saved is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = saved


def test_only_the_chosen_network_is_read(tmp_path):
    """A snapshot whose D is malformed still gives its Gs (and refuses D when asked for it)."""
    broken_d = Network({"version": 4, "name": "D", "build_func_name": "D_stylegan2", "variables": "oops"})
    path = write_file(tmp_path, "odd_d.pkl", dump_tf((tf_generator(CFG, 100, "G"), broken_d, tf_generator(CFG))))
    assert load_network(path, device="cpu").img_resolution == 32
    assert "variables is not a list" in load_error(path, UnsupportedNetworkError, key="D")
