"""Band-limited resampling: exactness on whole pixels, accuracy on band-limited signals, directions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stylegan3.metrics.resample import (
    bandlimit_filter,
    rotate_image,
    shift_image_int,
    transform_matrix,
    translate_image,
    untransform_image,
)


def cosines(size: int, fmax: float, seed: int = 0, k: int = 12, shift=(0.0, 0.0), angle: float = 0.0) -> torch.Tensor:
    """Sum of random plane waves (|f| < fmax cycles/pixel) rendered at content moved by (shift, angle).

    The image shows at pixel p the signal at R(-angle) (p - shift): content turned by `angle`
    (counter-clockwise on screen, y down) then moved by `shift` pixels, like the viewer's M.
    """
    rng = np.random.default_rng(seed)
    r = rng.uniform(0.05, fmax, k)
    th = rng.uniform(0, 2 * math.pi, k)
    fx, fy, ph = r * np.cos(th), r * np.sin(th), rng.uniform(0, 2 * math.pi, k)
    c = (np.arange(size) + 0.5 - size / 2)[None, :]
    x, y = c - shift[0], c.T - shift[1]
    ca, sa = math.cos(angle), math.sin(angle)
    u, v = ca * x - sa * y, sa * x + ca * y  # inverse of [[c, s], [-s, c]]
    img = sum(np.cos(2 * math.pi * (fx[i] * u + fy[i] * v) + ph[i]) for i in range(k)) / k
    return torch.from_numpy(np.stack([img, -img, 0.5 * img])[None].astype(np.float32))


def psnr(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> float:
    mse = float(((a - b).square() * mask).sum() / mask.sum())
    return 20 * math.log10(2) - 10 * math.log10(mse)


def test_integer_shift_is_exact_and_masks_the_uncovered_band():
    img = torch.arange(2 * 8 * 8, dtype=torch.float32).reshape(1, 2, 8, 8)
    out, mask = shift_image_int(img, 3, -2)
    assert torch.equal(out[0, :, 0:6, 3:], img[0, :, 2:8, 0:5])
    assert mask.sum() == 2 * 6 * 5
    assert torch.all(out[mask == 0] == 0)


def test_fractional_translation_by_whole_pixels_equals_integer_shift():
    img = torch.randn(1, 3, 20, 20)
    out, mask = translate_image(img, 4.0, -2.0)
    ref, _ = shift_image_int(img, 4, -2)
    assert torch.allclose(out * mask, ref * mask, atol=1e-6)
    # the Lanczos footprint (3 px) shrinks the valid area beyond the bare shift
    assert 0 < mask[0, 0].sum() < (20 - 4) * (20 - 2)


@pytest.mark.parametrize("dx,dy", [(2.3, -1.7), (-5.5, 0.25)])
def test_fractional_translation_matches_the_shifted_signal(dx, dy):
    img = cosines(48, fmax=0.25)
    out, mask = translate_image(img, dx, dy)
    assert psnr(out, cosines(48, 0.25, shift=(dx, dy)), mask) > 40
    # the wrong direction is clearly wrong
    assert psnr(out, cosines(48, 0.25, shift=(-dx, -dy)), mask) < 30


def test_translate_round_trip():
    img = cosines(48, fmax=0.25, seed=3)
    there, m1 = translate_image(img, 3.4, -2.6)
    back, m2 = translate_image(there, -3.4, 2.6)
    mask, _ = translate_image(m1, -3.4, 2.6)
    valid = m2 * (mask > 0.999)
    assert valid.sum() > 0.3 * valid.numel()
    assert psnr(back, img, valid) > 40


@pytest.mark.parametrize("angle", [0.3, -2.0, math.pi / 4])
def test_rotation_matches_the_rotated_signal(angle):
    img = cosines(64, fmax=0.25, seed=1)
    out, mask = rotate_image(img, angle)
    assert mask[0, 0].sum() > 0.3 * 64 * 64
    assert psnr(out, cosines(64, 0.25, seed=1, angle=angle), mask) > 35
    assert psnr(out, cosines(64, 0.25, seed=1, angle=-angle), mask) < 20


def test_bandlimit_filter_keeps_the_inner_disc_and_cuts_the_corners():
    n = 64
    low, mask = bandlimit_filter(cosines(n, fmax=0.25, seed=2), math.pi / 4)
    assert psnr(low, cosines(n, 0.25, seed=2), mask) > 35
    # a diagonal wave at (0.45, 0.45) cycles/pixel lies outside a 45-degree-rotated Nyquist square
    c = torch.arange(n, dtype=torch.float32)
    corner = torch.cos(2 * math.pi * 0.45 * (c[None, :] + c[:, None]))[None, None]
    cut, mask = bandlimit_filter(corner, math.pi / 4)
    assert float((cut * mask).abs().max()) < 0.1
    kept, _ = bandlimit_filter(corner, 0.0)
    assert float(((kept - corner) * mask).abs().max()) < 0.05


def test_untransform_undoes_translation_and_rotation():
    n = 64
    plain = cosines(n, fmax=0.2, seed=4)
    t, rot = (0.1, -0.05), 0.07  # image units, turns
    a = rot * 2 * math.pi
    moved = cosines(n, 0.2, seed=4, shift=(t[0] * n, t[1] * n), angle=a)
    back, mask = untransform_image(moved, translate=t, rotate=rot)
    assert mask[0, 0].sum() > 0.3 * n * n
    assert psnr(back, plain, mask) > 35
    wrong, _ = untransform_image(moved, translate=(-t[0], -t[1]), rotate=-rot)
    assert psnr(wrong, plain, mask) < 20


def test_transform_matrix_is_the_viewer_convention():
    m = transform_matrix((0.25, -0.1), 0.25)
    assert np.allclose(m, [[0, 1, 0.25], [-1, 0, -0.1], [0, 0, 1]], atol=1e-12)


@pytest.mark.fixtures
def test_untransform_on_reference_outputs(fixtures_dir):
    """Outputs NVIDIA's code rendered with input transforms map back onto the plain output."""
    base = torch.from_numpy(np.load(fixtures_dir / "sg3r_s42_p1.0_cNone_t0_0_r0.0_const.npy"))
    moved = torch.from_numpy(np.load(fixtures_dir / "sg3r_s42_p1.0_cNone_t0.25_-0.1_r0.3_const.npy"))
    back, mask = untransform_image(moved, (0.25, -0.1), 0.3)
    assert psnr(back, base, mask) > 40
    wrong, _ = untransform_image(moved, (0.25, -0.1), -0.3)
    assert psnr(wrong, base, mask) < 30


def _bandlimit_table_full_grid(matrix: np.ndarray, radius: int, up: int) -> np.ndarray:
    """The band-limit table built the plain way: every supersampled point of the whole frequency grid tested
    against both S and A S (what the cached, S-restricted construction must reproduce exactly)."""
    period = 8 * radius
    nf = period * up
    f = np.fft.fftfreq(nf, d=1.0 / up)
    ainv = np.linalg.inv(matrix)
    cover = np.zeros((nf, nf))
    for oy in (np.arange(4) + 0.5) / 4 - 0.5:
        for ox in (np.arange(4) + 0.5) / 4 - 0.5:
            gx, gy = np.meshgrid(f + ox / period, f + oy / period)
            bx = ainv[0, 0] * gx + ainv[0, 1] * gy
            by = ainv[1, 0] * gx + ainv[1, 1] * gy
            cover += (np.abs(gx) <= 0.5) & (np.abs(gy) <= 0.5) & (np.abs(bx) <= 0.5) & (np.abs(by) <= 0.5)
    resp = np.fft.fftshift(np.real(np.fft.ifft2(cover)))
    c, half = nf // 2, radius * up
    table = resp[c - half : c + half + 1, c - half : c + half + 1]
    d = np.arange(-half, half + 1) / up
    rho = np.sqrt(d[None, :] ** 2 + d[:, None] ** 2)
    table = table * np.where(rho < radius, np.sinc(rho / radius), 0.0)
    return (table / table.max()).astype(np.float32)


@pytest.mark.parametrize("angle", [0.0, 0.1, 0.7, -2.3])
def test_bandlimit_table_equals_the_full_grid_construction(angle):
    from stylegan3.metrics.resample import _bandlimit_table

    c, s = np.cos(angle), np.sin(angle)
    got = _bandlimit_table(c, -s, s, c, 2, 8)
    want = _bandlimit_table_full_grid(np.array([[c, -s], [s, c]]), 2, 8)
    np.testing.assert_array_equal(got, want)
