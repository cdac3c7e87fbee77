"""`sg3-explorer convert`: pickle in, loadable .safetensors out, one-line errors for bad input."""

from __future__ import annotations

import os
import pickle

import torch

from stylegan3.cli.main import main
from stylegan3.loading import load_network, read_native
from tests.support.nets import tiny_net
from tests.support.official_fakes import official_pickle_bytes


def test_convert_writes_a_loadable_file(tmp_path, capsys):
    G = tiny_net("SG3-T", res=16, perturb=0.01)
    src = tmp_path / "snapshot.pkl"
    src.write_bytes(official_pickle_bytes(G))
    out = tmp_path / "net.safetensors"
    assert main(["convert", str(src), str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out} (SG3-T, 16x16, {len(G.state_dict())} tensors" in printed
    loaded = load_network(out, device="cpu")
    for key, tensor in G.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], tensor), key


def test_convert_refuses_to_overwrite_without_force(tmp_path, capsys):
    src = tmp_path / "snapshot.pkl"
    src.write_bytes(official_pickle_bytes(tiny_net("SG2", res=16, seed=3, c_dim=2, perturb=0.01)))
    out = tmp_path / "net.safetensors"
    out.write_bytes(b"keep me")
    assert main(["convert", str(src), str(out)]) == 1
    assert capsys.readouterr().err.strip() == f"error: {out}: already exists (use --force to overwrite)"
    assert out.read_bytes() == b"keep me"
    assert main(["convert", str(src), str(out), "--force"]) == 0
    assert read_native(out).kind == "sg2"


def test_convert_key_option(tmp_path, capsys):
    src = tmp_path / "snapshot.pkl"
    src.write_bytes(official_pickle_bytes(tiny_net("SG2", res=16, c_dim=2, perturb=0.01)))
    assert main(["convert", str(src), str(tmp_path / "d.safetensors"), "--key", "D"]) == 1
    assert capsys.readouterr().err.strip() == f"error: {src}: 'D' holds a Discriminator, not a generator"
    assert not (tmp_path / "d.safetensors").exists()


def test_convert_hostile_input_is_one_line_and_harmless(tmp_path, capsys):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    src = tmp_path / "evil.pkl"
    src.write_bytes(pickle.dumps({"G_ema": Evil()}, protocol=4))
    out = tmp_path / "out.safetensors"
    assert main(["convert", str(src), str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {src}: refused to load 'posix.system'")
    assert not marker.exists() and not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.pkl"]


def test_convert_missing_output_folder(tmp_path, capsys):
    src = tmp_path / "snapshot.pkl"
    src.write_bytes(b"unused")
    assert main(["convert", str(src), str(tmp_path / "no" / "net.safetensors")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_convert_demo_like_every_other_command(tmp_path, capsys):
    """`convert demo OUT` writes the demo net: loading OUT gives the same weights and the same image."""
    from stylegan3.loading.demo import demo_network

    out = tmp_path / "demo-sg2.safetensors"
    assert main(["convert", "demo-sg2", str(out)]) == 0
    assert f"wrote {out} (SG2, 256x256," in capsys.readouterr().out
    loaded, demo = load_network(out, device="cpu"), demo_network("sg2")
    for key, tensor in demo.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], tensor), key
    z = torch.randn([1, demo.z_dim], generator=torch.Generator().manual_seed(1))
    assert torch.equal(loaded(z, None, noise_mode="const"), demo(z, None, noise_mode="const"))


def test_convert_output_has_the_umask_mode(tmp_path, capsys):
    """Written atomically, yet readable by others under umask 022 (a temp file from mkstemp would be 0600)."""
    out = tmp_path / "net.safetensors"
    old = os.umask(0o022)
    try:
        assert main(["convert", "demo", str(out)]) == 0
        os.umask(0o027)
        assert main(["convert", "demo", str(out), "--force"]) == 0
        assert os.stat(out).st_mode & 0o777 == 0o640
        os.umask(0o022)
        assert main(["convert", "demo", str(out), "--force"]) == 0
    finally:
        os.umask(old)
    assert os.stat(out).st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.safetensors"]  # no temp file left behind


def test_mistyped_catalog_name_hints_at_the_catalog(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["convert", "stylegan3-r-afhq-512x512.pkl", "out.safetensors"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == ("error: stylegan3-r-afhq-512x512.pkl: no such file, nor a catalog name; did you mean "
                   "stylegan3-r-afhqv2-512x512, stylegan3-t-afhqv2-512x512 or stylegan2-afhqv2-512x512?")
    assert main(["info", "zzzz"]) == 1
    assert capsys.readouterr().err.strip() == (
        "error: zzzz: no such file, nor a catalog name (`sg3-explorer info --catalog` lists them)")
    assert main(["info", "nets/typo.pkl"]) == 1  # meant as a path: no catalog hint
    assert capsys.readouterr().err.strip() == "error: nets/typo.pkl: no such file"
    assert main(["info", "--catalog"]) == 0
    listing = capsys.readouterr().out
    assert "stylegan3-r-afhqv2-512x512        SG3-R  512x512" in listing and "demo-sg3-r" in listing
    assert not (tmp_path / "out.safetensors").exists()
