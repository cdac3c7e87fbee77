"""Comparison mode without a window: how a pane's state follows the main one (own z_dim, SG2 without input
transform, per-pane overrides), lockstep motion, the pane set's renders on frame channels of one backend (which
holds every pane's network), and the sticking / trace / record analyses that run off the GUI thread."""

from __future__ import annotations

import importlib.util
import time

import numpy as np
import pytest
import torch

from sg3_explorer.visualizer.backend_renderer import FrameChannels
from sg3_explorer.visualizer.comparison import (
    ComparisonModel,
    PaneOverrides,
    StickingSettings,
    pane_notes,
    pane_request,
    transform_at,
)
from sg3_explorer.visualizer.jobs import Job
from sg3_explorer.visualizer.network_jobs import trace_job
from sg3_explorer.visualizer.renderer import render_image, to_uint8_hwc, view_ws
from stylegan3.documents.request import (
    ExplicitLatent,
    FFTView,
    Latent,
    LatentMove,
    LayerView,
    Noise,
    RenderRequest,
    StyleMix,
    Transform,
    Truncation,
)
from stylegan3.errors import SG3Error
from stylegan3.explore.interpolation import transform_path
from stylegan3.networks.info import describe
from stylegan3.networks.latents import z_from_seed
from stylegan3.service.thread_backend import ThreadBackend
from tests.support.nets import tiny_net


def small_net(kind: str, z_dim: int, res: int, c_dim: int = 0, seed: int = 0) -> torch.nn.Module:
    """A tiny generator of our own with the z size and resolution a test needs."""
    return tiny_net(kind, c_dim=c_dim, res=res, seed=seed, z_dim=z_dim)


@pytest.fixture(scope="module")
def nets():
    return {"sg2": small_net("sg2", 16, 32), "sg3": small_net("sg3", 24, 16, seed=1)}


def info(G, name="net"):
    return describe(G, name)


def model_for(nets: dict) -> ComparisonModel:
    """Panes on a thread backend that 'loads' the test's modules by name."""
    return ComparisonModel(FrameChannels(ThreadBackend("cpu", loader=lambda ref, device: nets[ref.source])))


def close(model: ComparisonModel) -> None:
    model.close()
    model.backend.close()


def wait_shown(model: ComparisonModel, main: RenderRequest, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not model.all_shown(main):
        assert time.monotonic() < end, [p.status for p in model.panes]
        model.tick(main)
        time.sleep(0.005)


# -- pane state --------------------------------------------------------------------------------------------------

def test_different_z_dim_draws_own_z_from_the_same_seed(nets):
    G2, G3 = nets["sg2"], nets["sg3"]
    main = RenderRequest(latent=Latent(7.0), truncation=Truncation(0.7))
    s3 = pane_request(main, info(G3))
    assert s3.latent.seed == 7 and s3.truncation.psi == 0.7 and s3.layer == LayerView()
    want = G3.mapping(torch.from_numpy(z_from_seed(7, 24)).float(), torch.zeros([1, 0]), truncation_psi=0.7)
    torch.testing.assert_close(view_ws(G3, s3), want)
    notes = pane_notes(main, info(G3), reference=info(G2))
    assert notes == ["z_dim 24 (not 16): latent not shared, z drawn from the same seed at z_dim 24"]
    assert pane_notes(main, info(G2), reference=info(G2)) == []
    assert np.array_equal(render_image(G3, s3), render_image(G3, main))


def test_sg2_ignores_transform_sg3_follows_it(nets):
    G2, G3 = nets["sg2"], nets["sg3"]
    main = RenderRequest(latent=Latent(1.0), transform=Transform(translate=(0.2, -0.1), rotate=0.05))
    s2, s3 = pane_request(main, info(G2)), pane_request(main, info(G3))
    assert s2.transform == Transform()
    assert s3.transform == Transform((0.2, -0.1), 0.05)
    assert "SG2: no input transform, ignores translate/rotate" in pane_notes(main, info(G2), info(G2))
    assert not any("transform" in n for n in pane_notes(main, info(G3), info(G3)))
    still = RenderRequest(latent=Latent(1.0))
    assert np.array_equal(render_image(G2, s2), render_image(G2, still))
    assert np.abs(render_image(G3, s3).astype(int) - render_image(G3, still)).mean() > 1.0


def test_overrides_class_noise_cutoff_and_layer_view():
    Gc = tiny_net("sg2", c_dim=4, res=16)
    ic = info(Gc)
    main = RenderRequest(latent=Latent(class_idx=6), mix=StyleMix(ws=(1, 3, 40)), truncation=Truncation(cutoff=50),
                         noise=Noise(mode="const"), layer=LayerView(layer="b16.conv0"), fft=FFTView(enabled=True))
    s = pane_request(main, ic)
    assert s.latent.class_idx == 2 and s.truncation.cutoff is None and s.mix.ws == (1, 3)
    assert s.layer.layer is None and not s.fft.enabled
    s = pane_request(main, ic, PaneOverrides(class_idx=1, noise_mode="random"))
    assert s.latent.class_idx == 1 and s.noise.mode == "random"
    assert main.latent.class_idx == 6 and main.layer.layer == "b16.conv0"  # the main request is never edited
    assert "style mix limited to its 6 ws" in pane_notes(main, ic, ic)
    unconditional = pane_request(main, info(tiny_net("sg2", res=16)))
    assert unconditional.latent.class_idx == 0


def test_a_pane_takes_neither_the_main_nets_explicit_latent_nor_its_moves(nets):
    """W of one network means nothing to another: a pane shows its own mapping of the seed-plane position."""
    from sg3_explorer.visualizer.explore import with_latent

    G3 = nets["sg3"]
    plain = RenderRequest(latent=Latent(2.0), truncation=Truncation(0.9))
    main = with_latent(plain, torch.randn(1, G3.num_ws, G3.w_dim), "projection")
    main = main.replace(moves=(LatentMove(tuple([1.0] * G3.w_dim), 2.0),))
    assert not np.array_equal(render_image(G3, main), render_image(G3, plain))
    pane = pane_request(main, info(G3), source="other.pkl")
    assert pane.explicit == ExplicitLatent() and pane.moves == () and pane.network.source == "other.pkl"
    assert np.array_equal(render_image(G3, pane), render_image(G3, plain))


# -- lockstep motion ---------------------------------------------------------------------------------------------

def test_transform_at_matches_the_video_paths():
    spec = "circle:0.2+spin:1"
    frames = transform_path(spec, 8, loop=True)
    for i in range(8):
        (tx, ty), rot = transform_at(spec, i / 8)
        np.testing.assert_allclose([tx, ty, rot], frames[i], atol=1e-12)
    assert transform_at("circle:0.2", 0.25)[0] == pytest.approx((0.0, 0.2), abs=1e-12)
    assert transform_at("pan:0.4,0", 1.25)[0] == pytest.approx((0.1, 0.0))  # a pan restarts each period
    with pytest.raises(SG3Error):
        transform_at("wobble:1", 0.0)


# -- the pane set ------------------------------------------------------------------------------------------------

def test_panes_render_the_main_request_and_follow_it(nets):
    G = {"sg2": nets["sg2"], "sg3": nets["sg3"]}
    model = model_for(nets)
    try:
        p2, p3 = model.add("sg2"), model.add("sg3")
        main = RenderRequest(latent=Latent(3.0))
        wait_shown(model, main)
        assert model.reference.z_dim == 16
        for p in (p2, p3):
            assert np.array_equal(p.image, render_image(G[p.source], p.request_for(main)))
        assert p2.image.shape == (32, 32, 3) and p3.image.shape == (16, 16, 3)
        before = {p.pane_id: p.image.copy() for p in model.panes}

        main = main.edit("transform", translate=(0.25, 0.0))  # lockstep: the SG3 pane moves, the SG2 pane does not
        wait_shown(model, main)
        assert p2.shown_request.transform == Transform() and p3.shown_request.transform == Transform((0.25, 0.0))
        assert p2.shown_request.network.source == "sg2" and p3.shown_request.network.source == "sg3"
        assert np.array_equal(p2.image, before[p2.pane_id])
        assert np.abs(p3.image.astype(int) - before[p3.pane_id]).mean() > 1.0
        assert np.array_equal(p3.image, render_image(G[p3.source], p3.request_for(main)))

        from stylegan3.explore.video import LABEL_HEIGHT

        saved = model.panes_image(min_size=32)  # what "Save panes" writes: both panes at 32 px, labelled
        assert saved.shape == (LABEL_HEIGHT + 32, 64, 3)
        assert np.array_equal(saved[LABEL_HEIGHT:, :32], p2.image)
        big = np.repeat(np.repeat(p3.image, 2, axis=0), 2, axis=1)
        assert np.array_equal(saved[LABEL_HEIGHT:, 32:], big)  # the 16 px pane: each pixel a 2x2 block
        assert model.panes_image().shape == (LABEL_HEIGHT + 256, 512, 3)  # small nets enlarged for the labels

        main = main.edit("latent", x=4.0)
        wait_shown(model, main)
        assert np.array_equal(p2.image, render_image(G[p2.source], RenderRequest(latent=Latent(4.0))))
        model.remove(p2)
        assert model.panes == [p3] and model.reference.z_dim == 24
    finally:
        close(model)


def test_failed_load_is_a_message_and_pane_limit():
    def loader(ref, device):
        raise SG3Error(f"{ref.source}: not a network")

    model = ComparisonModel(FrameChannels(ThreadBackend("cpu", loader=loader)))
    try:
        pane = model.add("bad.pkl")
        end = time.monotonic() + 10
        while pane.loader.busy and time.monotonic() < end:
            time.sleep(0.01)
        model.tick(RenderRequest())
        assert pane.network is None and pane.status == "load failed: bad.pkl: not a network"
        for _ in range(3):
            model.add("more.pkl")
        with pytest.raises(SG3Error, match="at most 4 panes"):
            model.add("one too many")
    finally:
        close(model)


# -- jobs --------------------------------------------------------------------------------------------------------

def test_sticking_jobs_match_the_library_and_report_progress(nets):
    from stylegan3.metrics.sticking import sticking_view

    model = model_for(nets)
    try:
        model.add("sg2")
        model.add("sg3")
        main = RenderRequest(latent=Latent(2.0), truncation=Truncation(0.8))
        wait_shown(model, main)
        model.sticking = StickingSettings(samples=3, sigma=0.3, seed=5)
        model.start_sticking(main)
        assert model.sticking_progress is not None and model.busy
        assert model.wait_jobs(60)
        model.tick(main)
        assert model.sticking_progress is None
        for p in model.panes:
            G = nets[p.source]
            z = torch.from_numpy(z_from_seed(2, int(G.z_dim))).float()
            ref = sticking_view(G, z, samples=3, sigma=0.3, psi=0.8, seed=5)
            assert p.sticking_score == pytest.approx(ref.score, abs=1e-6)
            assert 0.0 <= p.sticking_score <= 1.0
            assert np.array_equal(p.sticking_image, to_uint8_hwc(ref.average[None]).numpy())
            assert p.sticking_request == p.request_for(main)
    finally:
        close(model)


def test_job_progress_cancel_and_error():
    seen = []

    def slow(progress):
        for i in range(200):
            progress(i, 200)
            seen.append(i)
            time.sleep(0.005)
        return "finished"

    job = Job(slow)
    while not seen:
        time.sleep(0.001)
    job.cancel()
    assert job.wait(5) and job.cancelled and job.result is None and job.error is None
    assert len(seen) < 200

    job = Job(lambda progress: progress(3, 4) or 42)
    assert job.wait(5) and job.result == 42 and job.fraction == 1.0
    job = Job(lambda progress: (_ for _ in ()).throw(SG3Error("sigma must be positive")))
    assert job.wait(5) and job.error == "sigma must be positive" and job.result is None


def test_trace_job_rows_and_lockstep_motion(nets):
    G2, G3 = nets["sg2"], nets["sg3"]
    backend = ThreadBackend("cpu", loader=lambda ref, device: nets[ref.source])

    def run(request, frames, row=0.5, spec=""):
        return trace_job(request, frames, row, spec).run(backend, lambda d, t: None)

    state3 = pane_request(RenderRequest(latent=Latent(5.0)), info(G3), source="sg3")
    trace, vert = run(state3, 6)
    assert trace.shape == (6, 16, 3) and 0.0 <= vert <= 1.0
    assert np.array_equal(trace[0], render_image(G3, state3)[8])  # frame 0 is the current seed's image row
    seed_plus_1 = RenderRequest(latent=Latent(6.0))
    assert np.array_equal(trace[-1], render_image(G3, seed_plus_1)[8])  # ... and the path ends at seed+1

    moving, _ = run(state3, 6, spec="pan:0.5,0")
    assert np.array_equal(moving[0], trace[0]) and not np.array_equal(moving[-1], trace[-1])
    # SG2 has no input transform: the same settings record without motion instead of failing.
    state2 = pane_request(RenderRequest(latent=Latent(5.0)), info(G2), source="sg2")
    trace2, _ = run(state2, 6, row=0.25)  # SG2: the comparison model sends no transform path
    assert trace2.shape == (6, 32, 3)
    assert np.array_equal(trace2[0], render_image(G2, state2)[8])
    backend.close()


@pytest.mark.skipif(importlib.util.find_spec("imageio_ffmpeg") is None, reason="imageio-ffmpeg not installed")
def test_record_writes_the_panes_to_mp4(nets, tmp_path):
    import imageio.v2 as imageio

    model = model_for(nets)
    try:
        model.add("sg2")
        model.add("sg3")
        main = RenderRequest(latent=Latent(0.0))
        wait_shown(model, main)
        out = tmp_path / "cmp.mp4"
        model.start_record(main, out, seconds_per_seed=0.2, seeds=2, fps=10)
        assert model.wait_jobs(60)
        model.tick(main)
        assert model.record is None and model.record_message == f"wrote 3 frames to {out}"
        with imageio.get_reader(str(out)) as reader:
            frames = [np.asarray(f) for f in reader]
        assert len(frames) == 3
        assert frames[0].shape[1] == 64  # two 32 px panes side by side (the 16 px net scaled up)

        model.start_record(main, tmp_path / "moving.mp4", seconds_per_seed=0.1, seeds=2, fps=10,
                           transform_spec="circle:0.1")
        assert model.wait_jobs(60)
        model.tick(main)
        assert model.record_message.endswith("(no motion: the SG2 pane has no input transform)")
    finally:
        close(model)


def test_view_geometry():
    """Pane side: whole pixels, a multiple of every resolution when it fits; divider follows the mouse."""
    pytest.importorskip("imgui_bundle")
    from sg3_explorer.visualizer.comparison_view import divider_at, pane_side

    assert pane_side(300.7, [32, 16]) == 288 and pane_side(300.7, [64]) == 256
    assert pane_side(50.5, [64]) == 50  # smaller than the network: whole pixels only
    assert pane_side(3.0, []) == 16
    assert divider_at(30, 100) == 0.3 and divider_at(-5, 100) == 0.0 and divider_at(150, 100) == 1.0


def test_main_view_and_four_panes_share_one_backend_without_reloading(nets):
    """The backend keeps the main view's network and all four panes' (no reload while they take turns)."""
    from stylegan3.documents.request import NetworkRef

    loads = []

    def loader(ref, device):
        loads.append(ref.source)
        return nets["sg3" if ref.source.endswith("3") else "sg2"]

    backend = ThreadBackend("cpu", loader=loader)
    model = ComparisonModel(FrameChannels(backend))
    try:
        backend.load(NetworkRef("main3"))
        for name in ("a2", "b3", "c2", "d3"):
            model.add(name)
        main = model.frames.channel()  # the main view: a fifth channel on the same backend
        for x in (1.0, 2.0, 3.0):
            main.submit(pane_request(RenderRequest(latent=Latent(x)), info(nets["sg3"]), source="main3"))
            wait_shown(model, RenderRequest(latent=Latent(x)))
            end = time.monotonic() + 30
            while (res := main.poll()) is None:
                assert time.monotonic() < end
                time.sleep(0.005)
            assert res.error is None and res.request.latent.x == x
        assert sorted(loads) == ["a2", "b3", "c2", "d3", "main3"]
    finally:
        close(model)
