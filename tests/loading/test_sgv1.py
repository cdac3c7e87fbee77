"""StyleGAN (v1) TensorFlow pickles (written by tests/support/tf_lineage_fakes.py) load and render as TF does.

The reference is a forward pass written from TF's equations on the TF variables in TF's layouts
(tests/support/tf_lineage_reference.py, linear progressive-growing structure, conv2d_transpose as a gradient);
our generator must match it within 1e-4 of the output's range, for psi 1 and psi 0.7 with the cutoff.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylegan3.loading import load_network, read_network, write_native
from stylegan3.loading.native import read_native
from stylegan3.networks.layers import list_layers
from tests.support import tf_lineage_reference as ref
from tests.support.hostile import write_file
from tests.support.tf_lineage_fakes import V1_CONFIGS, V1Config, v1_generator, v1_snapshot

TOL = 1e-4


def tf_variables(cfg: V1Config, seed: int = 0) -> dict[str, np.ndarray]:
    """Gs's variables under TF's `Network.vars` names, as the writer put them in the file."""
    net = v1_generator(cfg, seed)
    out = {name: np.asarray(value) for name, value in net._state["variables"]}
    for key, comp in net._state["components"].items():
        out.update({f"{key}/{name}": np.asarray(value) for name, value in comp._state["variables"]})
    return out


def reference(cfg: V1Config, z: torch.Tensor, c: torch.Tensor | None, psi: float, cutoff: int) -> torch.Tensor:
    v = tf_variables(cfg)
    kw = cfg.kwargs
    num_layers = int(np.log2(kw["resolution"])) * 2 - 2
    w = ref.v1_mapping(v, z, c, kw)
    dl = ref.v1_truncate(v, w, num_layers, psi, cutoff)
    return ref.v1_synthesis(v, dl, kw, lod=cfg.lod)


def write(tmp_path, cfg: V1Config, name: str = "net.pkl") -> str:
    return str(write_file(tmp_path, name, v1_snapshot(cfg)))


def inputs(cfg: V1Config, n: int = 2) -> tuple[torch.Tensor, torch.Tensor | None]:
    gen = torch.Generator().manual_seed(3)
    z = torch.randn([n, cfg.get("latent_size")], generator=gen)
    label = cfg.get("label_size")
    c = torch.eye(label)[[i % label for i in range(n)]] if label else None
    return z, c


def max_error(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    span = float(theirs.max() - theirs.min())
    assert span > 1e-3, "the reference image is flat: the test would prove nothing"
    return float((ours - theirs).abs().max()) / span


@pytest.mark.parametrize("name", sorted(V1_CONFIGS))
@pytest.mark.parametrize("psi", [1.0, 0.7])
def test_matches_tf_forward_pass(tmp_path, name, psi):
    cfg = V1_CONFIGS[name]
    G = load_network(write(tmp_path, cfg), device="cpu")
    z, c = inputs(cfg)
    cutoff = cfg.kwargs.get("truncation_cutoff", 8)  # G_style's default: the first 8 layers
    ours = G(z, c, truncation_psi=psi, noise_mode="const")
    err = max_error(ours, reference(cfg, z, c, psi, cutoff))
    assert ours.shape == (2, cfg.get("num_channels"), cfg.kwargs["resolution"], cfg.kwargs["resolution"])
    assert err < TOL, f"{name} psi={psi}: max error {err:.2e} of the output's range"


def test_explicit_cutoff_and_mapping_synthesis_split(tmp_path):
    cfg = V1_CONFIGS["ffhq-small"]
    G = load_network(write(tmp_path, cfg), device="cpu")
    z, c = inputs(cfg)
    ws = G.mapping(z, c, truncation_psi=0.7, truncation_cutoff=3)
    assert ws.shape == (2, 8, 16)
    # Layers from the cutoff on are untruncated: equal to the psi-1 mapping there, different before it.
    plain = G.mapping(z, c)
    assert float((plain[0] - plain[1]).abs().max()) > 0.1  # the mapping really depends on z
    assert torch.equal(ws[:, 3:], plain[:, 3:]) and not torch.allclose(ws[:, :3], plain[:, :3])
    err = max_error(G.synthesis(ws, noise_mode="const"), reference(cfg, z, c, 0.7, 3))
    assert err < TOL


@pytest.mark.parametrize("lod", [1.0, 1.5, 0.25])
def test_mid_training_snapshot_renders_the_faded_output(tmp_path, lod):
    base = V1_CONFIGS["ffhq-small"]
    cfg = V1Config(dict(base.kwargs), lod=lod)
    G = load_network(write(tmp_path, cfg), device="cpu")
    z, c = inputs(cfg)
    ours = G(z, c, noise_mode="const")
    assert ours.shape[-1] == 32  # always the full resolution, upscaled from the drawn level as TF does
    assert max_error(ours, reference(cfg, z, c, 1.0, 8)) < TOL
    if lod == 1.0:  # a whole level: every 2x2 block of pixels is one 16x16 pixel
        assert torch.equal(ours[..., ::2, ::2], ours[..., 1::2, 1::2])


def test_noise_modes(tmp_path):
    G = load_network(write(tmp_path, V1_CONFIGS["ffhq-small"]), device="cpu")
    z, _ = inputs(V1_CONFIGS["ffhq-small"])
    ws = G.mapping(z, None)
    const = G.synthesis(ws, noise_mode="const")
    assert torch.equal(const, G.synthesis(ws, noise_mode="const"))
    none = G.synthesis(ws, noise_mode="none")
    rand = [G.synthesis(ws, noise_mode="random", noise_generator=torch.Generator().manual_seed(s)) for s in (1, 1, 2)]
    assert not torch.allclose(const, none) and not torch.allclose(const, rand[0])
    assert torch.equal(rand[0], rand[1]) and not torch.allclose(rand[0], rand[2])


def test_key_G_reads_the_training_generator(tmp_path):
    cfg = V1_CONFIGS["fused"]
    path = write(tmp_path, cfg)
    z, _ = inputs(cfg)
    gs, g = load_network(path, device="cpu"), load_network(path, key="G", device="cpu")
    assert not torch.allclose(gs(z, None), g(z, None))
    assert read_network(path, key="Gs").extra["key"] == "Gs"


def test_info_layer_names_and_variant(tmp_path):
    G = load_network(write(tmp_path, V1_CONFIGS["fused"]), device="cpu")
    layers = {info.name: info.tf_name for info in list_layers(G)}
    assert layers == {"b4.input": "4x4/Const", "b4.conv1": "4x4/Conv", "b8.conv0": "8x8/Conv0_up",
                      "b8.conv1": "8x8/Conv1", "b16.conv0": "16x16/Conv0_up", "b16.conv1": "16x16/Conv1",
                      "b16.torgb": "ToRGB_lod0"}
    from stylegan3 import families

    assert families.variant(G) == "SG1" and families.capabilities(G).w_space
    assert G.synthesis.b8.conv0.fused and not hasattr(G.synthesis.b8, "torgb")


def test_auto_fuses_from_128(tmp_path):
    G = load_network(write(tmp_path, V1_CONFIGS["auto-128"]), device="cpu")
    assert [G.synthesis.get_submodule(f"b{r}.conv0").fused for r in (8, 16, 32, 64, 128)] == [False] * 4 + [True]


def test_convert_to_safetensors_and_back(tmp_path):
    cfg = V1_CONFIGS["conditional"]
    parsed = read_network(write(tmp_path, cfg))
    out = write_native(parsed, tmp_path / "v1.safetensors")
    again = read_native(out)
    assert again.kind == "sgv1" and again.init_kwargs == parsed.init_kwargs
    z, c = inputs(cfg)
    a = load_network(write(tmp_path, cfg), device="cpu")(z, c, truncation_psi=0.7)
    b = load_network(str(out), device="cpu")(z, c, truncation_psi=0.7)
    assert torch.equal(a, b)
