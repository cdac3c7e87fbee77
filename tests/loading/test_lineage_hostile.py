"""Hostile, broken and foreign StyleGAN (v1) and ProGAN pickles: one line each, nothing from the file runs."""

from __future__ import annotations

import os
import pickle
import sys

import numpy as np
import pytest

from stylegan3.errors import UnsafePickleError, UnsupportedNetworkError
from stylegan3.loading import load_network
from tests.support.hostile import Reduce, load_error, set_variable, write_file
from tests.support.tf_fakes import tf_network
from tests.support.tf_lineage_fakes import (
    PROGAN_CONFIGS,
    V1_CONFIGS,
    ProConfig,
    TFUtilNetwork,
    V1Config,
    dump,
    progan_generator,
    progan_state,
    v1_discriminator,
    v1_generator,
)

V1 = V1_CONFIGS["fused"]
PRO = PROGAN_CONFIGS["tfutil-fused"]


def _v1_with(mutate, cfg: V1Config = V1) -> bytes:
    """A v1 (G, D, Gs) snapshot whose Gs `mutate(gs_state, synthesis_state, mapping_state)` changed."""
    gs = v1_generator(cfg)
    state = gs._state
    mutate(state, state["components"]["synthesis"]._state, state["components"]["mapping"]._state)
    return dump((v1_generator(cfg, 100, "G"), v1_discriminator(cfg), gs))


def _pro_with(mutate, cfg: ProConfig = PRO) -> bytes:
    state = progan_state(cfg)
    mutate(state)
    return dump((progan_generator(cfg, 100, "G"), progan_generator(cfg, 200, "D"), TFUtilNetwork(state)))


def _get(state: dict, name: str) -> np.ndarray:
    return dict(state["variables"])[name]


# --- code in the file never runs ----------------------------------------------------------------


@pytest.mark.parametrize("family", ["v1", "progan"])
def test_planted_build_module_src_is_inert(tmp_path, family):
    marker = tmp_path / "ran.txt"
    src = (f"import os\nos.system('touch {marker}')\nopen({str(marker)!r}, 'w')\n"
           "def G_style(): pass\nG_paper = G_style\n")

    def plant_v1(*states):
        for state in states:
            state["build_module_src"] = src

    data = _v1_with(plant_v1) if family == "v1" else _pro_with(lambda s: s.update(build_module_src=src))
    before = set(sys.modules)
    G = load_network(write_file(tmp_path, "src.pkl", data), device="cpu")
    assert G.img_resolution == 16 and not marker.exists()
    assert not {"dnnlib", "tfutil", "tensorflow"} & (set(sys.modules) - before)


@pytest.mark.parametrize("family", ["v1", "progan"])
def test_reduce_to_os_system_is_refused_before_it_runs(tmp_path, family):
    marker = tmp_path / "pwned"
    payload = Reduce(os.system, f"touch {marker}")
    if family == "v1":
        data = _v1_with(lambda gs, syn, m: set_variable(syn, "4x4/Const/const", payload))
    else:
        data = _pro_with(lambda s: s["static_kwargs"].update(resolution=payload))
    message = load_error(write_file(tmp_path, "evil.pkl", data), UnsafePickleError)
    assert "refused to load 'posix.system'" in message or "refused to load 'os.system'" in message
    assert not marker.exists()


def test_original_theano_pickle_is_named(tmp_path):
    class TheanoNetwork:
        def __getstate__(self):
            return {"build_func_spec": {"func": "G_paper"}, "param_values": []}

    TheanoNetwork.__module__, TheanoNetwork.__qualname__ = "network", "Network"
    saved = sys.modules.get("network")
    sys.modules["network"] = type(sys)("network")
    sys.modules["network"].Network = TheanoNetwork
    try:
        data = pickle.dumps((TheanoNetwork(), TheanoNetwork(), TheanoNetwork()), protocol=2)
    finally:
        sys.modules.pop("network") if saved is None else sys.modules.update(network=saved)
    message = load_error(write_file(tmp_path, "theano.pkl", data), UnsupportedNetworkError)
    assert "an original Theano ProGAN pickle (network.Network)" in message


# --- broken values: refused by their TF name -----------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_weights(tmp_path, bad):
    def v1(gs, syn, m):
        w = _get(syn, "8x8/Conv1/weight").copy()
        w[0, 0, 0, 0] = bad
        set_variable(syn, "8x8/Conv1/weight", w)

    def pro(state):
        w = _get(state, "4x4/Dense/weight").copy()
        w[1, 2] = bad
        set_variable(state, "4x4/Dense/weight", w)

    message = load_error(write_file(tmp_path, "a.pkl", _v1_with(v1)))
    assert "synthesis/8x8/Conv1/weight holds NaN or infinite values" in message
    assert "4x4/Dense/weight holds NaN or infinite values" in load_error(write_file(tmp_path, "b.pkl", _pro_with(pro)))


def test_wrong_shapes(tmp_path):
    v1 = _v1_with(lambda gs, syn, m: set_variable(syn, "8x8/Conv0_up/StyleMod/weight", np.zeros([10, 7], "f4")))
    assert "synthesis/8x8/Conv0_up/StyleMod/weight has shape [10, 7], expected [10, 16]" in load_error(
        write_file(tmp_path, "a.pkl", v1))
    pro = _pro_with(lambda s: set_variable(s, "8x8/Conv0_up/weight", np.zeros([3, 3, 32, 16], "f4")))
    assert "8x8/Conv0_up/weight has shape [3, 3, 32, 16], expected [3, 3, 16, 32]" in load_error(
        write_file(tmp_path, "b.pkl", pro))


def test_missing_and_unknown_variables(tmp_path):
    v1 = _v1_with(lambda gs, syn, m: set_variable(m, "Dense0/bias", None))
    assert "TensorFlow variables missing: mapping/Dense0/bias" in load_error(write_file(tmp_path, "a.pkl", v1))
    v1 = _v1_with(lambda gs, syn, m: set_variable(syn, "8x8/Extra/weight", np.zeros(3, "f4")))
    assert "unexpected TensorFlow variables for this configuration: synthesis/8x8/Extra/weight" in load_error(
        write_file(tmp_path, "b.pkl", v1))
    pro = _pro_with(lambda s: set_variable(s, "ToRGB_lod0/bias", None))
    assert "TensorFlow variables missing: ToRGB_lod0/bias" in load_error(write_file(tmp_path, "c.pkl", pro))


@pytest.mark.parametrize("lod", [3.0, -1.0, np.nan])
def test_lod_outside_the_network(tmp_path, lod):
    """A lod the network does not have (16x16: levels 0..2) is refused; 0 < lod <= 2 renders (test_sgv1.py)."""
    pro = _pro_with(lambda s: set_variable(s, "lod", np.float32(lod)))
    assert "TensorFlow variable lod=" in load_error(write_file(tmp_path, "a.pkl", pro))
    v1 = _v1_with(lambda gs, syn, m: set_variable(gs, "lod", np.float32(lod)))
    assert "TensorFlow variable lod=" in load_error(write_file(tmp_path, "b.pkl", v1))


def test_unknown_or_unsupported_settings(tmp_path):
    v1 = _v1_with(lambda gs, syn, m: syn["static_kwargs"].update(use_styles=False))
    assert "StyleGAN setting use_styles=False is not supported" in load_error(write_file(tmp_path, "a.pkl", v1))
    # A setting the build function does not name is ignored by it (`**_kwargs`), so here too; `info` lists it.
    v1 = _v1_with(lambda gs, syn, m: syn["static_kwargs"].update(my_fork_option=3))
    from stylegan3.loading import read_network

    assert read_network(write_file(tmp_path, "b.pkl", v1)).extra["tf_ignored_settings"] == ["my_fork_option"]
    pro = _pro_with(lambda s: s["static_kwargs"].update(fused_scale=False))
    assert "ProGAN setting fused_scale=False does not match its up-sampling layers (Conv0_up)" in load_error(
        write_file(tmp_path, "c.pkl", pro))
    pro = _pro_with(lambda s: s["static_kwargs"].update(fused_scale="auto"))
    assert "ProGAN setting fused_scale='auto' is not True or False" in load_error(write_file(tmp_path, "d.pkl", pro))


# --- identified by build function and pickled class, not by name ------------------------------------


def test_identified_by_build_function_not_name(tmp_path):
    gs = v1_generator(V1)
    gs._state["name"] = "G_main"  # a misleading name: the build function says G_style
    G = load_network(write_file(tmp_path, "named.pkl", dump((gs, v1_discriminator(V1), gs))), device="cpu")
    assert G.kind == "sgv1"


def test_writer_and_version_must_agree(tmp_path):
    state = progan_state(PRO)
    state["build_func_name"] = "G_style"  # tkarras' tfutil never wrote a StyleGAN
    net = TFUtilNetwork(state)
    assert "in a tfutil Network pickle, which no known code wrote" in load_error(
        write_file(tmp_path, "a.pkl", dump((net, net, net))), UnsupportedNetworkError)
    gs = v1_generator(V1, version=2)
    assert "TensorFlow network version 2 is not supported for StyleGAN (v1) (expected 3 or 4)" in load_error(
        write_file(tmp_path, "b.pkl", dump((gs, gs, gs))), UnsupportedNetworkError)


def test_mixed_network_classes(tmp_path):
    gs = v1_generator(V1)
    gs._state["components"]["mapping"] = TFUtilNetwork(gs._state["components"]["mapping"]._state)
    assert "component 'mapping' is another kind of Network" in load_error(
        write_file(tmp_path, "a.pkl", dump((gs, gs, gs))), UnsupportedNetworkError)


def test_progan_with_components_is_refused(tmp_path):
    state = progan_state(PROGAN_CONFIGS["dnnlib-fused"])
    state["components"] = {"mapping": tf_network("m", "G_mapping", {}, {})}
    from tests.support.tf_fakes import Network

    net = Network(state)
    assert "TensorFlow G_paper with components (mapping); ProGAN has none" in load_error(
        write_file(tmp_path, "a.pkl", dump((net, net, net))), UnsupportedNetworkError)
