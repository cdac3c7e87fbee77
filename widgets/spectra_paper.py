"""The Spectra panel's "paper" mode: the output image's spectrum as the StyleGAN3 paper's tooling computes it,
shown as the paper's heat map and its 0 / 45 degree slices, and saved as the paper's `.npz`.

Why a mode of its own beside the layer plots: the paper's estimator (quantized uint8 images, whitened by the
dataset's mean / std, unit-energy Kaiser window, zero-padded by `interp`) gives absolute numbers that compare
with the paper's figure and with `sg3-explorer spectra --paper`; the layer estimator answers another question
(docs/SPECTRA.md). The numbers come from the backend's `paper_spectrum` analysis (`network_jobs.paper_spectrum_job`,
the call `spectra --paper --connect` makes), the pictures from `stylegan3.metrics.spectrum_plots`, so the window,
the CLI and `spectra-plot` show the same heat map and slices. Not a panel module: `widgets.spectra` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from imgui_bundle import imgui, implot

from sg3_explorer.visualizer.jobs import JobSlot
from sg3_explorer.visualizer.network_jobs import NetworkJob, paper_spectrum_job
from stylegan3.analyses.spectra import PaperSpectrumParams
from stylegan3.documents.request import NOISE_MODES
from stylegan3.metrics.paper_spectrum import PaperSpectrum
from stylegan3.metrics.spectrum_plots import SLICE_DB, heatmap_figure, slice_curves

if TYPE_CHECKING:
    from sg3_explorer.visualizer.texture import Texture
    from sg3_explorer.widgets.context import PanelContext

# Without the training data's statistics the analysis' defaults whiten by a mid-grey mean and a typical image's
# spread (uint8 units): a stand-in that puts a network's spectrum about where whitened data would sit on the
# plots' fixed dB scales (0 / 1 would lift it by ~36 dB); the numbers compare with the paper's only with the
# dataset's own values (`spectra --images DATA --stats`).
DEFAULTS = PaperSpectrumParams()


@dataclass(frozen=True)
class PaperFigures:
    """A computed spectrum with what the panel shows of it: the paper's heat map (uint8 [H, W, 3], the picture
    `spectra-plot heatmap` draws) and the slices ({0 | 45: (|f| cycles per image, dB)}, `slice_curves`)."""

    spectrum: PaperSpectrum
    heatmap: np.ndarray
    slices: dict[int, tuple[np.ndarray, np.ndarray]]


def paper_figures(spec: PaperSpectrum) -> PaperFigures:
    """The figures of `spec`, drawn on the job's thread so the GUI never stalls on the heat map's contours."""
    curves = {angle: (np.ascontiguousarray(f, dtype=np.float64), np.ascontiguousarray(db, dtype=np.float64))
              for angle, (f, db) in slice_curves(spec).items()}
    return PaperFigures(spec, heatmap_figure(spec), curves)


def fit_width(pixels: np.ndarray, width: int) -> np.ndarray:
    """`pixels` scaled down (never up) to at most `width` columns, aspect kept: the heat map drawn one texel per
    screen pixel in a narrow panel, so it stays sharp and its pixels are exactly these."""
    from PIL import Image

    h, w = pixels.shape[:2]
    if width >= w:
        return pixels
    width = max(int(width), 16)
    return np.asarray(Image.fromarray(pixels).resize((width, max(1, round(h * width / w))), Image.LANCZOS))


def figures_job(request, params: dict[str, Any], label: str) -> NetworkJob:
    """`paper_spectrum_job` followed by its figures, on the job's thread."""
    job = paper_spectrum_job(request, params, label)
    return NetworkJob(job.label, lambda backend, progress: paper_figures(job.run(backend, progress)))


class PaperSpectrumView:
    """Settings, job, result and drawing of the paper mode (owned by the Spectra panel)."""

    def __init__(self, app: PanelContext) -> None:
        self.app = app
        self.mean, self.std = DEFAULTS.mean, DEFAULTS.std
        self.samples, self.seed = 16, DEFAULTS.seed
        self.beta, self.interp = DEFAULTS.beta, DEFAULTS.interp
        self.noise_mode = DEFAULTS.noise_mode
        self.job = JobSlot()
        self.result: PaperFigures | None = None
        self.computed_for = ""
        self.saved: Path | None = None
        self.fitted: np.ndarray | None = None  # the heat map as drawn (fit_width of result.heatmap)
        self.rects: dict[str, tuple[float, float, float, float]] = {}  # 'heatmap' / 'slices' -> x, y, w, h (tests)
        self._texture: Texture | None = None
        self._uploaded: np.ndarray | None = None
        self._plot_id = 0  # a new result resets the slice plot's axes to the paper's ranges

    def params(self) -> dict[str, Any]:
        """The analysis' `PaperSpectrumParams` fields (checked there: a bad value is the panel's error line)."""
        return dict(samples=int(self.samples), seed=int(self.seed), mean=float(self.mean), std=float(self.std),
                    beta=float(self.beta), interp=int(self.interp), psi=1.0, noise_mode=self.noise_mode)

    def start(self) -> bool:
        if self.app.info is None:
            return False
        p = self.params()
        label = f"{Path(self.app.source or 'network').stem} seeds {p['seed']}..{p['seed'] + p['samples'] - 1}"
        if self.app.start_job(self.job, figures_job(self.app.current_request(), p, label)):
            self.computed_for = (f"{p['samples']} images, mean {p['mean']:g}, std {p['std']:g}, beta {p['beta']:g}, "
                                 f"x{p['interp']}, noise {p['noise_mode']}")
            return True
        return False

    def update(self) -> None:
        ok, result = self.job.poll()
        if ok:
            self.result, self.saved = result, None
            self._plot_id += 1

    def reset(self) -> None:
        """Another network: its spectrum is not this one."""
        self.job.cancel()
        self.result, self.saved, self.fitted = None, None, None

    def save(self, path: str | Path | None = None) -> Path:
        """The `.npz` in the paper's layout (`PaperSpectrum.save`), by default a fresh name in the capture folder."""
        from sg3_explorer.visualizer.capture import capture_name, next_free_path

        if self.result is None:
            raise ValueError("nothing computed yet")
        if path is None:
            folder = Path(self.app.settings.capture_dir).expanduser()
            folder.mkdir(parents=True, exist_ok=True)
            path = next_free_path(folder, capture_name("spectrum", self.app.request, self.app.source or ""), ".npz")
        self.result.spectrum.save(path)
        self.saved = Path(path)
        return self.saved

    def close(self) -> None:
        self.job.cancel()
        if self._texture is not None:
            self._texture.delete()
            self._texture = None

    # -- drawing --------------------------------------------------------------------------------------------------
    def draw(self) -> None:
        self._controls()
        if self.result is None:
            imgui.text_disabled("press Compute for the paper's spectrum of the output image")
            return
        imgui.text_disabled(self.computed_for)
        if imgui.button("Save .npz##paper"):
            self.save()
        if self.saved is not None:
            imgui.same_line()
            imgui.text_disabled(self.saved.name)
            if imgui.is_item_hovered():
                imgui.set_tooltip(str(self.saved))
        self._heatmap()
        self._slices()

    def _controls(self) -> None:
        w = imgui.get_font_size() * 6
        imgui.set_next_item_width(w)
        _, self.mean = imgui.input_float("Mean##paper", self.mean, 0.0, 0.0, "%.3f")
        imgui.same_line()
        imgui.set_next_item_width(w)
        _, self.std = imgui.input_float("Std##paper", self.std, 0.0, 0.0, "%.3f")
        if imgui.is_item_hovered():
            imgui.set_tooltip("the dataset's pixel mean / std in uint8 units (sg3-explorer spectra --images DATA "
                              "--stats); the defaults only keep the plot in range")
        imgui.set_next_item_width(w)
        _, n = imgui.input_int("Images##paper", self.samples)
        self.samples = int(min(max(n, 1), 200_000))
        imgui.same_line()
        imgui.set_next_item_width(w)
        _, s = imgui.input_int("First seed##paper", self.seed)
        self.seed = int(min(max(s, 0), 2**32 - 1))
        imgui.set_next_item_width(w)
        _, self.beta = imgui.input_float("Beta##paper", self.beta, 0.0, 0.0, "%.2f")
        imgui.same_line()
        imgui.set_next_item_width(w)
        _, i = imgui.input_int("Interp##paper", self.interp)
        self.interp = int(min(max(i, 1), 16))
        imgui.set_next_item_width(w)
        idx = NOISE_MODES.index(self.noise_mode)
        changed, idx = imgui.combo("Noise##paper", idx, list(NOISE_MODES))
        if changed:
            self.noise_mode = NOISE_MODES[idx]
        if self.job.busy:
            if imgui.button("Cancel##paper"):
                self.job.cancel()
            imgui.same_line()
            total = self.job.total or self.samples
            imgui.progress_bar(self.job.fraction, imgui.ImVec2(-1, 0), f"{self.job.count}/{total} images")
        else:
            if imgui.button("Compute##paper"):
                self.start()
            if self.job.error:
                imgui.same_line()
                imgui.text_colored(imgui.ImVec4(1.0, 0.45, 0.4, 1.0), self.job.error)

    def _heatmap(self) -> None:
        from sg3_explorer.visualizer.texture import Texture

        assert self.result is not None
        width = int(imgui.get_content_region_avail().x)
        if self.fitted is None or self._uploaded is not self.result.heatmap or self.fitted.shape[1] != min(
                width, self.result.heatmap.shape[1]):
            self.fitted = fit_width(self.result.heatmap, width)
            self._uploaded = self.result.heatmap
            if self._texture is None:
                self._texture = Texture()
            self._texture.upload(self.fitted)
        h, w = self.fitted.shape[:2]
        pos = imgui.get_cursor_screen_pos()
        imgui.set_cursor_screen_pos(imgui.ImVec2(round(pos.x), round(pos.y)))  # one texel per pixel, exactly
        imgui.image(imgui.ImTextureRef(self._texture.tex_id), imgui.ImVec2(w, h))
        lo = imgui.get_item_rect_min()
        self.rects["heatmap"] = (lo.x, lo.y, float(w), float(h))

    def _slices(self) -> None:
        assert self.result is not None
        size = self.result.spectrum.image_size
        width = imgui.get_content_region_avail().x
        if implot.begin_plot(f"Slices (paper)##{self._plot_id}", imgui.ImVec2(width, imgui.get_font_size() * 14)):
            implot.setup_axes("|f|, cycles per image", "dB")
            implot.setup_axes_limits(0.0, size / np.sqrt(2), SLICE_DB[0], SLICE_DB[1], imgui.Cond_.once)
            implot.setup_legend(implot.Location_.north_east, 0)
            for angle, (f, db) in self.result.slices.items():
                implot.plot_line(f"{angle} deg", f, db)
            implot.end_plot()
        lo, hi = imgui.get_item_rect_min(), imgui.get_item_rect_max()
        self.rects["slices"] = (lo.x, lo.y, hi.x - lo.x, hi.y - lo.y)
