"""EQ-R's rotation operators: the valid region of the paper's reference numbers, pinned, and the filter's facts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stylegan3.metrics.paper_rotation import (
    affine_bandlimit_filter,
    paper_pseudo_rotate,
    paper_rotate,
    pseudo_rotation_valid_mask,
    rotation_valid_mask,
)

SIZES = (16, 17, 36, 64, 100, 128)
ANGLES = (0.0, 0.3, -1.0, math.pi / 2, 2.5, -math.pi, math.pi / 4, 3.0)


def _hand_region(size: int, angle: float) -> np.ndarray:
    """The region derived by hand from the reference's construction (module doc of paper_rotation):

    the 4x frame has 4 W + 46 samples, image pixel j at frame index 4 j + 25; samples 47 .. 4 W - 2 are
    trusted and each output pixel takes the nearest frame sample of its source position s, so
    46.5 < 4 s + 25 <= 4 W - 1.5 (the upper tie rounds to the even, trusted index 4 W - 2).
    """
    c = np.arange(size) + 0.5 - size / 2
    y, x = np.meshgrid(c, c, indexing="ij")
    ca, sa = math.cos(angle), math.sin(angle)
    sx = ca * x - sa * y + size / 2 - 0.5  # inverse of the rotation [[c, s], [-s, c]]
    sy = sa * x + ca * y + size / 2 - 0.5

    def ok(s):
        return (4 * s + 25 > 46.5) & (4 * s + 25 <= 4 * size - 1.5)

    return ok(sx) & ok(sy)


@pytest.mark.parametrize("size", SIZES)
def test_rotation_region_matches_the_hand_derivation(size):
    for angle in ANGLES:
        got = rotation_valid_mask(size, size, angle).numpy()
        assert np.array_equal(got, _hand_region(size, angle)), (size, angle)


def test_rotation_region_pixel_counts():
    # Counted on the reference's own construction (its filter, grid and nearest-sampled mask), per channel.
    counts = {(16, 0.0): 16, (16, 0.3): 14, (16, 2.5): 16, (16, math.pi / 4): 18, (17, 0.3): 25,
              (36, math.pi / 4): 578, (36, 3.0): 570, (64, 0.0): 2704, (64, 0.3): 2706, (64, -1.0): 2638,
              (64, 2.5): 2626, (64, math.pi / 4): 2584, (64, 3.0): 2694, (100, 0.3): 7564, (100, -1.0): 7230,
              (100, 3.0): 7752, (128, -1.0): 12310, (128, 2.5): 12228, (128, math.pi / 4): 12152}
    for (size, angle), count in counts.items():
        assert int(rotation_valid_mask(size, size, angle).sum()) == count, (size, angle)
    # An unturned image keeps pixels 6 .. W - 7 on each axis: 12 fewer than the image, off-centre by design.
    mask = rotation_valid_mask(64, 64, 0.0)
    rows = torch.nonzero(mask.any(dim=1)).flatten()
    assert (int(rows.min()), int(rows.max())) == (6, 57)


def test_pseudo_rotation_region_is_the_filter_footprint():
    for size in (16, 17, 64):
        mask = pseudo_rotation_valid_mask(size, size)
        assert int(mask.sum()) == (size - 10) ** 2
        assert bool(mask[5, 5]) and not bool(mask[4, 5]) and bool(mask[size - 6, size - 6])
        assert not bool(mask[size - 5, 8])


def test_operator_masks_are_the_regions():
    img = torch.randn(2, 3, 36, 36, generator=torch.Generator().manual_seed(0))
    out, mask = paper_rotate(img, 0.7)
    assert out.shape == mask.shape == img.shape
    assert torch.equal(mask[1, 2].bool(), rotation_valid_mask(36, 36, 0.7))
    out, mask = paper_pseudo_rotate(img, 0.7)
    assert torch.equal(mask[0, 0].bool(), pseudo_rotation_valid_mask(36, 36))


def test_filter_shape_phases_and_symmetry():
    rot = np.array([[math.cos(0.4), math.sin(0.4)], [-math.sin(0.4), math.cos(0.4)]])
    f = affine_bandlimit_filter(rot, up=4)
    assert f.shape == (47, 47)  # reach 6 pixels at 4 taps per pixel, the outermost taps cut
    for ry in range(4):
        for rx in range(4):
            assert f[ry::4, rx::4].sum() == pytest.approx(1.0, abs=1e-12)
    assert np.allclose(f, f[::-1, ::-1], atol=1e-15)  # point-symmetric: correlation = convolution
    assert not np.allclose(f, f[:, ::-1], atol=1e-6)  # but oriented (not mirror-symmetric) for a turn
    g = affine_bandlimit_filter(rot, up=1)
    assert g.shape == (11, 11) and g.sum() == pytest.approx(1.0)
    # unturned: the ideal low-pass of the pixel grid is a delta on the integer taps
    d = affine_bandlimit_filter(np.eye(2), up=1)
    assert d[5, 5] == pytest.approx(1.0, abs=1e-9) and np.abs(d).sum() == pytest.approx(1.0, abs=1e-8)


def test_quarter_turns_are_exact_and_turn_counter_clockwise():
    img = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    still, mask0 = paper_rotate(img, 0.0)
    # Unturned, R_alpha is nearly the identity: its 4x filter's integer taps are a delta only up to the
    # truncated circular convolution of two sincs (a fact of the reference's filter), about -50 dB.
    m = mask0.bool()
    assert float((still - img)[m].abs().max()) < 0.03
    assert 0 < float((still - img)[m].square().mean()) < 1e-4
    turned, mask = paper_rotate(img, math.pi / 2)
    # a quarter turn keeps the same band and lands on the pixel grid: the unturned result, rotated exactly,
    # counter-clockwise as seen on screen (y down)
    m = mask.bool()
    assert torch.allclose(turned[m], torch.rot90(still, k=1, dims=(2, 3))[m], atol=1e-6)
    assert not torch.allclose(turned[m], torch.rot90(still, k=-1, dims=(2, 3))[m], atol=0.1)
    out, _ = paper_pseudo_rotate(img, math.pi / 2)  # R* for a quarter turn keeps the whole band: identity
    assert torch.allclose(out[:, :, 5:-5, 5:-5], img[:, :, 5:-5, 5:-5], atol=1e-6)


def test_rotated_plane_wave_matches_the_analytic_wave():
    n, angle = 64, 0.6
    c = torch.arange(n, dtype=torch.float64) + 0.5 - n / 2
    y, x = torch.meshgrid(c, c, indexing="ij")
    k = (0.09, 0.05)  # cycles per pixel, well inside the band both grids carry

    def wave(xx, yy):
        return torch.cos(2 * math.pi * (k[0] * xx + k[1] * yy) + 0.3)

    img = wave(x, y)[None, None].float()
    # content turned by `angle`: out(p) = img(R^-1 p)
    ca, sa = math.cos(angle), math.sin(angle)
    expect = wave(ca * x - sa * y, sa * x + ca * y)[None, None].float()
    out, mask = paper_rotate(img, angle)
    err = ((out - expect).square() * mask).sum() / mask.sum()
    assert 10 * math.log10(4 / float(err)) > 45  # PSNR in dB of a signal in [-1, 1]
