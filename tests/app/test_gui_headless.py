"""Everything behind the visualizer's panels, checked without a window: request -> image, the worker's
latest-wins policy, background loading with error lines, view geometry, settings, captures."""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from sg3_explorer.visualizer.backend_renderer import BackendRenderer, FrameChannels
from sg3_explorer.visualizer.capture import capture_name, save_png
from sg3_explorer.visualizer.loader import NetworkLoader, error_line
from sg3_explorer.visualizer.perf import TimeHistory
from sg3_explorer.visualizer.renderer import render_image, to_uint8_hwc, view_ws
from sg3_explorer.visualizer.settings import MAX_RECENT, Settings, config_dir, load_settings, save_settings
from sg3_explorer.visualizer.view import ViewTransform
from stylegan3.documents.request import (
    FFTView,
    Latent,
    LayerView,
    NetworkRef,
    Noise,
    RenderRequest,
    RequestError,
    StyleMix,
    Synthesis,
    Transform,
    Truncation,
)
from stylegan3.service.backend import BackendStatus, FrameResult, RenderBackend, ResultSlot
from stylegan3.service.thread_backend import ThreadBackend
from tests.support.gui import write_hostile_pickle
from tests.support.nets import save_tiny, tiny_net

HAS_IMGUI = importlib.util.find_spec("imgui_bundle") is not None


@pytest.fixture(scope="module")
def sg2c():
    return tiny_net("sg2", c_dim=4, res=32)


# -- renderer ---------------------------------------------------------------------------------------------------

def _official_uint8(path: Path) -> np.ndarray:
    ref = np.load(path)[0]
    return (ref * 127.5 + 128).clip(0, 255).astype(np.uint8).transpose(1, 2, 0)


@pytest.mark.fixtures
@pytest.mark.parametrize("name", ["sg3t", "sg3r", "sg2"])
def test_render_image_matches_official_outputs(fixtures_dir, fixture_cases, name):
    """The image the app shows for a request is the official output for the same seed/psi/cutoff/transform."""
    import stylegan3

    G = stylegan3.load_network(str(fixtures_dir / f"{name}.pkl"), device="cpu")
    cases = [c for c in fixture_cases if Path(c["output"]).name.startswith(f"{name}_s42_")]
    assert cases
    states = {}
    for case in cases:  # mapping is cheap: check every truncation / cutoff case
        state = RenderRequest(latent=Latent(float(case["seed"])), truncation=Truncation(case["psi"], case["cutoff"]),
                              noise=Noise(case["noise_mode"]), synthesis=Synthesis(force_fp32=True),
                              transform=Transform(tuple(case["translate"]), case["rotate"]))
        ws = view_ws(G, state).numpy()
        np.testing.assert_allclose(ws, np.load(fixtures_dir / Path(case["ws"]).name), atol=1e-4)
        states[case["output"]] = state
    # Synthesis is slow on a CPU: render the most demanding case (translate + rotate for SG3, cutoff for SG2).
    output = max(states, key=lambda o: (states[o].transform.rotate != 0, states[o].truncation.cutoff is not None))
    got = render_image(G, states[output])
    want = _official_uint8(fixtures_dir / Path(output).name)
    assert np.abs(got.astype(int) - want).max() <= 1, output


def test_uint8_conversion_is_the_official_one():
    img = torch.tensor([-1.0, -0.5, 0.0, 0.999, 1.0, 2.0]).reshape(1, 1, 1, 6).expand(1, 3, 1, 6)
    out = to_uint8_hwc(img)
    assert out.shape == (1, 6, 3) and out.dtype == torch.uint8
    assert out[0, :, 0].tolist() == [0, 64, 128, 255, 255, 255]


def test_seed_plane_integer_point_is_the_seed(sg2c):
    a = render_image(sg2c, RenderRequest(latent=Latent(7.0)))
    b = render_image(sg2c, RenderRequest(latent=Latent(7.0, y=0.0, class_idx=0)))
    assert np.array_equal(a, b)
    # A fractional position differs from both neighbours and moves continuously towards the next seed.
    ws = [view_ws(sg2c, RenderRequest(latent=Latent(7 + t))) for t in (0.0, 0.01, 0.5, 1.0)]
    assert (ws[1] - ws[0]).abs().max() < (ws[2] - ws[0]).abs().max()
    assert torch.allclose(ws[3], view_ws(sg2c, RenderRequest(latent=Latent(8.0))))


def test_style_mixing_takes_selected_ws_from_mix_seed(sg2c):
    base = view_ws(sg2c, RenderRequest(latent=Latent(1)))
    other = view_ws(sg2c, RenderRequest(latent=Latent(9)))
    mixed = view_ws(sg2c, RenderRequest(latent=Latent(1), mix=StyleMix(seed=9, ws=(0, 2))))
    assert torch.equal(mixed[:, [0, 2]], other[:, [0, 2]])
    keep = [i for i in range(sg2c.num_ws) if i not in (0, 2)]
    assert torch.equal(mixed[:, keep], base[:, keep])
    # Out-of-range indices (from a previous, bigger network) are ignored.
    assert StyleMix(9, (1, 1, 99, -2, 0)).limited_to(4) == StyleMix(9, (0, 1))


def test_truncation_cutoff_and_class_label(sg2c):
    w_avg = sg2c.mapping.w_avg
    full = view_ws(sg2c, RenderRequest(latent=Latent(3), truncation=Truncation(1.0)))
    zero = view_ws(sg2c, RenderRequest(latent=Latent(3), truncation=Truncation(0.0)))
    assert torch.allclose(zero, w_avg.expand_as(zero), atol=1e-5)
    cut = view_ws(sg2c, RenderRequest(latent=Latent(3), truncation=Truncation(0.0, cutoff=2)))
    assert torch.allclose(cut[:, :2], zero[:, :2]) and torch.allclose(cut[:, 2:], full[:, 2:])
    assert not np.array_equal(render_image(sg2c, RenderRequest(latent=Latent(3, class_idx=0))),
                              render_image(sg2c, RenderRequest(latent=Latent(3, class_idx=2))))


def test_noise_seed_makes_random_noise_reproducible(sg2c):
    a = render_image(sg2c, RenderRequest(noise=Noise(mode="random", seed=1)))
    b = render_image(sg2c, RenderRequest(noise=Noise(mode="random", seed=1)))
    c = render_image(sg2c, RenderRequest(noise=Noise(mode="random", seed=2)))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_input_transform_reaches_sg3_network():
    G = tiny_net("sg3", res=32)
    a = render_image(G, RenderRequest(latent=Latent(1)))
    b = render_image(G, RenderRequest(latent=Latent(1), transform=Transform(translate=(0.25, 0.0))))
    assert not np.array_equal(a, b)
    assert np.array_equal(render_image(G, RenderRequest(latent=Latent(1))), a)  # transform reset to identity


def test_stages_come_from_the_request_not_from_panels_built_in_this_process(sg2c):
    """No panel was constructed here: the FFT view still runs, because the pipeline is built from the request."""
    from sg3_explorer.visualizer import renderer
    from stylegan3.render.pipeline import render_request

    state = RenderRequest(latent=Latent(2), layer=LayerView(layer="output"), fft=FFTView(enabled=True, window="hann"))
    res = renderer.timed_render(sg2c, state)
    plain = render_image(sg2c, RenderRequest(latent=Latent(2)))
    assert res.error is None and res.image.shape[0] >= 256 > plain.shape[0]  # the enlarged spectrum
    assert res.extras["layer_shape"] == (3, 32, 32) and "graph" not in res.extras
    out = render_request(sg2c, state, renderer.network_info(sg2c))
    assert np.array_equal(out.image, res.image) and np.array_equal(render_image(sg2c, state), res.image)


def test_render_errors_become_a_message():
    from sg3_explorer.visualizer.renderer import timed_render

    with pytest.raises(RequestError, match="Noise.mode"):  # a bad value never reaches a renderer: no request has it
        RenderRequest().edit("noise", mode="bogus")
    G = tiny_net("sg2", res=32)
    res = timed_render(G, RenderRequest(layer=LayerView(layer="nope")))
    assert res.image is not None and "nope" in res.extras["layer_error"]


# -- frames of a backend ------------------------------------------------------------------------------------------

class GatedBackend(RenderBackend):
    """A backend whose renders wait for `gate`, recording what it was asked for (one request at a time, newest
    waiting one wins, like the real ones)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []
        self.gate = threading.Event()
        self._slot = ResultSlot()
        self._cond = threading.Condition()
        self._pending = None
        self._running = False
        self._ids = 0
        threading.Thread(target=self._run, daemon=True).start()

    def load(self, network, timeout=None):
        raise NotImplementedError

    def submit(self, request) -> int:
        with self._cond:
            self._ids += 1
            self._pending = (self._ids, request)
            self._cond.notify_all()
            return self._ids

    def poll(self):
        return self._slot.poll()

    def cancel(self) -> None:
        pass

    def status(self) -> BackendStatus:
        return BackendStatus("busy" if self._pending or self._running else "ready")

    def close(self) -> None:
        self.gate.set()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None)
                (rid, request), self._pending, self._running = self._pending, None, True
            self.calls.append((request.network.source, request.latent.x))
            self.gate.wait(5)
            img = np.full((2, 2, 3), int(request.latent.x), np.uint8)
            self._slot.put(FrameResult(rid, request, img))
            self._running = False


def _wait_frame(poll, timeout: float = 5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        res = poll()
        if res is not None:
            return res
        time.sleep(0.005)
    return None


def test_main_view_latest_request_wins_and_gui_never_waits():
    backend = GatedBackend()
    r = BackendRenderer(FrameChannels(backend))
    r.set_network("net", 1)
    assert r.submit(RenderRequest(latent=Latent(1)))
    time.sleep(0.05)  # the backend is now stuck rendering x=1
    drag = [RenderRequest(latent=Latent(float(x))) for x in range(2, 50)]
    t0 = time.perf_counter()
    for request in drag:
        r.submit(request)
    assert time.perf_counter() - t0 < 0.05  # submitting never blocks on the render (held for 5 s)
    assert r.poll() is None  # nothing finished yet: the GUI keeps its last image
    backend.gate.set()
    first = _wait_frame(r.poll)
    assert first is not None and first.request.latent.x == 1.0  # an older frame still shows (a drag keeps updating)
    res = _wait_frame(r.poll)
    assert res is not None and res.request.latent.x == 49.0 and res.image[0, 0, 0] == 49
    assert backend.calls == [("net", 1.0), ("net", 49.0)]  # requests 2..48 were collapsed into the newest one
    assert r.wait_idle(5) and r.poll() is None  # delivered once
    assert not r.submit(RenderRequest(latent=Latent(49.0)))  # unchanged request: nothing to do


def test_frames_of_the_previous_network_are_dropped_and_requests_are_immutable():
    backend = GatedBackend()
    r = BackendRenderer(FrameChannels(backend))
    r.set_network("old", 1)
    s = RenderRequest(latent=Latent(3))
    r.submit(s)
    s = s.edit("latent", x=6.0)  # the GUI puts back an edited copy: the submitted one is unchanged
    time.sleep(0.05)
    r.set_network("new", 2)  # user switched networks while x=3 renders on the old one
    backend.gate.set()
    assert r.wait_idle(5) and r.poll() is None
    r.submit(RenderRequest(latent=Latent(3)))
    res = _wait_frame(r.poll)
    assert res is not None and res.network_id == 2 and res.request.latent.x == 3.0
    assert backend.calls == [("old", 3.0), ("new", 3.0)]


def test_channels_take_turns_and_each_gets_its_own_frames():
    """The main view and two panes on one backend: one request in flight, every view served, none starved."""
    backend = GatedBackend()
    hub = FrameChannels(backend)
    views = [hub.channel() for _ in range(3)]
    for i, ch in enumerate(views):
        ch.submit(RenderRequest(network=NetworkRef(f"net{i}"), latent=Latent(float(i + 1))))
    views[0].submit(RenderRequest(network=NetworkRef("net0"), latent=Latent(9.0)))  # latest wins per view
    backend.gate.set()
    got = [_wait_frame(ch.poll) for ch in views]
    assert [(g.request.network.source, g.request.latent.x) for g in got] == [("net0", 1.0), ("net1", 2.0),
                                                                           ("net2", 3.0)]
    again = _wait_frame(views[0].poll)
    assert again.request.latent.x == 9.0 and not any(ch.busy for ch in views)
    assert [c[1] for c in backend.calls] == [1.0, 2.0, 3.0, 9.0]
    views[1].close()
    assert views[1] not in hub._channels


# -- network loading ----------------------------------------------------------------------------------------------

def test_loader_reports_broken_and_hostile_files_as_one_line(tmp_path):
    backend = ThreadBackend("cpu")
    loader = NetworkLoader(backend)
    broken = tmp_path / "broken.pkl"
    broken.write_bytes(b"\x80\x04garbage")
    loader.load(str(broken))
    assert loader.wait(30)
    assert loader.poll() is None
    err = loader.status.error
    assert err and "\n" not in err and "broken.pkl" in err

    marker = tmp_path / "pwned"
    loader.load(str(write_hostile_pickle(tmp_path / "evil.pkl", marker)))
    assert loader.wait(30)
    assert loader.poll() is None and loader.status.error
    assert not marker.exists()

    loader.load(str(tmp_path / "missing.pkl"))
    assert loader.wait(30) and loader.status.error
    backend.close()


def test_loader_loads_describes_and_the_backend_keeps_the_network(tmp_path):
    from stylegan3.service.owner import default_loader

    path = save_tiny(tmp_path / "net.safetensors", kind="sg2", c_dim=3, res=32)
    calls = []

    def counting_load(ref, device):
        calls.append(ref.source)
        return default_loader(ref, device)

    backend = ThreadBackend("cpu", loader=counting_load)
    loader = NetworkLoader(backend)
    loader.load(str(path))
    assert loader.wait(30)
    done = loader.poll()
    assert done is not None and loader.status.error is None
    info = done.info
    assert (info.kind, info.resolution, info.c_dim, info.z_dim, info.num_ws) == ("SG2", 32, 3, 16, 8)
    assert "SG2" in info.summary() and "3 classes" in info.summary()
    assert done.ops == f"rendered by thread on cpu ({info.impl} ops)"
    loader.load(str(path))
    assert loader.wait(30) and loader.poll() is not None
    assert calls == [str(path)]  # second time the backend still holds it
    backend.close()


def test_loader_newest_request_wins():
    release = threading.Event()

    def fake_load(ref, device):
        if ref.source == "slow":
            release.wait(5)
        return tiny_net("sg2", res=32)

    backend = ThreadBackend("cpu", loader=fake_load)
    loader = NetworkLoader(backend)
    loader.load("slow")
    loader.load("fast")
    time.sleep(0.2)
    release.set()
    assert loader.wait(10)
    done = loader.poll()
    assert done is not None and done.source == "fast"
    assert loader.poll() is None
    backend.close()


def test_error_lines():
    from stylegan3.errors import NetworkLoadError

    assert error_line(NetworkLoadError("x.pkl", "not a pickle")) == "x.pkl: not a pickle"
    assert error_line(ValueError("bad\nsecond line")) == "ValueError: bad"


# -- view, settings, captures -------------------------------------------------------------------------------------

def test_view_fit_one_to_one_zoom_and_pan():
    v = ViewTransform()
    assert v.placement(800, 600, 64, 64) == (100.0, 0.0, 600 / 64)
    assert v.pixel_at(100, 0, 800, 600, 64, 64) == (0, 0)
    assert v.pixel_at(99, 0, 800, 600, 64, 64) is None
    assert v.pixel_at(699.9, 599.9, 800, 600, 64, 64) == (63, 63)
    v.set_one_to_one()
    assert v.placement(800, 600, 64, 64) == (368.0, 268.0, 1.0)
    # Zooming keeps the image point under the cursor in place.
    before = v.pixel_at(380, 280, 800, 600, 64, 64)
    v.zoom_at(4.0, 380.5, 280.5, 800, 600, 64, 64)
    assert v.zoom == 4.0 and v.pixel_at(380.5, 280.5, 800, 600, 64, 64) == before
    x0, y0, _ = v.placement(800, 600, 64, 64)
    v.pan(10, -6, 800, 600, 64, 64)
    x1, y1, _ = v.placement(800, 600, 64, 64)
    assert (x1 - x0, y1 - y0) == (10.0, -6.0)
    # Zoom from fit continues from the fitted scale.
    f = ViewTransform()
    f.zoom_at(2.0, 400, 300, 800, 600, 64, 64)
    assert not f.fit and f.zoom == pytest.approx(2 * 600 / 64)


def test_settings_roundtrip_and_bad_files(tmp_path, monkeypatch):
    monkeypatch.setenv("SG3_CONFIG_DIR", str(tmp_path / "cfg"))
    assert config_dir() == tmp_path / "cfg"
    s = Settings()
    for i in range(MAX_RECENT + 5):
        s.add_recent(f"net{i}.pkl")
    s.add_recent("net3.pkl")
    s.add_recent("demo")
    assert s.recent[0] == "net3.pkl" and len(s.recent) == MAX_RECENT and s.recent.count("net3.pkl") == 1
    s.window_size, s.panels_open, s.ui_scale = (1000, 700), {"latent": False}, 1.25
    assert save_settings(s)
    back = load_settings()
    assert back == s
    path = tmp_path / "cfg" / "settings.json"
    path.write_text("{not json")
    assert load_settings() == Settings()
    path.write_text(json.dumps({"window_size": "huge", "recent": [1, "a.pkl"], "vsync": "yes", "fps_limit": 30,
                                "unknown": 1}))
    odd = load_settings()
    assert odd.window_size == Settings().window_size and odd.recent == ["a.pkl"]
    assert odd.vsync is True and odd.fps_limit == 30
    path.write_text(json.dumps({"font_scale": 1.5}))  # the UI scale's old name (text only) is read as the scale
    assert load_settings().ui_scale == 1.5
    path.write_text(json.dumps({"ui_scale": 40}))  # out of range: clamped, the window stays usable
    assert load_settings().ui_scale == 3.0


def test_capture_names_never_overwrite(tmp_path):
    st = RenderRequest(latent=Latent(42), truncation=Truncation(0.7))
    base = capture_name("image", st, "/data/nets/sg3t.pkl")
    assert base == "image_sg3t_seed42_psi0.70"
    px = np.zeros((4, 5, 3), np.uint8)
    p1 = save_png(px, tmp_path / "caps", base)
    p2 = save_png(px, tmp_path / "caps", base)
    assert p1 != p2 and p1.name == "image_sg3t_seed42_psi0.70_0000.png" and p2.is_file()


def test_time_history():
    h = TimeHistory(size=4)
    for ms in (10, 20, 30, 40, 50):
        h.add(ms)
    assert len(h) == 4 and h.mean_ms() == 35.0 and h.fps(2) == pytest.approx(1000 / 45)


def test_request_edits_and_equality():
    from stylegan3.documents.request import ExplicitLatent

    pinned = ExplicitLatent(((1.0, 2.0),), "p", (1.5, 0.0))
    a = RenderRequest(latent=Latent(1.5), mix=StyleMix(ws=(1, 2)), explicit=pinned)
    b = a.edit("layer", gain_db=3.0)
    assert a != b and a.layer.gain_db == 0.0 and b.edit("layer", gain_db=0.0) == a and hash(b.edit("layer")) == hash(b)
    assert a.latent.seed == 1 and RenderRequest(latent=Latent(-0.5)).latent.seed == -1
    assert a.replace(explicit=ExplicitLatent(((1.0, 2.5),), "p", (1.5, 0.0))) != a


def test_folder_listing_and_catalog(tmp_path):
    from sg3_explorer.visualizer.file_browser import catalog_entries, list_folder

    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("b.pkl", "a.safetensors", "notes.txt"):
        (tmp_path / name).write_text("x")
    dirs, files = list_folder(tmp_path)
    assert [d.name for d in dirs] == ["sub"] and [f.name for f in files] == ["a.safetensors", "b.pkl"]
    assert list_folder(tmp_path / "missing") == ([], [])
    names = [n for n, _ in catalog_entries()]
    assert "stylegan3-t-ffhqu-256x256" in names


# -- panels' pure helpers and the widget list ---------------------------------------------------------------------

@pytest.mark.skipif(not HAS_IMGUI, reason="imgui-bundle not installed")
def test_widget_helpers_and_optional_modules(monkeypatch):
    from sg3_explorer import widgets
    from sg3_explorer.widgets.latent import snap, step_animation
    from sg3_explorer.widgets.stylemix import toggle_ws
    from sg3_explorer.widgets.truncation import cutoff_from_slider

    assert snap(2.6, -0.4) == (3.0, -0.0)
    assert step_animation(1.0, 0.5, 0.1) == pytest.approx(1.05)
    assert toggle_ws((1,), 3, True, 8) == (1, 3) and toggle_ws((1, 3), 1, False, 8) == (3,)
    assert cutoff_from_slider(16, 16) is None and cutoff_from_slider(3, 16) == 3
    names = [m.__name__ for m in widgets.widget_modules()]
    assert names[:6] == [f"sg3_explorer.widgets.{name}" for name in widgets.CORE_MODULES]
    # An optional panel module that exists is picked up; one that is absent is skipped silently.
    monkeypatch.setattr(widgets, "OPTIONAL_MODULES", ["latent", "not_there"])
    assert [m.__name__ for m in widgets.widget_modules()][-1] == "sg3_explorer.widgets.latent"


@pytest.mark.skipif(not HAS_IMGUI or importlib.util.find_spec("glfw") is None, reason="GUI extra not installed")
def test_no_display_is_one_clear_error(monkeypatch, capsys):
    from sg3_explorer.visualizer.cli import main

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["gui", "--screenshot", "x.png", "--no-settings"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot open a window") and "Xvfb" in err[0]


def test_gui_command_is_registered():
    from sg3_explorer.visualizer.cli import _size, build_parser

    args = build_parser().parse_args(["gui", "a.pkl", "b.pkl", "--screenshot", "x.png", "--seed", "3"])
    assert args.networks == ["a.pkl", "b.pkl"] and args.screenshot == Path("x.png") and args.seed == 3
    assert _size("800x600") == (800, 600)
    with pytest.raises(Exception, match="WxH"):
        _size("big")


@pytest.mark.skipif(not HAS_IMGUI, reason="imgui-bundle not installed")
def test_saved_window_size_and_preferences_are_used_at_start(tmp_path, monkeypatch):
    from sg3_explorer.visualizer.app import App, AppConfig

    monkeypatch.setenv("SG3_CONFIG_DIR", str(tmp_path / "cfg"))
    save_settings(Settings(window_size=(1111, 666), fps_limit=24, vsync=False, force_fp32=True))
    net = save_tiny(tmp_path / "n.safetensors", kind="sg2", res=32)
    app = App(AppConfig(networks=[str(net)], request=RenderRequest(latent=Latent(3))))  # as the gui command passes it
    try:
        params = app.runner_params()
        assert tuple(params.app_window_params.window_geometry.size) == (1111, 666)
        assert params.fps_idling.fps_max == 24 and params.fps_idling.vsync_to_monitor is False
        assert app.request.synthesis.force_fp32 is True and app.request.latent.x == 3
        assert app.loader.wait(30) and app.loader.poll().info.kind == "SG2"
    finally:
        app.close()
