"""Session files: exact round trip, old/new schema handling, bad files named, `render --session`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from stylegan3.documents import session as sessions
from stylegan3.documents.request import FFTView, Latent, LayerView, NetworkRef, RenderRequest, Transform, Truncation
from stylegan3.documents.session import Bookmark, Session, SessionError, load_session, save_session
from tests.support.nets import tiny_net


def _session(source: str = "demo") -> Session:
    r = RenderRequest(network=NetworkRef(source), latent=Latent(3.0), transform=Transform((0.1, 0.2), 0.05))
    return Session(request=r, panels={"latent": {"animate": False, "speed": 0.25}, "layers": {"open": ["L1"]}},
                   bookmarks=(Bookmark("moved", r), Bookmark("fft ü", r.replace(layer=LayerView("output"),
                                                                                 fft=FFTView(True)))))


def test_save_and_open_round_trip(tmp_path):
    s = _session()
    path = save_session(tmp_path / "a.sg3session.json", s)
    assert load_session(path) == s
    data = json.loads(path.read_text())
    assert data["schema"] == 3 and list(data) == ["schema", "request", "panels", "bookmarks", "timeline"]
    assert data["timeline"] is None
    assert sessions.session_stem(path) == "a"
    assert s.with_bookmark("x", RenderRequest()).bookmarks[-1] == Bookmark("x", RenderRequest())


V1_SESSION = """{"schema": 1, "panels": {"latent": {"speed": 0.5}},
 "request": {"schema": 1, "network": {"source": "demo", "key": "G_ema"},
  "latent": {"x": 3.0, "y": 0.0, "class_idx": 0}, "mix": {"seed": 0, "ws": []},
  "truncation": {"psi": 0.8, "cutoff": null}, "noise": {"mode": "const", "seed": 0},
  "transform": {"translate": [0.1, 0.2], "rotate": 0.05},
  "layer": {"layer": null, "channel": null, "normalize": false, "gain_db": 0.0},
  "fft": {"enabled": false, "window": "kaiser", "range_db": 80.0},
  "untransform": {"enabled": false, "view": "warped", "diff_gain_db": 20.0},
  "synthesis": {"force_fp32": false, "cuda_graphs": true}},
 "bookmarks": [{"name": "b", "request": {"schema": 1, "network": {"source": "demo", "key": "G_ema"},
  "latent": {"x": 5.0, "y": 0.0, "class_idx": 0}, "mix": {"seed": 0, "ws": []},
  "truncation": {"psi": 1.0, "cutoff": null}, "noise": {"mode": "const", "seed": 0},
  "transform": {"translate": [0.0, 0.0], "rotate": 0.0},
  "layer": {"layer": "output", "channel": null, "normalize": false, "gain_db": 0.0},
  "fft": {"enabled": true, "window": "kaiser", "range_db": 80.0},
  "untransform": {"enabled": false, "view": "warped", "diff_gain_db": 20.0},
  "synthesis": {"force_fp32": false, "cuda_graphs": true}}}]}"""


def test_a_session_written_with_version_1_requests_opens(tmp_path):
    p = tmp_path / "old.sg3session.json"
    p.write_text(V1_SESSION)
    s = load_session(p)
    expect = RenderRequest(latent=Latent(3.0), truncation=Truncation(0.8, None), transform=Transform((0.1, 0.2), 0.05))
    assert s.request == expect and s.panels == {"latent": {"speed": 0.5}}
    assert s.bookmarks == (Bookmark("b", RenderRequest(latent=Latent(5.0), layer=LayerView("output"),
                                                       fft=FFTView(True))),)
    assert load_session(save_session(tmp_path / "new.sg3session.json", s)) == s


def test_versions(tmp_path, monkeypatch):
    data = json.loads(sessions.to_text(_session()))
    newer = dict(data, schema=4)
    with pytest.raises(SessionError, match=r"written by a newer sg3-explorer \(session schema 4; this version "
                                           r"reads up to 3\): update sg3-explorer to open it"):
        sessions.from_data(newer, "s")
    with pytest.raises(SessionError, match=r"session schema 0 cannot be read \(no migration from version 0 to 1"):
        sessions.from_data(dict(data, schema=0), "s")

    def v0_to_v1(old: dict) -> dict:  # e.g. a version that called the list "marks"
        old["bookmarks"] = old.pop("marks")
        return old

    monkeypatch.setitem(sessions.MIGRATIONS, 0, v0_to_v1)
    old = dict(data, schema=0)
    old["marks"] = old.pop("bookmarks")
    assert sessions.from_data(old, "s") == _session()


def test_a_session_holds_bookmarks_and_a_timeline_of_bookmarks(tmp_path):
    """Timeline keys are the same Bookmark type as the list's, written once each, and come back equal."""
    from stylegan3.documents.timeline import Keyframe, Timeline

    s = _session()
    tl = Timeline([Keyframe(s.bookmarks[0], 1.5), Keyframe(s.bookmarks[1], 0.5)], interp="linear", loop=True)
    s = Session(s.schema, s.request, s.panels, s.bookmarks, tl)
    path = save_session(tmp_path / "t.sg3session.json", s)
    again = load_session(path)
    assert again == s and again.timeline.keyframes[1].bookmark == s.bookmarks[1]
    data = json.loads(path.read_text())
    assert data["timeline"]["schema"] == 3 and "version" not in data["timeline"]
    assert data["timeline"]["keyframes"][0] == {"bookmark": data["bookmarks"][0], "duration": 1.5}
    data["timeline"]["keyframes"][0]["duration"] = "long"
    with pytest.raises(SessionError, match=r"timeline: 1 problem: keyframes\[0\].duration: expected a number"):
        sessions.from_data(data, "s")
    from stylegan3.documents.bookmarks import Bookmark as LibraryBookmark
    assert Bookmark is LibraryBookmark  # one concept: the session module re-exports the library's


def test_bad_files_are_named(tmp_path):
    p = tmp_path / "bad.sg3session.json"
    for text, why in [("{", "not a session file (not valid JSON"),
                      ("[]", "not a session file (expected a JSON object)"),
                      ('{"schema": "1"}', "no integer 'schema'"),
                      ('{"schema": 1, "request": {}, "panels": {}, "bookmarks": []}',
                       "Session.request: missing field 'schema'")]:
        p.write_text(text)
        with pytest.raises(SessionError) as err:
            load_session(p)
        assert why in str(err.value) and str(p) in str(err.value)
    data = json.loads(sessions.to_text(_session()))
    data["bookmarks"][0]["request"]["latent"]["x"] = "three"
    p.write_text(json.dumps(data))
    with pytest.raises(SessionError, match=r"Session.bookmarks\[0\].request.latent.x: expected a number"):
        load_session(p)
    with open(p, "wb") as f:  # sparse: the size is what is refused, not the content
        f.truncate(sessions.MAX_BYTES + 1)
    with pytest.raises(SessionError, match="too large for a session file"):
        load_session(p)
    with pytest.raises(SessionError, match="cannot read"):
        load_session(tmp_path / "missing.sg3session.json")


def test_render_session_writes_the_image_the_session_shows(tmp_path):
    from stylegan3.cli.main import main
    from stylegan3.loading.native import save_native
    from stylegan3.networks.info import describe
    from stylegan3.render.pipeline import render_request

    G = tiny_net("SG3-T", res=16)
    net = save_native(G, tmp_path / "net.safetensors")
    s = _session(str(net))
    path = save_session(tmp_path / "view.sg3session.json", s)
    out = tmp_path / "out"
    assert main(["render", "--session", str(path), "--bookmarks", "--device", "cpu", "--outdir", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["view-00-moved.png", "view-01-fft.png", "view.png"]
    info = describe(G, str(net))
    for name, request in [("view.png", s.request), ("view-01-fft.png", s.bookmarks[1].request)]:
        want = render_request(G, request, info).image
        assert np.array_equal(np.asarray(Image.open(out / name)), want)
    assert np.asarray(Image.open(out / "view-01-fft.png")).shape == (256, 256, 3)  # the FFT view, enlarged
