"""Keyframe timelines: the JSON file form, interpolation in W on a real time axis, frames, and `video --session`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from toy_generators import save_tiny, tiny_network

from stylegan3.directions import pca_directions, save_directions
from stylegan3.errors import SG3Error
from stylegan3.keyframes import (
    Keyframe,
    Move,
    Timeline,
    interpolate_timed,
    iter_timeline_frames,
    load_timeline,
    render_at,
    resolve_timeline,
    save_timeline,
)


def _timeline(**kw) -> Timeline:
    w = np.random.RandomState(0).randn(6, 8).astype(np.float32) * 0.3  # the tiny SG3 has 6 ws of 8
    keys = [
        Keyframe(seed=3, psi=0.7, duration=0.5, label="start"),
        Keyframe.from_ws(w, translate=(0.1, -0.05), rotate=0.02, duration=0.25),
        Keyframe(seed=11, psi=1.0, moves=(Move(0, 2.0, "coarse"), Move(1, -1.0)), duration=0.75),
    ]
    return Timeline(keyframes=keys, **{"directions": "dirs.npz", "fps": 8.0, **kw})


def test_file_round_trip_is_exact(tmp_path):
    tl = _timeline(interp="spherical", loop=True, network="net.safetensors")
    again = Timeline.from_dict(json.loads(json.dumps(tl.to_dict())))
    assert again == tl
    assert again.keyframes[1].w == tl.keyframes[1].w  # every float32 value, bit for bit
    path = save_timeline(tmp_path / "t.json", tl)
    assert load_timeline(path) == tl
    assert json.loads(path.read_text())["version"] == 1
    session = tmp_path / "session.json"  # a session file embeds the timeline
    session.write_text(json.dumps({"format": "sg3-explorer session", "version": 1, "timeline": tl.to_dict()}))
    loaded = load_timeline(session)
    assert loaded == tl and loaded.directions_path() == tmp_path / "dirs.npz"


@pytest.mark.parametrize("content, message", [
    (b"\x89PNG\r\n\x1a\n\x00", "not a JSON timeline"),
    (b"[1, 2]", "not a timeline"),
    (b'{"format": "sg3-explorer timeline", "version": 7, "keyframes": []}', "newer"),
    (b'{"format": "sg3-explorer timeline", "keyframes": []}', "version"),
    (b'{"format": "sg3-explorer timeline", "version": 1}', "malformed"),
    (b'{"format": "sg3-explorer timeline", "version": 1, "keyframes": [{"seed": "x"}]}', "malformed"),
    (b'{"format": "sg3-explorer timeline", "version": 1, "keyframes": [{"translate": [1]}]}', "two numbers"),
])  # fmt: skip
def test_bad_files_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(SG3Error, match=message) as info:
        load_timeline(path)
    assert "\n" not in str(info.value) and "bad.json" in str(info.value)


def test_check_rejects_what_cannot_render():
    with pytest.raises(SG3Error, match="no keyframes"):
        Timeline().check()
    for tl, message in [
        (Timeline([Keyframe(duration=0)]), "duration"),
        (Timeline([Keyframe(seed=None)]), "neither"),
        (Timeline([Keyframe(w=((1.0,),))]), "both"),
        (Timeline([Keyframe()], interp="bezier"), "interpolation"),
        (Timeline([Keyframe(moves=(Move(0, 1.0),))]), "direction file"),
        (Timeline([Keyframe()], fps=0), "fps"),
    ]:
        with pytest.raises(SG3Error, match=message):
            tl.check()


def test_frame_counts_and_durations():
    tl = Timeline([Keyframe(duration=1.0), Keyframe(duration=0.5), Keyframe(duration=2.0)], fps=10)
    assert tl.total == 1.5 and tl.num_frames() == 16  # 0 .. 1.5 s inclusive
    tl.loop = True
    assert tl.total == 3.5 and tl.num_frames() == 35  # the loop's end is the start again: not repeated
    assert Timeline([Keyframe(duration=0.4)], fps=10).num_frames() == 4


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


def test_resolved_keys_are_the_mapped_seeds_with_moves(tmp_path):
    from stylegan3.directions import DirectionMove, apply_moves, ws_range
    from stylegan3.interpolation import seed_ws

    G = tiny_network("sg3")
    d = pca_directions(G, samples=300)
    save_directions(tmp_path / "dirs.npz", d)
    tl = _timeline()
    tl.base = str(tmp_path)
    r = resolve_timeline(G, tl)
    np.testing.assert_allclose(r.ws_at(0.0)[0], seed_ws(G, [3], psi=0.7)[0].numpy(), atol=1e-6)
    np.testing.assert_array_equal(r.ws_at(0.5)[0], np.asarray(tl.keyframes[1].w, dtype=np.float32))
    moved = apply_moves(seed_ws(G, [11]), d, [DirectionMove(0, 2.0, ws_range("coarse", G.num_ws)),
                                              DirectionMove(1, -1.0)])
    np.testing.assert_allclose(r.ws_at(0.75)[0], moved[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(r.transform_at(0.5)[0], [0.1, -0.05, 0.02])
    tl.keyframes[1] = Keyframe.from_ws(np.zeros([3, 8]))
    with pytest.raises(SG3Error, match="shape"):
        resolve_timeline(G, tl)


def test_frame_k_is_the_render_at_k_over_fps(tmp_path):
    from stylegan3.imageutil import to_numpy_rgb

    G = tiny_network("sg3")
    save_directions(tmp_path / "dirs.npz", pca_directions(G, samples=300))
    tl = _timeline(loop=True, interp="cubic")
    tl.base = str(tmp_path)
    r = resolve_timeline(G, tl)
    before = G.synthesis.input.transform.clone()
    frames = list(iter_timeline_frames(G, r))
    assert len(frames) == tl.num_frames() == 12
    for k in (0, 3, 5, 11):
        np.testing.assert_array_equal(frames[k], to_numpy_rgb(render_at(G, r, k / tl.fps)))
    assert not np.array_equal(frames[2], frames[3])
    assert torch.equal(G.synthesis.input.transform, before)  # the user's transform is put back
    # The in-between frame sits between its neighbours in W, not somewhere else.
    w = r.ws_at([1 / 8, 2 / 8, 3 / 8])
    assert np.linalg.norm(w[1] - w[0]) < np.linalg.norm(w[2] - w[0])


def _decoded_frames(path):
    imageio = pytest.importorskip("imageio.v2")
    with imageio.get_reader(str(path)) as reader:
        return [np.asarray(f) for f in reader]


def test_cli_video_session_writes_exactly_n_frames(tmp_path, capsys):
    pytest.importorskip("imageio_ffmpeg")
    from stylegan3.cli.main import main
    from stylegan3.imageutil import to_numpy_rgb

    net = save_tiny("sg3", tmp_path / "tiny.safetensors")
    G = tiny_network("sg3")
    save_directions(tmp_path / "dirs.npz", pca_directions(G, samples=300))
    path = save_timeline(tmp_path / "t.json", _timeline(network=net))
    out = tmp_path / "t.mp4"
    assert main(["video", "--session", str(path), "--out", str(out)]) == 0
    assert "7 frames at 8 fps" in capsys.readouterr().out  # 0 .. 0.75 s inclusive
    frames = _decoded_frames(out)
    assert len(frames) == 7 and frames[0].shape == (16, 16, 3)
    tl = load_timeline(path)
    r = resolve_timeline(G, tl)
    for k in (0, 3, 6):  # H.264 is lossy: close to the headless render, far from other frames
        expected = to_numpy_rgb(render_at(G, r, k / 8)).astype(float)
        assert np.abs(frames[k] - expected).mean() < 12
    assert main(["video", "--session", str(path), "--network", net, "--fps", "4", "--frames", "5",
                 "--out", str(out)]) == 0
    assert len(_decoded_frames(out)) == 5


def test_cli_video_session_errors(tmp_path, capsys):
    from stylegan3.cli.main import main

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["video", "--session", str(bad), "--out", str(tmp_path / "x.mp4")]) == 1
    assert "not a JSON timeline" in capsys.readouterr().err
    missing = save_timeline(tmp_path / "m.json", _timeline())  # names dirs.npz, which does not exist
    net = save_tiny("sg3", tmp_path / "tiny.safetensors")
    assert main(["video", "--session", str(missing), "--network", net, "--out", str(tmp_path / "x.mp4")]) == 1
    err = capsys.readouterr().err.strip()
    assert "no such direction file" in err and "\n" not in err
    assert not (tmp_path / "x.mp4").exists()
