"""Spectra panel (ImPlot): radially averaged power spectrum and 0 / 45 degree slices of a layer, with its
cutoff, stopband and Nyquist marked; averaged over N latents on a background thread; a second layer overlaid.
Its "paper" mode (`widgets.spectra_paper`) shows the output image's spectrum as the StyleGAN3 paper computes it.

Latents are the seeds shown in the app (current seed .. seed + N - 1, current psi), so N = 1 is the image on
screen. The numbers come from `stylegan3.metrics.spectra` (headless), computed by a job of the context
(`visualizer.network_jobs.spectra_job`); this panel plots them.
"""

from __future__ import annotations

import numpy as np
from imgui_bundle import imgui, implot

from sg3_explorer.visualizer.jobs import JobSlot
from sg3_explorer.visualizer.network_jobs import spectra_job
from sg3_explorer.widgets.base import Widget
from sg3_explorer.widgets.spectra_paper import PaperSpectrumView
from stylegan3.documents.request import OUTPUT_LAYER, WINDOWS, FFTView
from stylegan3.metrics.spectra import to_db

MODES = ("layers", "paper")  # the layer estimator's plots, or the paper's heat map and slices of the output
MARK_COLOURS = {"cutoff": (0.3, 1.0, 0.3, 1.0), "stopband": (1.0, 1.0, 0.3, 1.0), "nyquist": (1.0, 0.35, 0.35, 1.0)}


def plot_curves(spectra: dict) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """{layer: {'radial' | 'slice0' | 'slice45': (frequency, dB re. the layer's peak)}} for the plots."""
    out = {}
    for name, spec in spectra.items():
        ref = float(spec.power.max())
        curves = {"radial": spec.radial(), "slice0": spec.slice(0), "slice45": spec.slice(45)}
        out[name] = {k: (np.ascontiguousarray(f, dtype=np.float64),
                         np.ascontiguousarray(to_db(p, ref=ref), dtype=np.float64)) for k, (f, p) in curves.items()}
    return out


class SpectraWidget(Widget):
    title = "Spectra"
    default_open = False

    def __init__(self, app) -> None:
        super().__init__(app)
        self.names: list[str] = [OUTPUT_LAYER]
        self.layer_a = OUTPUT_LAYER
        self.layer_b: str | None = None
        self.overlay = False
        self.num_samples = 1
        self.window = FFTView().window
        self.job = JobSlot()
        self.spectra: dict = {}
        self.curves: dict = {}
        self.computed_for = ""
        self.item_rects: dict[str, tuple[float, float, float, float]] = {}  # combo -> x0, y0, x1, y1 (GUI tests)
        self.mode = "layers"
        self.paper = PaperSpectrumView(app)

    def visible(self) -> bool:
        return self.app.info is not None

    @property
    def animating(self) -> bool:
        return self.job.busy or self.paper.job.busy

    def close(self) -> None:
        self.job.cancel()
        self.paper.close()

    def on_network(self) -> None:
        self.job.cancel()
        self.paper.reset()
        info = self.app.info
        self.names = [OUTPUT_LAYER] + (list(info.layer_names) if info is not None else [])
        if self.layer_a not in self.names:
            self.layer_a = OUTPUT_LAYER
        if self.layer_b not in self.names:
            self.layer_b = None
        self.spectra, self.curves = {}, {}

    def layers_to_compute(self) -> list[str]:
        out = [self.layer_a]
        if self.overlay and self.layer_b and self.layer_b != self.layer_a:
            out.append(self.layer_b)
        return out

    def start(self) -> bool:
        if self.app.info is None:
            return False
        request = self.app.current_request()
        seed, psi = request.latent.seed, request.truncation.psi
        layers = self.layers_to_compute()
        job = spectra_job(request, layers, int(self.num_samples), int(seed), float(psi), self.window)
        if self.app.start_job(self.job, job):
            n = int(self.num_samples)
            seeds = f"seed {seed}" if n == 1 else f"seeds {seed}..{seed + n - 1}"
            self.computed_for = f"{seeds}, psi {psi:.2f}, {self.window} window"
            return True
        return False

    def update(self, dt: float) -> None:
        ok, result = self.job.poll()
        if ok:
            self.spectra = result
            self.curves = plot_curves(result)
        self.paper.update()

    def _combo(self, label: str, current: str | None) -> str | None:
        names = self.names
        idx = names.index(current) if current in names else 0
        imgui.set_next_item_width(imgui.get_font_size() * 10)
        changed, idx = imgui.combo(label, idx, names)
        self._remember(label)
        return names[idx] if changed else current

    def _remember(self, label: str) -> None:
        lo, hi = imgui.get_item_rect_min(), imgui.get_item_rect_max()
        self.item_rects[label] = (lo.x, lo.y, hi.x, hi.y)

    def draw(self) -> None:
        for i, mode in enumerate(MODES):
            if i:
                imgui.same_line()
            if imgui.radio_button(f"{mode}##specmode", self.mode == mode):
                self.mode = mode
        if self.mode == "paper":
            self.paper.draw()
            return
        self.layer_a = self._combo("Layer##specA", self.layer_a)
        imgui.same_line()
        if imgui.button("Shown##spec"):
            shown = self.request.layer.layer
            self.layer_a = shown if shown in self.names else OUTPUT_LAYER
        _, self.overlay = imgui.checkbox("Overlay##spec", self.overlay)
        if self.overlay:
            imgui.same_line()
            self.layer_b = self._combo("##specB", self.layer_b or self.names[-1])
        imgui.set_next_item_width(imgui.get_font_size() * 6)
        _, n = imgui.input_int("Latents##spec", self.num_samples)
        self.num_samples = int(min(max(n, 1), 1024))
        imgui.same_line()
        idx = WINDOWS.index(self.window)
        imgui.set_next_item_width(imgui.get_font_size() * 6)
        changed, idx = imgui.combo("Window##spec", idx, list(WINDOWS))
        self._remember("Window##spec")
        if changed:
            self.window = WINDOWS[idx]
        if self.job.busy:
            if imgui.button("Cancel##spec"):
                self.job.cancel()
            imgui.same_line()
            total = self.job.total or self.num_samples * len(self.layers_to_compute())
            imgui.progress_bar(self.job.fraction, imgui.ImVec2(-1, 0), f"{self.job.count}/{total} latents")
        else:
            if imgui.button("Compute##spec"):
                self.start()
            if self.job.error:
                imgui.same_line()
                imgui.text_colored(imgui.ImVec4(1.0, 0.45, 0.4, 1.0), self.job.error)
        if not self.curves:
            imgui.text_disabled("press Compute for the spectra of the chosen layer(s)")
            return
        imgui.text_disabled(self.computed_for)
        for mark in ("cutoff", "stopband", "nyquist"):
            imgui.text_colored(imgui.ImVec4(*MARK_COLOURS[mark]), f"| {mark}")
            imgui.same_line()
        imgui.text_disabled("(thin: overlay)" if len(self.curves) > 1 else "")
        self._plot("Radially averaged power##plot", [("radial", "")])
        self._plot("Slices##plot", [("slice0", " 0 deg"), ("slice45", " 45 deg")])

    def _plot(self, title: str, series: list[tuple[str, str]]) -> None:
        width = imgui.get_content_region_avail().x
        if not implot.begin_plot(title, imgui.ImVec2(width, imgui.get_font_size() * 14)):
            return
        implot.setup_axes("cycles per unit", "dB")
        implot.setup_legend(implot.Location_.north_east, 0)
        for i, (name, curves) in enumerate(self.curves.items()):
            for key, suffix in series:
                f, db = curves[key]
                implot.plot_line(f"{name}{suffix}", f, db)
            for mark, value in self.spectra[name].marks.items():
                if mark not in MARK_COLOURS:
                    continue
                spec = implot.Spec()
                spec.line_color = imgui.ImVec4(*MARK_COLOURS[mark])
                spec.flags = implot.ItemFlags_.no_legend  # explained by the coloured line above the plots
                if i:  # the overlaid layer's marks are thinner
                    spec.line_weight = 0.5
                implot.plot_inf_lines(f"{mark}##{i}", np.array([value], dtype=np.float64), spec)
        implot.end_plot()


WIDGET = SpectraWidget
