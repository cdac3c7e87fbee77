"""`--connect` to an address where no server answers: every command says so in one line within seconds.

A port where nothing listens is refused by the first TCP connection (`stylegan3.service.client.probe`); a
port that accepts but never speaks ZeroMQ is given up after the hello's timeout (3 s). Before the probe, the
window waited up to 121 s and the commands relied on the hello timeout alone."""

from __future__ import annotations

import socket
import time

import pytest

from stylegan3.cli.main import main
from stylegan3.service.client import probe
from tests.support.service import free_port

HINT = "is `sg3-explorer serve` running there, or the SSH tunnel open?"


COMMANDS = ["render", "spectra", "spectra --paper", "sticking", "directions", "project", "equivariance", "video"]


def _commands(tmp) -> dict[str, list[str]]:
    from PIL import Image

    target = tmp / "t.png"
    Image.new("RGB", (32, 32), (200, 100, 50)).save(target)
    return {
        "render": ["render", "--network", "demo", "--seeds", "0", "--outdir", str(tmp)],
        "spectra": [
            "spectra",
            "--network",
            "demo",
            "--layer",
            "L10_276_24",
            "--samples",
            "2",
            "--out",
            str(tmp / "s.png"),
        ],
        "spectra --paper": [
            "spectra",
            "--paper",
            "--network",
            "demo",
            "--samples",
            "2",
            "--mean",
            "1",
            "--std",
            "1",
            "--out",
            str(tmp / "p.png"),
        ],
        "sticking": ["sticking", "--network", "demo", "--samples", "2", "--out", str(tmp / "st.png")],
        "directions": ["directions", "--network", "demo", "--samples", "100", "--out", str(tmp / "d.npz")],
        "project": [
            "project",
            "--network",
            "demo",
            "--target",
            str(target),
            "--steps",
            "2",
            "--outdir",
            str(tmp / "proj"),
        ],
        "equivariance": ["equivariance", "--network", "demo", "--samples", "2"],
        "video": ["video", "--network", "demo", "--seeds", "0-1", "--out", str(tmp / "v.mp4")],
    }


def _first_line(err: str) -> str:
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip()]
    assert lines, err
    return lines[0]


def test_probe_names_a_refused_port_and_passes_a_listening_one():
    port = free_port()
    assert probe(f"127.0.0.1:{port}") == f"nothing listens on 127.0.0.1:{port} (connection refused)"
    assert probe(f"tcp://127.0.0.1:{port}") == f"nothing listens on 127.0.0.1:{port} (connection refused)"
    assert probe("ipc:///tmp/whatever") is None
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert probe(f"127.0.0.1:{listener.getsockname()[1]}") is None


@pytest.mark.parametrize("command", COMMANDS)
def test_every_connect_command_fails_fast_where_nothing_listens(command, tmp_path, capsys):
    port = free_port()
    argv = _commands(tmp_path)[command] + ["--connect", f"127.0.0.1:{port}"]
    t0 = time.perf_counter()
    assert main(argv) == 1
    elapsed = time.perf_counter() - t0
    err = capsys.readouterr().err
    assert _first_line(err) == (
        f"error: cannot reach 127.0.0.1:{port}: nothing listens on 127.0.0.1:{port} (connection refused); {HINT}"
    )
    assert "0%|" not in err, "no progress bar before the connection is made"
    assert elapsed < 2.0, f"{command}: {elapsed:.1f} s"


def test_a_port_that_never_answers_is_given_up_after_the_hello_timeout(tmp_path, capsys):
    with socket.socket() as listener:  # accepts TCP (the backlog) but never speaks ZeroMQ
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        t0 = time.perf_counter()
        assert (
            main(
                [
                    "render",
                    "--network",
                    "demo",
                    "--seeds",
                    "0",
                    "--outdir",
                    str(tmp_path),
                    "--connect",
                    f"127.0.0.1:{port}",
                ]
            )
            == 1
        )
        elapsed = time.perf_counter() - t0
    assert _first_line(capsys.readouterr().err) == (
        f"error: cannot reach 127.0.0.1:{port}: no answer from tcp://127.0.0.1:{port} for 3 s; {HINT}"
    )
    assert elapsed < 10.0


def test_a_full_wake_pipe_is_not_an_error():
    """The window submits every frame; with the I/O thread behind, the inproc wake pipe filled and `submit` raised
    zmq's raw "Again: Resource temporarily unavailable" into the window."""
    import zmq

    from stylegan3.documents.request import RenderRequest
    from stylegan3.service.client import RemoteBackend

    class FullPipe:
        def send(self, *_args):
            raise zmq.Again()

        def close(self, *_args):
            pass

    backend = RemoteBackend(f"127.0.0.1:{free_port()}")
    real, backend._wake_tx = backend._wake_tx, FullPipe()
    try:
        backend.submit(RenderRequest())
        backend.cancel()
    finally:
        backend._wake_tx = real
        backend.close()
