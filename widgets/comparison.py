"""Comparison panel: opens the "Comparison" window where two or more networks render side by side.

The panes follow the app's own RenderRequest, so every control of the left column (seed, latent drag and
animation, psi, cutoff, style mix, noise) drives all panes at once. This panel adds what only makes sense
across networks: lockstep input motion for the SG3 panes (a transform path animated by the GUI clock, written
into the main request so the main view moves too), the sticking view (average of K perturbed frames per pane,
with its score), the trace view (one pixel row over an interpolation) and recording the panes to an mp4.
Networks given after the first on the command line (`gui A.pkl B.pkl`) open here as panes, the first included.
"""

from __future__ import annotations

import sys
from pathlib import Path

from imgui_bundle import imgui

from sg3_explorer.visualizer.comparison import MAX_PANES, ComparisonModel, transform_at
from sg3_explorer.visualizer.comparison_view import ERROR_COLOR, ComparisonView
from sg3_explorer.widgets.base import Widget
from sg3_explorer.widgets.sliders import slider_float, slider_int
from stylegan3.documents.request import Transform
from stylegan3.errors import SG3Error

WINDOW_TITLE = "Comparison"


class _Window:
    """What the app's panel guard needs (key, title, draw) for the floating window."""

    key = "comparison_window"
    title = WINDOW_TITLE

    def __init__(self, draw) -> None:
        self.draw = draw


class ComparisonWidget(Widget):
    title = "Comparison"
    default_open = False

    def __init__(self, app) -> None:
        super().__init__(app)
        self.model = ComparisonModel(app.frames)
        self.view = ComparisonView(self.model)
        self.window_open = False
        self.path_text = ""
        self.message = ""
        self.show_sticking = False
        self.show_trace = False
        self.split = False
        self.motion = False
        self.motion_spec = "circle:0.1"
        self.motion_period = 4.0  # seconds per cycle of the path
        self.motion_t = 0.0
        self.record_dir = ""
        self.record_seconds = 1.0  # per seed of the recorded walk
        self.record_seeds = 3
        self._started = False
        self._window = _Window(self._draw_window)

    # -- actions (also used by tests) -----------------------------------------------------------------------
    def add_pane(self, source: str) -> None:
        try:
            self.model.add(source)
            self.window_open = True
            self.message = ""
        except SG3Error as exc:
            self.message = str(exc)

    def set_motion_time(self, t: float) -> None:
        """Put every SG3 view at time `t` (cycles) of the motion path (panes without input transform ignore it)."""
        self.motion_t = float(t)
        try:
            translate, rotate = transform_at(self.motion_spec, self.motion_t)
            self.edit("transform", translate=translate, rotate=rotate)
        except SG3Error as exc:
            self.motion, self.message = False, str(exc)

    @property
    def animating(self) -> bool:
        return self.motion or self.model.busy

    # -- per frame ------------------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the panes' render threads and jobs and free their textures (the window is closing)."""
        self.model.close()
        try:
            self.view.delete()
        except Exception:  # noqa: BLE001 - no GL context left: the driver frees the textures with it
            pass

    def update(self, dt: float) -> None:
        if not self._started:
            self._started = True
            networks = self.app.command_line_networks
            if len(networks) > 1:  # `gui A B C`: compare all of them, the main network first
                for source in networks[: MAX_PANES]:
                    self.add_pane(source)
        if self.motion:
            self.set_motion_time(self.motion_t + dt / max(self.motion_period, 0.1))
        self.model.tick(self.request)
        self.view.upload()
        if self.window_open:
            self._draw_guarded()

    def _draw_guarded(self) -> None:
        if self.app.panel_error(self._window.key) is not None:
            return  # the panel shows the error and a Retry button
        self.app.draw_guarded(self._window)

    # -- the panel in the left column ----------------------------------------------------------------------
    def draw(self) -> None:
        _, self.window_open = imgui.checkbox("Show comparison window", self.window_open)
        loaded = len(self.model.loaded)
        imgui.text_disabled(f"{len(self.model.panes)} pane(s), {loaded} loaded")
        if self.app.source is not None and imgui.button("Compare with main network"):
            self.add_pane(self.app.source)
        err = self.app.panel_error(self._window.key)
        if err:
            imgui.text_colored(ERROR_COLOR, f"window failed: {err}")
            if imgui.button("Retry##comparison"):
                self.app.clear_panel_error(self._window.key)

    # -- the floating window --------------------------------------------------------------------------------
    def _draw_window(self) -> None:
        vp = imgui.get_main_viewport()
        first = imgui.Cond_.first_use_ever
        imgui.set_next_window_pos(imgui.ImVec2(vp.work_pos.x + vp.work_size.x * 0.3, vp.work_pos.y + 10), first)
        imgui.set_next_window_size(imgui.ImVec2(vp.work_size.x * 0.69, vp.work_size.y - 20), first)
        imgui.set_next_window_bg_alpha(1.0)  # the main image must not show through the panes
        expanded, still_open = imgui.begin(WINDOW_TITLE, True)
        try:
            if still_open is False:
                self.window_open = False
            if expanded:
                self._controls()
                imgui.separator()
                self.view.draw_panes(self.request, self.show_sticking, self.show_trace, self.split)
        finally:
            imgui.end()

    def _controls(self) -> None:
        font = imgui.get_font_size()
        imgui.set_next_item_width(font * 22)
        enter, self.path_text = imgui.input_text("##cmp_path", self.path_text,
                                                 imgui.InputTextFlags_.enter_returns_true)
        if imgui.is_item_hovered():
            imgui.set_tooltip("Path, URL, catalog name or 'demo-sg2' / 'demo-sg3-r' of a network to add as a pane")
        imgui.same_line()
        if (imgui.button("Add pane") or enter) and self.path_text.strip():
            self.add_pane(self.path_text.strip())
        if self.app.source is not None:
            imgui.same_line()
            if imgui.button("Add main network"):
                self.add_pane(self.app.source)
        if self.message:
            imgui.text_colored(ERROR_COLOR, self.message)

        _, self.split = imgui.checkbox("Split view", self.split)
        if imgui.is_item_hovered():
            imgui.set_tooltip("the first two panes on one image with a movable divider")
        imgui.same_line()
        _, self.show_sticking = imgui.checkbox("Sticking view", self.show_sticking)
        imgui.same_line()
        _, self.show_trace = imgui.checkbox("Trace view", self.show_trace)
        imgui.same_line()
        changed, self.motion = imgui.checkbox("Lockstep motion", self.motion)
        if changed and not self.motion:
            self.app.request = self.request.replace(transform=Transform())
        if self.motion:
            imgui.same_line()
            imgui.set_next_item_width(font * 9)
            _, self.motion_spec = imgui.input_text("Motion path", self.motion_spec)
            imgui.same_line()
            imgui.set_next_item_width(font * 6)
            _, self.motion_period = slider_float("Period", self.motion_period, 0.5, 20.0, "%.1f s")
        t = self.request.transform
        imgui.set_next_item_width(font * 7)
        changed, xy = imgui.drag_float2("Translate", list(t.translate), 0.005, -1.0, 1.0, "%.3f")
        if changed:
            self.edit("transform", translate=(float(xy[0]), float(xy[1])))
        imgui.same_line()
        imgui.set_next_item_width(font * 5)
        changed, rot = imgui.drag_float("Rotate", t.rotate, 0.002, -1.0, 1.0, "%.3f turns")
        if changed:
            self.edit("transform", rotate=float(rot))
        imgui.same_line()
        imgui.text_disabled("(SG3 panes in lockstep; panes without input transform ignore it)")

        if self.show_sticking:
            self._sticking_controls(font)
        if self.show_trace:
            self._trace_controls(font)
        self._record_controls(font)

    def _sticking_controls(self, font: float) -> None:
        st = self.model.sticking
        imgui.set_next_item_width(font * 6)
        _, st.samples = slider_int("K frames", st.samples, 2, 64)
        imgui.same_line()
        imgui.set_next_item_width(font * 6)
        _, st.sigma = slider_float("Perturbation", st.sigma, 0.01, 1.0, "%.2f",
                                         imgui.SliderFlags_.logarithmic)
        imgui.same_line()
        if imgui.button("Compute sticking"):
            self.model.start_sticking(self.request)
        progress = self.model.sticking_progress
        if progress is not None:
            imgui.same_line()
            imgui.progress_bar(progress, imgui.ImVec2(font * 8, 0))
            imgui.same_line()
            if imgui.button("Cancel##sticking"):
                for pane in self.model.panes:
                    if pane.sticking is not None:
                        pane.sticking.cancel()

    def _trace_controls(self, font: float) -> None:
        tr = self.model.trace
        imgui.set_next_item_width(font * 6)
        _, tr.frames = slider_int("Trace frames", tr.frames, 4, 128)
        imgui.same_line()
        imgui.set_next_item_width(font * 6)
        _, tr.row = slider_float("Trace row", tr.row, 0.0, 1.0, "%.2f of height")
        imgui.same_line()
        imgui.set_next_item_width(font * 7)
        _, tr.transform_spec = imgui.input_text("Trace motion", tr.transform_spec)
        if imgui.is_item_hovered():
            imgui.set_tooltip("optional SG3 input path while tracing, e.g. pan:0.25,0 (other panes trace without it)")
        imgui.same_line()
        if imgui.button("Record trace"):
            self.model.start_trace(self.request)

    def _record_controls(self, font: float) -> None:
        m = self.model
        if m.record is not None:
            imgui.progress_bar(m.record.fraction, imgui.ImVec2(font * 10, 0), "recording")
            imgui.same_line()
            if imgui.button("Cancel##record"):
                m.record.cancel()
        else:
            if imgui.button("Save panes"):
                self.save_panes()
            if imgui.is_item_hovered():
                imgui.set_tooltip("PNG of the panes side by side, labelled (with the sticking averages when shown)")
            imgui.same_line()
            if imgui.button("Record mp4"):
                self.start_record()
            if imgui.is_item_hovered():
                imgui.set_tooltip("write the panes side by side walking from the current seed to an mp4 in the "
                                  "capture folder (SG3 panes follow the motion path when all panes are SG3)")
            imgui.same_line()
            imgui.set_next_item_width(font * 5)
            _, self.record_seeds = slider_int("seeds", self.record_seeds, 2, 20)
            imgui.same_line()
            imgui.set_next_item_width(font * 5)
            _, self.record_seconds = slider_float("s/seed", self.record_seconds, 0.2, 10.0, "%.1f")
        if m.record_message:
            imgui.same_line()
            imgui.text_disabled(m.record_message)

    def save_panes(self) -> Path | None:
        """Write the panes side by side (and the sticking averages when shown) as a PNG in the capture folder."""
        from sg3_explorer.visualizer.capture import capture_name, save_png

        pixels = self.model.panes_image(with_sticking=self.show_sticking)
        if pixels is None:
            self.model.record_message = "nothing to save yet"
            return None
        try:
            path = save_png(pixels, self.app.settings.capture_dir, capture_name("comparison", self.request))
        except OSError as exc:
            self.model.record_message = f"could not save: {exc}"
            return None
        self.model.record_message = f"saved {path}"
        return path

    def start_record(self) -> Path | None:
        """Record the panes to `<capture folder>/comparison_<seed>.mp4` (background job)."""
        try:
            folder = Path(self.record_dir or self.app.settings.capture_dir).expanduser()
            folder.mkdir(parents=True, exist_ok=True)
            out = folder / f"comparison_seed{self.request.latent.seed}.mp4"
            spec = self.motion_spec if self.motion else ""
            self.model.start_record(self.request, out, seconds_per_seed=self.record_seconds,
                                    seeds=self.record_seeds, transform_spec=spec)
            return out
        except (OSError, SG3Error) as exc:
            self.model.record_message = f"cannot record: {exc}"
            print(f"comparison: {self.model.record_message}", file=sys.stderr)
            return None


WIDGET = ComparisonWidget
