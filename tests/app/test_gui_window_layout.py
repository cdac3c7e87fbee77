"""The window at 1280x800 (the default) and 2560x1440: every panel header inside the window, the Session panel
scrolled into view when opened, its path field naming the `--session` file, slider values beside the sliders,
the Performance panel's two rates and its CUDA-graphs box off on the CPU, and the UI scale sizing text and
controls. Screenshots in tests/_artifacts (gui_layout_*.png)."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.support.gui import grab_window, run_driven, wait_image_for_request, wait_until, xvfb
from tests.support.nets import save_tiny

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def display():
    """A screen large enough for a 2560x1440 window (the default test screen is 1600x1000)."""
    with xvfb(screen="2600x1500x24") as d:
        yield d


def _panel_titles(app) -> list[str]:
    return [w.title for w in app.widgets if w.visible()]


def _inside(rect, width: float, height: float) -> bool:
    return rect.min.x >= 0 and rect.min.y >= 0 and rect.max.x <= width and rect.max.y <= height


def test_layout_at_1280x800(app_env, artifacts_dir):
    from imgui_bundle import imgui

    from sg3_explorer.visualizer.app import App, AppConfig
    from stylegan3.documents.request import NetworkRef, RenderRequest
    from stylegan3.documents.session import Session, save_session

    net = save_tiny(app_env / "tiny_sg3r.safetensors", kind="SG3-R", res=32)
    session_file = app_env / "mine.sg3session.json"
    shown = RenderRequest(network=NetworkRef(str(net))).with_seed(5).edit("truncation", psi=0.6)
    save_session(session_file, Session(request=shown))
    app = App(AppConfig(networks=[str(net)], window_size=(1280, 800), session=session_file))
    seen = {}

    def drive(ctx):
        assert wait_until(ctx, lambda: app.network is not None, 60), app.loader.status
        wait_image_for_request(ctx, app, 60)
        assert app.request.latent.seed == 5
        assert app.widget("bookmarks").path == str(session_file)  # not the default path
        shot = grab_window(ctx, app)
        Image.fromarray(shot).save(artifacts_dir / "gui_layout_1280_default.png")
        h, w = shot.shape[:2]
        assert (w, h) == (1280, 800)
        # the default layout fits: every panel's header lies inside the window, above the status bar
        for title in _panel_titles(app):
            rect = ctx.item_info(f"**/{title}").rect_clipped
            assert _inside(rect, w, h - 20) and rect.get_height() > 10, (title, rect.min, rect.max)
        # opened, the Session panel scrolls into view: its buttons are on screen, not cut off
        ctx.item_open("**/Session & bookmarks")
        for _ in range(3):
            ctx.yield_()
        for item in ("**/##session_path", "**/Open session", "**/Add bookmark"):
            info = ctx.item_info(item)
            assert info.rect_clipped.get_height() == pytest.approx(info.rect_full.get_height()), item
            assert _inside(info.rect_full, w, h - 20), (item, info.rect_full.min, info.rect_full.max)
        Image.fromarray(grab_window(ctx, app)).save(artifacts_dir / "gui_layout_1280_session.png")
        ctx.item_close("**/Session & bookmarks")
        ctx.item_close("**/Network")
        ctx.item_input_value("**/Psi", 0.75)  # typing into a slider still works (its format returns while typing)
        assert app.request.truncation.psi == pytest.approx(0.75)
        seen["psi"] = ctx.item_info("**/Psi").rect_full
        ctx.item_open("**/Performance")
        cuda = ctx.item_info("**/CUDA graphs")
        assert cuda.item_flags & imgui.ItemFlags_.disabled  # frames are rendered on the CPU here
        wait_image_for_request(ctx, app, 60)
        for _ in range(12):  # a few render times for the image rate
            ctx.yield_()
        Image.fromarray(grab_window(ctx, app)).save(artifacts_dir / "gui_layout_1280_performance.png")
        ctx.item_close("**/Performance")
        ctx.item_open("**/Equivariance")
        ctx.item_input_value("**/Speed##xlate", 0.25)
        assert app.widget("equivariance").speed_t == pytest.approx(0.25)
        for _ in range(3):
            ctx.yield_()
        Image.fromarray(grab_window(ctx, app)).save(artifacts_dir / "gui_layout_1280_panels.png")
        # direction sliders: a seed-set direction, its slider typed into, the value beside it
        ctx.item_close("**/Equivariance")
        ctx.item_close("**/Latent")
        ctx.item_close("**/Truncation & noise")
        ctx.item_open("**/Directions")
        ctx.item_open("**/User directions")
        ctx.item_click("**/Add mean difference A -> B")
        directions = app.widget("directions")
        assert directions.directions is not None, directions.message
        label = directions.directions.labels[0]
        ctx.item_input_value(f"**/{label}", 1.5)
        assert directions.amounts[0] == pytest.approx(1.5)
        for _ in range(3):
            ctx.yield_()
        Image.fromarray(grab_window(ctx, app)).save(artifacts_dir / "gui_layout_1280_directions.png")

    run_driven(app, drive)
    assert seen["psi"].max.x < 360  # the psi slider leaves room for its value and label in the 24-em column


def test_layout_at_2560x1440_and_ui_scale(app_env, artifacts_dir):
    from imgui_bundle import imgui

    from sg3_explorer.visualizer.app import App, AppConfig

    net = save_tiny(app_env / "tiny_sg2.safetensors", kind="SG2", res=32)
    # 1.75: 2560x1440 holds as much as 1463x823 at scale 1, more than the default window, so the layout fits
    app = App(AppConfig(networks=[str(net)], window_size=(2560, 1440), ui_scale=1.75))
    seen = {}

    def drive(ctx):
        assert wait_until(ctx, lambda: app.network is not None, 60), app.loader.status
        wait_image_for_request(ctx, app, 60)
        shot = grab_window(ctx, app)
        Image.fromarray(shot).save(artifacts_dir / "gui_layout_2560_scale175.png")
        h, w = shot.shape[:2]
        assert (w, h) == (2560, 1440)
        for title in _panel_titles(app):
            rect = ctx.item_info(f"**/{title}").rect_clipped
            assert _inside(rect, w, h - 40), (title, rect.min, rect.max)
        seen["header_big"] = ctx.item_info("**/Network").rect_full
        seen["padding_big"] = imgui.get_style().frame_padding.y
        app.set_ui_scale(1.0)
        for _ in range(3):
            ctx.yield_()
        seen["header1"] = ctx.item_info("**/Network").rect_full
        seen["padding1"] = imgui.get_style().frame_padding.y
        Image.fromarray(grab_window(ctx, app)).save(artifacts_dir / "gui_layout_2560_scale1.png")

    run_driven(app, drive)
    big, small = seen["header_big"], seen["header1"]
    assert big.get_width() == pytest.approx(1.75 * small.get_width(), rel=0.05)  # the column is 24 em wide
    assert big.get_height() == pytest.approx(1.75 * small.get_height(), rel=0.1)  # text and padding scale
    assert seen["padding_big"] == pytest.approx(1.75 * seen["padding1"])
    assert app.settings.ui_scale == 1.0


def test_ui_scale_option_is_checked(capsys):
    from sg3_explorer.visualizer.cli import main

    assert main(["gui", "--ui-scale", "9", "--no-settings"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: sg3-explorer gui: argument --ui-scale: UI scale 9 is outside 0.5 to 3 (see sg3-explorer gui --help)"
    ]
