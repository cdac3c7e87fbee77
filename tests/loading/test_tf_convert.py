"""`convert` and `info` on TensorFlow-era pickles: convert once to .safetensors, same pixels; TF names shown."""

from __future__ import annotations

import torch

from stylegan3.cli.main import main
from stylegan3.loading import load_network, read_native
from stylegan3.networks.latents import z_from_seed
from tests.support.tf_fakes import CONFIGS, tf_snapshot


def _render(G, seed: int) -> torch.Tensor:
    z = torch.from_numpy(z_from_seed(seed, G.z_dim)).float()
    c = torch.eye(G.c_dim)[:1] if G.c_dim else None
    return G(z, c, truncation_psi=0.7, noise_mode="const")


def test_convert_round_trips(tmp_path, capsys):
    for name in ("ada-cond", "config-e-Gresnet"):
        src = tmp_path / f"{name}.pkl"
        src.write_bytes(tf_snapshot(CONFIGS[name]))
        out = tmp_path / f"{name}.safetensors"
        assert main(["convert", str(src), str(out)]) == 0
        direct = load_network(src, device="cpu")
        assert f"wrote {out} (SG2, 32x32, {len(direct.state_dict())} tensors" in capsys.readouterr().out
        converted = load_network(out, device="cpu")
        assert converted.init_kwargs == direct.init_kwargs
        for key, tensor in direct.state_dict().items():
            assert torch.equal(converted.state_dict()[key], tensor), key
        for seed in (0, 5):
            assert torch.equal(_render(converted, seed), _render(direct, seed))
        native = read_native(out)
        assert native.kind == "sg2" and native.init_kwargs["architecture"] == direct.init_kwargs["architecture"]


def test_convert_key_g_and_d(tmp_path, capsys):
    src = tmp_path / "snap.pkl"
    src.write_bytes(tf_snapshot(CONFIGS["config-e-Gorig"]))
    assert main(["convert", str(src), str(tmp_path / "g.safetensors"), "--key", "G"]) == 0
    capsys.readouterr()
    G = load_network(tmp_path / "g.safetensors", device="cpu")
    assert not torch.equal(_render(G, 0), _render(load_network(src, device="cpu"), 0))
    assert main(["convert", str(src), str(tmp_path / "d.safetensors"), "--key", "D"]) == 1
    assert capsys.readouterr().err.strip() == (
        f"error: {src}: 'D' is a discriminator (TensorFlow, D_stylegan2), not a generator")
    assert not (tmp_path / "d.safetensors").exists()


def test_info_shows_tf_names_next_to_ours(tmp_path, capsys):
    src = tmp_path / "tf.pkl"
    src.write_bytes(tf_snapshot(CONFIGS["ada-cond"]))
    assert main(["info", str(src)]) == 0
    out = capsys.readouterr().out
    assert "kind        SG2" in out and "c_dim 4" in out
    assert "TensorFlow  G_main / G_mapping / G_synthesis (converted as NVIDIA's legacy.py does)" in out
    assert "TF truncation_psi 0.5 (G_main's default; not applied here, use --psi)" in out
    rows = {line.split()[0]: line.split(maxsplit=2)[2] for line in out.splitlines()
            if line.startswith(("mapping.", "synthesis."))}
    assert rows["mapping.embed.weight"] == "mapping/LabelEmbed/weight (transposed)"
    assert rows["synthesis.b8.conv0.weight"] == "synthesis/8x8/Conv0_up/weight (flipped, HWIO->OIHW)"
    assert rows["synthesis.b32.torgb.affine.bias"] == "synthesis/32x32/ToRGB/mod_bias (+1)"
    assert rows["synthesis.b16.conv1.noise_const"] == "synthesis/noise4 ([0, 0])"
    assert len(rows) == len(load_network(src, device="cpu").state_dict()) - sum(
        name.endswith("resample_filter") for name in load_network(src, device="cpu").state_dict())
