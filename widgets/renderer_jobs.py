"""Sticking & recording of the main view: the texture-sticking score of the current view and an mp4 of the view
moving along a transform path, computed next to the network by the backend's `sticking` / `record` analyses
(`visualizer.network_jobs.sticking_job` / `record_job`, headless, tested); this starts them and shows progress
and results. (The comparison panel runs the same analyses per pane.)
"""

from __future__ import annotations

from pathlib import Path

from imgui_bundle import imgui

from sg3_explorer.visualizer.jobs import JobSlot
from sg3_explorer.widgets.base import Widget


class RendererJobsWidget(Widget):
    title = "Sticking & recording"
    default_open = False

    def __init__(self, app) -> None:
        super().__init__(app)
        self.samples, self.sigma = 8, 0.2
        self.frames, self.fps, self.path, self.walk = 60, 30.0, "circle:0.1", 0.0
        self.sticking, self.record = JobSlot(), JobSlot()
        self.score: tuple[float, float, float] | None = None  # score, ratio, detail energy
        self.message = ""
        self.record_path: Path | None = None

    def visible(self) -> bool:
        return self.app.info is not None

    @property
    def animating(self) -> bool:
        return self.sticking.busy or self.record.busy

    def start_sticking(self) -> bool:
        from sg3_explorer.visualizer.network_jobs import sticking_job

        job = sticking_job(self.app.current_request(), int(self.samples), float(self.sigma))
        return self.app.start_job(self.sticking, job)

    def start_record(self, out: str | Path | None = None) -> bool:
        from sg3_explorer.visualizer.capture import capture_name, next_free_path
        from sg3_explorer.visualizer.network_jobs import record_job

        if self.app.info is None:
            return False
        if out is None:
            folder = Path(self.app.settings.capture_dir).expanduser()
            folder.mkdir(parents=True, exist_ok=True)
            out = next_free_path(folder, capture_name("video", self.request, self.app.source or ""), ".mp4")
        self.record_path = Path(out)
        moves = self.app.info.capabilities.input_transform
        path = self.path if moves else ""  # SG2 has no input transform: the recording walks seeds only
        job = record_job(self.app.current_request(), out, int(self.frames), float(self.fps), path, float(self.walk))
        return self.app.start_job(self.record, job)

    def on_network(self) -> None:
        self.sticking.cancel()
        self.score = None

    def update(self, dt: float) -> None:
        ok, result = self.sticking.poll()
        if ok:
            res = result[1]
            self.score = (res.score, res.ratio, res.detail_energy)
        ok, count = self.record.poll()
        if ok:
            self.message = f"wrote {count} frames to {self.record_path}"
        elif self.record.error:
            self.message = f"recording: {self.record.error}"

    def _job_row(self, slot: JobSlot, name: str) -> bool:
        """Progress and Cancel while `slot` runs; True when idle."""
        if not slot.busy:
            return True
        if imgui.button(f"Cancel##{name}"):
            slot.cancel()
        imgui.same_line()
        imgui.progress_bar(slot.fraction, imgui.ImVec2(-1, 0), f"{slot.count}/{slot.total}")
        return False

    def draw(self) -> None:
        font = imgui.get_font_size()
        imgui.set_next_item_width(font * 6)
        _, self.samples = imgui.input_int("K##stick", self.samples)
        self.samples = int(min(max(self.samples, 2), 4096))
        imgui.same_line()
        imgui.set_next_item_width(font * 6)
        _, self.sigma = imgui.input_float("sigma##stick", self.sigma, 0.05, 0.2, "%.2f")
        self.sigma = float(min(max(self.sigma, 0.01), 10.0))
        if self._job_row(self.sticking, "stick"):
            if imgui.button("Measure sticking"):
                self.start_sticking()
            if self.sticking.error:
                imgui.same_line()
                imgui.text_colored(imgui.ImVec4(1.0, 0.45, 0.4, 1.0), self.sticking.error)
        if self.score is not None:
            imgui.text(f"sticking {self.score[0]:.4f}  (kept {self.score[1]:.4f}, detail {self.score[2]:.3g})")
        imgui.separator()
        imgui.set_next_item_width(font * 6)
        _, self.frames = imgui.input_int("frames##rec", self.frames)
        self.frames = int(min(max(self.frames, 1), 100_000))
        imgui.same_line()
        imgui.set_next_item_width(font * 6)
        _, self.fps = imgui.input_float("fps##rec", self.fps, 1.0, 5.0, "%.0f")
        self.fps = float(min(max(self.fps, 1.0), 240.0))
        imgui.set_next_item_width(font * 12)
        _, self.path = imgui.input_text("path##rec", self.path)
        if imgui.is_item_hovered():
            imgui.set_tooltip("circle:R, sway:X,Y, pan:X,Y, spin:TURNS joined with '+' (SG3 only)")
        imgui.set_next_item_width(font * 6)
        _, self.walk = imgui.input_float("seeds walked##rec", self.walk, 0.5, 1.0, "%.1f")
        if self._job_row(self.record, "rec") and imgui.button("Record video"):
            self.start_record()
        if self.message:
            imgui.text_wrapped(self.message)


WIDGET = RendererJobsWidget
