"""Progressive GAN TensorFlow pickles of both writers (tests/support/tf_lineage_fakes.py) render as TF does.

Reference: TF's G_paper equations on the TF variables in TF's layouts, linear structure
(tests/support/tf_lineage_reference.py); 1e-4 of the output's range. Both Conv0_up layouts (tkarras'
[k, k, out, in] in a tfutil.Network, NVlabs/stylegan's [k, k, in, out] in a dnnlib Network), the
Theano-converted Conv0 files, a conditional net and mid-growth snapshots.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylegan3 import families
from stylegan3.loading import load_network, read_network, write_native
from stylegan3.networks.layers import list_layers
from tests.support import tf_lineage_reference as ref
from tests.support.hostile import write_file
from tests.support.tf_lineage_fakes import PROGAN_CONFIGS, ProConfig, progan_snapshot, progan_state

TOL = 1e-4


def tf_variables(cfg: ProConfig, seed: int = 0) -> dict[str, np.ndarray]:
    return {name: np.asarray(value) for name, value in progan_state(cfg, seed)["variables"]}


def write(tmp_path, cfg: ProConfig, name: str = "net.pkl") -> str:
    return str(write_file(tmp_path, name, progan_snapshot(cfg)))


def inputs(cfg: ProConfig, n: int = 3) -> tuple[torch.Tensor, torch.Tensor | None]:
    gen = torch.Generator().manual_seed(5)
    kw = cfg.kwargs
    latent = kw.get("latent_size") or min(kw["fmap_base"], kw["fmap_max"])
    label = kw.get("label_size", 0)
    return torch.randn([n, latent], generator=gen), (torch.eye(label)[[i % label for i in range(n)]] if label else None)


def reference(cfg: ProConfig, z, c) -> torch.Tensor:
    return ref.progan(tf_variables(cfg), z, c, cfg.kwargs, cfg.writer, lod=cfg.lod)


def max_error(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    span = float(theirs.max() - theirs.min())
    assert span > 1e-3, "the reference image is flat: the test would prove nothing"
    return float((ours - theirs).abs().max()) / span


@pytest.mark.parametrize("name", sorted(PROGAN_CONFIGS))
def test_matches_tf_forward_pass(tmp_path, name):
    cfg = PROGAN_CONFIGS[name]
    G = load_network(write(tmp_path, cfg), device="cpu")
    z, c = inputs(cfg)
    ours = G(z, c)
    res = cfg.kwargs["resolution"]
    assert ours.shape == (3, cfg.kwargs.get("num_channels", 1), res, res)
    err = max_error(ours, reference(cfg, z, c))
    assert err < TOL, f"{name}: max error {err:.2e} of the output's range"
    # psi and noise arguments are accepted and change nothing: there is no W and no noise.
    assert torch.equal(ours, G(z, c, truncation_psi=0.7, truncation_cutoff=2, noise_mode="random"))


@pytest.mark.parametrize("pair", [("square-tfutil", "square-dnnlib")])
def test_same_shapes_told_apart_by_the_writer(tmp_path, pair):
    """Equal shapes in both layouts: reading the dnnlib file as tkarras' (or back) would give other pixels."""
    a, b = (PROGAN_CONFIGS[name] for name in pair)
    pa, pb = read_network(write(tmp_path, a, "a.pkl")), read_network(write(tmp_path, b, "b.pkl"))
    assert pa.extra["tf_writer"] == "tkarras/progressive_growing_of_gans"
    assert pb.extra["tf_writer"] == "NVlabs/stylegan"
    assert pa.extra["tf_layout"]["synthesis.b8_conv0.conv.weight"] == "HWOI->OIHW"
    assert pb.extra["tf_layout"]["synthesis.b8_conv0.conv.weight"] == "HWIO->OIHW"
    w_tf = tf_variables(a)["8x8/Conv0_up/weight"]
    assert np.array_equal(pa.state_dict["synthesis.b8_conv0.conv.weight"].numpy(), w_tf.transpose(2, 3, 0, 1))


@pytest.mark.parametrize("lod", [0.5, 1.0, 1.75])
def test_mid_growth_snapshot_renders_the_faded_output(tmp_path, lod):
    base = PROGAN_CONFIGS["theano"]
    cfg = ProConfig(dict(base.kwargs), writer=base.writer, lod=lod)
    G = load_network(write(tmp_path, cfg), device="cpu")
    z, c = inputs(cfg)
    assert max_error(G(z, c), reference(cfg, z, c)) < TOL
    assert read_network(write(tmp_path, cfg, "again.pkl")).extra["tf_lod"] == lod


def test_family_capabilities_and_layer_names(tmp_path):
    G = load_network(write(tmp_path, PROGAN_CONFIGS["theano"]), device="cpu")
    caps = families.capabilities(G)
    assert families.variant(G) == "ProGAN" and not caps.w_space and not caps.input_transform
    names = {info.name: info.tf_name for info in list_layers(G)}
    assert names["b4_dense"] == "4x4/Dense" and names["b8_conv0"] == "8x8/Conv0" and names["b32_torgb"] == "ToRGB_lod0"
    fused = load_network(write(tmp_path, PROGAN_CONFIGS["tfutil-fused"], "f.pkl"), device="cpu")
    assert {info.name: info.tf_name for info in list_layers(fused)}["b8_conv0"] == "8x8/Conv0_up"
    assert G.num_ws == 1 and G.w_dim == 16 and G.mapping(torch.zeros(1, 16), None).shape == (1, 1, 16)


def test_convert_round_trip(tmp_path):
    cfg = PROGAN_CONFIGS["conditional"]
    parsed = read_network(write(tmp_path, cfg))
    out = write_native(parsed, tmp_path / "p.safetensors")
    z, c = inputs(cfg)
    a = load_network(write(tmp_path, cfg, "x.pkl"), device="cpu")(z, c)
    assert torch.equal(a, load_network(str(out), device="cpu")(z, c))
