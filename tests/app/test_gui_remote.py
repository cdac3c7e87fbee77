"""`gui --connect`: the window renders through a server on loopback; the screen shows exactly the headless
render of the same request (SG3 with translate/rotate), the Performance panel shows the transport, and a
server that dies is reported in the status bar while the window stays up."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from PIL import Image

from tests.support.gui import assert_shows, grab_window, run_driven, wait_image_for_request, wait_until
from tests.support.service import running_server, tiny_net

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
    with running_server([str(folder)]) as server:
        app = App(AppConfig(networks=[str(net)], window_size=(1200, 800), connect=server.address,
                            frame_format="png"))

        def drive(ctx):
            assert wait_until(ctx, lambda: app.network is not None, 60), app.loader.status
            assert app.network.G is None and app.network.info.kind == "SG3-R"
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
            from sg3_explorer.visualizer.analysis_jobs import equivariance_job

            assert eq.metrics == equivariance_job(G, app.request)(lambda *a: None)
            # a job that has no server side yet is refused in its panel, in words, and the panel stays up
            ctx.item_close("**/Equivariance")
            projection = app.widget("projection")
            assert projection.visible()
            ctx.item_open("**/Projection")
            target = app_env / "target.png"
            Image.new("RGB", (32, 32), (200, 40, 40)).save(target)
            assert not projection.start(str(target)) and not projection.job.busy
            for _ in range(3):
                ctx.yield_()
            Image.fromarray(grab_window(ctx, app)).save(artifacts_dir / "gui_remote_projection_refused.png")
            assert projection.message.startswith(f"project target.png: not available while the network is "
                                                 f"rendered in the server {server.address}")
            assert "projection" not in app.panel_errors
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
            from sg3_explorer.visualizer.analysis_jobs import spectra_job

            seed, psi = app.request.latent.seed, app.request.truncation.psi
            want_spec = spectra_job(G, ["output"], 2, seed, psi)(lambda *a: None)
            assert np.array_equal(spectra.spectra["output"].power, want_spec["output"].power)
            # sticking and recording of the current view, on the server
            jobs = app.widget("renderer_jobs")
            ctx.item_close("**/Spectra")
            ctx.item_open("**/Sticking & recording")
            ctx.item_click("**/Measure sticking")
            assert wait_until(ctx, lambda: jobs.score is not None, 120), jobs.sticking.error
            from sg3_explorer.visualizer.comparison import StickingSettings, sticking_job_fn

            _, want_st = sticking_job_fn(G, app.request, StickingSettings(samples=8, sigma=0.2))(lambda *a: None)
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

        run_driven(app, drive)
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
