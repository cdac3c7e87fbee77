"""Drag panel: drag points of the image onto targets (the DragGAN method, `stylegan3.explore.drag`).

"Points" mode: a left click on the image sets a handle, the next one its target (several pairs); a right click
removes the nearest pair. "Mask" mode: the left button paints the region that may change, the right one erases
it (no mask: everything may change). Start runs the backend's `drag` analysis (`visualizer.network_jobs`), which
streams every step back: each step's latent goes into the window's request, so the image follows live, with the
tracked handles and arrows to their targets drawn over it. Stop ends it at the step shown. The result (finished
or stopped) stays on screen as an explicit latent and is kept as a bookmark; the handles move to where they were
tracked, so another Start drags on from there.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from imgui_bundle import imgui

from sg3_explorer.visualizer.explore import with_latent
from sg3_explorer.visualizer.jobs import JobSlot
from sg3_explorer.visualizer.network_jobs import drag_job
from sg3_explorer.widgets.applicability import without_w
from sg3_explorer.widgets.base import Widget
from sg3_explorer.widgets.sliders import slider_int

HANDLE = imgui.IM_COL32(235, 60, 50, 255)
TARGET = imgui.IM_COL32(60, 130, 240, 255)
ARROW = imgui.IM_COL32(255, 255, 255, 220)
MASK = imgui.IM_COL32(255, 220, 0, 90)


class DragWidget(Widget):
    title = "Drag"
    default_open = False

    def __init__(self, app) -> None:
        super().__init__(app)
        self.mode = ""  # "points" | "mask" | "" (the image pans as usual)
        self.pairs: list[list[int]] = []  # [x, y, target x, target y] in image pixels
        self.pending: tuple[int, int] | None = None  # a handle waiting for its target
        self.mask: np.ndarray | None = None  # uint8 [R, R], 1 = may change
        self.brush = 4
        # A 256 px net takes seconds per step on a CPU, milliseconds on a GPU.
        self.steps = 200 if getattr(app.device, "type", "cpu") == "cuda" else 100
        self.lr = 0.002
        self.layers = 6
        self.mask_weight = 10.0  # DragGAN's lambda: how strongly the unmasked features stay
        self.job = JobSlot()
        self.latest = None  # the newest DragStep (written by the job's thread, read here)
        self._shown_step = -1
        self.tracked: list[tuple[int, int]] | None = None
        self.stopping = False
        self.result = None
        self.bookmark: str | None = None
        self.message = ""

    def visible(self) -> bool:
        return self.app.info is not None

    @property
    def resolution(self) -> int:
        info = self.app.info
        return int(info.resolution) if info is not None else 0

    # -- the image tool -----------------------------------------------------------------------------------------
    def image_tool(self):
        """Self while there is something to edit or draw on the image (see `visualizer.image_view.ImageTool`)."""
        if self.app.info is None:
            return None
        return self if (self.mode or self.pairs or self.pending or self.mask is not None) else None

    @property
    def edits(self) -> bool:
        return bool(self.mode) and not self.job.busy

    def press(self, fx: float, fy: float, button: int) -> None:
        res = self.resolution
        x, y = fx * res, fy * res  # network pixels, whatever size the view shows
        px, py = math.floor(x), math.floor(y)
        inside = 0 <= px < res and 0 <= py < res
        if self.mode == "mask":
            self.paint(x, y, button)
        elif self.mode == "points" and button == 0 and inside:
            self.add_point(px, py)
        elif self.mode == "points" and button == 1:
            self.remove_nearest(x, y)

    def drag(self, fx: float, fy: float, button: int) -> None:
        if self.mode == "mask":
            self.paint(fx * self.resolution, fy * self.resolution, button)

    def overlay(self, dl, to_screen: Callable[[float, float], imgui.ImVec2], width: float) -> None:
        res = self.resolution
        if res <= 0:
            return

        def at(x: float, y: float) -> imgui.ImVec2:  # network pixels to the screen
            return to_screen(x / res, y / res)

        if self.mask is not None:
            self._draw_mask(dl, at)
        radius = max(4.0, width / res * 0.6)
        handles = self.tracked if (self.tracked is not None and len(self.tracked) == len(self.pairs)) else None
        for i, (hx, hy, tx, ty) in enumerate(self.pairs):
            if handles is not None:
                hx, hy = handles[i]
            a, b = at(hx + 0.5, hy + 0.5), at(tx + 0.5, ty + 0.5)
            _arrow(dl, a, b, radius)
            dl.add_circle_filled(b, radius, TARGET)
            dl.add_circle_filled(a, radius, HANDLE)
        if self.pending is not None:
            dl.add_circle_filled(at(self.pending[0] + 0.5, self.pending[1] + 0.5), radius, HANDLE)

    def _draw_mask(self, dl, at) -> None:
        """The mask as one translucent rectangle per run of painted pixels in a row."""
        for row in range(self.mask.shape[0]):
            line = self.mask[row]
            if not line.any():
                continue
            edges = np.flatnonzero(np.diff(np.concatenate([[0], line.astype(np.int8), [0]])))
            for start, end in zip(edges[::2], edges[1::2], strict=True):
                dl.add_rect_filled(at(float(start), float(row)), at(float(end), float(row + 1)), MASK)

    # -- editing ------------------------------------------------------------------------------------------------
    def add_point(self, x: int, y: int) -> None:
        """A handle, or the target of the handle waiting for one."""
        if self.pending is None:
            self.pending = (int(x), int(y))
        else:
            self.pairs.append([*self.pending, int(x), int(y)])
            self.pending = None
        self.tracked = None

    def remove_nearest(self, x: float, y: float) -> None:
        if self.pending is not None:
            self.pending = None
            return
        if self.pairs:
            dist = [min(math.dist((x, y), p[:2]), math.dist((x, y), p[2:])) for p in self.pairs]
            self.pairs.pop(int(np.argmin(dist)))
            self.tracked = None

    def paint(self, x: float, y: float, button: int) -> None:
        """A disc of the brush's radius: may change (left button) or stays (right)."""
        res = self.resolution
        if self.mask is None or self.mask.shape != (res, res):
            self.mask = np.zeros([res, res], dtype=np.uint8)
        rows, cols = np.ogrid[:res, :res]
        disc = (cols + 0.5 - x) ** 2 + (rows + 0.5 - y) ** 2 <= self.brush**2
        self.mask[disc] = 1 if button == 0 else 0

    def clear_points(self) -> None:
        self.pairs, self.pending, self.tracked = [], None, None

    def clear_mask(self) -> None:
        self.mask = None

    # -- actions ------------------------------------------------------------------------------------------------
    def start(self) -> bool:
        """Run the drag as a job from the image on screen; False (with a message) when it cannot start."""
        info = self.app.info
        if info is None:
            return False
        if self.job.busy:
            self.message = "a drag is running: stop it first"
            return False
        if not self.pairs:
            self.message = "click a handle and then its target on the image (Points mode)"
            return False
        mask = self.mask if self.mask is not None and self.mask.any() else None
        self.message, self.result, self.latest, self._shown_step, self.stopping = "", None, None, -1, False
        self.tracked, self.mode = None, ""

        def show(step) -> None:  # on the job's thread: `update` picks it up on the GUI thread
            self.latest = step

        job = drag_job(
            self.app.current_request(),
            [list(p) for p in self.pairs],
            mask,
            int(self.steps),
            show,
            lr=float(self.lr),
            layers=int(self.layers),
            mask_weight=float(self.mask_weight),
            label=f"drag {len(self.pairs)} point(s)",
        )
        if self.app.start_job(self.job, job):
            return True
        self.message = self.job.error or "the drag could not start"
        self.job.error = None
        return False

    def stop(self) -> None:
        """End the drag at the step shown: that step is the result."""
        if self.job.busy:
            self.stopping = True
            self.job.cancel()

    def _finish(self, step, how: str) -> None:
        """The step becomes the view's explicit latent and a bookmark; the handles move to where they were
        tracked, so the next Start drags on from there."""
        self.result = step
        self.app.request = with_latent(self.request, step.ws, label="drag")
        for pair, (x, y) in zip(self.pairs, step.points, strict=False):
            pair[0], pair[1] = int(x), int(y)
        self.tracked = None
        bookmarks = self.app.widget("bookmarks")
        self.bookmark = None
        if bookmarks is not None:
            self.bookmark = bookmarks.add(f"drag {len(bookmarks.bookmarks) + 1}").name
        arrived = "every handle arrived" if step.reached else "not every handle arrived"
        self.message = f"{how} after {step.step} steps, {arrived}" + (
            f"; kept as bookmark '{self.bookmark}'" if self.bookmark else ""
        )

    # -- per frame ----------------------------------------------------------------------------------------------
    def on_network(self) -> None:
        self.job.cancel()
        self.clear_points()
        self.mask = None

    def update(self, dt: float) -> None:
        latest = self.latest
        if latest is not None and latest.step != self._shown_step and self.job.busy:
            self._shown_step = latest.step
            self.tracked = list(latest.points)
            self.app.request = with_latent(self.request, latest.ws, label=f"drag step {latest.step}")
        ok, result = self.job.poll()
        if ok:
            self._finish(result.step, "done")
        elif self.job.error:
            if self.job.error == "cancelled" and self.stopping and self.latest is not None:
                self._finish(self.latest, "stopped")
            else:
                self.message = "drag cancelled" if self.job.error == "cancelled" else self.job.error
                self.tracked = None
            self.job.error = None
            self.stopping = False

    def close(self) -> None:
        self.job.cancel()

    @property
    def animating(self) -> bool:
        return self.job.busy

    def draw(self) -> None:
        why = without_w(self.app.info, "there is no W+ to drag in")
        if why is not None:
            imgui.text_wrapped(why)
            return
        font = imgui.get_font_size()
        for name, label in (("points", "Points"), ("mask", "Mask")):
            if imgui.radio_button(label, self.mode == name):
                self.mode = "" if self.mode == name else name
            imgui.same_line()
        if imgui.radio_button("Pan", not self.mode):
            self.mode = ""
        imgui.text_disabled(
            {
                "points": "left: handle, then target; right: remove",
                "mask": "left: may change; right: keep",
                "": "the image pans and zooms",
            }[self.mode]
        )
        if self.mode == "mask":
            imgui.set_next_item_width(font * 8)
            _, self.brush = slider_int("Brush", self.brush, 1, max(2, self.resolution // 4))
        imgui.text(
            f"{len(self.pairs)} pair(s)"
            + (", handle waiting for its target" if self.pending else "")
            + (", mask" if self.mask is not None and self.mask.any() else "")
        )
        imgui.same_line()
        if imgui.small_button("Clear points"):
            self.clear_points()
        imgui.same_line()
        if imgui.small_button("Clear mask"):
            self.clear_mask()
        imgui.set_next_item_width(font * 6)
        _, self.steps = imgui.input_int("Steps##drag", self.steps, 10, 100)
        self.steps = max(1, min(int(self.steps), 10000))
        imgui.set_next_item_width(font * 6)
        _, self.lr = imgui.input_float("Learning rate##drag", self.lr, 0.0005, 0.005, "%.4f")
        self.lr = min(max(float(self.lr), 1e-5), 1.0)
        imgui.set_next_item_width(font * 6)
        _, self.layers = imgui.input_int("ws optimized##drag", self.layers, 1, 2)
        self.layers = max(1, min(int(self.layers), int(self.app.info.num_ws)))
        if self.mask is not None:
            imgui.set_next_item_width(font * 6)
            _, self.mask_weight = imgui.input_float("Mask weight##drag", self.mask_weight, 1.0, 5.0, "%.1f")
            self.mask_weight = min(max(float(self.mask_weight), 0.0), 1000.0)
        if self.job.busy:
            imgui.progress_bar(self.job.fraction, imgui.ImVec2(font * 10, 0), f"step {self.job.count}/{self.job.total}")
            imgui.same_line()
            if imgui.button("Stop##drag"):
                self.stop()
            latest = self.latest
            if latest is not None:
                imgui.text(f"motion loss {latest.motion:.4g}")
        elif imgui.button("Start##drag"):
            self.start()
        if self.message:
            imgui.text_wrapped(self.message)


def _arrow(dl, a: imgui.ImVec2, b: imgui.ImVec2, radius: float) -> None:
    """A line from a to b with a head at b (nothing for a zero-length arrow)."""
    dx, dy = b.x - a.x, b.y - a.y
    length = math.hypot(dx, dy)
    if length < 1e-3:
        return
    ux, uy = dx / length, dy / length
    dl.add_line(a, b, ARROW, 2.0)
    head = max(6.0, radius * 1.6)
    left = imgui.ImVec2(b.x - ux * head - uy * head * 0.5, b.y - uy * head + ux * head * 0.5)
    right = imgui.ImVec2(b.x - ux * head + uy * head * 0.5, b.y - uy * head - ux * head * 0.5)
    dl.add_triangle_filled(b, left, right, ARROW)


WIDGET = DragWidget
