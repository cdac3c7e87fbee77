"""`gui --connect`: the window renders through a server on loopback; the screen shows exactly the headless
render of the same request (SG3 with translate/rotate), the Performance panel shows the transport, and a
server that dies is reported in the status bar while the window stays up."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from PIL import Image

from tests.support.gui import assert_shows, grab_window, run_driven, wait_image_for_request, wait_until
from tests.support.nets import tiny_net
from tests.support.service import running_server

pytestmark = pytest.mark.gui


def test_gui_connect_renders_remotely(app_env, artifacts_dir):
    from sg3_explorer.visualizer.app import App, AppConfig
    from stylegan3.loading.native import save_native
    from stylegan3.networks.info import describe
    from stylegan3.render.pipeline import render_request

    folder = app_env / "served"
    folder.mkdir()
    G = tiny_net("SG3-R", res=32)
    net = save_native(G, folder / "sg3r.safetensors")
    info = describe(G, str(net))
    seen = {}
    from sg3_explorer.visualizer.network_jobs import equivariance_job, spectra_job, sticking_job
    from stylegan3.service.thread_backend import ThreadBackend

    local = ThreadBackend("cpu")  # the in-process reference of every panel's job

    def here(job):
        return job.run(local, lambda *a: None)

    with running_server([str(folder)]) as server:
        app = App(AppConfig(networks=[str(net)], window_size=(1200, 800), connect=server.address,
                            frame_format="png"))

        def drive(ctx):
            assert wait_until(ctx, lambda: app.network is not None, 60), app.loader.status
            assert app.network.info.kind == "SG3-R"
            ctx.item_input_value("**/Seed", 4)
            app.request = app.request.edit("transform", translate=(0.25, -0.125), rotate=0.05)
            wait_image_for_request(ctx, app, 60)
            perf = app.widget("performance")
            ctx.item_open("**/Performance")
            for _ in range(3):
                ctx.yield_()
            shot = grab_window(ctx, app)
            Image.fromarray(shot).save(artifacts_dir / "gui_remote_sg3r.png")
            want = render_request(G, app.current_request(), info).image
            seen["diff"] = assert_shows(shot, app, want)
            extras = app.last_result.extras
            assert extras["transport"] == server.address and extras["frame_format"] == "png"
            assert extras["frame_bytes"] > 0 and extras["round_trip_ms"] > 0
            assert perf is not None
            # layer view and FFT view are stages of the request: drawn on the server from the info's layer table
            ctx.item_open("**/Layers & channels")
            layer = info.layers[2].name
            ctx.item_click(f"**/{layer}##layer")
            assert app.request.layer.layer == layer
            wait_image_for_request(ctx, app, 60)
            shot = grab_window(ctx, app)
            want = render_request(G, app.current_request(), info).image
            assert_shows(shot, app, want)
            ctx.item_click("**/FFT view")
            assert app.request.fft.enabled
            wait_image_for_request(ctx, app, 60)
            shot = grab_window(ctx, app)
            Image.fromarray(shot).save(artifacts_dir / "gui_remote_fft.png")
            want = render_request(G, app.current_request(), info).image
            assert want.shape[0] >= 256 and assert_shows(shot, app, want) < 2.0
            # the equivariance metrics of this latent run on the server, progress streamed to the panel
            eq = app.widget("equivariance")
            for panel in ("Layers & channels", "Performance", "Latent", "Network"):
                ctx.item_close(f"**/{panel}")
            ctx.item_open("**/Equivariance")
            ctx.item_click("**/Compute##eq")
            assert wait_until(ctx, lambda: eq.metrics is not None, 120), eq.job.error
            assert eq.metrics == here(equivariance_job(app.current_request()))
            # projection runs on the server too: each step streams back into the view, the result is the latent
            ctx.item_close("**/Equivariance")
            projection = app.widget("projection")
            assert projection.visible()
            ctx.item_open("**/Projection")
            target = app_env / "target.png"
            Image.new("RGB", (32, 32), (200, 40, 40)).save(target)
            projection.steps, projection.loss_kind = 3, "offline"
            assert projection.start(str(target))
            assert wait_until(ctx, lambda: projection.result is not None, 120), projection.message
            assert projection.message.startswith("done: 3 steps") and "projection" not in app.panel_errors
            wait_image_for_request(ctx, app, 60)
            Image.fromarray(grab_window(ctx, app)).save(artifacts_dir / "gui_remote_projection.png")
            assert_shows(grab_window(ctx, app), app,
                         render_request(G, app.current_request(), info).image)
            ctx.item_close("**/Projection")
            # the Spectra panel too: its layer list comes from the info, the spectra from the server
            spectra = app.widget("spectra")
            ctx.item_open("**/Spectra")
            for _ in range(3):
                ctx.yield_()
            assert spectra.names == ["output", *info.layer_names]
            spectra.num_samples = 2
            ctx.item_click("**/Compute##spec")
            assert wait_until(ctx, lambda: bool(spectra.curves), 120), spectra.job.error
            for _ in range(5):  # the plots fit their axes to new data over a frame or two
                ctx.yield_()
            shot = grab_window(ctx, app)
            Image.fromarray(shot).save(artifacts_dir / "gui_remote_spectra.png")
            request = app.current_request()
            want_spec = here(spectra_job(request, ["output"], 2, request.latent.seed, request.truncation.psi))
            assert np.array_equal(spectra.spectra["output"].power, want_spec["output"].power)
            # sticking and recording of the current view, on the server
            jobs = app.widget("renderer_jobs")
            ctx.item_close("**/Spectra")
            ctx.item_open("**/Sticking & recording")
            ctx.item_click("**/Measure sticking")
            assert wait_until(ctx, lambda: jobs.score is not None, 120), (jobs.sticking.error, jobs.sticking.busy,
                                                                           jobs.sticking.count, jobs.message)
            _, want_st = here(sticking_job(app.current_request(), 8, 0.2))
            assert jobs.score[0] == want_st.score
            jobs.frames = 4
            if importlib.util.find_spec("imageio_ffmpeg") is not None:
                assert jobs.start_record(app_env / "rec.mp4")
                assert wait_until(ctx, lambda: "wrote 4 frames" in jobs.message, 120), jobs.message
                assert (app_env / "rec.mp4").stat().st_size > 500
            for _ in range(3):
                ctx.yield_()
            Image.fromarray(grab_window(ctx, app)).save(artifacts_dir / "gui_remote_sticking.png")
            server.stop()  # the renderer goes away mid-session: the window stays, the status says so
            app.request = app.request.edit("latent", x=5.0)
            assert wait_until(ctx, lambda: app.backend.status().state == "disconnected", 30)
            for _ in range(3):
                ctx.yield_()
            shot = grab_window(ctx, app)
            Image.fromarray(shot).save(artifacts_dir / "gui_remote_lost.png")
            assert "no answer from" in app.backend.status().message

        try:
            run_driven(app, drive)
        finally:
            local.close()
    assert seen["diff"] < 2.0 and np.isfinite(seen["diff"])


def test_gui_child_renderer_killed_mid_render_restarts(app_env, artifacts_dir):
    """`gui --renderer child`: SIGKILL the renderer mid-render; the window stays, the status bar names the
    signal, the renderer restarts and the frame for the current state arrives."""
    import os
    import signal
    import time

    from sg3_explorer.visualizer.app import App, AppConfig
    from stylegan3.loading.native import save_native
    from stylegan3.networks.info import describe
    from stylegan3.render.pipeline import render_request

    G = tiny_net("SG3-T", res=128)  # about a second per frame on a CPU: the kill lands mid-render
    net = save_native(G, app_env / "slow.safetensors")
    app = App(AppConfig(networks=[str(net)], window_size=(1200, 800), renderer="child", cpu=True))
    seen = {}

    def drive(ctx):
        assert wait_until(ctx, lambda: app.network is not None, 90), app.loader.status
        wait_image_for_request(ctx, app, 90)
        first = app.backend.pid
        app.request = app.request.edit("latent", x=7.0)
        assert wait_until(ctx, lambda: app.backend.status().state == "busy", 10)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 0.3:
            ctx.yield_()
        os.kill(first, signal.SIGKILL)
        assert wait_until(ctx, lambda: app.backend.status().restarts == 1, 60)
        wait_image_for_request(ctx, app, 120)
        shot = grab_window(ctx, app)
        Image.fromarray(shot).save(artifacts_dir / "gui_child_restarted.png")
        status = app.backend.status()
        assert "renderer process killed by SIGKILL" in status.message and app.backend.pid != first
        want = render_request(G, app.current_request(), describe(G, str(net))).image
        seen["diff"] = assert_shows(shot, app, want)

    run_driven(app, drive)
    assert seen["diff"] < 2.0


def test_gui_child_renderer_killed_mid_projection_and_mid_export(app_env, artifacts_dir):
    """SIGKILL the child renderer while a projection streams its steps, and again while the timeline exports:
    each time the window stays up, the status bar says what happened, the renderer restarts, the job ends (its
    analysis is sent again to the new renderer, or fails with the reason) and the next frame renders."""
    import os
    import signal

    from sg3_explorer.visualizer.app import App, AppConfig
    from stylegan3.loading.native import save_native
    from stylegan3.networks.info import describe
    from stylegan3.render.pipeline import render_request

    pytest.importorskip("imageio_ffmpeg")
    G = tiny_net("SG3-T", res=64)
    net = save_native(G, app_env / "kill.safetensors")
    Image.fromarray(np.full((64, 64, 3), (30, 160, 90), np.uint8)).save(app_env / "target.png")
    app = App(AppConfig(networks=[str(net)], window_size=(1200, 800), renderer="child", cpu=True,
                        persist_settings=False))
    seen = {}

    def kill_and_recover(ctx, job_ended, restarts: int, name: str) -> None:
        pid = app.backend.pid
        os.kill(pid, signal.SIGKILL)
        assert wait_until(ctx, lambda: app.backend.status().restarts == restarts, 60)
        assert "renderer process killed by SIGKILL" in app.backend.status().message and app.backend.pid != pid
        assert wait_until(ctx, job_ended, 240)
        # the next request renders on the new renderer
        app.request = app.request.edit("latent", x=app.request.latent.x + 1.0)
        wait_image_for_request(ctx, app, 120)
        shot = grab_window(ctx, app)
        Image.fromarray(shot).save(artifacts_dir / f"gui_child_killed_mid_{name}.png")
        want = render_request(G, app.current_request(), describe(G, str(net))).image
        seen[name] = assert_shows(shot, app, want)

    def drive(ctx):
        assert wait_until(ctx, lambda: app.network is not None, 90), app.loader.status
        wait_image_for_request(ctx, app, 90)
        projection = app.widget("projection")
        projection.steps, projection.loss_kind = 12, "offline"
        assert projection.start(str(app_env / "target.png"))
        assert wait_until(ctx, lambda: projection._shown_step >= 1, 120), projection.message
        kill_and_recover(ctx, lambda: not projection.job.busy, 1, "projection")
        assert projection.result is not None or projection.message, "the projection ended without a word"
        timeline = app.widget("timeline")
        timeline.add_bookmark()
        app.request = app.request.edit("latent", x=app.request.latent.x + 3.0)
        timeline.add_bookmark()
        timeline.timeline.fps = 24.0
        assert timeline.start_export(str(app_env / "clip.mp4"), frames=48)
        assert wait_until(ctx, lambda: timeline.export.count >= 1, 120), timeline.message
        kill_and_recover(ctx, lambda: not timeline.export.busy, 2, "export")
        assert timeline.message, "the export ended without a word"
        seen["messages"] = (projection.message, timeline.message)

    run_driven(app, drive, kill_after_s=900)
    assert seen["projection"] < 2.0 and seen["export"] < 2.0


@pytest.mark.parametrize("where", ["connect", "child"])
def test_gui_directions_timeline_and_panes_render_elsewhere(app_env, artifacts_dir, monkeypatch, where):
    """Under `gui --connect` and `gui --renderer child`: a PCA direction moved, the timeline previewed at a time
    and a comparison pane each put on screen exactly what the in-process render of that request shows."""
    import contextlib

    from sg3_explorer.visualizer.app import App, AppConfig
    from sg3_explorer.visualizer.renderer import render_image
    from stylegan3.loading import load_network
    from stylegan3.loading.native import save_native

    monkeypatch.setenv("SG3_EXPLORER_CACHE", str(app_env / "cache"))
    folder = app_env / "served"
    folder.mkdir()
    G, G2 = tiny_net("SG3-T", res=32), tiny_net("SG2", res=32, seed=3)
    net, other = save_native(G, folder / "main.safetensors"), save_native(G2, folder / "other.safetensors")
    with running_server([str(folder)]) if where == "connect" else contextlib.nullcontext() as server:
        extra = dict(connect=server.address) if where == "connect" else dict(renderer="child", cpu=True)
        app = App(AppConfig(networks=[str(net)], window_size=(1200, 800), persist_settings=False, **extra))
        seen = {}

        def check(ctx, name: str) -> float:
            wait_image_for_request(ctx, app, 60)
            shot = grab_window(ctx, app)
            Image.fromarray(shot).save(artifacts_dir / f"gui_{where}_{name}.png")
            return assert_shows(shot, app, render_image(G, app.request))

        def drive(ctx):
            assert wait_until(ctx, lambda: app.network is not None, 180), (app.loader.status, app.backend.status())
            directions = app.widget("directions")
            ctx.item_open("**/Directions")
            assert directions.start_pca(64)
            assert wait_until(ctx, lambda: directions.directions is not None, 120), directions.message
            directions.set_amount(0, 3.0)
            directions.apply()
            assert app.request.moves
            seen["pca"] = check(ctx, "pca_moved")
            directions.reset()
            ctx.item_close("**/Directions")
            timeline = app.widget("timeline")
            ctx.item_open("**/Timeline")
            timeline.add_bookmark()
            app.request = app.request.edit("latent", x=6.0)
            timeline.add_bookmark()
            timeline.preview(0.5)  # what the Time slider does (driven by hand in test_gui_explore)
            assert timeline.previewing and app.request.explicit.w is not None, timeline.message
            seen["timeline"] = check(ctx, "timeline_preview")
            timeline.stop_preview()
            assert app.request.latent.x == 6.0 and app.request.explicit.w is None  # back where the view was
            ctx.item_close("**/Timeline")
            panes = app.widget("comparison")
            panes.add_pane(str(other))
            model = panes.model
            assert wait_until(ctx, lambda: model.all_shown(app.request), 90), [p.status for p in model.panes]
            pane = model.panes[0]
            assert np.array_equal(pane.image, render_image(load_network(str(other), device="cpu"),
                                                           pane.request_for(app.request)))
            for _ in range(3):
                ctx.yield_()
            Image.fromarray(grab_window(ctx, app)).save(artifacts_dir / f"gui_{where}_pane.png")

        run_driven(app, drive, kill_after_s=600)
    assert seen["pca"] < 2.0 and seen["timeline"] < 2.0
