"""Spectra: levels, peak positions, windows, radial/slice geometry, marks, image folders."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from stylegan3.errors import SG3Error
from stylegan3.metrics.images import iter_image_folder, list_images
from stylegan3.metrics.spectra import (
    accumulate_spectrum,
    layer_marks,
    network_spectrum,
    power_spectrum,
    radial_average,
    spectrum_frequencies,
    spectrum_slice,
    to_db,
    window_2d,
)


def wave(n: int, fx: float, fy: float) -> torch.Tensor:
    """cos(2 pi (fx x + fy y)) with frequencies in cycles per pixel, as [1, 1, n, n]."""
    c = torch.arange(n, dtype=torch.float64)
    return torch.cos(2 * math.pi * (fx * c[None, :] + fy * c[:, None]))[None, None]


def test_white_noise_is_flat_at_its_variance():
    g = torch.Generator().manual_seed(0)
    x = 0.5 * torch.randn(64, 2, 32, 32, generator=g)
    for window in ("none", "hann", "kaiser"):
        p = power_spectrum(x, window=window).numpy()
        assert p.shape == (32, 32)
        assert np.median(p) == pytest.approx(0.25, rel=0.1)


def test_tone_peaks_at_its_frequency_in_sampling_rate_units():
    n, rate = 32, 16.0  # a layer of 32 samples at 16 samples per unit: Nyquist 8
    p = power_spectrum(wave(n, 5 / 32, 0.0), window="none").numpy()
    f = spectrum_frequencies(n, rate)
    iy, ix = np.unravel_index(np.argmax(p), p.shape)
    assert f[iy] == 0 and abs(f[ix]) == pytest.approx(5 / 32 * rate)
    assert f.min() == -rate / 2 and f[n // 2] == 0


def test_kaiser_window_suppresses_leakage_of_an_off_grid_tone():
    x = wave(64, 0.1234, 0.0)
    far = slice(48, 64)  # the tone sits at column 40; look 8+ bins away
    box = to_db(power_spectrum(x, window="none"))[32, far].max()
    kaiser = to_db(power_spectrum(x, window="kaiser", beta=8))[32, far].max()
    assert box > -50 and kaiser < box - 30


def test_window_shapes_and_unknown_window():
    w = window_2d("kaiser", 8, 16, beta=6)
    assert w.shape == (8, 16) and float(w.max()) <= 1 and float(w[0, 0]) < 0.05
    with pytest.raises(SG3Error, match="unknown window"):
        window_2d("gauss", 4, 4)


def test_mean_is_removed_unless_asked():
    x = torch.full((1, 1, 16, 16), 3.0)
    assert power_spectrum(x).abs().max() < 1e-20
    assert power_spectrum(x, remove_mean=False, window="none").max() == pytest.approx(9 * 256)


def test_slices_and_radial_average_find_a_diagonal_tone():
    n = 64
    p = power_spectrum(wave(n, 0.25, 0.25), window="none").numpy()
    f = spectrum_frequencies(n)
    f45, s45 = spectrum_slice(p, f, 45)
    assert f45[np.argmax(s45)] == pytest.approx(0.25 * math.sqrt(2))
    f0, s0 = spectrum_slice(p, f, 0)
    assert f0[0] == 0 and f0[-1] == pytest.approx(0.5 - 1 / n) and s0.max() < 1e-12
    r, prof = radial_average(p, f)
    assert r[np.argmax(prof)] == pytest.approx(0.25 * math.sqrt(2), abs=1 / n)
    assert r[-1] == pytest.approx(0.5 * math.sqrt(2), abs=1 / n)
    with pytest.raises(ValueError):
        spectrum_slice(p, f, 30)


def test_to_db_peak_is_zero_and_floor_applies():
    d = to_db(np.array([0.0, 1e-3, 1.0]), floor_db=-100)
    assert list(d) == pytest.approx([-100, -30, 0])


def test_layer_marks_from_sg3_attributes():
    layer = SimpleNamespace(out_sampling_rate=32, out_cutoff=11.3, out_half_width=4.7)
    assert layer_marks(layer) == pytest.approx({"nyquist": 16, "cutoff": 11.3, "stopband": 16.0})
    assert layer_marks(object()) == {}
    info = SimpleNamespace(sampling_rate=64.0, cutoff=20.0, stopband=26.5)  # a LayerInfo's fields
    assert layer_marks(info) == pytest.approx({"nyquist": 32, "cutoff": 20, "stopband": 26.5})


def test_accumulate_averages_and_reports_progress():
    seen = []
    batches = [wave(16, 0.25, 0), 2 * wave(16, 0.25, 0)]
    s = accumulate_spectrum(iter(batches), label="t", window="none", total=2, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(1, 2), (2, 2)] and s.num_samples == 2 and s.sampling_rate == 16
    one = power_spectrum(batches[0], window="none").numpy()
    assert np.allclose(s.power, 2.5 * one)
    arrays = s.arrays("x_")
    assert {"x_power", "x_freqs", "x_radial", "x_slice0", "x_slice45_freqs"} <= set(arrays)
    with pytest.raises(SG3Error, match="equal sizes"):
        accumulate_spectrum(iter([wave(16, 0, 0), wave(8, 0, 0)]))
    with pytest.raises(SG3Error, match="no images"):
        accumulate_spectrum(iter([]))


class _TinyG(torch.nn.Module):
    """Output = a tone whose amplitude comes from the latent: its spectrum peak is known."""

    z_dim, c_dim, img_resolution = 4, 0, 32

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))

    def mapping(self, z, c, truncation_psi=1, truncation_cutoff=None):
        return z[:, None, :]

    def synthesis(self, ws, noise_mode="const", **_):
        return (ws[0, 0, 0] * self.scale * wave(32, 6 / 32, 0)).float().expand(1, 3, 32, 32)


def test_network_spectrum_of_output_uses_seeds_and_marks_nyquist():
    seen = []
    s = network_spectrum(_TinyG(), "output", num_samples=3, seed=5, window="none", progress=lambda d, t: seen.append(d))
    assert seen == [1, 2, 3] and s.marks == {"nyquist": 16.0} and s.sampling_rate == 32
    iy, ix = np.unravel_index(np.argmax(s.power), s.power.shape)
    assert abs(s.freqs[ix]) == pytest.approx(6.0) and s.freqs[iy] == 0
    amps = [np.random.RandomState(seed).randn(1, 4)[0, 0] for seed in (5, 6, 7)]
    # A Python float: pytest.approx takes numbers and arrays, not 0-d torch tensors (pytest 9.2 iterates them).
    peak = float(power_spectrum(wave(32, 6 / 32, 0), window="none").max())
    expected = float(np.mean(np.square(amps))) * peak
    assert s.power.max() == pytest.approx(expected, rel=1e-4)


def _write_images(folder, sizes):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i, (w, h) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / f"im{i}.png")
    (folder / "notes.txt").write_text("not an image")
    (folder / "empty").mkdir()


def test_image_folder_is_cropped_resized_and_scaled(tmp_path):
    _write_images(tmp_path / "imgs", [(40, 30), (16, 16), (20, 50)])
    assert len(list_images(tmp_path / "imgs")) == 3
    ims = list(iter_image_folder(tmp_path / "imgs", 16))
    assert [tuple(x.shape) for x in ims] == [(1, 3, 16, 16)] * 3
    assert all(-1 <= float(x.min()) and float(x.max()) <= 1 for x in ims)
    s = accumulate_spectrum(iter(ims), window="hann")
    assert s.num_samples == 3 and s.power.shape == (16, 16)
    with pytest.raises(SG3Error, match="no images"):
        list_images(tmp_path / "imgs" / "empty")
    with pytest.raises(SG3Error, match="not a folder"):
        list_images(tmp_path / "missing")
