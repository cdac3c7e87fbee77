"""The Drag panel in the real window (Xvfb + Mesa, imgui test engine): click a handle and its target on the
image, paint a mask, Start, watch the image follow with the tracked point and the arrow drawn, Stop, and the
step shown becomes the view's explicit latent and a bookmark.
"""

from __future__ import annotations

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


def _screen(app, x: float, y: float):
    """Screen position of image pixel (x, y)'s centre."""
    from imgui_bundle import imgui

    x0, y0, w, h = app.image_view.image_rect
    res = app.last_image.shape[1]
    return imgui.ImVec2(x0 + (x + 0.5) * w / res, y0 + (y + 0.5) * h / res)


def _click(ctx, app, x: float, y: float, button: int = 0) -> None:
    ctx.mouse_move_to_pos(_screen(app, x, y))
    ctx.mouse_click(button)


def _colour_at(pixels: np.ndarray, pos) -> np.ndarray:
    return pixels[int(pos.y), int(pos.x)].astype(int)


def test_drag_points_start_stop_and_keep_the_result(app_env, artifacts_dir):
    from sg3_explorer.visualizer.app import App, AppConfig
    from sg3_explorer.visualizer.renderer import render_image

    net = save_tiny(app_env / "tiny.safetensors", kind="sg2", res=32)
    app = App(AppConfig(networks=[str(net)], window_size=(1100, 860), persist_settings=False))
    app.settings.panels_open = {w.key: w.key in ("drag", "bookmarks") for w in app.widgets}
    seen = {}

    def drive(ctx):
        assert wait_until(ctx, lambda: app.network is not None, 30)
        wait_image_for_request(ctx, app)
        panel = app.widget("drag")
        bookmarks = app.widget("bookmarks")
        # Without points Start says what to do.
        ctx.item_click("**/Start##drag")
        assert "click a handle" in panel.message and not panel.job.busy
        ctx.item_click("**/Points")
        assert panel.mode == "points"
        _click(ctx, app, 12, 16)
        assert panel.pending == (12, 16)
        _click(ctx, app, 20, 16)
        _click(ctx, app, 25, 5)  # a second pair ...
        _click(ctx, app, 25, 9)
        _click(ctx, app, 25.2, 9.1, button=1)  # ... removed again by a right click next to it
        assert panel.pairs == [[12, 16, 20, 16]] and panel.pending is None
        # Paint a mask over most of the image, then erase a corner of it.
        ctx.item_click("**/Mask")
        assert panel.mode == "mask"
        panel.brush = 30
        _click(ctx, app, 16, 16)
        panel.brush = 3
        _click(ctx, app, 0, 0, button=1)
        assert panel.mask is not None and panel.mask[16, 16] == 1 and panel.mask[0, 0] == 0
        ctx.item_click("**/Pan")
        pixels = grab_window(ctx, app)
        Image.fromarray(pixels).save(artifacts_dir / "gui_drag_points.png")
        seen["handle_colour"] = _colour_at(pixels, _screen(app, 12, 16))
        seen["target_colour"] = _colour_at(pixels, _screen(app, 20, 16))
        panel.lr, panel.layers = 0.0003, 6  # slow enough to still run when Stop is clicked
        ctx.item_input_value("**/Steps##drag", 400)
        panel.mask_weight = 3.0
        ctx.item_click("**/Start##drag")
        assert panel.job.busy
        assert wait_until(ctx, lambda: panel._shown_step >= 3, 90), panel.message
        assert app.request.explicit.label.startswith("drag step")
        live = grab_window(ctx, app)  # the view follows step by step; the overlay is drawn over it
        Image.fromarray(live).save(artifacts_dir / "gui_drag_live.png")
        seen["live_target_colour"] = _colour_at(live, _screen(app, 20, 16))
        assert panel.job.busy, panel.message
        ctx.item_click("**/Stop##drag")
        assert wait_until(ctx, lambda: not panel.job.busy, 30)
        assert wait_until(ctx, lambda: panel.result is not None, 10), panel.message
        assert panel.message.startswith("stopped after"), panel.message
        assert app.request.explicit.label == "drag" and app.request.explicit.w
        assert [b.name for b in bookmarks.bookmarks] == ["drag 1"]
        assert bookmarks.bookmarks[0].request.explicit.w == app.request.explicit.w
        assert panel.pairs[0][:2] == list(panel.result.points[0])  # the handle is where it was tracked
        wait_image_for_request(ctx, app)
        after = grab_window(ctx, app)
        Image.fromarray(after).save(artifacts_dir / "gui_drag_result.png")
        # Start again from the kept result, without the mask and at a usable rate: the handle arrives.
        panel.clear_mask()
        panel.lr = 0.01
        ctx.item_click("**/Start##drag")
        assert wait_until(
            ctx,
            lambda: (
                not panel.job.busy
                and panel.result is not None
                and panel.result.step > 0
                and panel.message.startswith("done")
            ),
            120,
        ), panel.message
        assert "every handle arrived" in panel.message and [b.name for b in bookmarks.bookmarks] == ["drag 1", "drag 2"]
        seen["arrived"] = panel.result.points[0]
        wait_image_for_request(ctx, app)
        Image.fromarray(grab_window(ctx, app)).save(artifacts_dir / "gui_drag_done.png")
        # The view is the kept latent: with the points cleared it equals the headless render.
        panel.clear_points()
        wait_image_for_request(ctx, app)
        assert_shows(grab_window(ctx, app), app, render_image(reference_network(app), app.request))
        seen["steps"] = panel.result.step

    run_driven(app, drive, kill_after_s=300)  # two drags on a shared CPU: more than the default 60 s
    red, blue = seen["handle_colour"], seen["target_colour"]
    assert red[0] > 200 and red[1] < 100 and red[2] < 100, red  # the handle drawn in red
    assert blue[2] > 200 and blue[0] < 100, blue  # the target in blue
    live_blue = seen["live_target_colour"]
    assert live_blue[2] > 200 and live_blue[0] < 100, live_blue  # still drawn while the drag runs
    assert seen["steps"] >= 1
    assert abs(seen["arrived"][0] - 20) <= 1 and abs(seen["arrived"][1] - 16) <= 1
