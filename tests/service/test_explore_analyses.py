"""Exploration analyses (latents, directions, projection, equivariance terms) on the thread backend and over a
loopback server: the same numbers as the library functions called here, every projection step streamed back in
order, the network never modified, a cancelled projection stopped, and a hostile target answered with one line
while the server keeps serving. Tiny nets of our own (16 px) keep each test to seconds.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
import torch

from stylegan3.documents.request import Latent, LatentMove, NetworkRef, RenderRequest, Truncation, to_dict
from stylegan3.service import analyses, protocol
from stylegan3.service.backend import BackendError
from stylegan3.service.client import RemoteBackend
from stylegan3.service.thread_backend import ThreadBackend
from tests.support.service import running_server


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """PCA results are cached by the backend: each test starts with an empty cache of its own."""
    monkeypatch.setenv("SG3_EXPLORER_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def server(nets):
    with running_server([str(Path(nets["SG2"]).parent)]) as srv:
        yield srv


@contextlib.contextmanager
def backends(server):
    """The thread backend and a remote one (the child backend is the remote one plus a process)."""
    with ThreadBackend("cpu") as thread, RemoteBackend(server.address) as remote:
        yield {"thread": thread, "remote": remote}


def _request(source, **kw) -> RenderRequest:
    move = LatentMove(tuple(float(v) for v in np.linspace(-1, 1, 16)), 0.5, (0, 1), "m")
    base = RenderRequest(network=NetworkRef(str(source)), latent=Latent(3.0), truncation=Truncation(0.8, None),
                         moves=(move,))
    return base.replace(**kw) if kw else base


def _local(source):
    import stylegan3

    return stylegan3.load_network(str(source), device="cpu").eval().requires_grad_(False)


def _same_directions(got, want) -> None:
    for key in ("vectors", "sigmas", "mean"):
        assert getattr(got, key).dtype == np.float32
        assert np.array_equal(getattr(got, key), getattr(want, key)), key
    assert (got.kind, got.network, got.source, got.samples, got.labels) == \
        (want.kind, want.network, want.source, want.samples, want.labels)


def test_ws_and_directions_equal_the_library_functions(nets, server):
    from stylegan3.explore import directions as lib
    from stylegan3.render.inputs import request_ws

    source = nets["SG3-T"]
    G = _local(source)
    a, b = _request(source), _request(source, latent=Latent(8.0))
    want_ws = request_ws(G, a, torch.device("cpu")).numpy()
    want_pca = lib.pca_directions(G, samples=64, components=5, seed=2)
    want_set = lib.seed_set_direction(G, [1, 2, 3], [7, 8], psi=0.7, label="old")
    want_user = lib.user_direction(request_ws(G, a, torch.device("cpu")), request_ws(G, b, torch.device("cpu")),
                                   network=lib.network_fingerprint(G), source="bookmarks 1 -> 2", label="1->2")
    with backends(server) as each:
        for name, backend in each.items():
            ws = analyses.request_ws(backend, a)
            assert ws.dtype == np.float32 and ws.shape == (1, G.num_ws, 16) and np.array_equal(ws, want_ws), name
            seen = []
            d = analyses.pca(backend, a, 64, progress=lambda done, total, seen=seen: seen.append(total),
                             components=5, seed=2)
            _same_directions(d, want_pca)
            assert len(d) == 5 and d.network == lib.network_fingerprint(G)
            assert set(seen) == {64} if name == "thread" else set(seen) <= {64}  # a remote reports when polled
            _same_directions(analyses.seed_set_direction(backend, a, [1, 2, 3], [7, 8], 0.7, "old"), want_set)
            got = analyses.user_direction(backend, a, b, "bookmarks 1 -> 2", "1->2")
            _same_directions(got, want_user)
            assert got.sigmas[0] > 0 and got.labels == ["1->2"]


def test_pca_is_cached_per_network_on_the_backends_side(nets, tmp_path):
    source = nets["SG3-T"]
    with ThreadBackend("cpu") as thread:
        first = analyses.pca(thread, _request(source), 40)
        files = list((tmp_path / "cache" / "directions").glob("*.npz"))
        assert [f.name for f in files] == [f"{first.network}-pca-40-s0.npz"]
        calls = []
        again = analyses.pca(thread, _request(source), 40, progress=lambda d, t: calls.append(d), components=3)
    _same_directions(again, first.__class__(first.vectors[:3], first.sigmas[:3], first.mean, first.kind,
                                              first.network, first.source, first.samples, first.labels[:3]))
    assert calls and max(calls) == 40  # from the cache: no sampling reported in between


def test_user_direction_needs_both_ends_on_one_network(nets):
    from stylegan3.errors import SG3Error

    with ThreadBackend("cpu") as thread, pytest.raises(SG3Error, match="same network"):
        analyses.user_direction(thread, _request(nets["SG3-T"]), _request(nets["SG3-R"]))


def _target(res: int = 16) -> np.ndarray:
    rng = np.random.default_rng(5)
    return rng.integers(0, 256, (res + 8, res + 4, 3), dtype=np.uint8)  # not square, not the net's size


def test_projection_streams_every_step_and_ends_where_the_library_ends(nets, server):
    from stylegan3.explore.projection import OfflineLoss, project, psnr, target_from_image
    from stylegan3.render.images import to_numpy_rgb

    source = nets["SG3-T"]
    G = _local(source)
    target = target_from_image(_target(), 16, 3)
    want = list(project(G, target, steps=5, space="w+", loss=OfflineLoss(), init_samples=2000))
    with backends(server) as each:
        for name, backend in each.items():
            steps, reports = [], []
            last, quality = analyses.project(backend, _request(source), _target(), 5, "w+", "offline",
                                             on_step=steps.append, progress=lambda d, t, r=reports: r.append((d, t)))
            assert [s.step for s in steps] == list(range(6)), name
            for got, ref in zip(steps, want, strict=True):
                assert got.loss == ref.loss and torch.equal(got.ws, ref.ws)
                assert np.array_equal(to_numpy_rgb(got.image), to_numpy_rgb(ref.image))
            assert last.step == 5 and torch.equal(last.ws, want[-1].ws) and torch.equal(last.image, want[-1].image)
            assert quality == psnr(want[-1].image, target) and 0 < quality < 60
            assert reports and all(t == 6 for _, t in reports)


def test_projection_target_tensor_and_w_space(nets, server, tmp_path):
    """The tensor `load_target` gives travels exactly (its values are 8-bit levels)."""
    from PIL import Image

    from stylegan3.explore.projection import OfflineLoss, load_target, project

    source = nets["SG2"]
    Image.fromarray(_target(30)).save(tmp_path / "t.jpg", quality=80)
    target = load_target(tmp_path / "t.jpg", 16, 3)
    want = list(project(_local(source), target, steps=3, space="w", loss=OfflineLoss()))[-1]
    with RemoteBackend(server.address) as remote:
        result = analyses.run_projection(remote, _request(source), target, 3, "w", "offline")
    assert torch.equal(result.step.ws, want.ws) and torch.equal(result.step.image, want.image)
    assert result.loss_kind == "offline" and result.note == "" and len(result.network) == 16
    assert torch.equal(result.step.ws[0, 0], result.step.ws[0, -1])  # W: one w for every layer


def _versions(G) -> dict[str, int]:
    return {n: t._version for n, t in [*G.named_parameters(), *G.named_buffers()]}


def test_no_exploration_analysis_modifies_the_network(nets):
    source = nets["SG3-T"]
    request = _request(source)
    with ThreadBackend("cpu") as thread:
        thread.load(request.network)
        G, _ = thread._owner.network(request.network)
        before = _versions(G)
        requires = {n: p.requires_grad for n, p in G.named_parameters()}
        analyses.request_ws(thread, request)
        analyses.pca(thread, request, 30)
        analyses.seed_set_direction(thread, request, [1], [2])
        analyses.user_direction(thread, request, request.replace(latent=Latent(9.0)))
        analyses.project(thread, request, _target(), 3, "w+", "offline")
        analyses.equivariance_terms(thread, request, 0, 2, ["eqt", "eqr"], 0, 1.0)
        assert _versions(G) == before
        assert {n: p.requires_grad for n, p in G.named_parameters()} == requires
        assert all(p.grad is None for p in G.parameters())


class _Stop(Exception):
    pass


def test_a_cancelled_projection_stops_and_the_server_serves_on(nets, server):
    import time

    source = nets["SG3-T"]
    with RemoteBackend(server.address) as remote:
        got = []

        def on_step(step) -> None:
            got.append(step.step)
            if step.step == 2:
                raise _Stop()

        with pytest.raises(_Stop):
            analyses.project(remote, _request(source), _target(), 5000, "w+", "offline", on_step=on_step)
        t0 = time.monotonic()
        while server._running is not None and time.monotonic() - t0 < 10:
            time.sleep(0.01)
        assert server._running is None, "the cancelled projection still runs on the server"
        assert got == [0, 1, 2]
        assert remote.render(_request(source), timeout=30).image.shape == (16, 16, 3)
    with ThreadBackend("cpu") as thread, pytest.raises(_Stop):
        analyses.project(thread, _request(source), _target(), 5000, "w", "offline", on_step=on_step)


def test_a_slow_caller_gets_every_step_in_order(nets, server, monkeypatch):
    """Flow control: the server waits for acknowledgements instead of queueing every step."""
    import time

    monkeypatch.setattr(protocol, "STREAM_WINDOW", 1)
    got = []

    def slow(step) -> None:
        time.sleep(0.05)
        got.append(step.step)

    with RemoteBackend(server.address) as remote:
        analyses.project(remote, _request(nets["SG3-T"]), _target(), 12, "w", "offline", on_step=slow)
    assert got == list(range(13))


def test_hostile_targets_get_one_line_and_the_server_keeps_serving(nets, server):
    import io

    from PIL import Image

    from tests.support.service import HostileClient

    request = to_dict(_request(nets["SG3-T"]))
    params = {"steps": 2, "loss": "offline"}

    def png(size, mode="RGB") -> bytes:
        buf = io.BytesIO()
        noise = np.random.default_rng(0).integers(0, 256, (size[1], size[0], len(mode)), dtype=np.uint8)
        Image.fromarray(noise, mode).save(buf, format="PNG")
        return buf.getvalue()

    def send(attachment: bytes, declared: int | None = None, op: str = "analyze", name: str = "project"):
        header = protocol.encode_request(op, 7, None, name=name, request=request,
                                         params=params if name == "project" else {},
                                         attachment=len(attachment) if declared is None else declared)
        return HostileClient(server.address).zmq_send(header, attachment, wait=30)

    cases = [
        (send(b"\0" * (protocol.MAX_ATTACHMENT_BYTES + 1)), "too-large", "attachment too large"),
        (send(b"GIF89a" + b"\0" * 100), "analysis", "project: the target is not a PNG image"),
        (send(png((17, 16))), "analysis", "target of 17x16 pixels, the network draws 16x16"),
        (send(png((16, 16), "RGBA")), "analysis", "target in mode RGBA, expected L or RGB"),
        (send(png((16, 16))[:400]), "analysis", "the target PNG is corrupt or truncated"),
        (send(png((16, 16)), declared=3), "bad-request", "attachment of"),
        (send(png((16, 16)), op="render"), "bad-request", "op 'render' takes no attachment"),
        (send(png((16, 16)), name="spectra"), "bad-request", "spectra: this analysis takes no attachment"),
    ]
    for answer, code, text in cases:
        assert answer is not None and answer["ok"] is False, text
        assert answer["code"] == code and text in answer["error"] and "\n" not in answer["error"], answer
    with RemoteBackend(server.address) as remote:
        with pytest.raises(BackendError, match="project: this analysis needs its attachment"):
            remote.analyze("project", _request(nets["SG3-T"]), params=params, timeout=30)
        with pytest.raises(BackendError, match="attachment of .* bytes is too large"):
            remote.analyze("project", _request(nets["SG3-T"]), attachment=b"\0" * (protocol.MAX_ATTACHMENT_BYTES + 1))
        assert remote.render(_request(nets["SG3-T"]), timeout=30).image.shape == (16, 16, 3)


def test_equivariance_terms_equal_the_library_terms(nets, server):
    from stylegan3.metrics.equivariance import sample_terms

    source = nets["SG3-T"]
    G = _local(source)
    want = [(i, sample_terms(G, i, ["eqt", "eqr"], 3, 0.9)) for i in range(4, 7)]
    with backends(server) as each:
        for backend in each.values():
            seen = []
            got = analyses.equivariance_terms(backend, _request(source), 4, 3, ["eqt", "eqr"], 3, 0.9,
                                              on_latent=lambda i, t, seen=seen: seen.append(i))
            assert got == [(i, {m: tuple(map(float, v)) for m, v in t.items()}) for i, t in want]
            assert seen == [4, 5, 6]
        with pytest.raises(BackendError, match="StyleGAN3"):
            analyses.equivariance_terms(each["remote"], _request(nets["SG2"]), 0, 1, ["eqt"], 0, 1.0)


# --- the commands: --connect writes what a local run writes ------------------------------------------------------


def _run_here_and_there(args: list[str], server, out_flag: str, here, there, capsys) -> tuple[str, str]:
    from stylegan3.cli.main import main

    assert main([*args, "--device", "cpu", out_flag, str(here)]) == 0
    local_out = capsys.readouterr().out
    assert main([*args, "--connect", server.address.removeprefix("tcp://"), out_flag, str(there)]) == 0
    return local_out, capsys.readouterr().out


def test_directions_connect_writes_the_same_file(nets, server, tmp_path, capsys):
    from stylegan3.explore.directions import load_directions

    args = ["directions", "--network", str(nets["SG3-R"]), "--samples", "300", "--components", "6", "--seed", "4"]
    local_out, remote_out = _run_here_and_there(args, server, "--out", tmp_path / "a.npz", tmp_path / "b.npz",
                                                capsys)
    a, b = np.load(tmp_path / "a.npz"), np.load(tmp_path / "b.npz")
    assert sorted(a.files) == ["mean", "meta", "sigmas", "vectors"] and a["vectors"].shape == (6, 16)
    assert all(np.array_equal(a[k], b[k]) for k in a.files)
    assert load_directions(tmp_path / "a.npz").source == "PCA of 300 w (seed 4)"
    assert local_out.replace("a.npz", "X") == remote_out.replace("b.npz", "X")


def test_project_connect_writes_the_same_files(nets, server, tmp_path, capsys):
    from PIL import Image

    Image.fromarray(_target(40)).save(tmp_path / "me.png")
    args = ["project", "--network", str(nets["SG3-T"]), "--target", str(tmp_path / "me.png"), "--steps", "4",
            "--loss", "offline", "--seed", "3"]
    local_out, remote_out = _run_here_and_there(args, server, "--outdir", tmp_path / "a", tmp_path / "b", capsys)
    for name in ("projected.png", "target.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    a, b = np.load(tmp_path / "a" / "projected_w.npz"), np.load(tmp_path / "b" / "projected_w.npz")
    assert np.array_equal(a["ws"], b["ws"]) and str(a["meta"]) == str(b["meta"])
    assert "loss: offline" in remote_out and local_out.replace("/a/", "/X/") == remote_out.replace("/b/", "/X/")


def test_project_connect_video_has_every_step(nets, server, tmp_path, capsys):
    pytest.importorskip("imageio_ffmpeg")
    import imageio.v2 as imageio
    from PIL import Image

    from stylegan3.cli.main import main

    Image.fromarray(_target(16)).save(tmp_path / "me.png")
    assert main(["project", "--network", str(nets["SG2"]), "--target", str(tmp_path / "me.png"), "--steps", "3",
                 "--loss", "offline", "--space", "w", "--video", "--connect", server.address.removeprefix("tcp://"),
                 "--outdir", str(tmp_path / "out")]) == 0
    with imageio.get_reader(str(tmp_path / "out" / "projection.mp4")) as reader:
        frames = [np.asarray(f) for f in reader]
    assert len(frames) == 4 and frames[0].shape == (16, 32, 3)


def test_explore_commands_refuse_outside_allow_with_one_line(server, tmp_path, capsys):
    from PIL import Image

    from stylegan3.cli.main import main

    host_port = server.address.removeprefix("tcp://")
    Image.fromarray(_target(16)).save(tmp_path / "me.png")
    assert main(["directions", "--network", "/etc/passwd", "--connect", host_port,
                 "--out", str(tmp_path / "d.npz")]) == 1
    assert "error: refused: /etc/passwd: outside the folders this server allows" in capsys.readouterr().err
    assert main(["project", "--network", "/etc/passwd", "--target", str(tmp_path / "me.png"), "--connect", host_port,
                 "--outdir", str(tmp_path / "p")]) == 1
    assert "error: refused: /etc/passwd" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


def test_equivariance_connect_writes_the_same_estimates_log_and_record(nets, server, tmp_path, capsys):
    import json

    from stylegan3.cli.main import main

    host_port = server.address.removeprefix("tcp://")
    base = ["equivariance", "--network", str(nets["SG3-T"]), "--samples", "5", "--metrics", "eqt,eqr", "--seed", "2",
            "--psi", "0.9"]

    def run(tag: str, *extra: str) -> str:
        assert main([*base, "--json", str(tmp_path / f"{tag}.json"), "--resume", str(tmp_path / f"{tag}.jsonl"),
                     "--record", str(tmp_path / "runs.jsonl"), *extra]) == 0
        return capsys.readouterr().out

    local = run("local", "--device", "cpu")
    # A remote run resumed from a log that holds latent 2 only: it asks the server for 0-1 and 3-4.
    lines = (tmp_path / "local.jsonl").read_text().splitlines()
    (tmp_path / "remote.jsonl").write_text("\n".join([lines[0], *[ln for ln in lines[1:] if '"i": 2,' in ln]]) + "\n")
    remote = run("remote", "--connect", host_port)
    assert local.splitlines()[1:] == remote.splitlines()[1:] and "EQ-T" in local
    assert ": 5 latents, seed 2, cpu, " in local and f": 5 latents, seed 2, remote {host_port}, " in remote
    a, b = (json.loads((tmp_path / f"{t}.json").read_text()) for t in ("local", "remote"))
    assert a["metrics"] == b["metrics"] and b["device"] == f"remote {host_port}"
    logged = [sorted((tmp_path / f"{t}.jsonl").read_text().splitlines()) for t in ("local", "remote")]
    assert logged[0] == logged[1]  # the same header and latents (in another order: 2 came first)
    records = [json.loads(ln) for ln in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert records[0]["network_sha256"] == records[1]["network_sha256"] and len(records[0]["network_sha256"]) == 64
    assert records[0]["results"] == records[1]["results"]
    assert main([*base[:1], "--network", str(nets["SG2"]), "--connect", host_port]) == 1
    assert "equivariance metrics need a StyleGAN3 network" in capsys.readouterr().err


@pytest.mark.slow
def test_child_process_backend_streams_a_projection_and_maps_ws(nets):
    from stylegan3.explore.projection import OfflineLoss, project, target_from_image
    from stylegan3.render.inputs import request_ws
    from stylegan3.service.child import ChildProcessBackend

    source = nets["SG3-R"]
    G = _local(source)
    want = list(project(G, target_from_image(_target(), 16, 3), steps=3, loss=OfflineLoss()))
    with ChildProcessBackend(device="cpu") as child:
        assert np.array_equal(analyses.request_ws(child, _request(source)),
                              request_ws(G, _request(source), torch.device("cpu")).numpy())
        steps = []
        last, _ = analyses.project(child, _request(source), _target(), 3, "w+", "offline", on_step=steps.append)
    assert [s.step for s in steps] == [0, 1, 2, 3]
    assert all(torch.equal(s.ws, w.ws) for s, w in zip(steps, want, strict=True))
    assert torch.equal(last.image, want[-1].image)


def test_a_client_that_stops_acknowledging_does_not_hold_the_renderer(nets, server, monkeypatch):
    import time

    import zmq

    from stylegan3.analyses.project import encode_target
    from stylegan3.service import server as server_module

    monkeypatch.setattr(server_module, "ACK_TIMEOUT_S", 0.5)
    target = encode_target(_target(), 16, 3)
    header = protocol.encode_request("analyze", 1, None, name="project", request=to_dict(_request(nets["SG3-T"])),
                                     params={"steps": 100_000, "loss": "offline"}, attachment=len(target))
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(server.address)
    try:
        sock.send_multipart([header, target])
        partials = 0
        deadline = time.monotonic() + 60
        while partials < protocol.STREAM_WINDOW + 1 and time.monotonic() < deadline:
            if sock.poll(1000) and "partial" in protocol.parse_reply(sock.recv_multipart())[0]:
                partials += 1
        assert partials == protocol.STREAM_WINDOW + 1
        assert not sock.poll(300) or "partial" not in protocol.parse_reply(sock.recv_multipart())[0]  # it waits
    finally:
        sock.close(0)
        ctx.term()
    while server._running is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server._running is None, "the abandoned projection still holds the renderer"
    with RemoteBackend(server.address) as remote:
        assert remote.render(_request(nets["SG3-T"]), timeout=30).image.shape == (16, 16, 3)
