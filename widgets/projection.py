"""Projection panel: bring your own image in (path, File > Project image..., or drop a PNG/JPEG on the window).

The optimizer (`stylegan3.explore.projection.project`) runs next to the network as the backend's `project`
analysis (`visualizer.network_jobs`), streaming each step back; every step's latent is put into the window's
request, so the view shows the reconstruction as it forms. Cancel stops it at the next step. The result stays on
screen and becomes a bookmark of the Timeline panel.
"""

from __future__ import annotations

from pathlib import Path

from imgui_bundle import imgui

from sg3_explorer.visualizer.explore import with_latent
from sg3_explorer.visualizer.jobs import JobSlot
from sg3_explorer.visualizer.network_jobs import projection_job
from sg3_explorer.widgets.applicability import without_w
from sg3_explorer.widgets.base import Widget

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")
DIALOG = "Project image"


def is_image_path(path: str) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


class ProjectionWidget(Widget):
    title = "Projection"
    default_open = False

    def __init__(self, app) -> None:
        super().__init__(app)
        self.path = ""
        # A 256 px net takes seconds per step on a CPU, milliseconds on a GPU.
        self.steps = 300 if getattr(app.device, "type", "cpu") == "cuda" else 100
        self.space = "w+"
        self.loss_kind = "auto"
        self.job = JobSlot()
        self.latest = None  # the newest ProjectionStep (written by the job's thread, read here)
        self._shown_step = -1
        self.loss_text = ""
        self.message = ""
        self.result = None
        self.bookmark: int | None = None
        self._open_dialog = False
        self.dialog_visible = False

    def visible(self) -> bool:
        return self.app.info is not None

    # -- actions ----------------------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        """File > Project image...: a small modal with the path and the options."""
        self._open_dialog = True

    def start(self, path: str | None = None) -> bool:
        """Load the target now (a bad file is a message at once) and run the optimizer as a job."""
        from stylegan3.explore.projection import load_target

        info = self.app.info
        if info is None:
            return False
        if self.job.busy:
            self.message = "a projection is running: cancel it first"
            return False
        self.path = str(path or self.path)
        try:
            target = load_target(self.path, int(info.resolution), int(info.img_channels))
        except Exception as exc:  # noqa: BLE001 - not an image, corrupt, too large: one line
            self.message = str(exc)
            return False
        self.loss_text = f"loss: {self.loss_kind}"  # the backend builds it (and says which one with the result)
        self.message, self.result, self.latest, self._shown_step = "", None, None, -1

        def show(step) -> None:  # on the job's thread: `update` picks it up on the GUI thread
            self.latest = step

        job = projection_job(self.app.current_request(), target, int(self.steps), self.space, self.loss_kind, show,
                             label=f"project {Path(self.path).name}")
        if self.app.start_job(self.job, job):
            return True
        self.message, self.loss_text = self.job.error or self.message, ""  # refused: no loss will run
        self.job.error = None
        return False

    def cancel(self) -> None:
        self.job.cancel()

    # -- per frame --------------------------------------------------------------------------------------------
    def on_network(self) -> None:
        self.job.cancel()

    def update(self, dt: float) -> None:
        latest = self.latest
        if latest is not None and latest.step != self._shown_step and (self.job.busy or self.result is None):
            self._shown_step = latest.step
            self.app.request = with_latent(self.request, latest.ws, label=f"projection step {latest.step}")
        ok, result = self.job.poll()
        if ok:
            step, quality = result.step, result.psnr
            self.loss_text = f"loss: {result.loss_description}" + (f" ({result.note})" if result.note else "")
            self.result = step
            self.app.request = with_latent(self.request, step.ws, label=f"projection of {Path(self.path).name}")
            timeline = self.app.widget("timeline")
            if timeline is not None:
                self.bookmark = timeline.add_bookmark(step.ws, label=f"projection of {Path(self.path).name}")
            self.message = (f"done: {step.steps} steps, loss {step.loss:.4g}, PSNR {quality:.1f} dB"
                            + (f"; bookmark {self.bookmark}" if self.bookmark is not None else ""))
        elif self.job.error:
            self.message = "projection cancelled" if self.job.error == "cancelled" else self.job.error
            self.job.error = None
        self._draw_dialog()

    def close(self) -> None:
        self.job.cancel()

    def _draw_options(self) -> None:
        font = imgui.get_font_size()
        imgui.set_next_item_width(font * 14)
        _, self.path = imgui.input_text("Image", self.path)
        imgui.set_next_item_width(font * 6)
        _, self.steps = imgui.input_int("Steps", self.steps, 10, 100)
        self.steps = max(1, min(int(self.steps), 10000))
        imgui.same_line()
        for name in ("w", "w+"):
            if imgui.radio_button(name.upper(), self.space == name):
                self.space = name
            imgui.same_line()
        imgui.new_line()
        imgui.set_next_item_width(font * 6)
        if imgui.begin_combo("Loss", self.loss_kind):
            for name in ("auto", "offline", "lpips"):
                if imgui.selectable(name, name == self.loss_kind)[0]:
                    self.loss_kind = name
            imgui.end_combo()

    def _draw_dialog(self) -> None:
        if self._open_dialog:
            imgui.open_popup(DIALOG)
            self._open_dialog = False
        opened, _ = imgui.begin_popup_modal(DIALOG, True, imgui.WindowFlags_.always_auto_resize)
        self.dialog_visible = opened
        if not opened:
            return
        self._draw_options()
        if imgui.button("Project") and self.start():
            imgui.close_current_popup()
        imgui.same_line()
        if imgui.button("Close") or imgui.is_key_pressed(imgui.Key.escape):
            imgui.close_current_popup()
        if self.message:
            imgui.text_wrapped(self.message)
        imgui.end_popup()

    def draw(self) -> None:
        self._draw_options()
        why = without_w(self.app.info, "there is no W / W+ to project an image into")
        if why is not None:
            imgui.text_wrapped(why)
            return
        if self.job.busy:
            imgui.progress_bar(self.job.fraction, imgui.ImVec2(imgui.get_font_size() * 10, 0),
                               f"step {self.job.count}/{self.job.total}")
            imgui.same_line()
            if imgui.button("Cancel##projection"):
                self.cancel()
            latest = self.latest
            if latest is not None:
                imgui.text(f"loss {latest.loss:.4g}")
        elif imgui.button("Project"):
            self.start()
        imgui.same_line()
        imgui.text_disabled("or drop a PNG/JPEG on the window")
        if self.loss_text:
            imgui.text_wrapped(self.loss_text)
        if self.message:
            imgui.text_wrapped(self.message)


WIDGET = ProjectionWidget
