"""Silent mismatches, each now refused or made visible: a `.pkl` holding safetensors, a direction file of another
network, JPEG frames in `.png` files, renders with other settings overwriting plain ones, and `serve --listen
0.0.0.0` telling clients to connect to 0.0.0.0."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
from PIL import Image

from stylegan3.cli.main import main
from stylegan3.explore.directions import Directions, network_fingerprint, save_directions
from tests.support.nets import SMALL_16PX, save_tiny, tiny_net
from tests.support.service import running_server


def _first_err(capsys) -> str:
    return capsys.readouterr().err.splitlines()[0]


def test_convert_refuses_an_output_name_of_another_format(tmp_path, capsys):
    out = tmp_path / "out.pkl"
    assert main(["convert", "demo", str(out)]) == 1
    assert _first_err(capsys) == f"error: {out}: convert writes .safetensors files only (name it out.safetensors)"
    assert not out.exists()
    assert main(["convert", "demo", str(tmp_path / "net")]) == 1  # no extension either
    assert _first_err(capsys).endswith("convert writes .safetensors files only (name it net.safetensors)")


def _directions(w_dim: int, network: str) -> Directions:
    vectors = np.eye(2, w_dim, dtype=np.float32)
    return Directions(vectors=vectors, sigmas=np.array([2.0, 1.0]), mean=np.zeros(w_dim), network=network)


def test_a_direction_file_of_another_network_is_refused_unless_forced(tmp_path, capsys, monkeypatch):
    # the reference ops: a first use of the kernels would print the self-check's line before the answer under test
    monkeypatch.setenv("SG3_OPS", "ref")
    net = save_tiny(tmp_path / "tiny.safetensors", "sg3", **SMALL_16PX)
    G = tiny_net("sg3", **SMALL_16PX)
    mine = save_directions(tmp_path / "mine.npz", _directions(G.w_dim, network_fingerprint(G)))
    theirs = save_directions(tmp_path / "theirs.npz", _directions(G.w_dim, network="0123456789abcdef"))
    out = tmp_path / "out"
    base = ["render", "--network", str(net), "--seeds", "1", "--outdir", str(out)]
    assert main([*base, "--direction", f"{theirs}:0=2"]) == 1
    assert _first_err(capsys) == (
        f"error: {theirs}: made for another network (fingerprint 0123456789abcdef; this "
        f"network is {network_fingerprint(G)}) (--force applies it anyway)"
    )
    assert not out.exists()
    assert main([*base, "--direction", f"{theirs}:0=2", "--force"]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines()[0].startswith(f"warning: {theirs}: made for another network")
    assert captured.out.splitlines() == [str(out / "seed0001-theirs0+2.png")]
    assert main([*base, "--direction", f"{mine}:0=2"]) == 0  # its own network's file: no question asked
    assert capsys.readouterr().err == ""


def test_renders_with_other_settings_get_their_own_names(tmp_path, capsys):
    net = save_tiny(tmp_path / "tiny.safetensors", "sg3", **SMALL_16PX)
    G = tiny_net("sg3", **SMALL_16PX)
    dirs = save_directions(tmp_path / "d.npz", _directions(G.w_dim, network_fingerprint(G)))
    out = tmp_path / "out"
    base = ["render", "--network", str(net), "--seeds", "3", "--outdir", str(out)]
    assert main(base) == 0
    plain = (out / "seed0003.png").read_bytes()
    assert main([*base, "--translate", "0.25,0", "--rotate", "0.05"]) == 0
    assert main([*base, "--direction", f"{dirs}:1=-1.5@coarse", "--psi", "0.7"]) == 0
    assert main([*base, "--noise-mode", "random", "--cutoff", "2", "--force-fp32"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "seed0003-cutoff2-noise-random-fp32.png",
        "seed0003-psi0.7-d1-1.5@coarse.png",
        "seed0003-t0.25,0-r0.05.png",
        "seed0003.png",
    ]
    assert (out / "seed0003.png").read_bytes() == plain  # the plain render was not overwritten
    moved = np.asarray(Image.open(out / "seed0003-t0.25,0-r0.05.png")).astype(int)
    assert np.abs(moved - np.asarray(Image.open(out / "seed0003.png")).astype(int)).mean() > 1
    capsys.readouterr()


def test_remote_render_checks_directions_and_names_jpeg_frames_jpg(tmp_path, capsys):
    folder = tmp_path / "nets"
    folder.mkdir()
    net = save_tiny(folder / "tiny.safetensors", "sg3", **SMALL_16PX)
    G = tiny_net("sg3", **SMALL_16PX)
    theirs = save_directions(tmp_path / "theirs.npz", _directions(G.w_dim, network="0123456789abcdef"))
    out = tmp_path / "out"
    with running_server([str(folder)]) as server:
        host_port = server.address.removeprefix("tcp://")
        base = ["render", "--network", str(net), "--seeds", "2", "--connect", host_port, "--outdir", str(out)]
        assert main([*base, "--direction", f"{theirs}:0=1"]) == 1  # the fingerprint comes from the server
        assert _first_err(capsys) == (
            f"error: {theirs}: made for another network (fingerprint 0123456789abcdef; "
            f"this network is {network_fingerprint(G)}) (--force applies it anyway)"
        )
        assert main([*base, "--frame-format", "jpeg", "--jpeg-quality", "80"]) == 0
        assert main([*base, "--frame-format", "png"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["seed0002.jpg", "seed0002.png"]
    assert (out / "seed0002.jpg").read_bytes()[:3] == b"\xff\xd8\xff"  # JPEG data in a .jpg
    assert (out / "seed0002.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # PNG data in a .png
    assert Image.open(out / "seed0002.jpg").format == "JPEG" and Image.open(out / "seed0002.png").format == "PNG"


class _FakeServer:
    def __init__(self, host, port, allow, token=None, device=None):
        self.port, self.address = port, f"tcp://{host}:{port}"
        self.owner = type("Owner", (), {"device": "cpu"})()

    def serve_forever(self):
        return None


def test_serve_on_all_interfaces_prints_an_address_a_client_can_use(monkeypatch, capsys):
    import stylegan3.service.server as server
    from stylegan3.cli.cmd_serve import client_hosts

    monkeypatch.setattr(server, "RenderServer", _FakeServer)
    assert main(["serve", "--listen", "0.0.0.0:6001", "--token", "t0k"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "sg3-explorer serve: listening on tcp://0.0.0.0:6001 (renders on cpu)"
    connect = [line for line in lines if line.startswith("  connect:")]
    assert connect == [f"  connect: sg3-explorer gui --connect {socket.gethostname()}:6001 --token t0k NETWORK"]
    assert lines[-1].startswith("  (clients use this machine's name or an address they can reach: ")
    assert "0.0.0.0" not in "\n".join(lines[1:])
    hosts = client_hosts("0.0.0.0")
    assert hosts[0] == socket.gethostname() and all(not h.startswith(("0.", "127.")) for h in hosts[1:])
    assert client_hosts("::")[0] == socket.gethostname() and "::" not in client_hosts("::")
    assert client_hosts("10.1.2.3") == ["10.1.2.3"] and client_hosts("gpu-box") == ["gpu-box"]
    assert main(["serve", "--listen", "127.0.0.1:6002"]) == 0  # a concrete address is printed as it is
    out = capsys.readouterr().out
    assert "  connect: sg3-explorer gui --connect 127.0.0.1:6002 NETWORK" in out and "clients use" not in out


def test_readme_documents_the_file_names():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "seed0007-psi0.7" in readme
