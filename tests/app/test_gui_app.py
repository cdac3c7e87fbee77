"""The real app on a virtual X display (Xvfb + Mesa), driven by Dear ImGui's test engine.

Each test opens the window on a tiny network saved by our own code, drives the panels like a user would (typing
into fields, clicking, pressing keys), and checks the render state and the pixels on screen: the image region
of a window screenshot must equal a headless `render_image` of the same state, up to scaling.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support.gui import (
    assert_shows,
    grab_window,
    mean_abs_diff,
    reference_network,
    run_driven,
    sample_cells,
    wait_image_for_request,
    wait_until,
    write_hostile_pickle,
)
from tests.support.nets import save_tiny

pytestmark = pytest.mark.gui
REPO = Path(__file__).resolve().parents[2]


def make_app(tmp_path: Path, networks: list[str], **kw):
    from sg3_explorer.visualizer.app import App, AppConfig

    app = App(AppConfig(networks=networks, window_size=(1200, 760), **kw))
    app.settings.capture_dir = str(tmp_path / "captures")
    return app


def save_artifact(artifacts_dir: Path, name: str, pixels: np.ndarray) -> None:
    Image.fromarray(pixels).save(artifacts_dir / name)


def test_seed_psi_and_pixels(app_env, artifacts_dir):
    """Change seed (typed and with the arrow keys) and psi; the screen shows exactly the headless render."""
    from sg3_explorer.visualizer.renderer import render_image

    net = save_tiny(app_env / "tiny_sg2.safetensors", kind="sg2", res=32)
    app = make_app(app_env, [str(net)])
    seen = {}

    def drive(ctx):
        assert wait_until(ctx, lambda: app.network is not None, 30), app.loader.status
        wait_image_for_request(ctx, app)
        G = reference_network(app)
        first = grab_window(ctx, app)
        save_artifact(artifacts_dir, "gui_seed0.png", first)
        seen["diff0"] = assert_shows(first, app, render_image(G, app.request))

        ctx.item_input_value("**/Seed", 5)
        assert app.request.latent.x == 5.0
        wait_image_for_request(ctx, app)
        shot = grab_window(ctx, app)
        seen["diff5"] = assert_shows(shot, app, render_image(G, app.request))
        # ...and it is a different picture from seed 0.
        assert mean_abs_diff(shot, first) > 1.0

        ctx.item_input_value("**/Psi", 0.5)
        assert app.request.truncation.psi == pytest.approx(0.5)
        wait_image_for_request(ctx, app)
        shot = grab_window(ctx, app)
        save_artifact(artifacts_dir, "gui_seed5_psi0.5.png", shot)
        assert_shows(shot, app, render_image(G, app.request))

        ctx.mouse_move_to_pos(imgui_vec(app, 0.5, 0.5))  # keys go to the app, not to a text field
        ctx.key_press(imgui_key("right_arrow"))
        assert app.request.latent.x == 6.0
        ctx.key_press(imgui_key("down_arrow"))
        assert app.request.latent.x == -4.0
        ctx.key_press(imgui_key("up_arrow"))
        ctx.key_press(imgui_key("left_arrow"))
        assert app.request.latent.x == 5.0
        latent = app.widget("latent")
        ctx.key_press(imgui_key("space"))
        assert latent.anim
        ctx.yield_()
        ctx.yield_()
        ctx.key_press(imgui_key("space"))
        assert not latent.anim
        assert app.request.latent.x > 5.0  # the animation moved through the seed plane
        ctx.item_drag_with_delta("**/Drag", imgui_vec_delta(50, -25))  # walk the seed plane with the mouse
        lat = app.request.latent
        assert lat.x == pytest.approx(6.0, abs=0.3) and lat.y == pytest.approx(-0.5, abs=0.3)
        assert app.window_title.endswith("tiny_sg2.safetensors (SG2)")
        ctx.item_click("**/Snap")
        assert app.request.latent.x == round(app.request.latent.x)
        wait_image_for_request(ctx, app)
        assert_shows(grab_window(ctx, app), app, render_image(G, app.request))

    run_driven(app, drive)
    assert seen["diff0"] < 3.0 and seen["diff5"] < 3.0


def imgui_key(name: str):
    from imgui_bundle import imgui

    return getattr(imgui.Key, name)


def imgui_vec(app, fx: float, fy: float):
    """Screen position at a fraction of the shown image."""
    from imgui_bundle import imgui

    x0, y0, w, h = app.image_view.image_rect
    return imgui.ImVec2(x0 + fx * w, y0 + fy * h)


def test_failing_panel_shows_error_and_app_keeps_running(app_env):
    net = save_tiny(app_env / "tiny.safetensors", kind="sg2", res=32)
    app = make_app(app_env, [str(net)])
    capture = app.widget("capture")

    def broken_draw():
        from imgui_bundle import imgui

        imgui.begin_group()  # left open on purpose: imgui must recover
        raise ValueError("boom")

    capture.draw = broken_draw

    def drive(ctx):
        ctx.item_open("**/Capture")
        for _ in range(5):
            ctx.yield_()
        assert app.panel_errors == {"capture": "ValueError: boom"}
        ctx.item_input_value("**/Seed", 2)  # the rest of the window still works
        assert app.request.latent.x == 2.0

    app.run(test_function=drive)


def test_broken_and_hostile_files_keep_app_running(app_env, artifacts_dir):
    """Typed path to a broken file, a hostile pickle, a dropped missing file: a message each, last image stays."""
    net = save_tiny(app_env / "tiny.safetensors", kind="sg2", res=32)
    broken = app_env / "broken.pkl"
    broken.write_bytes(b"\x80\x04this is not a pickle")
    marker = app_env / "pwned"
    hostile = write_hostile_pickle(app_env / "hostile.pkl", marker)
    app = make_app(app_env, [str(net)])

    def drive(ctx):
        assert wait_until(ctx, lambda: app.network is not None, 30)
        wait_image_for_request(ctx, app)
        shown = app.last_image.copy()

        ctx.item_input_value("**/##path", str(broken))
        ctx.item_click("**/Load")
        assert wait_until(ctx, lambda: not app.loader.busy, 20)
        assert app.loader.status.error, "a broken file must give an error message"
        assert "broken.pkl" in (app.loader.status.error + app.loader.status.source)
        ctx.yield_()
        save_artifact(artifacts_dir, "gui_broken_file.png", grab_window(ctx, app))
        assert app.network.source == str(net)  # still the previous network
        assert np.array_equal(app.last_image, shown)  # the last good image stays on screen

        ctx.item_input_value("**/##path", str(hostile))
        ctx.item_click("**/Load")
        assert wait_until(ctx, lambda: not app.loader.busy, 20)
        assert app.loader.status.error
        err_hostile = app.loader.status.error

        app.handle_drop([str(app_env / "does_not_exist.pkl")])
        assert wait_until(ctx, lambda: app.loader.status.source.endswith("does_not_exist.pkl") and
                          not app.loader.busy, 20)
        assert app.loader.status.error

        # Dropping a good file loads it and clears the error (the GLFW drop callback feeds handle_drop).
        assert app.drop_enabled
        app.handle_drop([str(net)])
        assert wait_until(ctx, lambda: app.loader.status.error is None and not app.loader.busy, 20)
        wait_image_for_request(ctx, app)

        # The in-window file browser lists network files of a folder; clicking one loads it.
        (app_env / "sub").mkdir()
        other = save_tiny(app_env / "sub" / "other.safetensors", kind="sg2", res=32, seed=1)
        app.widget("network").browse_dir = str(app_env)
        ctx.item_click("**/Browse...")
        ctx.item_click("**/sub\\/")  # a literal "/" in a label is escaped in test-engine paths
        ctx.item_click("**/other.safetensors")
        assert wait_until(ctx, lambda: app.network.source == str(other), 20)
        seen["hostile"] = err_hostile

    seen = {}
    run_driven(app, drive)
    assert not marker.exists(), "the hostile pickle was executed"
    assert "\n" not in seen["hostile"]


def test_panels_capture_help_and_view(app_env, artifacts_dir):
    """Style mix, class label, noise, cutoff, force fp32, capture buttons, help popup, zoom/1:1/fit, settings."""
    from imgui_bundle import imgui

    from sg3_explorer.visualizer.renderer import render_image
    from sg3_explorer.visualizer.settings import load_settings

    net = save_tiny(app_env / "tiny_cond.safetensors", kind="sg2", c_dim=4, res=32)
    app = make_app(app_env, [str(net)])

    def drive(ctx):
        assert wait_until(ctx, lambda: app.network is not None, 30)
        wait_image_for_request(ctx, app)
        G = reference_network(app)
        assert app.network.info.kind == "SG2" and app.network.info.c_dim == 4

        ctx.item_input_value("**/Class", 2)
        assert app.request.latent.class_idx == 2

        ctx.item_open("**/Style mixing")
        ctx.item_input_value("**/Mix seed", 7)
        ctx.item_click("**/ 3##ws3")
        ctx.item_click("**/ 4##ws4")
        assert app.request.mix.seed == 7 and app.request.mix.ws == (3, 4)

        ctx.item_input_value("**/Cutoff", 2)
        assert app.request.truncation.cutoff == 2
        ctx.item_click("**/random")
        assert app.request.noise.mode == "random"
        ctx.item_input_value("**/Noise seed", 3)
        assert app.request.noise.seed == 3

        ctx.item_open("**/Performance")
        ctx.item_click("**/Force FP32")
        assert app.request.synthesis.force_fp32
        # on by default; frames rendered on the CPU: the box is off and disabled (its reason is shown), a click
        # changes nothing
        assert app.request.synthesis.cuda_graphs
        assert ctx.item_info("**/CUDA graphs").item_flags & imgui.ItemFlags_.disabled
        ctx.item_click("**/CUDA graphs")
        assert app.request.synthesis.cuda_graphs
        ctx.item_click("**/Vertical sync")
        assert app.settings.vsync is False
        ctx.item_input_value("**/FPS limit", 30)
        assert app.settings.fps_limit == 30
        wait_image_for_request(ctx, app)
        shot = grab_window(ctx, app)
        save_artifact(artifacts_dir, "gui_panels.png", shot)
        assert_shows(shot, app, render_image(G, app.request))
        assert app.render_times.mean_ms() > 0 and len(app.gui_times) > 5

        for header in ("Style mixing", "Truncation & noise", "Latent"):  # keep the next panels in view
            ctx.item_close(f"**/{header}")
        ctx.item_open("**/Capture")
        ctx.item_click("**/Save image")
        saved = sorted((app_env / "captures").glob("image_*.png"))
        assert len(saved) == 1 and "saved" in app.capture_message
        img = np.asarray(Image.open(saved[0]))
        assert img.shape == (32, 32, 3) and np.array_equal(img, app.last_image)
        ctx.mouse_move_to_pos(imgui_vec(app, 0.5, 0.5))
        ctx.key_press(imgui_key("s"))  # keyboard capture
        assert len(list((app_env / "captures").glob("image_*.png"))) == 2
        ctx.item_click("**/Save GUI")
        assert wait_until(ctx, lambda: list((app_env / "captures").glob("gui_*.png")), 5)
        gui_png = np.asarray(Image.open(next((app_env / "captures").glob("gui_*.png"))))
        assert gui_png.shape[:2] == (760, 1200)

        # Image view: 1:1 shows 32 px; the wheel zooms in around the cursor; F fits again.
        ctx.mouse_move_to_pos(imgui_vec(app, 0.5, 0.5))
        ctx.key_press(imgui_key("_1"))
        ctx.yield_()
        assert app.image_view.image_rect[2] == pytest.approx(32)
        ctx.mouse_move_to_pos(imgui_vec(app, 0.5, 0.5))
        ctx.mouse_wheel_y(2)
        ctx.yield_()
        assert app.image_view.view.zoom > 1.0
        assert app.image_view.hover is not None  # pixel value under the cursor
        col, row, rgb = app.image_view.hover
        assert rgb == tuple(int(v) for v in app.last_image[row, col])
        before = app.image_view.image_rect
        ctx.mouse_drag_with_delta(imgui_vec_delta(40, 25))
        ctx.yield_()
        after = app.image_view.image_rect
        assert after[0] - before[0] == pytest.approx(40, abs=2) and after[1] - before[1] == pytest.approx(25, abs=2)
        ctx.key_press(imgui_key("f"))
        ctx.yield_()
        assert app.image_view.view.fit

        ctx.key_press(imgui_key("f1"))
        ctx.yield_()
        assert app.help_open
        save_artifact(artifacts_dir, "gui_help.png", grab_window(ctx, app))
        ctx.item_click("//Keyboard shortcuts/Close")
        ctx.yield_()
        assert not app.help_open

    run_driven(app, drive)
    settings = load_settings()
    assert str(net) in settings.recent
    assert settings.panels_open.get("performance") is True and settings.force_fp32 is True
    assert json.loads((app_env / "config" / "settings.json").read_text())["window_size"] == [1200, 760]


def imgui_vec_delta(dx: float, dy: float):
    from imgui_bundle import imgui

    return imgui.ImVec2(dx, dy)


def test_cli_screenshot_tiny_sg3(app_env, artifacts_dir, display):
    """`sg3-explorer gui NET --screenshot FILE` exits 0 with a window screenshot showing the rendered image."""
    net = save_tiny(app_env / "tiny_sg3.safetensors", kind="sg3", res=32)
    _check_cli_screenshot(net, app_env, artifacts_dir / "cli_tiny_sg3.png", seed=3)
    # Without --debug the user sees one line: no debug output such as where the image sits.
    out = app_env / "plain.png"
    proc = _run_cli([str(net), "--screenshot", str(out)], app_env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"screenshot saved to {out}\n"
    assert np.asarray(Image.open(out)).shape[:2] == (600, 900)


@pytest.mark.fixtures
def test_cli_screenshot_official_fixture(app_env, artifacts_dir, fixtures_dir):
    """The same with an NVIDIA-made SG3-T pickle (../shared/fixtures/sg3t.pkl)."""
    _check_cli_screenshot(fixtures_dir / "sg3t.pkl", app_env, artifacts_dir / "cli_sg3t.png", seed=0)


def test_cli_screenshot_broken_file_fails_cleanly(app_env, artifacts_dir):
    bad = app_env / "bad.pkl"
    bad.write_bytes(b"garbage")
    out = app_env / "bad.png"
    proc = _run_cli([str(bad), "--screenshot", str(out)], app_env)
    assert proc.returncode == 1, proc.stderr
    assert "bad.pkl" in proc.stdout + proc.stderr and "Traceback" not in proc.stderr
    assert out.is_file()  # the window (with its error message) was still captured
    Image.open(out).save(artifacts_dir / "cli_broken.png")


def _run_cli(args: list[str], env_dir: Path, debug: bool = False) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ, SG3_CONFIG_DIR=str(env_dir / "cli_config"))
    top = ["--debug"] if debug else []
    return subprocess.run([sys.executable, "-m", "sg3_explorer", *top, "gui", *args, "--size", "900x600"],
                          capture_output=True, text=True, timeout=180, cwd=REPO, env=env)


def _check_cli_screenshot(net: Path, env_dir: Path, out: Path, seed: int) -> None:
    import stylegan3
    from sg3_explorer.visualizer.renderer import render_image
    from stylegan3.documents.request import Latent, RenderRequest

    proc = _run_cli([str(net), "--seed", str(seed), "--screenshot", str(out)], env_dir, debug=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shot = np.asarray(Image.open(out).convert("RGB"))
    assert shot.shape == (600, 900, 3)
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("image at"))  # --debug only
    x, y, w, h = (int(part.split("=")[1]) for part in line.split()[2:])
    G = stylegan3.load_network(str(net), device="cpu")
    expected = render_image(G, RenderRequest(latent=Latent(float(seed))))
    assert mean_abs_diff(sample_cells(shot, (x, y, w, h), expected.shape[:2]), expected) < 2.0


def test_failed_load_keeps_the_path_to_correct(app_env, artifacts_dir):
    """A mistyped path from the command line stays in the field after the failure, to be fixed and loaded;
    the Demo button shows 'demo' there like any other source; the panel says what precision runs here."""
    net = save_tiny(app_env / "tiny_sg2.safetensors", kind="sg2", res=32)
    typo = str(app_env / "tiny_sg2.safetensor")
    app = make_app(app_env, [typo])
    widget = app.widget("network")

    def drive(ctx):
        assert wait_until(ctx, lambda: not app.loader.busy and app.loader.status.error, 20), app.loader.status
        assert app.loader.status.error == f"{typo}: no such file"
        ctx.yield_()
        assert widget.path_text == typo
        save_artifact(artifacts_dir, "gui_failed_load_keeps_path.png", grab_window(ctx, app))

        ctx.item_input_value("**/##path", str(net))  # the corrected path, loaded with Enter
        ctx.key_press(imgui_key("enter"))
        assert wait_until(ctx, lambda: app.network is not None, 20), app.loader.status
        assert app.network.source == str(net) and widget.path_text == str(net)
        assert app.loader.status.error is None

        ctx.item_click("**/Demo")
        assert widget.path_text == "demo"
        assert wait_until(ctx, lambda: app.network.source == "demo", 60), app.loader.status
        ctx.yield_()
        assert widget.path_text == "demo"
        info = app.network.info
        assert (info.fp16_layers, info.num_layers) == (15, 16)
        if app.device.type == "cpu":
            assert info.precision("cpu") == "all float32 on the CPU (on a CUDA GPU 15 of 16 layers run in float16)"
        save_artifact(artifacts_dir, "gui_demo_name_in_field.png", grab_window(ctx, app))

    run_driven(app, drive)
