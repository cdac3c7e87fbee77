"""Timelines, traces and seed-walk videos as analyses next to the network: the same results in a thread, a child
process and over loopback as the local library / panel code gives, bit for bit; `video --connect` (seed walk
and `--session`) writes the frames a local run writes. Tiny nets of our own (16 px), servers on 127.0.0.1.
"""

from __future__ import annotations

import numpy as np
import pytest

from stylegan3.documents.request import Latent, NetworkRef, Noise, RenderRequest, Transform, Truncation
from stylegan3.documents.timeline import Keyframe, Timeline
from stylegan3.service import analyses
from stylegan3.service.backend import BackendError
from stylegan3.service.client import RemoteBackend
from stylegan3.service.thread_backend import ThreadBackend


def _local(source):
    import stylegan3

    return stylegan3.load_network(str(source), device="cpu").eval().requires_grad_(False)


def _timeline(source, G) -> Timeline:
    """A seed with psi, an explicit W+ key with a transform, a seed with a direction move; spherical, looping."""
    from stylegan3.documents.bookmarks import Bookmark
    from stylegan3.documents.request import LatentMove

    ws = np.random.RandomState(1).randn(int(G.num_ws), int(G.w_dim)).astype(np.float32) * 0.4
    move = LatentMove(tuple(np.linspace(-1, 1, int(G.w_dim)).tolist()), 0.7, (0, 1), "tilt")
    keys = [Keyframe.of_seed(3, psi=0.7, duration=0.5, network=str(source)),
            Keyframe.from_ws(ws, translate=(0.1, -0.05), rotate=0.02, duration=0.25),
            Keyframe(Bookmark("moved", RenderRequest(latent=Latent(9.0), moves=(move,))), duration=0.5)]
    return Timeline(keyframes=keys, interp="spherical", loop=True, fps=8.0, network=str(source))


def _base(source) -> RenderRequest:
    return RenderRequest(network=NetworkRef(str(source)), latent=Latent(2.0), noise=Noise("const", 5))


@pytest.mark.parametrize("kind", ["SG3-R", "SG2"])
def test_timeline_keys_and_frames_equal_the_local_export_over_thread_and_loopback(nets, server, kind):
    from stylegan3.render.timeline import iter_timeline_frames, resolve_timeline

    source = nets[kind]
    G = _local(source)
    tl = _timeline(source, G)
    want = resolve_timeline(G, tl)
    want_frames = list(iter_timeline_frames(G, want, fps=6.0, frames=7, base=_base(source)))
    seen: list[tuple[int, int]] = []
    with RemoteBackend(server.address) as client, ThreadBackend("cpu") as thread:
        for backend in (client, thread):
            got = analyses.resolve_timeline(backend, tl, _base(source))
            assert got.timeline is tl and got.key_ws.dtype == np.float64
            assert np.array_equal(got.key_ws, want.key_ws) and np.array_equal(got.key_transforms, want.key_transforms)
        png = list(analyses.timeline_frames(client, tl, 6.0, 7, progress=lambda d, t: seen.append((d, t)), chunk=3,
                                            base=_base(source)))
        raw = list(analyses.timeline_frames(client, tl, 6.0, 7, chunk=7, base=_base(source), frame_format="raw"))
        here = list(analyses.timeline_frames(thread, tl, 6.0, 7, chunk=2, base=_base(source)))
    assert len(png) == len(raw) == len(here) == len(want_frames) == 7
    for a, b, c, d in zip(png, raw, here, want_frames, strict=True):
        assert a.shape == (16, 16, 3) and np.array_equal(a, d) and np.array_equal(b, d) and np.array_equal(c, d)
    assert not np.array_equal(png[0], png[2])
    assert (3, 7) in seen and (6, 7) in seen and seen[-1] == (7, 7)


def test_timeline_defaults_are_the_documents_fps_and_frame_count(nets):
    from stylegan3.render.timeline import iter_timeline_frames, resolve_timeline

    source = nets["SG3-T"]
    G = _local(source)
    tl = _timeline(source, G)
    want = list(iter_timeline_frames(G, resolve_timeline(G, tl)))  # base: the timeline's network at seed 0
    with ThreadBackend("cpu") as thread:
        got = list(analyses.timeline_frames(thread, tl))
    assert len(got) == len(want) == tl.num_frames() == 10
    assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))


def test_bad_timeline_params_are_refused_with_one_line(nets, server):
    source = nets["SG3-T"]
    tl = _timeline(source, _local(source))
    request = _base(source)
    with RemoteBackend(server.address) as client, ThreadBackend("cpu") as thread:
        for backend in (client, thread):
            with pytest.raises(BackendError, match="no timeline given"):
                backend.analyze("timeline_keys", request)
            broken = dict(tl.to_dict(), interp="wiggly")
            with pytest.raises(BackendError, match="timeline: 1 problem: interp: expected one of 'linear', "
                                                   "'spherical', 'cubic', got 'wiggly'"):
                backend.analyze("timeline_frames", request, params={"timeline": broken})
            with pytest.raises(BackendError, match="start 10 is past the export's 10 frames"):
                backend.analyze("timeline_frames", request, params={"timeline": tl.to_dict(), "start": 10})
            with pytest.raises(BackendError, match="frames must be in 2..4096, got 1"):
                analyses.trace(backend, request, frames=1)
            with pytest.raises(BackendError, match="transform_spec"):
                analyses.trace(backend, request, transform_spec="wobble:1")
        wrong = Timeline([Keyframe.from_ws(np.zeros([3, 16]), duration=1.0)])
        with pytest.raises(BackendError, match=r"keyframe 0: explicit ws of shape \(3, 16\)"):
            analyses.resolve_timeline(client, wrong, request)


def _local_trace(G, request, frames: int, row: float, spec: str):
    """The trace the comparison panel recorded in-process before it became a backend analysis: the library's
    W path from the seed to the next, one pixel row per frame, the transform path (or the view) for SG3."""
    from stylegan3 import families
    from stylegan3.explore.interpolation import path_ws, transform_path
    from stylegan3.metrics.trace import record_trace, trace_to_uint8, verticality

    seed = request.latent.seed
    c_idx = request.latent.class_idx % int(G.c_dim) if int(G.c_dim) > 0 else None
    ws = path_ws(G, [seed, seed + 1], frames - 1, psi=float(request.truncation.psi),
                 cutoff=request.truncation.cutoff, class_idx=c_idx, device="cpu")
    transforms = None
    if families.capabilities(G).input_transform:
        t = request.transform
        view = (float(t.translate[0]), float(t.translate[1]), float(t.rotate))
        if spec.strip():
            transforms = transform_path(spec, frames, loop=False)
        else:
            transforms = np.tile(np.asarray(view, dtype=np.float64), (frames, 1))
    px = min(int(row * int(G.img_resolution)), int(G.img_resolution) - 1)
    trace = record_trace(G, ws, px, noise_mode=request.noise.mode, transforms=transforms)
    return trace_to_uint8(trace), verticality(trace)


@pytest.mark.parametrize(("kind", "spec"), [("SG3-T", ""), ("SG3-T", "pan:0.25,0+spin:0.1"), ("SG2", "pan:0.25,0")])
def test_trace_equals_the_comparison_panels_job(nets, server, kind, spec):
    source = nets[kind]
    request = RenderRequest(network=NetworkRef(str(source)), latent=Latent(4.0), truncation=Truncation(0.8, None),
                            transform=Transform((0.125, -0.0625), 0.03))
    want_image, want_v = _local_trace(_local(source), request, 6, 0.3, spec)
    seen: list[tuple[int, int]] = []
    with RemoteBackend(server.address) as client, ThreadBackend("cpu") as thread:
        got = [analyses.trace(b, request, frames=6, row=0.3, transform_spec=spec,
                              progress=lambda d, t: seen.append((d, t))) for b in (client, thread)]
    for res in got:
        assert res.trace.shape == (6, 3, 16) and res.trace.dtype == np.float32
        assert np.array_equal(res.image, want_image) and res.verticality == want_v
    assert 0.0 <= want_v <= 1.0 and seen and seen[-1] == (6, 6)


def test_video_walk_panes_equal_the_local_video(nets, server):
    from stylegan3.explore.video import VideoSpec, iter_video_frames

    named = [("t", nets["SG3-T"]), ("two", nets["SG2"])]
    spec = VideoSpec(seeds=[0, 1, 2, 3], frames_per_seed=3, grid=(2, 1), kind="linear", psi=0.9, batch_size=3,
                     pane_size=24)
    want = list(iter_video_frames([(n, _local(s)) for n, s in named], spec))
    sources = [(n, str(s)) for n, s in named]
    with RemoteBackend(server.address) as client, ThreadBackend("cpu") as thread:
        got = list(analyses.video_frames(client, sources, spec, chunk=4))  # chunks of whole batches: 3 frames
        here = list(analyses.video_frames(thread, sources, spec, chunk=8))
        with pytest.raises(BackendError, match="start 1 is not on a batch boundary"):
            client.analyze("video_walk", RenderRequest(network=NetworkRef(str(nets["SG2"]))),
                           params={"start": 1, "batch_size": 3})
    assert len(got) == len(here) == len(want) == 4  # two seeds per walk, 3 frames per seed
    assert all(np.array_equal(a, c) and np.array_equal(b, c) for a, b, c in zip(got, here, want, strict=True))
    assert want[0].shape == (48, 96, 3)  # label strip + 24 px cells, 2 cells by 2 networks


def _decoded(path):
    imageio = pytest.importorskip("imageio.v2")
    with imageio.get_reader(str(path)) as reader:
        return [np.asarray(f) for f in reader]


def test_video_connect_writes_the_frames_of_a_local_run(nets, server, tmp_path, capsys):
    pytest.importorskip("imageio_ffmpeg")
    from stylegan3.cli.main import main
    from stylegan3.documents.timeline import save_timeline

    host_port = server.address.removeprefix("tcp://")
    runs = {
        "walk": ["video", "--network", str(nets["SG3-T"]), "--network", str(nets["SG2"]), "--seeds", "0-3",
                 "--frames-per-seed", "3", "--grid", "2x1", "--batch", "3", "--fps", "12"],
        "session": ["video", "--session", str(save_timeline(tmp_path / "t.json",
                                                             _timeline(nets["SG3-R"], _local(nets["SG3-R"])))),
                    "--frames", "9"],
    }
    for name, args in runs.items():
        assert main([*args, "--device", "cpu", "--out", str(tmp_path / f"{name}-local.mp4")]) == 0
        local_out = capsys.readouterr().out
        assert main([*args, "--connect", host_port, "--out", str(tmp_path / f"{name}-remote.mp4")]) == 0
        remote_out = capsys.readouterr().out
        assert local_out.replace("-local", "") == remote_out.replace("-remote", "")
        a, b = _decoded(tmp_path / f"{name}-local.mp4"), _decoded(tmp_path / f"{name}-remote.mp4")
        assert len(a) == len(b) == (4 if name == "walk" else 9)
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    outside = ["video", "--network", "/etc/passwd", "--connect", host_port, "--out", str(tmp_path / "x.mp4")]
    assert main(outside) == 1
    assert "refused: /etc/passwd" in capsys.readouterr().err
    assert main(["video", "--session", str(tmp_path / "t.json"), "--network", "/etc/passwd", "--connect", host_port,
                 "--out", str(tmp_path / "x.mp4")]) == 1
    assert "refused: /etc/passwd" in capsys.readouterr().err and not (tmp_path / "x.mp4").exists()


@pytest.mark.slow
def test_child_process_backend_gives_the_same_timeline_trace_and_walk(nets):
    from stylegan3.explore.video import VideoSpec
    from stylegan3.service.child import ChildProcessBackend

    source = nets["SG3-T"]
    tl = _timeline(source, _local(source))
    request = _base(source)
    spec = VideoSpec(seeds=[5, 6], frames_per_seed=2, batch_size=2)
    with ChildProcessBackend(device="cpu") as child, ThreadBackend("cpu") as thread:
        results = []
        for backend in (child, thread):
            backend.load(NetworkRef(str(source)))
            results.append((analyses.resolve_timeline(backend, tl, request).key_ws,
                            list(analyses.timeline_frames(backend, tl, 4.0, 5, chunk=2, base=request)),
                            analyses.trace(backend, request.replace(transform=Transform((0.1, 0.0), 0.0)), frames=4),
                            list(analyses.video_frames(backend, [("t", str(source))], spec))))
    (ws_a, frames_a, trace_a, walk_a), (ws_b, frames_b, trace_b, walk_b) = results
    assert np.array_equal(ws_a, ws_b) and len(frames_a) == len(frames_b) == 5 and len(walk_a) == len(walk_b) == 3
    assert all(np.array_equal(x, y) for x, y in zip(frames_a + walk_a, frames_b + walk_b, strict=True))
    assert np.array_equal(trace_a.trace, trace_b.trace) and trace_a.verticality == trace_b.verticality
