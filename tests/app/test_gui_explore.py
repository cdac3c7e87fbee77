"""The directions, projection and timeline panels in the real window (Xvfb + Mesa, imgui test engine).

Each test drives its panel like a user (typing, clicking, dropping a file) and checks the pixels: the image
region of the window must equal the headless `render_image` of the app's state, and for the timeline also the
library's `render_at` of the exported timeline at that time.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.support.gui import (
    assert_shows,
    grab_window,
    mean_abs_diff,
    reference_network,
    run_driven,
    wait_image_for_request,
    wait_until,
)
from tests.support.nets import save_tiny, tiny_net

pytestmark = pytest.mark.gui


def make_app(tmp_path, networks, open_panels=()):
    from sg3_explorer.visualizer.app import App, AppConfig

    app = App(AppConfig(networks=networks, window_size=(1100, 860), persist_settings=False))
    app.settings.capture_dir = str(tmp_path / "captures")
    app.settings.panels_open = {w.key: w.key in open_panels for w in app.widgets}
    return app


def shot(ctx, app, artifacts_dir, name: str) -> np.ndarray:
    """Window screenshot (saved to look at), checked against the headless render; returns the image region at
    the network's resolution."""
    from sg3_explorer.visualizer.renderer import render_image
    from tests.support.gui import sample_cells

    wait_image_for_request(ctx, app)
    pixels = grab_window(ctx, app)
    Image.fromarray(pixels).save(artifacts_dir / f"gui_explore_{name}.png")
    expected = render_image(reference_network(app), app.request)
    assert_shows(pixels, app, expected)
    return sample_cells(pixels, app.image_view.image_rect, expected.shape[:2])


def test_direction_sliders_move_the_image(app_env, artifacts_dir, monkeypatch):
    monkeypatch.setenv("SG3_EXPLORER_CACHE", str(app_env / "cache"))  # the PCA cache of this test only
    net = save_tiny(app_env / "tiny.safetensors", kind="sg2", res=32)
    app = make_app(app_env, [str(net)], open_panels=("directions",))
    seen = {}

    def drive(ctx):
        assert wait_until(ctx, lambda: app.network is not None, 30)
        before = shot(ctx, app, artifacts_dir, "directions_before")
        panel = app.widget("directions")
        ctx.item_input_value("**/Samples", 2000)
        ctx.item_click("**/Compute PCA")
        assert wait_until(ctx, lambda: panel.directions is not None, 60), panel.message
        assert len(panel.directions) == 16 and "2000 samples" in panel.message
        assert len(list((app_env / "cache" / "directions").glob("*-pca-2000-s0.npz"))) == 1  # cached per network
        ctx.item_input_value("**/PC0", 3.0)
        assert panel.amounts[0] == pytest.approx(3.0)
        moves = app.request.moves  # carried by value: unit vector, strength = amount x sigma, ws range
        d = panel.directions
        all_ws = tuple(range(int(reference_network(app).num_ws)))
        strength = pytest.approx(3.0 * float(d.sigmas[0]))
        assert [(m.label, m.strength, m.ws) for m in moves] == [("PC0", strength, all_ws)]
        np.testing.assert_array_equal(np.asarray(moves[0].vector, dtype=np.float32), d.vectors[0])
        moved = shot(ctx, app, artifacts_dir, "directions_pc0")
        seen["diff"] = mean_abs_diff(moved, before)
        # The same move on the coarse ws only is yet another image.
        panel.set_amount(0, 3.0, ws="coarse")
        coarse = shot(ctx, app, artifacts_dir, "directions_pc0_coarse")
        assert mean_abs_diff(coarse, moved) > 0.5
        # Save and load the file; sliders come back at zero, and the image with them.
        path = app_env / "d.npz"
        panel.save(str(path))
        assert path.is_file() and "saved" in panel.message
        ctx.item_input_value("**/##dirpath", str(path))
        ctx.item_click("**/Load##dirs")
        assert "loaded 16 directions" in panel.message
        assert app.request.moves == ()
        back = shot(ctx, app, artifacts_dir, "directions_reset")
        assert mean_abs_diff(back, before) < 0.5
        (app_env / "bad.npz").write_text("nope")
        panel.load(str(app_env / "bad.npz"))
        assert "not a readable direction file" in panel.message
        # User directions: bookmark A -> B and the mean difference of two seed sets join the loaded ones.
        timeline = app.widget("timeline")
        for seed in (2, 5):
            app.request = app.request.edit("latent", x=float(seed))
            timeline.add_bookmark()
        app.request = app.request.edit("latent", x=0.0)
        ctx.item_open("**/User directions")
        ctx.item_click("**/Add bookmark A -> B")
        ctx.item_click("**/Add mean difference A -> B")
        assert panel.directions.labels[16:] == ["B0->B1", "0-9->10-19"], panel.message
        assert panel.visible_indices()[:3] == [16, 17, 0]  # user directions listed first
        ctx.item_input_value("**/B0->B1", 1.0)  # +1 sigma walks from seed 2's w to seed 5's: here, on seed 0
        assert panel.amounts[16] == pytest.approx(1.0)
        import torch

        from sg3_explorer.visualizer.renderer import view_ws
        from stylegan3.explore.interpolation import seed_ws

        G = reference_network(app)
        expected = seed_ws(G, [0]) + (seed_ws(G, [5]) - seed_ws(G, [2]))
        assert torch.allclose(view_ws(G, app.request), expected, atol=1e-5)
        shot(ctx, app, artifacts_dir, "directions_user")

    run_driven(app, drive)
    assert seen["diff"] > 1.0


def test_project_from_a_file_and_from_a_drop(app_env, artifacts_dir):
    import torch

    from stylegan3.explore.interpolation import seed_ws
    from stylegan3.render.images import to_numpy_rgb

    net = save_tiny(app_env / "tiny.safetensors", kind="sg2", res=32)
    G = tiny_net(kind="sg2", res=32)
    with torch.no_grad():
        Image.fromarray(to_numpy_rgb(G.synthesis(seed_ws(G, [7]), noise_mode="const"))).save(app_env / "me.png")
    (app_env / "fake.png").write_text("not a picture")
    app = make_app(app_env, [str(net)], open_panels=("projection", "timeline"))
    seen = {}

    def drive(ctx):
        assert wait_until(ctx, lambda: app.network is not None, 30)
        start = shot(ctx, app, artifacts_dir, "projection_before")
        panel = app.widget("projection")
        ctx.item_input_value("**/Image", str(app_env / "me.png"))
        ctx.item_input_value("**/Steps", 12)
        ctx.item_click("**/Project")
        assert panel.job.busy or panel.result is not None
        saw_live = wait_until(ctx, lambda: panel._shown_step >= 1, 60)
        assert saw_live and app.request.explicit.label.startswith("projection")
        assert wait_until(ctx, lambda: panel.result is not None, 120), panel.message
        assert "PSNR" in panel.message and "bookmark 0" in panel.message
        assert "loss: offline" in panel.loss_text  # which loss the backend used is on screen
        timeline = app.widget("timeline")
        assert len(timeline.timeline.keyframes) == 1 and timeline.timeline.keyframes[0].request.explicit.w
        result = shot(ctx, app, artifacts_dir, "projection_result")
        target = np.asarray(Image.open(app_env / "me.png"))
        seen["closer"] = (mean_abs_diff(result, target), mean_abs_diff(start, target))
        # A drop of a picture projects it (the GLFW drop callback feeds handle_drop); Cancel stops it.
        panel.steps = 400
        app.handle_drop([str(app_env / "me.png")])
        assert panel.job.busy
        assert wait_until(ctx, lambda: panel._shown_step >= 1, 60)
        ctx.item_click("**/Cancel##projection")
        assert wait_until(ctx, lambda: not panel.job.busy, 30)
        ctx.yield_()
        assert panel.message == "projection cancelled"
        assert len(timeline.timeline.keyframes) == 1  # a cancelled run makes no bookmark
        # A dropped file that is not an image is a message, and no network load.
        app.handle_drop([str(app_env / "fake.png")])
        assert "not an image file" in panel.message and not app.loader.busy
        shot(ctx, app, artifacts_dir, "projection_panel")
        # File > Project image... opens the dialog.
        assert not panel.dialog_visible
        ctx.menu_click("##MainMenuBar/File/Project image...")
        assert wait_until(ctx, lambda: panel.dialog_visible, 10)
        ctx.yield_()
        pixels = grab_window(ctx, app)
        Image.fromarray(pixels).save(artifacts_dir / "gui_explore_projection_dialog.png")
        ctx.item_click("**/Close")
        assert wait_until(ctx, lambda: not panel.dialog_visible, 10)

    run_driven(app, drive)
    after, before = seen["closer"]
    assert after < before, f"the projection did not get closer to the target ({before:.1f} -> {after:.1f})"


def test_timeline_scrub_preview_is_the_exported_frame(app_env, artifacts_dir):
    pytest.importorskip("imageio_ffmpeg")
    from stylegan3.documents.timeline import load_timeline
    from stylegan3.render.timeline import render_at, resolve_timeline

    net = save_tiny(app_env / "tiny.safetensors", kind="sg2", res=32)
    app = make_app(app_env, [str(net)], open_panels=("latent", "timeline"))
    out = app_env / "clip.mp4"

    def drive(ctx):
        assert wait_until(ctx, lambda: app.network is not None, 30)
        panel = app.widget("timeline")
        ctx.item_input_value("**/Seed", 1)
        ctx.item_click("**/Add keyframe")
        ctx.item_input_value("**/Seed", 4)
        ctx.item_click("**/Add keyframe")
        assert [k.request.latent.x for k in panel.timeline.keyframes] == [1.0, 4.0]
        panel.timeline.keyframes[0].duration = 1.0
        panel.timeline.fps = 6.0
        ctx.item_input_value("**/Time", 0.5)
        assert panel.previewing and panel.time == pytest.approx(0.5)
        shown = shot(ctx, app, artifacts_dir, "timeline_scrub")
        G = reference_network(app)
        expected = render_at(G, panel.resolved(), 0.5)
        assert mean_abs_diff(shown, expected) < 2.0
        # Export: exactly N frames, N = duration x fps + 1, with a progress bar while it runs.
        ctx.item_input_value("**/##mp4", str(out))
        ctx.item_click("**/Export mp4")
        assert wait_until(ctx, lambda: panel.export.busy or out.exists(), 10)
        saw_progress = panel.export.busy
        ctx.yield_()
        Image.fromarray(grab_window(ctx, app)).save(artifacts_dir / "gui_explore_timeline_export.png")
        assert wait_until(ctx, lambda: not panel.export.busy, 120)
        ctx.yield_()
        assert panel.message == f"wrote {out}: 7 frames", panel.message
        assert saw_progress or out.exists()
        ctx.item_input_value("**/##json", str(app_env / "t.json"))
        ctx.item_click("**/Save##tl")
        ctx.item_click("**/Leave")
        assert app.request.explicit.w is None
        shot(ctx, app, artifacts_dir, "timeline_left")

    run_driven(app, drive)
    import imageio.v2 as imageio

    with imageio.get_reader(str(out)) as reader:
        frames = [np.asarray(f) for f in reader]
    assert len(frames) == 7
    tl = load_timeline(app_env / "t.json")
    G = tiny_net(kind="sg2", res=32)
    r = resolve_timeline(G, tl)
    # H.264 with 4:2:0 chroma is lossy on a 32 px colour texture: frame 3 is the closest to the t = 0.5 s preview.
    diffs = [mean_abs_diff(frames[3], render_at(G, r, k / 6)) for k in range(7)]
    assert int(np.argmin(diffs)) == 3, diffs
