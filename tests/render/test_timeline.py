"""Keyframe timelines: keys are bookmarks (requests), the JSON file form (version 2, version 1 converted
exactly), interpolation in W on a real time axis, frames, and `video --session`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from stylegan3.documents.bookmarks import Bookmark
from stylegan3.documents.request import (
    ExplicitLatent,
    Latent,
    LatentMove,
    NetworkRef,
    RenderRequest,
    Transform,
    Truncation,
    to_dict,
)
from stylegan3.documents.timeline import Keyframe, Timeline, load_timeline, save_timeline
from stylegan3.errors import SG3Error
from stylegan3.explore.directions import (
    DirectionMove,
    apply_moves,
    pca_directions,
    request_moves,
    save_directions,
    ws_range,
)
from stylegan3.render.timeline import interpolate_timed, iter_timeline_frames, render_at, resolve_timeline
from tests.support.nets import SMALL_16PX, save_tiny, tiny_net

W_KEY = np.random.RandomState(0).randn(6, 8).astype(np.float32) * 0.3  # the tiny SG3 has 6 ws of 8


def _directions(G):
    return pca_directions(G, samples=300)


def _timeline(G=None, **kw) -> Timeline:
    """Three keys: a plain seed, explicit W+ ws with a transform, a seed with two direction moves (by value)."""
    G = G if G is not None else tiny_net("sg3", **SMALL_16PX)
    moves = request_moves(_directions(G), [DirectionMove(0, 2.0, ws_range("coarse", G.num_ws)),
                                           DirectionMove(1, -1.0)])
    moved = RenderRequest(latent=Latent(11.0), moves=moves)
    keys = [
        Keyframe.of_seed(3, psi=0.7, duration=0.5, label="start"),
        Keyframe.from_ws(W_KEY, translate=(0.1, -0.05), rotate=0.02, duration=0.25),
        Keyframe(Bookmark("moved", moved), duration=0.75),
    ]
    return Timeline(keyframes=keys, **{"fps": 8.0, **kw})


def test_file_round_trip_is_exact(tmp_path):
    tl = _timeline(interp="spherical", loop=True, network="net.safetensors")
    data = json.loads(json.dumps(tl.to_dict()))
    assert data["schema"] == 3 and "format" not in data and list(data["keyframes"][0]) == ["bookmark", "duration"]
    again = Timeline.from_dict(data)
    assert again == tl
    explicit = np.asarray(again.keyframes[1].request.explicit.w, dtype=np.float32)
    np.testing.assert_array_equal(explicit, W_KEY)  # every float32 value, bit for bit
    assert again.keyframes[2].request.moves == tl.keyframes[2].request.moves
    path = save_timeline(tmp_path / "t.json", tl)
    assert load_timeline(path) == tl
    session = tmp_path / "session.json"  # a session file embeds the timeline
    session.write_text(json.dumps({"schema": 3, "timeline": tl.to_dict()}))
    assert load_timeline(session) == tl
    assert tl.copy() == tl and tl.copy().keyframes[0] is not tl.keyframes[0]


V1_TIMELINE = """{"format": "sg3-explorer timeline", "version": 1, "interp": "linear", "loop": false, "fps": 8.0,
 "noise_mode": "const", "directions": "dirs.npz", "network": null, "keyframes": [
  {"seed": 3, "w": null, "psi": 0.7, "translate": [0.0, 0.0], "rotate": 0.0, "moves": [], "duration": 0.5,
   "label": "start"},
  {"seed": null, "w": W_ROWS, "psi": 1.0, "translate": [0.1, -0.05], "rotate": 0.02, "moves": [],
   "duration": 0.25, "label": ""},
  {"seed": 11, "w": null, "psi": 1.0, "translate": [0.0, 0.0], "rotate": 0.0,
   "moves": [{"index": 0, "amount": 2.0, "ws": "coarse"}, {"index": 1, "amount": -1.0, "ws": "all"}],
   "duration": 0.75, "label": "moved"}]}"""


def _write_v1(tmp_path, G):
    save_directions(tmp_path / "dirs.npz", _directions(G))
    path = tmp_path / "old.json"
    path.write_text(V1_TIMELINE.replace("W_ROWS", json.dumps(W_KEY.astype(np.float64).tolist())))
    return path


def test_version_1_converts_to_bookmarks_exactly(tmp_path):
    from stylegan3.explore.interpolation import seed_ws

    G = tiny_net("sg3", **SMALL_16PX)
    path = _write_v1(tmp_path, G)
    tl = load_timeline(path, num_ws=G.num_ws, network="mine.pkl")
    d = _directions(G)
    assert [k.label for k in tl.keyframes] == ["start", "ws 1", "moved"]
    assert tl.durations().tolist() == [0.5, 0.25, 0.75] and tl.interp == "linear" and tl.network is None
    assert tl.keyframes[0].request == RenderRequest(network=NetworkRef("mine.pkl"), latent=Latent(3.0),
                                                    truncation=Truncation(0.7))
    r1 = tl.keyframes[1].request
    assert r1.transform == Transform((0.1, -0.05), 0.02) and r1.explicit.applies_to(r1.latent)
    assert r1.explicit == ExplicitLatent(tuple(map(tuple, W_KEY.astype(np.float64).tolist())))
    assert tl.keyframes[2].request.moves == request_moves(d, [DirectionMove(0, 2.0, (0,)), DirectionMove(1, -1.0)])
    # The converted keys resolve to exactly the ws version 1 meant: seed with psi; the ws; the moved seed.
    r = resolve_timeline(G, tl)
    np.testing.assert_array_equal(r.key_ws[0], seed_ws(G, [3], psi=0.7)[0].double().numpy())
    np.testing.assert_array_equal(r.key_ws[1], W_KEY.astype(np.float64))
    moved = apply_moves(seed_ws(G, [11]), d, [DirectionMove(0, 2.0, ws_range("coarse", G.num_ws)),
                                              DirectionMove(1, -1.0)])
    np.testing.assert_array_equal(r.key_ws[2], moved[0].double().numpy())
    np.testing.assert_array_equal(r.key_transforms, [[0, 0, 0], [0.1, -0.05, 0.02], [0, 0, 0]])
    # Saved again it is a schema-3 file that needs no direction file any more.
    again = save_timeline(tmp_path / "new.json", tl)
    (tmp_path / "dirs.npz").unlink()
    assert json.loads(again.read_text())["schema"] == 3 and load_timeline(again) == tl


def test_version_1_named_ranges_need_the_network(tmp_path):
    G = tiny_net("sg3", **SMALL_16PX)
    path = _write_v1(tmp_path, G)
    with pytest.raises(SG3Error, match=r"keyframe 2: a version-1 move on the 'coarse' ws needs the network's"):
        load_timeline(path)
    (tmp_path / "dirs.npz").unlink()
    with pytest.raises(SG3Error, match="no such direction file"):
        load_timeline(path, num_ws=G.num_ws)


def test_a_version_1_session_with_a_version_1_timeline_opens(tmp_path):
    from stylegan3.documents.session import SESSION_SCHEMA, load_session, save_session

    G = tiny_net("sg3", **SMALL_16PX)
    v1 = json.loads(_write_v1(tmp_path, G).read_text())
    path = tmp_path / "old.sg3session.json"
    request = to_dict(RenderRequest())
    path.write_text(json.dumps({"schema": 1, "request": request, "panels": {}, "bookmarks": [], "timeline": v1}))
    s = load_session(path, num_ws=G.num_ws)
    assert s.timeline == load_timeline(tmp_path / "old.json", num_ws=G.num_ws)
    assert load_timeline(path, num_ws=G.num_ws) == s.timeline  # the timeline file reader takes it too
    again = load_session(save_session(tmp_path / "new.sg3session.json", s))
    assert again == s and again.schema == SESSION_SCHEMA == 3


@pytest.mark.parametrize("content, message", [
    (b"\x89PNG\r\n\x1a\n\x00", "not a JSON timeline"),
    (b"[1, 2]", "not a timeline"),
    (b'{"format": "sg3-explorer timeline", "version": 7, "keyframes": []}',
     r"timeline version 7 is not supported \(written by a newer sg3-explorer\?\): this program reads versions 1, 2 "
     r"and schema 3"),
    (b'{"format": "sg3-explorer timeline", "version": 0, "keyframes": []}', "version 0 is not supported"),
    (b'{"format": "sg3-explorer timeline", "keyframes": []}', "version"),
    (b'{"format": "sg3-explorer timeline", "version": 1}', "malformed"),
    (b'{"format": "sg3-explorer timeline", "version": 1, "keyframes": [{"seed": "x"}]}', "malformed"),
    (b'{"format": "sg3-explorer timeline", "version": 1, "keyframes": [{"translate": [1]}]}', "two numbers"),
    (b'{"format": "sg3-explorer timeline", "version": 1, "keyframes": [{"seed": null}]}', "neither"),
    (b'{"format": "sg3-explorer timeline", "version": 1, "keyframes": [{"seed": 1, "w": [[1.0]]}]}', "both"),
    (b'{"format": "sg3-explorer timeline", "version": 1, "keyframes": [{"moves": [{"index": 0, "amount": 1}]}]}',
     "direction file"),
    (b'{"format": "sg3-explorer timeline", "version": 2, "keyframes": []}', "1 problem: the timeline has no keyframes"),
    (b'{"schema": 4, "keyframes": []}', "timeline schema 4 was written by a newer sg3-explorer"),
    (b'{"schema": 2, "timeline": null}', "holds no timeline"),
])  # fmt: skip
def test_bad_files_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(SG3Error, match=message) as info:
        load_timeline(path)
    assert "\n" not in str(info.value) and "bad.json" in str(info.value)


def test_version_2_fields_are_checked():
    data = _timeline().to_dict()
    data["keyframes"][0]["bookmark"]["request"]["truncation"]["psi"] = "high"
    with pytest.raises(SG3Error, match=r"keyframes\[0\]\.bookmark\.request\.truncation\.psi"):
        Timeline.from_dict(data)
    with pytest.raises(SG3Error, match="extra: unknown field"):
        Timeline.from_dict(dict(_timeline().to_dict(), extra=1))


def test_check_rejects_what_cannot_render():
    with pytest.raises(SG3Error, match="no keyframes"):
        Timeline().check()
    key = Keyframe.of_seed(0)
    for tl, message in [
        (Timeline([Keyframe.of_seed(0, duration=0)]), "duration"),
        (Timeline([key], interp="bezier"), "interpolation"),
        (Timeline([key], fps=0), "fps"),
        (Timeline([key], noise_mode="loud"), "noise mode"),
    ]:
        with pytest.raises(SG3Error, match=message):
            tl.check()


def test_frame_counts_and_durations():
    tl = Timeline([Keyframe.of_seed(0, duration=1.0), Keyframe.of_seed(1, duration=0.5),
                   Keyframe.of_seed(2, duration=2.0)], fps=10)
    assert tl.total == 1.5 and tl.num_frames() == 16  # 0 .. 1.5 s inclusive
    tl.loop = True
    assert tl.total == 3.5 and tl.num_frames() == 35  # the loop's end is the start again: not repeated
    assert Timeline([Keyframe.of_seed(0, duration=0.4)], fps=10).num_frames() == 4


def test_interpolation_hits_keys_at_their_times():
    rng = np.random.RandomState(1)
    keys = rng.randn(4, 3, 5)
    knots = np.array([0.0, 0.3, 1.0, 1.2])
    for kind in ("linear", "spherical", "cubic"):
        out = interpolate_timed(keys, knots, knots, kind, loop=False)
        np.testing.assert_array_equal(out, keys)
        loop_knots = np.append(knots, 2.0)
        out = interpolate_timed(keys, loop_knots, np.append(knots, 2.0), kind, loop=True)
        np.testing.assert_array_equal(out, np.concatenate([keys, keys[:1]]))
    mid = interpolate_timed(keys, knots, [0.15], "linear", loop=False)[0]
    np.testing.assert_allclose(mid, (keys[0] + keys[1]) / 2)
    # Clamped outside the timeline when not looping, wrapped when looping.
    np.testing.assert_array_equal(interpolate_timed(keys, knots, [-1.0, 5.0], "cubic", False), keys[[0, 3]])
    np.testing.assert_allclose(interpolate_timed(keys, np.append(knots, 2.0), [2.3], "linear", True)[0],
                               interpolate_timed(keys, np.append(knots, 2.0), [0.3], "linear", True)[0])


def test_spherical_keeps_the_norm_and_cubic_loop_is_smooth():
    a = np.array([[3.0, 0.0]])
    b = np.array([[0.0, 3.0]])
    out = interpolate_timed(np.stack([a, b]), np.array([0.0, 1.0]), np.linspace(0, 1, 9), "spherical", False)
    np.testing.assert_allclose(np.linalg.norm(out[:, 0], axis=-1), 3.0)
    lin = interpolate_timed(np.stack([a, b]), np.array([0.0, 1.0]), [0.5], "linear", False)
    assert np.linalg.norm(lin[0, 0]) == pytest.approx(3 / np.sqrt(2))
    keys = np.random.RandomState(2).randn(3, 1, 4)
    knots = np.array([0.0, 1.0, 1.5, 3.0])
    eps = 1e-4
    before = interpolate_timed(keys, knots, [3.0 - eps], "cubic", True)[0]
    after = interpolate_timed(keys, knots, [eps], "cubic", True)[0]
    np.testing.assert_allclose((after - before) / (2 * eps),
                               (interpolate_timed(keys, knots, [2 * eps], "cubic", True)[0] - after) / eps, atol=1e-2)


def test_resolved_keys_are_their_bookmarks_latents():
    """Each key's ws is what its bookmark's request renders (`render.inputs`), hit exactly at its time."""
    from stylegan3.render.inputs import request_ws

    G = tiny_net("sg3", **SMALL_16PX)
    tl = _timeline(G)
    r = resolve_timeline(G, tl)
    for i, t in enumerate((0.0, 0.5, 0.75)):
        expect = request_ws(G, tl.keyframes[i].request, torch.device("cpu"))[0].numpy()
        np.testing.assert_array_equal(r.ws_at(t)[0], expect)
    np.testing.assert_array_equal(r.ws_at(0.5)[0], W_KEY)
    assert not np.array_equal(r.ws_at(0.75)[0], request_ws(G, RenderRequest(latent=Latent(11.0)), "cpu")[0])
    np.testing.assert_allclose(r.transform_at(0.5)[0], [0.1, -0.05, 0.02])
    tl.keyframes[1] = Keyframe.from_ws(np.zeros([3, 8]))
    with pytest.raises(SG3Error, match=r"keyframe 1: explicit ws of shape \(3, 8\), the network needs \(6, 8\)"):
        resolve_timeline(G, tl)
    tl.keyframes[1] = Keyframe(Bookmark("m", RenderRequest(moves=(LatentMove((1.0, 0.0, 0.0), 1.0, label="x3"),))))
    with pytest.raises(SG3Error, match="keyframe 1: direction 'x3' is not 8-dimensional"):
        resolve_timeline(G, tl)


def test_frame_k_is_the_render_at_k_over_fps():
    G = tiny_net("sg3", **SMALL_16PX)
    tl = _timeline(G, loop=True, interp="cubic")
    r = resolve_timeline(G, tl)
    before = G.synthesis.input.transform.clone()
    frames = list(iter_timeline_frames(G, r))
    assert len(frames) == tl.num_frames() == 12
    for k in (0, 3, 5, 11):
        np.testing.assert_array_equal(frames[k], render_at(G, r, k / tl.fps))
    assert not np.array_equal(frames[2], frames[3])
    assert torch.equal(G.synthesis.input.transform, before)  # the user's transform is put back
    # The in-between frame sits between its neighbours in W, not somewhere else.
    w = r.ws_at([1 / 8, 2 / 8, 3 / 8])
    assert np.linalg.norm(w[1] - w[0]) < np.linalg.norm(w[2] - w[0])


@pytest.mark.parametrize("kind", ["sg3", "sg2"])
def test_export_frame_k_is_the_pipeline_render_of_the_preview_request(kind):
    """The GUI preview submits `request_at(t)`; export frame k is that request's pipeline render at t = k / fps,
    bit for bit, whatever the view's own precision, views and seed plane (the base request)."""
    from stylegan3.documents.request import LayerView, Noise, Synthesis
    from stylegan3.networks.info import describe
    from stylegan3.render.pipeline import render_request
    from stylegan3.render.timeline import TIMELINE_SYNTHESIS

    G = tiny_net(kind, **SMALL_16PX)
    tl = _timeline(tiny_net("sg3", **SMALL_16PX), interp="spherical", noise_mode="random")
    tl.keyframes[1] = Keyframe.from_ws(np.resize(W_KEY, (G.num_ws, G.w_dim)), translate=(0.1, -0.05), rotate=0.02,
                                       duration=0.25)
    tl.keyframes[2] = Keyframe.of_seed(11, duration=0.75)
    r = resolve_timeline(G, tl)
    base = RenderRequest(network=NetworkRef("mine"), latent=Latent(5.5, 0.25), noise=Noise("const", 7),
                         layer=LayerView("output", 1), synthesis=Synthesis(force_fp32=False, cuda_graphs=False))
    info = describe(G, "mine")
    frames = list(iter_timeline_frames(G, r, fps=6.0, base=base))
    assert len(frames) == tl.num_frames(6.0) == 5  # 0 .. 0.75 s at 6 fps
    for k, frame in enumerate(frames):
        request = r.request_at(k / 6.0, base)
        assert request.synthesis == TIMELINE_SYNTHESIS and request.layer == LayerView() and request.moves == ()
        assert request.noise == Noise("random", 7) and request.network == base.network
        assert request.explicit.applies_to(request.latent) and request.latent == base.latent
        np.testing.assert_array_equal(np.asarray(request.explicit.w, dtype=np.float32), r.ws_at(k / 6.0)[0])
        pixels = render_request(G, request, info).image
        assert frame.shape == pixels.shape == (16, 16, 3) and np.array_equal(frame, pixels)
    t = r.transform_at(2 / 6.0)[0]
    assert r.request_at(2 / 6.0, base).transform == Transform((float(t[0]), float(t[1])), float(t[2]))
    assert not np.array_equal(frames[0], frames[2]) and not np.array_equal(frames[2], frames[4])


def _decoded_frames(path):
    imageio = pytest.importorskip("imageio.v2")
    with imageio.get_reader(str(path)) as reader:
        return [np.asarray(f) for f in reader]


def test_cli_video_session_writes_exactly_n_frames(tmp_path, capsys):
    pytest.importorskip("imageio_ffmpeg")
    from stylegan3.cli.main import main

    net = str(save_tiny(tmp_path / "tiny.safetensors", "sg3", **SMALL_16PX))
    G = tiny_net("sg3", **SMALL_16PX)
    path = save_timeline(tmp_path / "t.json", _timeline(G, network=net))
    out = tmp_path / "t.mp4"
    assert main(["video", "--session", str(path), "--out", str(out)]) == 0
    assert "7 frames at 8 fps" in capsys.readouterr().out  # 0 .. 0.75 s inclusive
    frames = _decoded_frames(out)
    assert len(frames) == 7 and frames[0].shape == (16, 16, 3)
    tl = load_timeline(path)
    r = resolve_timeline(G, tl)
    for k in (0, 3, 6):  # H.264 is lossy: close to the headless render, far from other frames
        expected = render_at(G, r, k / 8).astype(float)
        assert np.abs(frames[k] - expected).mean() < 12
    assert main(["video", "--session", str(path), "--network", net, "--fps", "4", "--frames", "5",
                 "--out", str(out)]) == 0
    assert len(_decoded_frames(out)) == 5
    old = _write_v1(tmp_path, G)  # a version-1 file (its coarse move converts with the loaded net's num_ws)
    assert main(["video", "--session", str(old), "--network", net, "--frames", "3", "--out", str(out)]) == 0
    assert len(_decoded_frames(out)) == 3


def test_cli_video_session_errors(tmp_path, capsys):
    from stylegan3.cli.main import main

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["video", "--session", str(bad), "--out", str(tmp_path / "x.mp4")]) == 1
    assert "not a JSON timeline" in capsys.readouterr().err
    G = tiny_net("sg3", **SMALL_16PX)
    missing = _write_v1(tmp_path, G)  # names dirs.npz, which is then deleted
    (tmp_path / "dirs.npz").unlink()
    net = str(save_tiny(tmp_path / "tiny.safetensors", "sg3", **SMALL_16PX))
    assert main(["video", "--session", str(missing), "--network", net, "--out", str(tmp_path / "x.mp4")]) == 1
    err = capsys.readouterr().err.strip()
    assert "no such direction file" in err and "\n" not in err
    assert not (tmp_path / "x.mp4").exists()
