"""The reference ops against plain NumPy definitions written from their mathematical meaning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylegan3.ops import bias_act, filtered_lrelu, setup_filter, upfirdn2d, upsample2d
from stylegan3.ops.filtered_lrelu import output_size


def np_upfirdn2d(x, f, up, down, pad, gain=1.0, flip_filter=False):
    """Zero-insert, pad/crop, true 2-D convolution with f (separable 1-D expanded), keep every down-th."""
    x = np.asarray(x, np.float64)
    f = np.asarray(f, np.float64)
    if f.ndim == 1:
        f = np.outer(f, f)
    f = f * gain
    if not flip_filter:
        f = f[::-1, ::-1]  # convolution = correlation with the flipped filter
    n, c, h, w = x.shape
    z = np.zeros([n, c, h * up, w * up])
    z[:, :, ::up, ::up] = x
    x0, x1, y0, y1 = pad
    z = np.pad(z, [(0, 0), (0, 0), (max(y0, 0), max(y1, 0)), (max(x0, 0), max(x1, 0))])
    z = z[:, :, max(-y0, 0) : z.shape[2] - max(-y1, 0), max(-x0, 0) : z.shape[3] - max(-x1, 0)]
    fh, fw = f.shape
    oh, ow = z.shape[2] - fh + 1, z.shape[3] - fw + 1
    out = np.zeros([n, c, oh, ow])
    for i in range(fh):
        for j in range(fw):
            out += f[i, j] * z[:, :, i : i + oh, j : j + ow]
    return out[:, :, ::down, ::down]


def np_lrelu(x, slope, gain, clamp):
    y = np.where(x >= 0, x, x * slope) * gain
    return np.clip(y, -clamp, clamp) if clamp is not None else y


@pytest.mark.parametrize(
    "up,down,pad,taps,separable,flip",
    [
        (1, 1, (0, 0, 0, 0), 4, False, False),
        (2, 1, (2, 1, 2, 1), 4, False, False),
        (1, 2, (1, 1, 1, 1), 4, False, True),
        (2, 2, (5, 6, 5, 6), 12, True, False),
        (4, 2, (-1, 3, 2, -2), 24, True, False),
        (1, 1, (3, 3, 3, 3), 7, True, True),
    ],
)
def test_upfirdn2d_matches_numpy(up, down, pad, taps, separable, flip):
    rng = np.random.default_rng(up * 100 + down * 10 + taps)
    x = rng.standard_normal([2, 3, 9, 11]).astype(np.float32)
    f = rng.standard_normal([taps] if separable else [taps, taps]).astype(np.float32)
    got = upfirdn2d(torch.from_numpy(x), torch.from_numpy(f), up=up, down=down, padding=pad, flip_filter=flip, gain=3.0)
    ref = np_upfirdn2d(x, f, up, down, pad, gain=3.0, flip_filter=flip)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-5, atol=1e-4)


def test_upfirdn2d_asymmetric_filter_is_convolution_not_correlation():
    x = torch.zeros([1, 1, 5, 5])
    x[0, 0, 2, 2] = 1  # an impulse reproduces the filter itself under convolution
    f = torch.arange(9, dtype=torch.float32).reshape(3, 3)
    out = upfirdn2d(x, f, padding=1)
    np.testing.assert_array_equal(out[0, 0, 1:4, 1:4].numpy(), f.numpy())


def test_upsample2d_doubles_size_and_preserves_dc():
    x = torch.full([1, 2, 8, 8], 0.7)
    y = upsample2d(x, setup_filter([1, 3, 3, 1]))
    assert y.shape == (1, 2, 16, 16)
    assert torch.allclose(y[:, :, 2:-2, 2:-2], torch.full_like(y[:, :, 2:-2, 2:-2], 0.7), atol=1e-6)


@pytest.mark.parametrize(
    "act,alpha,gain,clamp",
    [("linear", None, None, None), ("lrelu", 0.2, None, 256), ("relu", None, 0.5, 1.0), ("lrelu", 0.1, 2.0, 0.3)],
)
def test_bias_act_matches_numpy(act, alpha, gain, clamp):
    rng = np.random.default_rng(0)
    x = rng.standard_normal([2, 5, 4, 4]).astype(np.float32)
    b = rng.standard_normal([5]).astype(np.float32)
    got = bias_act(torch.from_numpy(x), torch.from_numpy(b), act=act, alpha=alpha, gain=gain, clamp=clamp).numpy()
    y = x + b[None, :, None, None]
    default_gain = 1.0 if act == "linear" else np.sqrt(2)
    g = default_gain if gain is None else gain
    if act == "lrelu":
        y = np.where(y >= 0, y, y * alpha)
    elif act == "relu":
        y = np.maximum(y, 0)
    y = y * g
    if clamp is not None:
        y = np.clip(y, -clamp, clamp)
    np.testing.assert_allclose(got, y, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("up,down,taps_up,taps_down", [(2, 2, 12, 12), (4, 2, 24, 12), (1, 1, 1, 1), (2, 1, 12, 1)])
def test_filtered_lrelu_matches_numpy_composition(up, down, taps_up, taps_down):
    rng = np.random.default_rng(up * 7 + down)
    x = rng.standard_normal([1, 4, 10, 10]).astype(np.float32) * 3
    b = rng.standard_normal([4]).astype(np.float32)
    fu = rng.standard_normal([taps_up]).astype(np.float32) if taps_up > 1 else None
    fd = rng.standard_normal([taps_down]).astype(np.float32) if taps_down > 1 else None
    pad = (taps_up + taps_down - 2, taps_up + taps_down - 3, taps_up + taps_down - 2, taps_up + taps_down - 3)
    got = filtered_lrelu(
        torch.from_numpy(x), None if fu is None else torch.from_numpy(fu), None if fd is None else torch.from_numpy(fd),
        torch.from_numpy(b), up=up, down=down, padding=pad, gain=np.sqrt(2), slope=0.2, clamp=2.5,
    )  # fmt: skip
    y = x + b[None, :, None, None]
    y = np_upfirdn2d(y, np.ones([1, 1]) if fu is None else fu, up, 1, pad, gain=up**2)
    y = np_lrelu(y, 0.2, np.sqrt(2), 2.5)
    y = np_upfirdn2d(y, np.ones([1, 1]) if fd is None else fd, 1, down, (0, 0, 0, 0))
    assert got.shape == y.shape
    np.testing.assert_allclose(got.numpy(), y, rtol=1e-4, atol=1e-4)
    assert float(got.abs().max()) > 0.1


def test_filtered_lrelu_output_size_formula():
    fu = torch.ones(12)
    fd = torch.ones(12)
    x = torch.randn(1, 1, 20, 16)
    out = filtered_lrelu(x, fu, fd, up=2, down=2, padding=[11, 10, 11, 10])
    assert tuple(out.shape[2:]) == output_size((16, 20), fu, fd, 2, 2, [11, 10, 11, 10])[::-1]


def test_ops_run_in_float16():
    x = torch.randn(1, 4, 12, 12).half()
    f = torch.ones(4) / 4
    out = filtered_lrelu(x, f, f, torch.zeros(4).half(), up=2, down=2, padding=[3, 3, 3, 3])
    assert out.dtype == torch.float16
    ref = filtered_lrelu(x.float(), f, f, torch.zeros(4), up=2, down=2, padding=[3, 3, 3, 3])
    assert torch.allclose(out.float(), ref, atol=2e-2, rtol=1e-2)


def test_kernel_filters_are_prepared_once():
    """The CUDA dispatch's filter preparation is cached: a frame must not copy filters host->device (and a
    CUDA graph capture refuses such copies). Checked on the CPU, where the same cache is used."""
    from stylegan3.ops.upfirdn2d import _cuda_filter

    x = torch.zeros(1, 1, 4, 4)
    ones = _cuda_filter(None, x, flip_filter=False)
    assert ones is _cuda_filter(None, x, flip_filter=True) and ones.tolist() == [[1.0]]
    f = torch.tensor([1.0, 2.0, 3.0])
    prepared = _cuda_filter(f, x, flip_filter=False)
    assert prepared.tolist() == [3.0, 2.0, 1.0]  # flipped once for plain correlation, stays 1-D
    assert _cuda_filter(f, x, flip_filter=False) is prepared
    assert _cuda_filter(f, x, flip_filter=True).tolist() == [1.0, 2.0, 3.0]
    f.mul_(2)  # an in-place change of the filter invalidates its entry
    assert _cuda_filter(f, x, flip_filter=False).tolist() == [6.0, 4.0, 2.0]
