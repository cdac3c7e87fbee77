"""The window over the session (`visualizer.explorer.Explorer`): layout (panels left, image right), menus,
status bar, keyboard, capture, screenshot mode and the imgui runner.

The GUI thread never waits for synthesis: each frame the session submits the window's RenderRequest to the
backend (a no-op when nothing changed) and takes whatever finished frame arrived; the window uploads it and
draws the last good image. Load and render failures become a message in the window.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from imgui_bundle import hello_imgui, imgui, immapp

from sg3_explorer.assets import ASSETS_DIR
from sg3_explorer.visualizer.capture import capture_name, save_png
from sg3_explorer.visualizer.explorer import AppConfig, Explorer
from sg3_explorer.visualizer.image_view import ImageView
from sg3_explorer.visualizer.loader import LoadedNetwork
from sg3_explorer.visualizer.perf import TimeHistory
from sg3_explorer.visualizer.settings import UI_SCALE_RANGE, clamp_ui_scale, save_settings
from sg3_explorer.visualizer.texture import Texture, read_framebuffer
from sg3_explorer.widgets.sliders import slider_float
from stylegan3.service.backend import RenderBackend

FONT_PATH = ASSETS_DIR / "fonts" / "Roboto-Regular.ttf"
FONT_SIZE = 15.0  # at 96 PPI; hello_imgui scales it with the screen's DPI
WINDOW_TITLE = "SG3 Explorer"

SHORTCUTS = [
    ("Left / Right", "previous / next seed"),
    ("Down / Up", "seed -10 / +10"),
    ("Space", "start / stop latent animation"),
    ("S", "save the generated image (full resolution PNG)"),
    ("F12", "save a screenshot of the whole window"),
    ("F", "fit image to window"),
    ("1", "show image at 1:1"),
    ("Wheel / drag", "zoom around the cursor / pan the image"),
    ("Double-click", "toggle fit / 1:1"),
    ("F1 or H", "this help"),
]


def display_problem() -> str | None:
    """Why no window can be opened here (no X/Wayland display, GLFW failing), or None when it can.

    Checked before anything starts, so a headless machine gets one clear line instead of an abort inside GLFW.
    """
    try:
        import glfw
    except ImportError as exc:
        return f"the glfw package is missing ({exc})"
    problems: list[str] = []
    previous = glfw.set_error_callback(lambda code, text: problems.append(text.decode() if isinstance(text, bytes)
                                                                         else str(text)))
    try:
        ok = glfw.init()
        if ok:
            glfw.terminate()
    except Exception as exc:  # noqa: BLE001 - pyglfw raises its own error types on some setups
        ok, problems = False, problems + [str(exc)]
    finally:
        glfw.set_error_callback(previous)
    if ok:
        return None
    return "cannot open a window: " + (problems[0] if problems else "GLFW failed to initialise")


SCALED_STYLE_SIZES = ("window_padding", "frame_padding", "item_spacing", "item_inner_spacing", "cell_padding",
                      "indent_spacing", "scrollbar_size", "grab_min_size", "frame_rounding", "grab_rounding")


def _copy_size(value):
    return (value.x, value.y) if hasattr(value, "x") else float(value)


def _scaled_size(base, scale: float):
    return imgui.ImVec2(base[0] * scale, base[1] * scale) if isinstance(base, tuple) else base * scale


def _scroll_into_view(top: float, bottom: float) -> None:
    """Scroll the panel column so that a panel just opened (screen rows `top` to `bottom`) is in view: its end
    when the whole panel fits, else its header at the top."""
    view_top = imgui.get_window_pos().y
    view_bottom = view_top + imgui.get_window_height()
    if bottom <= view_bottom:
        return
    shift = top - view_top if bottom - top > view_bottom - view_top else bottom - view_bottom
    imgui.set_scroll_y(imgui.get_scroll_y() + shift)


class App(Explorer):
    """The window over the session: layout, menus, status bar, keyboard, capture, the imgui runner."""

    def __init__(self, config: AppConfig | None = None, backend: RenderBackend | None = None) -> None:
        self.texture = Texture()
        self.image_view = ImageView()
        self.gui_times = TimeHistory()
        self.gui_build_times = TimeHistory()
        self.exit_code = 0
        self.frame = 0
        self.frames_with_image = 0
        self.last_window_capture: np.ndarray | None = None
        self._capture_window = False
        self._exit_after_capture = False
        self._announced = False
        self._capture_save = True
        self._show_help = False
        self.help_open = False
        self.drop_enabled = False
        self.window_title = WINDOW_TITLE
        self._allow_idling = True  # off while a test script drives the window (it needs every frame)
        self._applied_pacing: tuple[int, bool] | None = None
        self._panels_scale: float | None = None  # the UI scale the panel column's width was set for
        self._base_sizes: dict | None = None  # the theme's paddings and spacings at UI scale 1
        self._t_start = time.monotonic()
        super().__init__(config, backend)

    def request_window_capture(self, save: bool = True) -> None:
        """Screenshot of the whole window, taken when this frame is fully drawn (kept in `last_window_capture`,
        and written to the capture folder when `save`)."""
        self._capture_window = True
        self._capture_save = save

    # -- per-frame ---------------------------------------------------------------------------------------------
    def _show_image(self, image: np.ndarray) -> None:
        self.texture.upload(image)

    def _on_network_loaded(self, loaded: LoadedNetwork) -> None:
        super()._on_network_loaded(loaded)
        self._set_title(f"{WINDOW_TITLE} - {Path(loaded.source).name or loaded.source} ({loaded.info.kind})")

    def _apply_pacing(self) -> None:
        """The fps limit and vsync of the settings (the Performance panel edits them), applied when changed."""
        pacing = (int(self.settings.fps_limit), bool(self.settings.vsync))
        if pacing == self._applied_pacing:
            return
        self._applied_pacing = pacing
        fps = hello_imgui.get_runner_params().fps_idling
        fps.fps_max, fps.vsync_to_monitor = float(pacing[0]), pacing[1]
        try:  # vsync now on the GUI thread's current GL context (the runner reads its flag only at start-up)
            import glfw

            glfw.swap_interval(1 if pacing[1] else 0)
        except Exception:  # noqa: BLE001 - kept for the next start if the call is unavailable
            pass

    def _set_title(self, title: str) -> None:
        self.window_title = title
        try:
            import glfw
            from imgui_bundle.glfw_utils import glfw_window_hello_imgui

            glfw.set_window_title(glfw_window_hello_imgui(), title)
        except Exception:  # noqa: BLE001 - cosmetic
            pass

    def _keyboard(self) -> None:
        io = imgui.get_io()
        if io.want_text_input or imgui.is_any_item_active():
            return
        latent = self.widget("latent")
        K = imgui.Key
        pressed = imgui.is_key_pressed
        for key, step in ((K.right_arrow, 1), (K.left_arrow, -1), (K.up_arrow, 10), (K.down_arrow, -10)):
            if pressed(key):
                self.request = self.request.edit("latent", x=float(self.request.latent.seed + step))
        if pressed(K.space, False) and latent is not None:
            latent.anim = not latent.anim
        if pressed(K.s, False) and not io.key_ctrl:
            self.save_image()
        if pressed(K.f12, False):
            self.request_window_capture()
        if pressed(K.f, False):
            self.image_view.view.set_fit()
        if pressed(K._1, False):
            self.image_view.view.set_one_to_one()
        if pressed(K.f1, False) or pressed(K.h, False):
            self._show_help = True

    def _draw_panels(self) -> None:
        for w in self.widgets:
            if not w.visible():
                continue
            imgui.set_next_item_open(self.settings.panels_open.get(w.key, w.default_open), imgui.Cond_.once)
            top = imgui.get_cursor_screen_pos().y
            is_open = imgui.collapsing_header(w.title)
            just_opened = is_open and not self.settings.panels_open.get(w.key, w.default_open)
            self.settings.panels_open[w.key] = is_open
            if is_open:
                imgui.push_id(w.key)
                if w.key in self.panel_errors:  # a failed panel stays off until the user retries it
                    imgui.text_colored(imgui.ImVec4(1.0, 0.45, 0.4, 1.0), f"panel failed: {self.panel_errors[w.key]}")
                    if imgui.button("Retry"):
                        del self.panel_errors[w.key]
                else:
                    self.draw_guarded(w)
                imgui.pop_id()
                if just_opened:
                    _scroll_into_view(top, imgui.get_cursor_screen_pos().y)

    def draw_guarded(self, w) -> None:
        """Draw one panel; if it raises, unwind whatever it left open in imgui and show the error instead."""
        from imgui_bundle.imgui import internal as imgui_internal

        saved = imgui_internal.ErrorRecoveryState()
        imgui_internal.error_recovery_store_state(saved)
        try:
            w.draw()
        except Exception as exc:  # noqa: BLE001 - one broken panel must not take the app down
            io = imgui.get_io()
            asserting = io.config_error_recovery_enable_assert
            io.config_error_recovery_enable_assert = False
            try:
                imgui_internal.error_recovery_try_to_recover_window_state(saved)
            finally:
                io.config_error_recovery_enable_assert = asserting
            if w.key not in self.panel_errors:
                print(f"error in panel {w.title}: {type(exc).__name__}: {exc}", file=sys.stderr)
            self.panel_errors[w.key] = f"{type(exc).__name__}: {exc}"

    def _draw_help(self) -> None:
        if self._show_help:
            imgui.open_popup("Keyboard shortcuts")
            self._show_help = False
        imgui.set_next_window_size(imgui.ImVec2(imgui.get_font_size() * 30, 0))
        opened, _ = imgui.begin_popup_modal("Keyboard shortcuts", True, imgui.WindowFlags_.always_auto_resize)
        self.help_open = opened
        if opened:
            if imgui.begin_table("##keys", 2):
                for key, what in SHORTCUTS:
                    imgui.table_next_row()
                    imgui.table_next_column()
                    imgui.text(key)
                    imgui.table_next_column()
                    imgui.text(what)
                imgui.end_table()
            if imgui.button("Close") or imgui.is_key_pressed(imgui.Key.escape):
                imgui.close_current_popup()
            imgui.end_popup()

    def _placeholder(self) -> str:
        connection = self.connection
        if connection is not None and not connection.connected:  # the failure's whole line is above the image
            return f"not connected to {connection.address}" if connection.failed else connection.state.message
        status = self.loader.status
        if status.busy:
            return status.message
        if self.network is None:
            return "no network loaded: type a path, browse, or drop a file onto the window"
        return "rendering ..."

    def _gui(self) -> None:
        t0 = time.perf_counter()
        io = imgui.get_io()
        dt = io.delta_time
        if self.frame > 0:
            self.gui_times.add(dt * 1000.0)
        self.frame += 1
        self.poll()
        self._apply_pacing()
        for w in self.widgets:
            if w.key not in self.panel_errors:
                self.call_guarded(w, lambda w=w: w.update(dt))
        self._keyboard()

        panel_w = imgui.get_font_size() * 24
        if self._panels_scale != self.settings.ui_scale:  # the column follows a new UI scale (else the user's width)
            self._panels_scale = self.settings.ui_scale
            imgui.set_next_window_size(imgui.ImVec2(panel_w, 0))
        imgui.begin_child("##panels", imgui.ImVec2(panel_w, 0), imgui.ChildFlags_.resize_x | imgui.ChildFlags_.borders)
        self._draw_panels()
        imgui.end_child()
        imgui.same_line()
        imgui.begin_child("##image", imgui.ImVec2(0, 0), 0, imgui.WindowFlags_.no_scrollbar |
                          imgui.WindowFlags_.no_scroll_with_mouse)
        self._draw_banner()
        self._draw_view_bar()
        self.image_view.draw(self.texture, self.last_image, self._placeholder(), tool=self._image_tool())
        imgui.end_child()
        self._draw_help()

        if self.last_image is not None and self.image_view.image_rect is not None:
            self.frames_with_image += 1
        # Idle (few frames per second) unless something animates: while a CPU render runs, redrawing an unchanged
        # window 60 times a second only steals cores from it; input events wake the GUI at once anyway.
        animating = any(w.animating for w in self.widgets)
        hello_imgui.get_runner_params().fps_idling.enable_idling = self._allow_idling and not animating
        self._screenshot_mode_tick()
        self.gui_build_times.add((time.perf_counter() - t0) * 1000.0)

    def _image_tool(self):
        """The `ImageTool` of the first panel that offers one now (the Drag panel while it has points or edits)."""
        for w in self.widgets:
            tool = getattr(w, "image_tool", None)
            if tool is not None and (got := tool()) is not None:
                return got
        return None

    def _draw_view_bar(self) -> None:
        """Fit / 1:1 buttons and the current zoom, above the image."""
        view = self.image_view.view
        if imgui.small_button("Fit"):
            view.set_fit()
        imgui.same_line()
        if imgui.small_button("1:1"):
            view.set_one_to_one()
        imgui.same_line()
        rect = self.image_view.image_rect
        if rect is not None and self.last_image is not None:
            h, w = self.last_image.shape[:2]
            imgui.text_disabled(f"{w}x{h}  zoom {rect[2] / w * 100:.0f}%{'  (fit)' if view.fit else ''}"
                                "   wheel: zoom, drag: pan, F1: help")
        else:
            imgui.new_line()

    def _draw_banner(self) -> None:
        """Errors stay visible above the image (the app keeps running with the last good network)."""
        connection = self.connection
        if connection is not None and not connection.connected:
            self._draw_connection(connection)
            return
        status = self.loader.status
        msg = None
        if status.error:
            msg = f"Could not load the network. {status.error}"
        elif self.render_error:
            msg = self.render_error
        if msg:
            imgui.push_style_color(imgui.Col_.text, imgui.ImVec4(1.0, 0.45, 0.4, 1.0))
            imgui.text_wrapped(msg)
            imgui.pop_style_color()

    def _draw_connection(self, connection) -> None:
        """`--connect`: "connecting to ..." while the first answer is awaited, then the failure and a Retry button."""
        state = connection.state
        if state.state == "failed":
            imgui.push_style_color(imgui.Col_.text, imgui.ImVec4(1.0, 0.45, 0.4, 1.0))
            imgui.text_wrapped(state.message)
            imgui.pop_style_color()
            if imgui.button("Retry##connect"):
                connection.retry()
            if imgui.is_item_hovered():
                imgui.set_tooltip(f"connect to {connection.address} again (start the server or the tunnel first)")
        else:
            imgui.text(state.message)

    def _screenshot_mode_tick(self) -> None:
        if self.config.screenshot is None:
            return
        failed = (self.loader.status.error is not None and not self.loader.busy) or \
            (self.connection is not None and self.connection.failed)
        timed_out = time.monotonic() - self._t_start > self.config.timeout_s
        # Two frames with the image drawn: the layout has settled and the texture is on screen.
        if self.frames_with_image >= 2 or failed or timed_out:
            if failed or (timed_out and self.frames_with_image < 2):
                self.exit_code = 1
            self._capture_window = True
            self._exit_after_capture = True
            rect = self.image_view.image_rect
            if rect is not None and not self._announced and self.config.report_image_rect:
                self._announced = True
                x, y, w, h = (round(v) for v in rect)
                print(f"image at x={x} y={y} w={w} h={h}", flush=True)

    def _before_swap(self) -> None:
        if not self._capture_window:
            return
        self._capture_window = False
        io = imgui.get_io()
        w = int(io.display_size.x * io.display_framebuffer_scale.x)
        h = int(io.display_size.y * io.display_framebuffer_scale.y)
        pixels = read_framebuffer(w, h)
        self.last_window_capture = pixels
        if self.config.screenshot is not None and self._exit_after_capture:
            try:
                path = Path(self.config.screenshot)
                path.parent.mkdir(parents=True, exist_ok=True)
                from PIL import Image

                Image.fromarray(pixels).save(path)
            except OSError as exc:
                print(f"error: could not save screenshot: {exc}", file=sys.stderr)
                self.exit_code = 1
            hello_imgui.get_runner_params().app_shall_exit = True
            return
        if not self._capture_save:
            return
        try:
            path = save_png(pixels, self.settings.capture_dir, capture_name("gui", self.shown_request))
            self.capture_message = f"saved {path}"
        except OSError as exc:
            self.capture_message = f"could not save: {exc}"

    def _menus(self) -> None:
        if imgui.begin_menu("File"):
            if imgui.menu_item_simple("Load demo network"):
                self.load_network("demo")
            if imgui.begin_menu("Recent", bool(self.settings.recent)):
                for source in list(self.settings.recent):
                    if imgui.menu_item_simple(source):
                        self.load_network(source)
                imgui.end_menu()
            projection = self.widget("projection")
            if projection is not None and imgui.menu_item_simple("Project image...", "", False,
                                                                 self.network is not None):
                projection.open_dialog()
            imgui.separator()
            if imgui.menu_item_simple("Save image", "S"):
                self.save_image()
            if imgui.menu_item_simple("Save GUI screenshot", "F12"):
                self.request_window_capture()
            imgui.separator()
            if imgui.menu_item_simple("Quit"):
                hello_imgui.get_runner_params().app_shall_exit = True
            imgui.end_menu()
        if imgui.begin_menu("View"):
            if imgui.menu_item_simple("Fit to window", "F"):
                self.image_view.view.set_fit()
            if imgui.menu_item_simple("Actual size (1:1)", "1"):
                self.image_view.view.set_one_to_one()
            imgui.separator()
            self._draw_ui_scale()
            imgui.end_menu()
        if imgui.begin_menu("Help"):
            if imgui.menu_item_simple("Keyboard shortcuts", "F1"):
                self._show_help = True
            imgui.end_menu()

    def _draw_ui_scale(self) -> None:
        """View > UI scale: text and controls (panel widths follow the text), times the monitor's content scale."""
        imgui.set_next_item_width(imgui.get_font_size() * 8)
        lo, hi = UI_SCALE_RANGE
        changed, scale = slider_float("UI scale", self.settings.ui_scale, lo, hi, "%.2f x")
        if changed:
            self.set_ui_scale(scale)
        if imgui.is_item_hovered():
            imgui.set_tooltip(f"times the monitor's content scale ({hello_imgui.dpi_window_size_factor():.2f} here)")
        if imgui.menu_item_simple("Default UI scale"):
            self.set_ui_scale(1.0)

    def set_ui_scale(self, scale: float) -> None:
        """Text and controls at `scale` times the monitor's content scale (kept in the settings): the font, and
        the paddings and spacings from the theme's own values (so repeated changes do not drift)."""
        self.settings.ui_scale = clamp_ui_scale(scale)
        style = imgui.get_style()
        if self._base_sizes is None:
            self._base_sizes = {name: _copy_size(getattr(style, name)) for name in SCALED_STYLE_SIZES}
        style.font_scale_main = self.settings.ui_scale
        for name, base in self._base_sizes.items():
            setattr(style, name, _scaled_size(base, self.settings.ui_scale))

    def _status(self) -> None:
        status = self.loader.status
        if status.busy:
            imgui.text(status.message + (f" {status.fraction * 100:.0f}%" if status.fraction is not None else ""))
        elif status.error:
            imgui.text_colored(imgui.ImVec4(1.0, 0.45, 0.4, 1.0), "load failed (details above the image)")
        elif self.network is not None:
            imgui.text(self.network.info.summary())
        lat = self.request.latent
        imgui.same_line()
        imgui.text(f"| seed {lat.x:g}{'' if lat.y == 0 else f', {lat.y:g}'}  psi {self.request.truncation.psi:.2f}")
        if self.renderer.busy:
            imgui.same_line()
            imgui.text_disabled("| rendering")
        st = self.backend.status()
        if self.connection is not None and not self.connection.connected:
            imgui.same_line()
            failed = self.connection.failed
            imgui.text_colored(imgui.ImVec4(1.0, 0.45, 0.4, 1.0) if failed else imgui.ImVec4(0.6, 0.6, 0.6, 1.0),
                               f"| {self.connection.address} {'not connected' if failed else 'connecting ...'}")
        elif st.transport != "thread" or st.message:  # where the frames come from, and what went wrong last
            imgui.same_line()
            colour = imgui.ImVec4(1.0, 0.45, 0.4, 1.0) if st.state in ("disconnected", "refused") else \
                imgui.ImVec4(0.6, 0.6, 0.6, 1.0)
            imgui.text_colored(colour, f"| {st.transport} {st.state}" + (f": {st.message}" if st.message else ""))
        hover = self.image_view.hover
        if hover is not None:
            col, row, rgb = hover
            imgui.same_line()
            imgui.text(f"| pixel ({col}, {row}) = RGB {rgb}")
        imgui.same_line()
        imgui.text_disabled(f"| window {self.gui_times.fps():.0f} FPS")  # not the image rate (Performance panel)

    # -- setup and run -----------------------------------------------------------------------------------------
    def _load_fonts(self) -> None:
        if FONT_PATH.is_file():
            hello_imgui.load_font(str(FONT_PATH), FONT_SIZE, hello_imgui.FontLoadingParams(inside_assets=False))
        else:  # a broken install still gets a readable window
            hello_imgui.imgui_default_settings.load_default_font_with_font_awesome_icons()

    def _post_init(self) -> None:
        io = imgui.get_io()
        io.config_flags &= ~imgui.ConfigFlags_.nav_enable_keyboard  # arrows belong to the seed
        self.set_ui_scale(self.settings.ui_scale)
        try:
            import glfw
            from imgui_bundle.glfw_utils import glfw_window_hello_imgui

            glfw.set_drop_callback(glfw_window_hello_imgui(), self._on_drop)
            self.drop_enabled = True
        except Exception as exc:  # noqa: BLE001 - drag and drop is a convenience; say why it is off
            print(f"warning: drag-and-drop unavailable: {exc}", file=sys.stderr)

    def _on_drop(self, _window, paths) -> None:
        """Files dropped onto the window load like typed paths (first file wins)."""
        self.handle_drop([str(p) for p in paths])

    def _before_exit(self) -> None:
        io = imgui.get_io()
        if io.display_size.x > 0 and self.config.screenshot is None:
            self.settings.window_size = (int(io.display_size.x), int(io.display_size.y))
        self.settings.force_fp32 = self.request.synthesis.force_fp32
        self.settings.cuda_graphs = self.request.synthesis.cuda_graphs
        if self.config.persist_settings:
            save_settings(self.settings)
        self.texture.delete()

    def runner_params(self) -> hello_imgui.RunnerParams:
        p = hello_imgui.RunnerParams()
        p.app_window_params.window_title = WINDOW_TITLE
        size = self.config.window_size or self.settings.window_size
        p.app_window_params.window_geometry.size = (int(size[0]), int(size[1]))
        p.app_window_params.resizable = True
        p.ini_disable = True  # our own settings file holds what persists
        wp = p.imgui_window_params
        wp.default_imgui_window_type = hello_imgui.DefaultImGuiWindowType.provide_full_screen_window
        wp.show_menu_bar, wp.show_menu_app, wp.show_menu_view = True, False, False
        wp.show_status_bar, wp.show_status_fps = True, False
        wp.remember_theme = False
        wp.tweaked_theme.theme = hello_imgui.ImGuiTheme_.darcula_darker
        p.fps_idling.vsync_to_monitor = self.settings.vsync
        p.fps_idling.fps_max = float(self.settings.fps_limit)
        p.fps_idling.fps_idle = 12.0  # a finished render shows up within ~80 ms even while idling
        cb = p.callbacks
        cb.show_gui = self._gui
        cb.show_menus = self._menus
        cb.show_status = self._status
        cb.load_additional_fonts = self._load_fonts
        cb.post_init = self._post_init
        cb.before_swap = self._before_swap
        cb.before_exit = self._before_exit
        return p

    def run(self, test_function: Callable | None = None) -> int:
        """Open the window and run until it closes. With `test_function`, the imgui test engine drives it."""
        params = self.runner_params()
        self._allow_idling = test_function is None and self.config.screenshot is None
        addons = immapp.AddOnsParams(with_implot=True)
        try:
            if test_function is None:
                immapp.run(params, addons)
            else:
                from imgui_bundle.immapp import testing

                testing.run(test_function=test_function, runner_params=params, add_ons_params=addons)
        finally:
            self.close()
        return self.exit_code
