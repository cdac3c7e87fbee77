"""The two rotation operators of the paper's EQ-R, with the filter and valid region of its reference numbers.

EQ-R compares ``R(G(z))`` (the plain output rotated as a continuous signal, operator R_alpha of the
paper's appendix E.3) with ``R*(G_rot(z))`` (the output for a rotated input, only *filtered* to the band a
rotation keeps, R*_alpha). The published numbers were computed with one particular construction; a
different, equally reasonable band-limited rotation (ours in :mod:`stylegan3.metrics.resample`, used by
the GUI) counts a different set of border pixels and lands 0.1 dB (single samples up to 0.7 dB) away.
So the metric uses this construction, written from its description:

* The band-limit filter for a 2x2 map ``A`` is the product of two convolutions, each between a function
  on the input grid and the same function on the grid mapped by ``A``: of two ideal low-passes
  ``sinc(x) sinc(y)`` (so its spectrum is the overlap of both Nyquist squares) and of two separable
  Lanczos windows of half-width ``a = 3`` (so its support is the overlap of both windows, widened). The
  convolutions are circular on a grid of ``2 * 64 * up - 1`` taps spaced ``1 / up`` pixel; the product is
  cut to ``|x|, |y| < 6`` ("reach") and every polyphase component scaled to sum to one.
* R_alpha: the image is upsampled ``up = 4`` times with that filter (for ``A`` = the rotation) and
  sampled bilinearly at the rotated positions, which is the same as convolving each output position
  with the filter's bilinear interpolant; that is how it is computed here (one gather, no 16x image).
* R*_alpha: a plain convolution with the ``up = 1`` filter for the opposite rotation.
* Valid pixels: for R*_alpha those whose 11 x 11 footprint lies inside the image (5-pixel border).
  For R_alpha, the upsampled frame (``4 W + 46`` samples, sample ``j`` of the image at ``4 j + 25``) is
  trusted from 47 samples after its start to 47 before its end, and a pixel is valid when the frame
  sample nearest its source position is (ties to even). In source pixel units: ``5.375 < sx <= W - 6.625``
  and the same for ``sy``, a region slightly off-centre because the frame's padding is.

Everything is pure torch / numpy on the image's device; positions are computed in float64 (the reference
used float32: a pixel within about 1e-5 px of the region's edge may fall the other way there).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

from stylegan3.metrics.resample import _pixel_grid

__all__ = [
    "LANCZOS_A",
    "REACH",
    "UP",
    "affine_bandlimit_filter",
    "rotation_source_positions",
    "rotation_valid_mask",
    "pseudo_rotation_valid_mask",
    "paper_rotate",
    "paper_pseudo_rotate",
]

LANCZOS_A = 3  # half-width of each oriented Lanczos window
REACH = 6  # the filter is cut to |x|, |y| < REACH pixels
PERIOD = 64  # half-period (pixels) of the grid the circular convolutions run on
UP = 4  # upsampling factor of R_alpha


def _rot(angle: float) -> np.ndarray:
    """[[cos, sin], [-sin, cos]], as in `stylegan3.networks.transform` (content turns counter-clockwise)."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, s], [-s, c]])


@functools.lru_cache(maxsize=4)
def _fft_offsets(period: int, up: int) -> np.ndarray:
    """Tap offsets (pixels) of the convolution grid in FFT order: 0, 1/up, ..., then the negatives."""
    n = 2 * period * up - 1
    k = np.arange(n)
    k = np.where(k < period * up, k, k - n)
    out = k / up
    out.setflags(write=False)
    return out


def _lanczos_window(x: np.ndarray, a: int) -> np.ndarray:
    return np.where(np.abs(x) < a, np.sinc(x / a), 0.0)


def _circular_conv(f: np.ndarray, g: np.ndarray) -> np.ndarray:
    return np.real(np.fft.ifft2(np.fft.fft2(f) * np.fft.fft2(g)))


def affine_bandlimit_filter(
    matrix: np.ndarray, up: int = UP, a: int = LANCZOS_A, reach: int = REACH, period: int = PERIOD
) -> np.ndarray:
    """The band-limit filter for the 2x2 map ``matrix``, float64 ``[2 reach up - 1]^2``, centre in the middle.

    Rows are y, columns x, taps ``1 / up`` pixel apart. Each of the ``up x up`` polyphase components
    (taps whose row and column indices have fixed residues mod ``up``) sums to one, so it is directly the
    interpolation kernel of an ``up``-times upsampling. See the module doc for the construction.
    """
    m = np.asarray(matrix, dtype=np.float64)[:2, :2]
    t = _fft_offsets(period, up)
    yi, xi = np.meshgrid(t, t, indexing="ij")
    xo = m[0, 0] * xi + m[0, 1] * yi
    yo = m[1, 0] * xi + m[1, 1] * yi
    lowpass = _circular_conv(np.sinc(xi) * np.sinc(yi), np.sinc(xo) * np.sinc(yo))
    window = _circular_conv(_lanczos_window(xi, a) * _lanczos_window(yi, a),
                            _lanczos_window(xo, a) * _lanczos_window(yo, a))
    full = np.fft.fftshift(lowpass * window)  # odd size: offset 0 lands on the middle index
    cut = (period - reach) * up
    h = full[cut : full.shape[0] - cut, cut : full.shape[1] - cut].copy()
    for ry in range(up):
        for rx in range(up):
            h[ry::up, rx::up] /= h[ry::up, rx::up].sum()
    return h


@functools.lru_cache(maxsize=16)
def _cached_filter(m00: float, m01: float, m10: float, m11: float, up: int) -> np.ndarray:
    out = affine_bandlimit_filter(np.array([[m00, m01], [m10, m11]]), up=up)
    out.setflags(write=False)
    return out


def _filter_for(angle: float, up: int) -> np.ndarray:
    return _cached_filter(*(float(v) for v in _rot(angle).reshape(-1)), up)


def rotation_source_positions(h: int, w: int, angle: float, device: torch.device | str = "cpu"):
    """Array position ``(sx, sy)`` (float64 ``[H, W]`` each) in the source that output pixel shows after
    turning the content by ``angle`` radians about the image centre (counter-clockwise on screen)."""
    xs, ys = _pixel_grid(h, w, torch.device(device), centred=True)
    inv = _rot(-angle)
    sx = inv[0, 0] * xs + inv[0, 1] * ys + w / 2 - 0.5
    sy = inv[1, 0] * xs + inv[1, 1] * ys + h / 2 - 0.5
    return sx, sy


def _frame_valid(s: torch.Tensor, size: int) -> torch.Tensor:
    """Is the upsampled-frame sample nearest source position ``s`` one the reference trusts? (module doc)"""
    pad = (2 * REACH * UP - 1) // 2  # 23: padding of the upsampled frame, in frame samples
    k = torch.round(UP * s + UP / 2 + pad)  # frame index of the nearest sample, ties to even
    edge = 2 * pad + 1  # one filter length
    return (k >= edge) & (k < UP * size + 2 * pad - edge)


def rotation_valid_mask(h: int, w: int, angle: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """Bool ``[H, W]``: the pixels of R_alpha(image) that EQ-R counts."""
    sx, sy = rotation_source_positions(h, w, angle, device)
    return _frame_valid(sx, w) & _frame_valid(sy, h)


def pseudo_rotation_valid_mask(h: int, w: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Bool ``[H, W]``: the pixels of R*_alpha(image) that EQ-R counts (the 11 x 11 footprint is inside)."""
    c = REACH - 1
    mask = torch.zeros(h, w, dtype=torch.bool, device=device)
    mask[c : h - c, c : w - c] = True
    return mask


def _phase_frame(img: torch.Tensor, table: np.ndarray) -> tuple[torch.Tensor, int]:
    """The ``UP``-times upsampled image as ``UP x UP`` phase planes: ``[N*C, UP, UP, H', W']`` and the index offset.

    Plane ``(ry, rx)`` at ``[jy, jx]`` holds the upsampled image at source position ``(jy + ry / UP, jx + rx / UP)``
    for ``j = index - offset`` (``-offset .. size + REACH - 1``), i.e. ``sum_i img[i] F(j + r / UP - i)``: one
    convolution with ``2 REACH`` taps per phase instead of one with ``(2 REACH UP - 1)`` taps on a 16x larger,
    mostly-zero image.
    """
    n, c, h, w = img.shape
    padded = np.pad(table, 1)  # centre at UP * REACH; zero at offset -REACH, where the interpolant ends
    # Weight column u multiplies img[j - m] with m = REACH - 1 - u, so it holds F(m + r / UP).
    offsets = UP * (REACH - 1 - np.arange(2 * REACH)) + UP * REACH
    rows = [padded[np.ix_(offsets + ry, offsets + rx)] for ry in range(UP) for rx in range(UP)]
    weight = torch.tensor(np.stack(rows)[:, None], dtype=img.dtype, device=img.device)
    pad = 2 * REACH
    frame = F.conv2d(img.reshape(n * c, 1, h, w), weight, padding=pad)
    return frame.reshape(n * c, UP, UP, frame.shape[-2], frame.shape[-1]), pad - REACH + 1


def _bilinear_phases(frame: torch.Tensor, sx: torch.Tensor, sy: torch.Tensor, offset: int) -> torch.Tensor:
    """Bilinear interpolation of the phase frame at source positions (sx, sy) ``[H, W]``: ``[N*C, H*W]``."""
    rows, cols = frame.shape[-2:]
    flat = frame.reshape(frame.shape[0], -1)
    qx, qy = (sx * UP).reshape(-1), (sy * UP).reshape(-1)  # positions in upsampled samples
    x0, y0 = qx.floor(), qy.floor()
    fx, fy = (qx - x0).to(frame.dtype)[None], (qy - y0).to(frame.dtype)[None]
    x0, y0 = x0.long(), y0.long()

    def at(qy_: torch.Tensor, qx_: torch.Tensor) -> torch.Tensor:
        jy = (torch.div(qy_, UP, rounding_mode="floor") + offset).clamp(0, rows - 1)
        jx = (torch.div(qx_, UP, rounding_mode="floor") + offset).clamp(0, cols - 1)
        plane = qy_.remainder(UP) * UP + qx_.remainder(UP)
        return flat[:, (plane * rows + jy) * cols + jx]

    top = at(y0, x0) * (1 - fx) + at(y0, x0 + 1) * fx
    bottom = at(y0 + 1, x0) * (1 - fx) + at(y0 + 1, x0 + 1) * fx
    return top * (1 - fy) + bottom * fy


def paper_rotate(img: torch.Tensor, angle: float) -> tuple[torch.Tensor, torch.Tensor]:
    """R_alpha: turn the content of ``img`` ``[N, C, H, W]`` by ``angle`` radians (counter-clockwise on screen).

    Returns ``(out, mask)``, the mask (same shape as ``out``, 0/1) marking the pixels EQ-R counts.
    """
    if img.ndim != 4:
        raise ValueError(f"expected an image batch [N, C, H, W], got shape {tuple(img.shape)}")
    n, c, h, w = img.shape
    sx, sy = rotation_source_positions(h, w, angle, img.device)
    frame, offset = _phase_frame(img, _filter_for(angle, UP))
    out = _bilinear_phases(frame, sx, sy, offset).reshape(n, c, h, w)
    mask = (_frame_valid(sx, w) & _frame_valid(sy, h)).to(img.dtype)
    return out, mask.expand(n, c, h, w).contiguous()


def paper_pseudo_rotate(img: torch.Tensor, angle: float) -> tuple[torch.Tensor, torch.Tensor]:
    """R*_alpha: filter ``img`` to the band a rotation by ``angle`` keeps, without moving anything.

    Returns ``(out, mask)`` like :func:`paper_rotate`.
    """
    if img.ndim != 4:
        raise ValueError(f"expected an image batch [N, C, H, W], got shape {tuple(img.shape)}")
    n, c, h, w = img.shape
    f = torch.tensor(_filter_for(-angle, 1), device=img.device, dtype=img.dtype)
    pad = f.shape[-1] // 2
    # conv2d correlates; the filter is point-symmetric (f(-x, -y) = f(x, y)), so that is the convolution.
    out = F.conv2d(img.reshape(n * c, 1, h, w), f[None, None], padding=pad).reshape(n, c, h, w)
    mask = pseudo_rotation_valid_mask(h, w, img.device).to(img.dtype)
    return out, mask.expand(n, c, h, w).contiguous()
