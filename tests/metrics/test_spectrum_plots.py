"""The paper's heat map and slices: what is plotted (dB plane, smoothing scaled to the interpolation, slices) and
what is drawn (bands in their colours where the levels say, curves where their dB says, labels), from files in
the paper tooling's layout."""

from __future__ import annotations

import numpy as np
import pytest

from stylegan3.cli.main import main
from stylegan3.metrics.paper_spectrum import PaperSpectrum, load_paper_spectrum
from stylegan3.metrics.spectrum_plots import (
    BAND_COLORS,
    CURVE_COLORS,
    HEATMAP_BOX,
    SLICE_DB,
    SLICES_BOX,
    SLICES_GAP,
    heatmap_db,
    heatmap_figure,
    slice_curves,
    slices_figure,
)


def radial_db(size: int, interp: int, db_at) -> np.ndarray:
    """A spectrum in the paper's layout (zero frequency at [0, 0]) whose dB is `db_at(|f|)`, |f| in cycles/image."""
    n = size * interp
    f = np.fft.fftfreq(n) * size
    r = np.hypot(f[:, None], f[None, :])
    return 10 ** (db_at(r) / 10)


def test_db_plane_is_shifted_wrapped_and_smoothed_in_image_frequency_bins():
    spectrum = np.ones((32, 32))
    spectrum[0, 0] = 1e10  # 100 dB at zero frequency, 0 dB elsewhere
    raw = heatmap_db(PaperSpectrum(spectrum, 8), smooth=0)
    assert raw.shape == (33, 33) and raw[16, 16] == pytest.approx(100) and raw.sum() == pytest.approx(100)
    assert np.array_equal(raw[-1], raw[0]) and np.array_equal(raw[:, -1], raw[:, 0])
    for size, smooth in ((8, 1.0), (4, 0.5)):  # sigma = interp x smooth bins: 4 and 4 here
        db = heatmap_db(PaperSpectrum(spectrum, size), smooth=smooth)
        row = db[16] / db[16].sum()
        x = np.arange(33) - 16
        assert np.sqrt((row * x**2).sum()) == pytest.approx(32 / size * smooth, rel=0.02)


def test_heatmap_draws_the_levels_where_the_spectrum_is(tmp_path):
    # 30 dB at zero frequency falling 1 dB per cycle: the bands are rings, 20 dB and above inside r = 10
    np.savez(tmp_path / "rings.npz", spectrum=radial_db(64, 2, lambda r: 30 - r), image_size=64)  # as their script
    spec = load_paper_spectrum(tmp_path / "rings.npz")
    fig = heatmap_figure(spec, smooth=0)
    left, top, side = HEATMAP_BOX
    box = fig[top:top + side, left:left + side]
    px_per_cycle = side / 64

    def at(fx: float, fy: float) -> np.ndarray:
        return box[int(side / 2 - fy * px_per_cycle), int(side / 2 + fx * px_per_cycle)]

    assert (at(0, 0) == BAND_COLORS[13]).all()  # >= 20 dB: the darkest
    # band k holds -40 + 5 (k - 1) .. -40 + 5 k dB
    assert (at(12, 0) == BAND_COLORS[12]).all() and (at(0, -12) == BAND_COLORS[12]).all()  # 18 dB
    assert (at(17.5, 17.5) == BAND_COLORS[10]).all()  # r = 24.7: 5.3 dB
    assert (at(31, 31) == BAND_COLORS[6]).all()  # the corner, r = 43.8: -13.8 dB
    # every band between -15 and 20 dB appears, in its own colour, and no other; the colour bar shows all twelve
    found = {tuple(c) for c in box.reshape(-1, 3)}
    assert all(tuple(BAND_COLORS[k]) in found for k in range(6, 14))
    assert not any(tuple(BAND_COLORS[k]) in found for k in range(0, 6))
    bar = fig[top:top + side, left + side + 28:left + side + 28 + 18]
    assert all((bar == BAND_COLORS[k]).all(axis=-1).any() for k in range(1, 13))
    # the title and tick labels are drawn (dark text above and left of the box)
    assert (fig[:top - 6, left:left + 300] < 100).any() and (fig[top:top + side, :left - 6] < 100).any()


def test_slices_put_each_curve_at_its_db_and_label_it(tmp_path):
    flat = PaperSpectrum(np.full((64, 64), 1.0), 16, label="flat")  # 0 dB
    falling = PaperSpectrum(radial_db(16, 4, lambda r: 20 - 10 * r), 16, label="falling")  # -50 dB at |f| = 7
    curves = slice_curves(falling)
    assert curves[0][0][-1] == 8 and curves[45][0][-1] == pytest.approx(16 / np.sqrt(2))
    assert np.allclose(curves[0][1], 20 - 10 * curves[0][0]) and np.allclose(curves[45][1], 20 - 10 * curves[45][0])
    fig = slices_figure([flat, falling])
    left, top, w, h = SLICES_BOX
    lo, hi = SLICE_DB
    for panel in range(2):
        x0 = left + panel * (w + SLICES_GAP)
        area = fig[top:top + h, x0:x0 + w]
        blue, orange = (area == CURVE_COLORS[0]).all(-1), (area == CURVE_COLORS[1]).all(-1)
        y0 = round((hi - 0) / (hi - lo) * h)  # 0 dB
        band = slice(y0 - 2, y0 + 2)  # the flat curve runs along 0 dB (the falling one, drawn later, crosses it)
        assert blue[band].any(axis=0).sum() > 0.95 * w
        y20 = round((hi - 20) / (hi - lo) * h)  # the falling one starts at 20 dB
        assert orange[y20 - 3:y20 + 4, :6].any() and not orange[:y20 - 3, :w // 2].any()
        assert not orange[:, w - 40:].any()  # ... and has left the plot (below -50 dB) before the end
        # the legend (top right) shows both colours
        legend = area[:60, w - 200:]
        assert (legend == CURVE_COLORS[0]).all(-1).any() and (legend == CURVE_COLORS[1]).all(-1).any()
        assert (fig[:top - 4, x0 + w // 3:x0 + 2 * w // 3] < 100).any()  # the title
    assert main(["spectra-plot", "heatmap", str(_save(flat, tmp_path)), "--out", str(tmp_path / "h.png")]) == 0


def _save(spec: PaperSpectrum, folder) -> str:
    path = folder / f"{spec.label}.npz"
    spec.save(path)
    return path
