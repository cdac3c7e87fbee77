"""The spectra figure draws what its legend names: cutoff/stopband squares, including a mark at Nyquist."""

from __future__ import annotations

import numpy as np

from stylegan3.cli.cmd_spectra import MARK_COLORS, PANEL, spectrum_figure, square_legend
from stylegan3.metrics.spectra import Spectrum

GAP, TOP = 30, 56  # where spectrum_figure puts the first heat map


def _spectrum(sampling_rate: float, **marks: float) -> Spectrum:
    n = 32
    freqs = (np.arange(n) - n // 2) * sampling_rate / n
    return Spectrum(np.ones((n, n)), freqs, sampling_rate, "test", 1, dict(marks, nyquist=sampling_rate / 2))


def _mark_pixels(fig: np.ndarray, name: str) -> np.ndarray:
    """(row, col) of the heat-map pixels painted exactly in the mark's colour (a flat spectrum is pale yellow)."""
    panel = fig[TOP:TOP + PANEL, GAP:GAP + PANEL]
    return np.argwhere((panel == np.array(MARK_COLORS[name], np.uint8)).all(axis=-1))


def test_stopband_at_nyquist_is_drawn_at_the_edge():
    spec = _spectrum(64.0, cutoff=16.0, stopband=32.0)  # like every early SG3 layer: stopband = Nyquist
    fig = spectrum_figure([spec])
    orange, green = _mark_pixels(fig, "stopband"), _mark_pixels(fig, "cutoff")
    assert len(orange) > 4 * (PANEL - 4) and orange.min() == 0 and orange.max() == PANEL - 1  # inside the frame
    # the cutoff square is half as wide: its pixels sit around the quarter lines
    assert len(green) > 4 * (PANEL // 2 - 4)
    assert abs(green.min() - PANEL / 4) <= 2 and abs(green.max() - 3 * PANEL / 4) <= 2
    assert square_legend(spec) == "squares: cutoff 16 (green), stopband 32 (orange, the edge)"


def test_a_mark_beyond_nyquist_has_no_square_and_the_legend_says_so():
    spec = _spectrum(256.0, cutoff=128.0, stopband=157.6)  # the last SG3 layers and the output
    fig = spectrum_figure([spec])
    assert len(_mark_pixels(fig, "stopband")) == 0
    assert len(_mark_pixels(fig, "cutoff")) > 4 * (PANEL - 4)
    assert square_legend(spec) == ("squares: cutoff 128 (green, the edge); "
                                   "stopband 158 (orange) beyond Nyquist 128: no square")


def test_no_marks_no_square_legend():
    spec = _spectrum(64.0)
    assert square_legend(spec) == ""
    fig = spectrum_figure([spec])
    assert len(_mark_pixels(fig, "cutoff")) == len(_mark_pixels(fig, "stopband")) == 0
