"""`sg3-explorer convert`: pickle in, loadable .safetensors out, one-line errors for bad input."""

from __future__ import annotations

import os
import pickle

import torch
from test_loading_fakes import make_generator, official_pickle_bytes

from stylegan3.cli.main import main
from stylegan3.loading import load_network, read_native


def test_convert_writes_a_loadable_file(tmp_path, capsys):
    G = make_generator("sg3t")
    src = tmp_path / "snapshot.pkl"
    src.write_bytes(official_pickle_bytes(G, "sg3t"))
    out = tmp_path / "net.safetensors"
    assert main(["convert", str(src), str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out} (SG3-T, 16x16, {len(G.state_dict())} tensors" in printed
    loaded = load_network(out, device="cpu")
    for key, tensor in G.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], tensor), key


def test_convert_refuses_to_overwrite_without_force(tmp_path, capsys):
    src = tmp_path / "snapshot.pkl"
    src.write_bytes(official_pickle_bytes(make_generator("sg2", seed=3), "sg2"))
    out = tmp_path / "net.safetensors"
    out.write_bytes(b"keep me")
    assert main(["convert", str(src), str(out)]) == 1
    assert capsys.readouterr().err.strip() == f"error: {out}: already exists (use --force to overwrite)"
    assert out.read_bytes() == b"keep me"
    assert main(["convert", str(src), str(out), "--force"]) == 0
    assert read_native(out).kind == "sg2"


def test_convert_key_option(tmp_path, capsys):
    src = tmp_path / "snapshot.pkl"
    src.write_bytes(official_pickle_bytes(make_generator("sg2"), "sg2"))
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
