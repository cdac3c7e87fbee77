"""The render service over loopback: remote frames equal local ones, render --connect writes the same PNG bytes,
hostile clients are refused while another client keeps getting frames, lost renderers are reported and recovered.

Everything binds 127.0.0.1 on free ports, every loop is bounded and every server stops by itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from stylegan3.documents.request import (
    FFTView,
    Latent,
    LayerView,
    NetworkRef,
    RenderRequest,
    Transform,
    Truncation,
    Untransform,
    to_dict,
)
from stylegan3.service import protocol
from stylegan3.service.client import RemoteBackend
from stylegan3.service.thread_backend import ThreadBackend
from tests.support.nets import KINDS, save_slow_net
from tests.support.service import HostileClient, free_port, running_server

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def slow_net(nets):
    """A net that takes a few hundred ms or more per frame on a CPU, so a kill can land mid-render."""
    return save_slow_net(nets, 256)


def submit_and_kill_mid_render(backend, request: RenderRequest, kill) -> int:
    """Submit frames of the slow net and `kill()` while one is being rendered (no result yet, backend busy); its id.
    Polls every few ms, so it works however fast the frame is (the CPU kernels made it fast on an idle machine)."""
    for seed in range(100, 110):
        rid = backend.submit(request.with_seed(seed))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if backend.poll() is not None:
                break  # it finished first: try the next seed
            if backend.status().state == "busy":
                kill()
                return rid
            time.sleep(0.002)
    raise AssertionError("no frame of the slow net was ever seen unfinished")


def _requests(source: str, info) -> list[RenderRequest]:
    base = RenderRequest(network=NetworkRef(source), latent=Latent(2.0), truncation=Truncation(0.8, None))
    moved = base.replace(transform=Transform((0.125, -0.25), 0.05))
    layer = info.layers[2].name
    return [
        base,
        moved,
        moved.replace(layer=LayerView(layer, None, True, 3.0)),
        moved.replace(layer=LayerView(layer, 1), fft=FFTView(True, "hann", 60.0)),
        moved.replace(untransform=Untransform(True, "difference")),
    ]


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_remote_frames_equal_in_process_frames(nets, kind):
    source = str(nets[kind])
    with running_server([str(source)]) as server, ThreadBackend("cpu") as local, \
            RemoteBackend(server.address) as raw, RemoteBackend(server.address, frame_format="png") as png:
        info = raw.load(source)
        assert info == local.load(source) and info.kind == kind
        for request in _requests(source, info):
            want = local.render(request)
            assert want.error is None and want.image.shape[2] == 3
            for client, fmt in ((raw, "raw"), (png, "png")):
                got = client.render(request)
                assert got.error is None, got.error
                assert got.frame_format == fmt and got.transport == server.address
                assert np.array_equal(got.image, want.image), (kind, fmt, request)
                assert got.stats == want.stats
                assert got.frame_bytes > 0 and got.round_trip_ms >= got.render_ms > 0
        with RemoteBackend(server.address, frame_format="jpeg", quality=95) as jpeg:
            got = jpeg.render(_requests(source, info)[1])
            want = local.render(_requests(source, info)[1])
            assert np.abs(got.image.astype(int) - want.image).mean() < 6  # lossy, but the same picture
            assert got.frame_format == "jpeg"


@pytest.mark.slow
@pytest.mark.fixtures
@pytest.mark.parametrize("name", ["sg3t", "sg3r", "sg2"])
def test_remote_renders_official_pickles_like_local(fixtures_dir, fixture_cases, name):
    cases = [c for c in fixture_cases if c["pickle"] == f"{name}.pkl" and c["noise_mode"] == "const"]
    case = max(cases, key=lambda c: (c["rotate"] != 0, c["translate"] != [0, 0], c["c_label"] is not None))
    source = str(fixtures_dir / f"{name}.pkl")
    request = RenderRequest(network=NetworkRef(source),
                            latent=Latent(float(case["seed"]), 0.0, case["c_label"] or 0),
                            truncation=Truncation(case["psi"], case["cutoff"]),
                            transform=Transform(tuple(case["translate"]), case["rotate"]))
    request = request.replace(synthesis=request.synthesis.__class__(force_fp32=True, cuda_graphs=False))
    with running_server([str(fixtures_dir)]) as server, ThreadBackend("cpu") as local, \
            RemoteBackend(server.address) as client:
        got, want = client.render(request, timeout=300), local.render(request, timeout=300)
    assert got.error is None and np.array_equal(got.image, want.image)
    official = np.load(fixtures_dir / Path(case["output"]).name)
    ref = np.clip(official[0].transpose(1, 2, 0) * 127.5 + 128, 0, 255).astype(np.uint8)
    assert np.abs(got.image.astype(int) - ref).max() <= 1


@pytest.mark.slow
def test_render_connect_writes_the_same_png_bytes(nets, tmp_path):
    import stylegan3
    from stylegan3.cli.main import main
    from stylegan3.explore.directions import Directions, save_directions

    w_dim = stylegan3.load_network(str(nets["SG3-R"]), device="cpu").w_dim
    vecs = np.random.default_rng(3).standard_normal((2, w_dim)).astype(np.float32)
    dirs = save_directions(tmp_path / "d.npz", Directions(vecs / np.linalg.norm(vecs, axis=1, keepdims=True),
                                                           np.array([2.0, 1.0]), np.zeros(w_dim), kind="pca"))
    moves = ["--direction", f"{dirs}:1=2.5@coarse", "--direction", f"{dirs}:0=-1"]  # vectors travel by value
    for kind, extra in (("SG3-R", []), ("SG2", []), ("SG3-R", moves)):
        source = str(nets[kind])
        args = ["--network", source, "--seeds", "0,5", "--psi", "0.7", "--translate", "0.1,-0.2", "--rotate", "0.03",
                *extra]
        assert main(["render", *args, "--device", "cpu", "--outdir", str(tmp_path / "local")]) == 0
        with running_server([str(Path(source).parent)]) as server:
            host_port = server.address.removeprefix("tcp://")
            assert main(["render", *args, "--connect", host_port, "--outdir", str(tmp_path / "remote")]) == 0
        named = "-d1+2.5@coarse-d0-1" if extra else ""  # the file names say what differs from a plain render
        for seed in (0, 5):
            a = (tmp_path / "local" / f"seed{seed:04d}-psi0.7-t0.1,-0.2-r0.03{named}.png").read_bytes()
            b = (tmp_path / "remote" / f"seed{seed:04d}-psi0.7-t0.1,-0.2-r0.03{named}.png").read_bytes()
            assert a == b and len(a) > 100


def test_render_connect_errors_are_one_line(nets, tmp_path, capsys):
    from stylegan3.cli.main import main

    with running_server([str(nets["SG2"].parent)], token="s3cret") as server:
        host_port = server.address.removeprefix("tcp://")
        out = ["--outdir", str(tmp_path)]
        assert main(["render", "--network", "/etc/passwd", "--connect", host_port, "--token", "s3cret", *out]) == 1
        assert "error: refused: /etc/passwd: outside the folders this server allows" in capsys.readouterr().err
        assert main(["render", "--network", str(nets["SG2"]), "--connect", host_port, "--token", "nope", *out]) == 1
        assert "wrong or missing token" in capsys.readouterr().err
    port = free_port()
    assert main(["render", "--connect", f"127.0.0.1:{port}", *out]) == 1
    assert "cannot reach 127.0.0.1" in capsys.readouterr().err


def test_hostile_clients_are_refused_while_another_client_keeps_getting_frames(nets, tmp_path):
    outside = tmp_path / "outside.safetensors"
    outside.write_bytes(Path(nets["SG2"]).read_bytes())
    allowed = Path(nets["SG2"]).parent
    link = allowed / "escape.safetensors"
    if not link.exists():
        os.symlink(outside, link)
    token = "t0ken"
    frames: list[int] = []
    errors: list[str] = []
    stop = threading.Event()

    with running_server([str(allowed)], token=token) as server:
        def good_client() -> None:
            with RemoteBackend(server.address, token=token) as client:
                seed = 0
                while not stop.is_set() and seed < 2000:
                    seed += 1
                    res = client.render(RenderRequest(network=NetworkRef(str(nets["SG2"]))).with_seed(seed), 60)
                    (errors.append(res.error) if res.error else frames.append(seed))

        worker = threading.Thread(target=good_client, daemon=True)
        worker.start()
        evil = HostileClient(server.address)

        def frames_keep_coming() -> None:
            n = len(frames)
            deadline = time.monotonic() + 60
            while len(frames) < n + 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(frames) >= n + 2, "the good client stopped getting frames"

        try:
            frames_keep_coming()
            render = to_dict(RenderRequest(network=NetworkRef(str(nets["SG2"]))))
            answers = {
                "garbage": evil.zmq_send(b"\x00\xffnot json at all"),
                "truncated": evil.zmq_send(protocol.encode_request("render", 1, token, request=render)[:-9]),
                "three frames": evil.zmq_send(b"{}", b"{}", b"{}"),
                "no token": evil.zmq_send(protocol.encode_request("render", 2, None, request=render)),
                "wrong token": evil.zmq_send(protocol.encode_request("load", 3, "guess",
                                                                     network={"source": "demo", "key": "G_ema"})),
                "oversized": evil.zmq_send(protocol.encode_request("ping", 4, token, pad="x" * 900_000)),
                "passwd": evil.zmq_send(protocol.encode_request("load", 5, token,
                                                                network={"source": "/etc/passwd", "key": "G_ema"})),
                "dotdot": evil.zmq_send(protocol.encode_request(
                    "load", 6, token, network={"source": f"{allowed}/../outside.safetensors", "key": "G_ema"})),
                "symlink": evil.zmq_send(protocol.encode_request(
                    "load", 7, token, network={"source": str(link), "key": "G_ema"})),
                "bad request": evil.zmq_send(protocol.encode_request("render", 8, token, request={"schema": 1})),
            }
            expect = {
                "garbage": ("bad-request", "message is not UTF-8 JSON"),
                "truncated": ("bad-request", "message is not UTF-8 JSON"),
                "three frames": ("bad-request", "expected one message frame (two with an attachment), got 3"),
                "no token": ("auth", "wrong or missing token"),
                "wrong token": ("auth", "wrong or missing token"),
                "oversized": ("too-large", "message too large"),
                "passwd": ("refused", "refused: /etc/passwd: outside the folders this server allows"),
                "dotdot": ("refused", "paths with '..' are refused"),
                "symlink": ("refused", "a symlink leads out"),
                "bad request": ("bad-request", "RenderRequest: missing field 'network'"),
            }
            for name, (code, text) in expect.items():
                answer = answers[name]
                assert answer is not None and answer["ok"] is False, name
                assert answer["code"] == code and text in answer["error"], (name, answer)
            assert answers["wrong token"]["id"] == 3 and answers["passwd"]["id"] == 5
            # Below ZMTP: raw garbage, and a forged frame header claiming 2**62 bytes after a valid greeting.
            # libzmq drops these peers (no reply is possible); a message over the socket limit likewise.
            evil.tcp_send(os.urandom(2048))
            greeting = b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"NULL" + b"\x00" * 16 + b"\x00" + b"\x00" * 31
            evil.tcp_send(greeting + b"\x06" + (2**62).to_bytes(8, "big") + b"A" * 1024)
            assert evil.zmq_send(b"x" * (protocol.MAX_SOCKET_MESSAGE + 10), wait=1.0) is None
            frames_keep_coming()
        finally:
            stop.set()
            worker.join(timeout=60)
            evil.close()
        assert server.refused >= len(expect)
    assert not errors, errors


@pytest.mark.slow
def test_killed_child_renderer_is_reported_and_restarted(nets, slow_net):
    from stylegan3.service.child import ChildProcessBackend

    request = RenderRequest(network=NetworkRef(str(nets["SG3-T"])))
    with ChildProcessBackend(device="cpu") as backend:
        assert backend.render(request, 120).error is None
        first = backend.pid
        slow = RenderRequest(network=NetworkRef(str(slow_net)))
        assert backend.render(slow, 300).error is None  # loaded: what follows is a render, not a load
        rid = submit_and_kill_mid_render(backend, slow, lambda: os.kill(first, signal.SIGKILL))
        deadline = time.monotonic() + 300  # a loaded 2-core machine renders the 256 px net slowly
        seen = set()
        result = None
        while time.monotonic() < deadline and result is None:
            seen.add(backend.status().state)
            result = backend.wait_result(0.1)
        assert result is not None and result.request_id == rid and result.error is None
        status = backend.status()
        assert "renderer process killed by SIGKILL" in status.message and status.message.endswith("restarted")
        assert status.restarts == 1 and backend.pid != first and status.state == "ready"
        assert "restarting" in seen  # what the GUI shows meanwhile


def _serve(port: int, allow: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "stylegan3.cli.main", "serve", "--listen", f"127.0.0.1:{port}",
                             "--allow", str(allow), "--device", "cpu"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _wait_listening(proc: subprocess.Popen) -> str:
    line = proc.stdout.readline()
    assert "listening on tcp://127.0.0.1:" in line, line
    return line


@pytest.mark.slow
def test_killed_remote_server_is_reported_and_the_client_reconnects(nets, slow_net):
    port = free_port()
    allow = Path(nets["SG2"]).parent
    request = RenderRequest(network=NetworkRef(str(nets["SG2"])))
    server = _serve(port, allow)
    try:
        _wait_listening(server)
        with RemoteBackend(f"127.0.0.1:{port}", dead_after=2.0) as client:
            assert client.render(request, 60).error is None
            slow = RenderRequest(network=NetworkRef(str(slow_net)))
            assert client.render(slow, 300).error is None
            rid = submit_and_kill_mid_render(client, slow, lambda: server.send_signal(signal.SIGKILL))
            server.wait(timeout=10)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and client.status().state != "disconnected":
                time.sleep(0.05)
            status = client.status()
            assert status.state == "disconnected" and f"no answer from tcp://127.0.0.1:{port}" in status.message
            server = _serve(port, allow)
            _wait_listening(server)
            result = None
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and result is None:
                result = client.wait_result(0.1)
            assert result is not None and result.request_id == rid and result.error is None
            assert client.status().state == "ready" and client.status().restarts >= 1
    finally:
        server.kill()
        server.wait(timeout=10)
        server.stdout.close()


def test_analysis_runs_next_to_the_network_and_streams_progress(nets):
    """Equivariance metrics of the current latent, computed on the server, equal the in-process backend's."""
    from stylegan3.service.backend import BackendError
    from stylegan3.service.thread_backend import ThreadBackend

    source = str(nets["SG3-T"])
    request = RenderRequest(network=NetworkRef(source), latent=Latent(3.0), truncation=Truncation(0.8, None))
    seen: list[tuple[int, int]] = []
    with running_server([str(Path(source).parent)]) as server, RemoteBackend(server.address) as client:
        got = client.analyze("eq_metrics", request, progress=lambda d, t: seen.append((d, t)))
        with pytest.raises(BackendError, match="equivariance metrics need a StyleGAN3 network"):
            client.analyze("eq_metrics", request.replace(network=NetworkRef(str(nets["SG2"]))))
        answer = HostileClient(server.address).zmq_send(protocol.encode_request("analyze", 9, None, name="rm -rf",
                                                                           request=to_dict(request)))
        assert answer["code"] == "bad-request" and "unknown analysis 'rm -rf'" in answer["error"]
    with ThreadBackend("cpu") as here:
        want = here.analyze("eq_metrics", request)
    assert got == want and set(got) == {"eqt", "eqt_frac", "eqr"}
    assert seen and seen[-1][1] == 4 and all(d <= t for d, t in seen)
