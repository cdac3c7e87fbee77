"""Session & bookmarks panel in a real window: add / rename / delete / click bookmarks, save and open a session;
the screen shows exactly what the session file renders headless (and what `render --session` writes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support.gui import (
    assert_shows,
    grab_window,
    reference_network,
    run_driven,
    wait_image_for_request,
    wait_until,
)
from tests.support.nets import save_tiny

pytestmark = pytest.mark.gui


def test_bookmarks_and_sessions(app_env, artifacts_dir):
    from sg3_explorer.visualizer.app import App, AppConfig
    from sg3_explorer.visualizer.renderer import render_image
    from stylegan3.cli.main import main
    from stylegan3.documents.session import load_session
    from stylegan3.networks.info import describe
    from stylegan3.render.pipeline import render_request

    net = save_tiny(app_env / "tiny_sg2.safetensors", kind="sg2", res=32)
    app = App(AppConfig(networks=[str(net)], window_size=(1200, 900)))
    app.settings.capture_dir = str(app_env / "captures")
    session_path = app_env / "mine.sg3session.json"
    seen = {}

    def drive(ctx):
        assert wait_until(ctx, lambda: app.network is not None, 30), app.loader.status
        panel = app.widget("bookmarks")
        assert panel is not None
        G = reference_network(app)
        ctx.item_input_value("**/Seed", 3)
        wait_image_for_request(ctx, app)
        ctx.item_open("**/Session & bookmarks")  # closed at start
        ctx.item_input_value("**/##bookmark_name", "first")  # Enter adds it
        assert [b.name for b in panel.bookmarks] == ["first"]
        assert panel.bookmarks[0].request.latent.x == 3.0
        ctx.item_input_value("**/Seed", 9)
        ctx.item_input_value("**/Psi", 0.5)
        ctx.item_click("**/Add bookmark")  # no name: named after the seed
        ctx.item_input_value("**/##bookmark_name", "scratch")
        assert [b.name for b in panel.bookmarks] == ["first", "seed 9", "scratch"]
        ctx.item_close("**/Network")  # room for the list's last row above the status bar
        ctx.item_click("**/bm0/Rename")
        ctx.item_input_value("**/bm0/##rename", "home")
        ctx.item_click("**/bm2/x")
        assert [b.name for b in panel.bookmarks] == ["home", "seed 9"]
        wait_image_for_request(ctx, app)
        shot = grab_window(ctx, app)
        Image.fromarray(shot).save(artifacts_dir / "gui_bookmarks_list.png")

        ctx.item_click("**/bm0/home##go")  # back to seed 3, psi 1
        assert app.request.latent.x == 3.0 and app.request.truncation.psi == 1.0
        wait_image_for_request(ctx, app)
        shot = grab_window(ctx, app)
        Image.fromarray(shot).save(artifacts_dir / "gui_bookmark_home.png")
        assert_shows(shot, app, render_image(G, app.request))

        ctx.item_click("**/bm1/seed 9##go")
        assert app.request.latent.x == 9.0 and app.request.truncation.psi == pytest.approx(0.5)
        ctx.item_input_value("**/##session_path", str(session_path))
        ctx.item_click("**/Save session")
        assert session_path.is_file(), panel.message
        seen["saved"] = app.current_request()

        ctx.item_input_value("**/Seed", 20)  # wander off, forget the bookmarks, then open the session again
        panel.bookmarks.clear()
        ctx.item_click("**/Open session")
        assert app.current_request() == seen["saved"], panel.message
        assert [b.name for b in panel.bookmarks] == ["home", "seed 9"]
        wait_image_for_request(ctx, app)
        shot = grab_window(ctx, app)
        Image.fromarray(shot).save(artifacts_dir / "gui_session_opened.png")
        session = load_session(session_path)
        seen["expected"] = render_request(G, session.request, describe(G, str(net))).image
        assert_shows(shot, app, seen["expected"])

    run_driven(app, drive)
    out = app_env / "out"
    assert main(["render", "--session", str(session_path), "--device", "cpu", "--outdir", str(out)]) == 0
    assert np.array_equal(np.asarray(Image.open(out / "mine.png")), seen["expected"])
    assert Path(out / "mine.png").stat().st_size > 100


def test_a_bookmark_goes_to_the_timeline_and_back(app_env, artifacts_dir):
    """Add a bookmark, send it to the timeline, wander off, return to it from the timeline key; keep a key made
    in the Timeline panel as a bookmark and return to that from the Bookmarks panel. The screen shows each."""
    from sg3_explorer.visualizer.app import App, AppConfig
    from sg3_explorer.visualizer.renderer import render_image

    net = save_tiny(app_env / "tiny_sg2.safetensors", kind="sg2", res=32)
    app = App(AppConfig(networks=[str(net)], window_size=(1200, 900)))
    app.settings.capture_dir = str(app_env / "captures")

    def drive(ctx):
        assert wait_until(ctx, lambda: app.network is not None, 30), app.loader.status
        marks, timeline = app.widget("bookmarks"), app.widget("timeline")
        G = reference_network(app)
        ctx.item_input_value("**/Seed", 3)
        ctx.item_input_value("**/Psi", 0.5)
        ctx.item_open("**/Session & bookmarks")  # closed at start
        ctx.item_input_value("**/##bookmark_name", "three")
        ctx.item_click("**/bm0/to timeline")
        assert [k.label for k in timeline.timeline.keyframes] == ["three"], marks.message
        assert timeline.timeline.keyframes[0].bookmark is marks.bookmarks[0]
        ctx.item_input_value("**/Seed", 8)
        ctx.item_input_value("**/Psi", 1.0)
        ctx.item_open("**/Timeline")  # opened only now: the side bar has room for one of the two lists
        ctx.item_click("**/Add keyframe")
        ctx.item_click("**/key1/bookmark")  # the timeline's own key kept as a bookmark
        assert [b.name for b in marks.bookmarks] == ["three", "seed 8"], timeline.message
        ctx.item_input_value("**/Seed", 20)
        ctx.item_click("**/key0/0: three##go")  # back to the bookmark from its timeline key
        assert (app.request.latent.x, app.request.truncation.psi) == (3.0, pytest.approx(0.5))
        assert timeline.message == "back to 'three'"
        wait_image_for_request(ctx, app)
        shot = grab_window(ctx, app)
        Image.fromarray(shot).save(artifacts_dir / "gui_bookmark_timeline_three.png")
        assert_shows(shot, app, render_image(G, app.request))
        three = render_image(G, app.request)
        ctx.item_close("**/Timeline")
        ctx.item_click("**/bm1/seed 8##go")
        assert app.request.latent.x == 8.0 and app.request.truncation.psi == 1.0
        wait_image_for_request(ctx, app)
        shot = grab_window(ctx, app)
        Image.fromarray(shot).save(artifacts_dir / "gui_bookmark_timeline_eight.png")
        assert_shows(shot, app, render_image(G, app.request))
        assert not np.array_equal(render_image(G, app.request), three)

    run_driven(app, drive)
