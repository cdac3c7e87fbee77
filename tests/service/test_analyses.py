"""Analyses next to the network (spectra, sticking, recording) over loopback: the remote result equals the
local one bit for bit, progress arrives, a cancelled job stops on the server, bad params are refused with one
line while another client keeps getting frames, and `spectra` / `sticking --connect` write what a local run
writes. Tiny nets of our own (16 px) keep every test to seconds; every server binds 127.0.0.1 on a free port.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from stylegan3.documents.request import (
    Latent,
    LayerView,
    NetworkRef,
    Noise,
    RenderRequest,
    Transform,
    Truncation,
    to_dict,
)
from stylegan3.service import analyses, protocol
from stylegan3.service.backend import BackendError
from stylegan3.service.client import RemoteBackend
from stylegan3.service.thread_backend import ThreadBackend
from tests.support.nets import save_slow_net
from tests.support.service import running_server


@pytest.fixture(scope="module")
def slow_net(nets):
    """A net whose spectra of thousands of latents would take minutes: a job that must be cancelled."""
    return save_slow_net(nets, 128)


def _request(source, **kw) -> RenderRequest:
    base = RenderRequest(network=NetworkRef(str(source)), latent=Latent(3.0), truncation=Truncation(0.8, None),
                         transform=Transform((0.125, -0.0625), 0.03))
    return base.replace(**kw) if kw else base


def _local(source):
    import stylegan3

    return stylegan3.load_network(str(source), device="cpu").eval().requires_grad_(False)


def test_remote_spectra_equal_the_panels_local_job_bit_for_bit(nets, server):
    from sg3_explorer.visualizer.network_jobs import spectra_job
    from stylegan3.metrics.spectra import network_spectrum

    source = nets["SG3-T"]
    layers = ["output", "L1_36_16"]
    with RemoteBackend(server.address) as client, ThreadBackend("cpu") as thread:
        got = spectra_job(_request(source), layers, 3, 3, 0.8, "hann").run(client, lambda d, t: None)
        in_thread = analyses.spectra(thread, _request(source), layers, 3, 3, 0.8, "hann")
    want = {name: network_spectrum(_local(source), name, num_samples=3, seed=3, truncation_psi=0.8, window="hann")
            for name in layers}
    assert set(got) == set(want) == set(layers)
    for name in layers:
        for spec in (got[name], in_thread[name]):
            assert spec.power.dtype == want[name].power.dtype == np.float64
            assert np.array_equal(spec.power, want[name].power) and np.array_equal(spec.freqs, want[name].freqs)
            assert spec.marks == want[name].marks and spec.sampling_rate == want[name].sampling_rate
            assert spec.num_samples == 3 and spec.label == name
    assert got["L1_36_16"].power.shape == (36, 36) and got["output"].power.shape == (16, 16)
    assert got["output"].marks["nyquist"] == 8.0


def test_remote_sticking_equals_the_comparison_panels_measure(nets, server):
    from sg3_explorer.visualizer.network_jobs import sticking_job
    from stylegan3.render.images import to_numpy_rgb

    for kind in ("SG3-T", "SG2"):
        request = _request(nets[kind], noise=Noise("const"))
        with RemoteBackend(server.address) as client, ThreadBackend("cpu") as here:
            avg, res = sticking_job(request, 5, 0.3, 2).run(client, lambda d, t: None)
            want = analyses.sticking(here, request, samples=5, sigma=0.3, seed=2)
        want_avg = to_numpy_rgb(want.average[None])
        assert res.score == want.score and res.ratio == want.ratio and 0.0 <= res.score <= 1.0
        assert torch.equal(res.average, want.average) and torch.equal(res.single, want.single)
        assert np.array_equal(avg, want_avg) and avg.shape == (16, 16, 3) and avg.dtype == np.uint8
    # the view transform matters on SG3 (so it really travelled), not on SG2
    with RemoteBackend(server.address) as client:
        moved = analyses.sticking(client, _request(nets["SG3-T"]), samples=4)
        still = analyses.sticking(client, _request(nets["SG3-T"], transform=Transform()), samples=4)
    assert not torch.equal(moved.single, still.single)


def test_recorded_frames_are_the_frames_the_main_view_renders(nets, server):
    from stylegan3.analyses.record import RecordParams, frame_requests

    request = _request(nets["SG3-R"], layer=LayerView("L2_36_16", 1))
    seen: list[tuple[int, int]] = []
    with RemoteBackend(server.address) as client, ThreadBackend("cpu") as thread:
        frames = list(analyses.record_frames(client, request, 7, path="circle:0.1+spin:0.25", walk=1.5, chunk=3,
                                             progress=lambda d, t: seen.append((d, t))))
        raw = list(analyses.record_frames(client, request, 7, path="circle:0.1+spin:0.25", walk=1.5, chunk=7,
                                          frame_format="raw"))
        want = [thread.render(r).image for r in frame_requests(
            request, RecordParams(frames=7, path="circle:0.1+spin:0.25", walk=1.5))]
    assert len(frames) == len(raw) == len(want) == 7
    assert all(np.array_equal(a, b) and np.array_equal(b, c) for a, b, c in zip(frames, raw, want, strict=True))
    assert not np.array_equal(frames[0], frames[3])  # the path really moves
    assert (3, 7) in seen and (6, 7) in seen and seen[-1] == (7, 7)


def test_recording_checks_its_path_against_the_network(nets, server):
    with RemoteBackend(server.address) as client:
        with pytest.raises(BackendError, match="transform path needs a StyleGAN3 network"):
            list(analyses.record_frames(client, _request(nets["SG2"]), 3, path="pan:1,0"))
        still = list(analyses.record_frames(client, _request(nets["SG2"]), 2, walk=1.0))
    assert len(still) == 2 and not np.array_equal(still[0], still[1])


def test_record_chunks_stay_under_the_reply_limit(nets, server, monkeypatch):
    from stylegan3.analyses import ANALYSES
    from stylegan3.analyses import record as record_module

    monkeypatch.setattr(record_module, "MAX_CHUNK_BYTES", 16 * 16 * 3 * 2)  # two 16² frames per reply
    with RemoteBackend(server.address) as client:
        assert client.server_info is None or "record" in client.server_info["analyses"]
        with pytest.raises(BackendError, match="count 3 frames of 16² exceed a reply's .* ask for at most 2"):
            client.analyze("record", _request(nets["SG3-T"]), params={"frames": 5, "count": 3})
        frames = list(analyses.record_frames(client, _request(nets["SG3-T"]), 5, path="pan:0.5,0", chunk=2))
        assert client.server_info["analyses"] == list(ANALYSES)
    assert len(frames) == 5


def test_record_video_is_written_on_the_client(nets, server, tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    out = tmp_path / "rec.mp4"
    with RemoteBackend(server.address) as client:
        assert analyses.record_video(client, _request(nets["SG3-T"]), out, 6, fps=12, path="circle:0.1") == 6
    assert out.stat().st_size > 1000


def test_progress_arrives_frames_keep_coming_and_a_cancelled_job_stops_on_the_server(nets, slow_net):
    from sg3_explorer.visualizer.jobs import Job

    with running_server([str(Path(slow_net).parent)]) as server, RemoteBackend(server.address) as client:
        request = _request(slow_net)
        layers = ["output", client.load(request.network).layers[-2].name]
        client.render(request, timeout=60)  # loaded and warm
        job = Job(lambda p: analyses.spectra(client, request, layers, 4000, progress=p), "spectra")
        deadline = time.monotonic() + 60
        while job.count < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert job.count >= 2 and job.total == 8000 and not job.done  # progress streamed back
        assert server._running is not None and server._running.kind == "analyze"
        # Frames keep coming between the analysis's steps, for its own client and for another one.
        with RemoteBackend(server.address) as other:
            for backend in (client, other, client):
                t0 = time.monotonic()
                frame = backend.render(request.with_seed(int(t0 * 1000) % 1000), timeout=30)
                assert frame.error is None and frame.image.shape == (128, 128, 3)
                assert time.monotonic() - t0 < 5
        assert server._running is not None and server._running.kind == "analyze" and not job.done
        t0 = time.monotonic()
        assert job.cancel()
        assert job.wait(10) and job.cancelled and job.result is None
        # The server stopped the job at its next report (8000 latents take minutes on a CPU): its render
        # thread is free again at once and serves the next frame.
        while server._running is not None and time.monotonic() - t0 < 10:
            time.sleep(0.01)
        assert server._running is None, "the cancelled analysis still runs on the server"
        frame = client.render(request.with_seed(9), timeout=30)
        assert frame.error is None and frame.image is not None
        assert time.monotonic() - t0 < 10


def test_bad_params_are_refused_while_another_client_keeps_getting_frames(nets, server):
    from tests.support.service import HostileClient

    request = _request(nets["SG3-T"])
    bad = [
        ("spectra", {"samples": 0}, "samples must be in 1..4096, got 0"),
        ("spectra", {"sampels": 2}, "unknown field 'sampels'"),
        ("spectra", {"window": "blackman"}, "expected one of 'kaiser', 'hann', 'none'"),
        ("spectra", {"layers": ["nope"]}, "no layer 'nope'"),
        ("sticking", {"samples": "8"}, "sticking params.samples: expected an integer"),
        ("sticking", {"sigma": -1.0}, "sigma must be in"),
        ("record", {"path": "zoom:2"}, "unknown part 'zoom'"),
        ("record", {"frames": 4, "start": 9}, "start must be in 0..3"),
        ("record", {"count": 10_000}, "count must be in 1..1024"),
    ]
    with RemoteBackend(server.address) as other, RemoteBackend(server.address) as client:
        first = other.render(request, timeout=60)
        for name, params, message in bad:
            with pytest.raises(BackendError, match=message.replace("(", r"\(").replace(")", r"\)")):
                client.analyze(name, request, params=params, timeout=30)
            frame = other.render(request.with_seed(len(message)), timeout=30)
            assert frame.error is None and frame.image.shape == first.image.shape
        answer = HostileClient(server.address).zmq_send(protocol.encode_request(
            "analyze", 5, None, name="spectra", request=to_dict(request), params=[1, 2]))
        assert answer["ok"] is False and answer["code"] == "bad-request"
        assert "params must be an object" in answer["error"]
        answer = HostileClient(server.address).zmq_send(protocol.encode_request("cancel", 6, None, of="all"))
        assert answer["code"] == "bad-request"
        assert other.render(request.with_seed(77), timeout=30).image is not None
    assert server.refused >= len(bad) - 1 + 2  # 'no layer' is refused by the analysis itself


def test_thread_backend_refuses_bad_params_the_same_way(nets):
    with ThreadBackend("cpu") as thread:
        with pytest.raises(BackendError, match="spectra params: samples must be in 1..4096, got 0"):
            thread.analyze("spectra", _request(nets["SG3-T"]), params={"samples": 0})
        with pytest.raises(BackendError, match="unknown analysis 'nope'"):
            thread.analyze("nope", _request(nets["SG3-T"]))


def _local_then_connect(args: list[str], server, tmp_path, capsys) -> tuple[str, str, str]:
    """Run a command here (local.png) and through the server (remote.png): both outputs and the server's address."""
    from stylegan3.cli.main import main

    assert main([*args, "--device", "cpu", "--out", str(tmp_path / "local.png")]) == 0
    local_out = capsys.readouterr().out
    host_port = server.address.removeprefix("tcp://")
    assert main([*args, "--connect", host_port, "--out", str(tmp_path / "remote.png")]) == 0
    return local_out, capsys.readouterr().out, host_port


def test_spectra_connect_writes_the_same_figure_and_arrays(nets, server, tmp_path, capsys):
    args = ["spectra", "--network", str(nets["SG3-T"]), "--layer", "L2_36_16", "--samples", "3", "--seed", "4",
            "--psi", "0.7", "--window", "hann", "--record", str(tmp_path / "runs.jsonl")]
    local_out, remote_out, host_port = _local_then_connect(args, server, tmp_path, capsys)
    _same_records(tmp_path / "runs.jsonl", 2, host_port)
    assert (tmp_path / "local.png").read_bytes() == (tmp_path / "remote.png").read_bytes()
    a, b = np.load(tmp_path / "local.npz"), np.load(tmp_path / "remote.npz")
    assert sorted(a.files) == sorted(b.files) and "net_power" in a.files
    assert all(np.array_equal(a[k], b[k]) for k in a.files)
    assert local_out.splitlines()[0] == remote_out.splitlines()[0]


def test_sticking_connect_prints_the_same_scores_and_figure(nets, server, tmp_path, capsys):
    args = ["sticking", "--network", str(nets["SG3-T"]), "--network", str(nets["SG2"]), "--samples", "4",
            "--seed", "2", "--sigma", "0.4", "--batch", "3", "--psi", "0.9", "--record", str(tmp_path / "runs.jsonl")]
    local_out, remote_out, host_port = _local_then_connect(args, server, tmp_path, capsys)
    _same_records(tmp_path / "runs.jsonl", 4, host_port)
    assert "sticking 0." in local_out
    assert local_out.replace("local.png", "X") == remote_out.replace("remote.png", "X")
    assert (tmp_path / "local.png").read_bytes() == (tmp_path / "remote.png").read_bytes()


def _same_records(path: Path, count: int, host_port: str) -> None:
    """`--record` wrote `count` lines: the local runs first, then the remote ones, equal but for where and when."""
    import json

    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == count
    half = count // 2
    for local, remote in zip(lines[:half], lines[half:], strict=True):
        assert local["settings"].pop("device") == "cpu" and remote["settings"].pop("device") == f"remote {host_port}"
        assert len(local["network_sha256"]) == 64
        for key in ("time", "seconds"):
            local.pop(key), remote.pop(key)
        if "npz" in local["results"]:
            assert local["results"].pop("npz").endswith("local.npz") and remote["results"].pop("npz")
        assert local == remote


def test_connect_commands_refuse_outside_allow_with_one_line(server, tmp_path, capsys):
    from stylegan3.cli.main import main

    host_port = server.address.removeprefix("tcp://")
    out = str(tmp_path / "x.png")
    assert main(["spectra", "--network", "/etc/passwd", "--samples", "1", "--connect", host_port, "--out", out]) == 1
    assert "error: refused: /etc/passwd: outside the folders this server allows" in capsys.readouterr().err
    assert main(["sticking", "--network", "/etc/passwd", "--connect", host_port]) == 1
    assert "error: refused: /etc/passwd" in capsys.readouterr().err
    assert main(["sticking", "--connect", host_port, "--trace-frames", "4"]) == 1
    assert "--trace-frames runs locally only" in capsys.readouterr().err


@pytest.mark.slow
def test_child_process_backend_runs_and_cancels_analyses(nets, slow_net):
    from sg3_explorer.visualizer.jobs import Job
    from stylegan3.metrics.spectra import network_spectrum
    from stylegan3.service.child import ChildProcessBackend

    source = nets["SG3-T"]
    with ChildProcessBackend(device="cpu") as child:
        got = analyses.spectra(child, _request(source), ["output"], 2, 1, 0.8)
        res = analyses.sticking(child, _request(source), samples=3)
        slow = _request(slow_net)
        child.render(slow, timeout=60)
        job = Job(lambda p: analyses.spectra(child, slow, ["output"], 4000, progress=p), "spectra")
        deadline = time.monotonic() + 60
        while job.count < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert job.count >= 2 and job.cancel() and job.wait(10) and job.cancelled
        # Analyses take turns (renders are served between their steps, other analyses are not): a quick one
        # answered at once shows the cancelled one (4000 latents: a minute or more) stopped in the child.
        t0 = time.monotonic()
        assert len(analyses.fingerprint(child, slow)) == 64 and time.monotonic() - t0 < 10
        assert child.status().restarts == 0  # cancelled, not killed
    want = network_spectrum(_local(source), "output", num_samples=2, seed=1, truncation_psi=0.8)
    assert np.array_equal(got["output"].power, want.power)
    assert 0.0 <= res.score <= 1.0 and res.samples == 3


def test_thread_backend_renders_between_analysis_steps_and_cancels(slow_net):
    from sg3_explorer.visualizer.jobs import Job

    request = _request(slow_net)
    with ThreadBackend("cpu") as thread:
        thread.render(request, timeout=60)
        job = Job(lambda p: analyses.spectra(thread, request, ["output"], 4000, progress=p), "spectra")
        deadline = time.monotonic() + 60
        while job.count < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert job.count >= 2 and not job.done
        for seed in (11, 12):
            t0 = time.monotonic()
            frame = thread.render(request.with_seed(seed), timeout=30)
            assert frame.error is None and frame.image.shape == (128, 128, 3) and time.monotonic() - t0 < 5
        assert not job.done
        assert job.cancel() and job.wait(10) and job.cancelled and job.result is None
        assert thread._net_lock.acquire(timeout=5)  # the analysis let go of the network
        thread._net_lock.release()
