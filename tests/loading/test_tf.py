"""TensorFlow-era StyleGAN2 pickles (written by our own code, see tf_fakes.py) load, map and render faithfully.

Two independent checks per configuration: (1) our StyleGAN2 generator built with constructor arguments and
weights mapped by hand here (the inverse direction of the loader: for every one of our tensors, where it comes
from in TF) renders the same pixels as the loaded one; (2) a re-implementation of TF's forward pass on the TF
variables in TF's layouts (tf_reference.py) gives the same pixels too, so the layout conversion (transposes,
flips, +1 style bias, noise order) is right, not merely consistent.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from stylegan3.loading import load_network, read_network
from stylegan3.networks import build_generator
from stylegan3.networks.latents import z_from_seed
from tests.support import tf_fakes, tf_reference
from tests.support.tf_fakes import CONFIGS, TFConfig, tf_snapshot

TOL = 1e-4


def tf_variables(cfg: TFConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """The Gs variables the writer put in the file, under TF's `Network.vars` names."""
    net = tf_fakes.tf_generator(cfg, seed)
    out = {name: np.asarray(value) for name, value in net._state["variables"]}
    for key, comp in net._state["components"].items():
        out.update({f"{key}/{name}": np.asarray(value) for name, value in comp._state["variables"]})
    return out


def hand_kwargs(cfg: TFConfig) -> dict:
    revised = cfg.synthesis_func == "G_synthesis_stylegan_revised"
    mapping_fmaps = cfg.get("mapping_fmaps")
    return dict(
        z_dim=cfg.get("latent_size"), c_dim=cfg.get("label_size"), w_dim=cfg.get("dlatent_size"),
        img_resolution=cfg.get("resolution"), img_channels=cfg.get("num_channels"),
        channel_base=cfg.get("fmap_base") * 2, channel_max=cfg.get("fmap_max"),
        num_fp16_res=cfg.static_kwargs.get("num_fp16_res", 0), conv_clamp=cfg.static_kwargs.get("conv_clamp"),
        architecture="orig" if revised else cfg.get("architecture"), resample_filter=[1, 3, 3, 1],
        use_noise=cfg.get("use_noise"),
        mapping_kwargs=dict(num_layers=cfg.get("mapping_layers"), lr_multiplier=0.01,
                            embed_features=cfg.get("label_fmaps") or cfg.get("latent_size"),
                            layer_features=mapping_fmaps or cfg.get("dlatent_size")),
    )  # fmt: skip


def hand_mapped_generator(cfg: TFConfig, seed: int = 0) -> torch.nn.Module:
    """Our StyleGAN2 with every tensor filled from its TF variable, name by name (as legacy.py documents)."""
    tf = tf_variables(cfg, seed)
    revised = cfg.synthesis_func == "G_synthesis_stylegan_revised"
    G = build_generator("sg2", hand_kwargs(cfg)).eval().requires_grad_(False)
    log2 = lambda r: int(np.log2(int(r)))  # noqa: E731
    rgb = lambda r: "synthesis/ToRGB_lod0" if revised else f"synthesis/{r}x{r}/ToRGB"  # noqa: E731
    rules = [
        (r"mapping\.w_avg", lambda: tf["dlatent_avg"]),
        (r"mapping\.embed\.weight", lambda: tf["mapping/LabelEmbed/weight"].T),
        (r"mapping\.embed\.bias", lambda: tf["mapping/LabelEmbed/bias"]),
        (r"mapping\.fc(\d+)\.weight", lambda i: tf[f"mapping/Dense{i}/weight"].T),
        (r"mapping\.fc(\d+)\.bias", lambda i: tf[f"mapping/Dense{i}/bias"]),
        (r"synthesis\.b4\.const", lambda: tf["synthesis/4x4/Const/const"][0]),
        (r"synthesis\.b4\.conv1\.weight", lambda: tf["synthesis/4x4/Conv/weight"].transpose(3, 2, 0, 1)),
        (r"synthesis\.b4\.conv1\.bias", lambda: tf["synthesis/4x4/Conv/bias"]),
        (r"synthesis\.b4\.conv1\.noise_const", lambda: tf["synthesis/noise0"][0, 0]),
        (r"synthesis\.b4\.conv1\.noise_strength", lambda: tf["synthesis/4x4/Conv/noise_strength"]),
        (r"synthesis\.b4\.conv1\.affine\.weight", lambda: tf["synthesis/4x4/Conv/mod_weight"].T),
        (r"synthesis\.b4\.conv1\.affine\.bias", lambda: tf["synthesis/4x4/Conv/mod_bias"] + 1),
        (r"synthesis\.b(\d+)\.conv0\.weight",
         lambda r: tf[f"synthesis/{r}x{r}/Conv0_up/weight"][::-1, ::-1].transpose(3, 2, 0, 1)),
        (r"synthesis\.b(\d+)\.conv0\.bias", lambda r: tf[f"synthesis/{r}x{r}/Conv0_up/bias"]),
        (r"synthesis\.b(\d+)\.conv0\.noise_const", lambda r: tf[f"synthesis/noise{log2(r) * 2 - 5}"][0, 0]),
        (r"synthesis\.b(\d+)\.conv0\.noise_strength", lambda r: tf[f"synthesis/{r}x{r}/Conv0_up/noise_strength"]),
        (r"synthesis\.b(\d+)\.conv0\.affine\.weight", lambda r: tf[f"synthesis/{r}x{r}/Conv0_up/mod_weight"].T),
        (r"synthesis\.b(\d+)\.conv0\.affine\.bias", lambda r: tf[f"synthesis/{r}x{r}/Conv0_up/mod_bias"] + 1),
        (r"synthesis\.b(\d+)\.conv1\.weight", lambda r: tf[f"synthesis/{r}x{r}/Conv1/weight"].transpose(3, 2, 0, 1)),
        (r"synthesis\.b(\d+)\.conv1\.bias", lambda r: tf[f"synthesis/{r}x{r}/Conv1/bias"]),
        (r"synthesis\.b(\d+)\.conv1\.noise_const", lambda r: tf[f"synthesis/noise{log2(r) * 2 - 4}"][0, 0]),
        (r"synthesis\.b(\d+)\.conv1\.noise_strength", lambda r: tf[f"synthesis/{r}x{r}/Conv1/noise_strength"]),
        (r"synthesis\.b(\d+)\.conv1\.affine\.weight", lambda r: tf[f"synthesis/{r}x{r}/Conv1/mod_weight"].T),
        (r"synthesis\.b(\d+)\.conv1\.affine\.bias", lambda r: tf[f"synthesis/{r}x{r}/Conv1/mod_bias"] + 1),
        (r"synthesis\.b(\d+)\.torgb\.weight", lambda r: tf[f"{rgb(r)}/weight"].transpose(3, 2, 0, 1)),
        (r"synthesis\.b(\d+)\.torgb\.bias", lambda r: tf[f"{rgb(r)}/bias"]),
        (r"synthesis\.b(\d+)\.torgb\.affine\.weight", lambda r: tf[f"{rgb(r)}/mod_weight"].T),
        (r"synthesis\.b(\d+)\.torgb\.affine\.bias", lambda r: tf[f"{rgb(r)}/mod_bias"] + 1),
        (r"synthesis\.b(\d+)\.skip\.weight",
         lambda r: tf[f"synthesis/{r}x{r}/Skip/weight"][::-1, ::-1].transpose(3, 2, 0, 1)),
        (r".*\.resample_filter", None),
    ]
    with torch.no_grad():
        for name, tensor in G.state_dict().items():
            for pattern, value_fn in rules:
                found = re.fullmatch(pattern, name)
                if found:
                    if value_fn is not None:
                        tensor.copy_(torch.from_numpy(np.array(value_fn(*found.groups()), dtype=np.float32)))
                    break
            else:
                raise AssertionError(f"no hand rule for {name}")
    return G


def inputs(G, seed: int):
    z = torch.from_numpy(z_from_seed(seed, G.z_dim)).float()
    c = None
    if G.c_dim:
        c = torch.zeros([1, G.c_dim])
        c[0, seed % G.c_dim] = 1
    return z, c


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """Every configuration written to a .pkl file and loaded through load_network, once."""
    folder = tmp_path_factory.mktemp("tf")
    nets = {}
    for name, cfg in CONFIGS.items():
        path = folder / f"{name}.pkl"
        path.write_bytes(tf_snapshot(cfg))
        nets[name] = (path, load_network(path, device="cpu"))
    return nets


@pytest.mark.parametrize("name", list(CONFIGS))
def test_renders_like_the_hand_mapped_generator(loaded, name):
    _, G = loaded[name]
    H = hand_mapped_generator(CONFIGS[name])
    assert G.init_kwargs["architecture"] == H.init_kwargs["architecture"]
    ours, hand = G.state_dict(), H.state_dict()
    assert set(ours) == set(hand)
    for key, tensor in hand.items():
        assert ours[key].shape == tensor.shape, key
        assert torch.equal(ours[key], tensor), key
    for seed in (0, 7):
        z, c = inputs(G, seed)
        ws = G.mapping(z, c, truncation_psi=0.7)
        assert torch.allclose(ws, H.mapping(z, c, truncation_psi=0.7), atol=TOL, rtol=0)
        for noise_mode in ("const", "none"):
            img = G.synthesis(ws, noise_mode=noise_mode)
            want = H.synthesis(ws, noise_mode=noise_mode)
            assert img.shape == (1, CONFIGS[name].get("num_channels"), 32, 32)
            assert float((img - want).abs().max()) <= TOL
            assert float(img.std()) > 1e-3  # a real image, not a constant


@pytest.mark.parametrize("name", list(CONFIGS))
def test_renders_what_tensorflow_computes(loaded, name):
    """The loaded generator against TF's forward pass on the TF variables in TF layout (tf_reference.py)."""
    cfg = CONFIGS[name]
    _, G = loaded[name]
    v = tf_variables(cfg)
    revised = cfg.synthesis_func == "G_synthesis_stylegan_revised"
    for seed in (0, 3):
        z, c = inputs(G, seed)
        w_ref = tf_reference.tf_mapping(v, z, c, layers=cfg.get("mapping_layers"))
        w = G.mapping(z, c)[:, 0]
        assert float((w - w_ref).abs().max()) <= TOL * max(1.0, float(w_ref.abs().max()))
        ws = G.mapping(z, c, truncation_psi=0.6)
        assert torch.allclose(ws[:, 0], torch.from_numpy(v["dlatent_avg"]).lerp(w_ref, 0.6), atol=TOL)
        ref = tf_reference.tf_synthesis(
            v, ws, resolution=32, architecture=G.init_kwargs["architecture"], revised=revised,
            use_noise=cfg.get("use_noise"), conv_clamp=cfg.static_kwargs.get("conv_clamp"),
        )
        img = G.synthesis(ws, noise_mode="const")
        diff = float((img - ref).abs().max())
        assert diff <= TOL, f"{name}: max |ours - TF reference| = {diff:.2e}"


def test_channel_counts_differ_per_resolution(loaded):
    _, G = loaded["nonsquare"]
    channels = [getattr(G.synthesis, f"b{r}").conv1.weight.shape[0] for r in (4, 8, 16, 32)]
    assert channels == [32, 16, 8, 4]  # nf(stage) = 64 / 2**stage capped at 32
    assert (G.z_dim, G.w_dim, G.mapping.fc0.weight.shape[0]) == (12, 8, 20)


def test_stylegan2_mapping_width_defaults_to_512(loaded):
    # NVlabs/stylegan2's G_mapping defaults mapping_fmaps to 512 whatever dlatent_size is (ADA's to dlatent_size).
    _, G = loaded["config-f"]
    assert list(G.mapping.fc0.weight.shape) == [512, 16]
    assert list(G.mapping.fc2.weight.shape) == [16, 512]


def test_key_picks_gs_or_g(loaded):
    path, Gs = loaded["config-e-Gskip"]
    G = load_network(path, key="G", device="cpu")
    also_gs = load_network(path, key="Gs", device="cpu")
    z, c = inputs(Gs, 1)
    same = dict(noise_mode="const")
    assert torch.equal(also_gs(z, c, **same), Gs(z, c, **same))
    assert float((G(z, c, **same) - Gs(z, c, **same)).abs().max()) > 0.01  # G (seed 100) is not Gs


def test_parsed_network_records_tf_names_and_settings(loaded):
    path, _ = loaded["nonsquare"]
    parsed = read_network(path)
    names = parsed.extra["tf_names"]
    assert names["synthesis.b8.conv0.weight"] == "synthesis/8x8/Conv0_up/weight"
    assert names["synthesis.b4.conv1.noise_const"] == "synthesis/noise0"
    assert names["synthesis.b32.conv1.noise_const"] == "synthesis/noise6"  # the last of 2 * log2(32) - 3
    assert names["mapping.w_avg"] == "dlatent_avg"
    assert names["synthesis.b16.skip.weight"] == "synthesis/16x16/Skip/weight"
    assert parsed.extra["tf_truncation_psi"] == 0.7
    assert parsed.extra["tf_functions"] == ["G_main", "G_mapping", "G_synthesis"]
    assert parsed.init_kwargs["channel_base"] == 128


def test_protocol_2_file_and_lone_generator(tmp_path):
    cfg = CONFIGS["config-e-Gorig"]
    p2 = tmp_path / "p2.pkl"
    p2.write_bytes(tf_snapshot(cfg, protocol=2))
    lone = tmp_path / "gs_only.pkl"
    lone.write_bytes(tf_fakes.dump_tf(tf_fakes.tf_generator(cfg)))
    H = hand_mapped_generator(cfg)
    z, c = inputs(H, 2)
    for path in (p2, lone):
        G = load_network(path, device="cpu")
        assert float((G(z, c, noise_mode="const") - H(z, c, noise_mode="const")).abs().max()) <= TOL


def test_fake_tf_pickle_asks_for_what_a_tf_era_file_does():
    """The writer's files name only TF's Network class and numpy's array/scalar helpers (no torch, no dnnlib.util)."""
    import sys

    from stylegan3.loading.safe_unpickler import ALLOWED_GLOBALS
    from tests.support.official_fakes import asked_globals

    asked = asked_globals(tf_snapshot(CONFIGS["ada-cond"]))
    assert asked <= set(ALLOWED_GLOBALS)
    assert ("dnnlib.tflib.network", "Network") in asked
    assert {name for _, name in asked} == {"Network", "_reconstruct", "scalar", "dtype", "ndarray"}
    assert "dnnlib.tflib.network" not in sys.modules and "dnnlib" not in sys.modules
