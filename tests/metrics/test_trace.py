"""Trace view: space-time image of one pixel row over an animation, and its verticality."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stylegan3.errors import SG3Error
from stylegan3.explore.interpolation import interpolate_keys
from stylegan3.metrics.trace import record_trace, row_highpass_energy, trace_to_uint8, verticality
from tests.support.toy_generators import ToyGenerator


def _moving_rows(frames: int, px_per_frame: float, width: int = 64, cycles: int = 13) -> torch.Tensor:
    x = torch.arange(width, dtype=torch.float32)
    t = torch.arange(frames, dtype=torch.float32)[:, None]
    return torch.cos(2 * math.pi * cycles * (x[None] - px_per_frame * t) / width)[:, None, :]


def test_row_energy_counts_only_fine_detail():
    fine = _moving_rows(1, 0.0, cycles=13)  # 13 / 32 Nyquist
    coarse = _moving_rows(1, 0.0, cycles=5)
    assert row_highpass_energy(fine)[0].item() == pytest.approx(0.5, rel=1e-5)
    assert row_highpass_energy(coarse)[0].item() == pytest.approx(0.0, abs=1e-9)
    nyquist = _moving_rows(1, 0.0, cycles=32)  # alternating +-1: all energy at Nyquist, counted once
    assert row_highpass_energy(nyquist)[0].item() == pytest.approx(1.0, rel=1e-5)


def test_verticality_of_still_and_moving_lines():
    assert verticality(_moving_rows(20, 0.0)) == pytest.approx(1.0, abs=1e-6)
    assert verticality(_moving_rows(20, 0.7)) < 0.05  # slanted strokes cancel in the time mean
    mixed = (_moving_rows(40, 0.0, cycles=11) + _moving_rows(40, 0.9, cycles=14)) / math.sqrt(2)
    assert verticality(mixed) == pytest.approx(0.5, abs=0.05)
    with pytest.raises(SG3Error):
        verticality(_moving_rows(1, 0.0))


@pytest.fixture(scope="module")
def sweep() -> torch.Tensor:
    """A w path that moves the toys' content 16 px to the right over 33 frames."""
    keys = torch.zeros(2, 4, 8)
    keys[0, :, 0], keys[1, :, 0] = -1.0, 1.0
    return interpolate_keys(keys, 32)


def test_trace_rows_are_the_rendered_rows(sweep):
    G = ToyGenerator(0.5)
    calls = []
    trace = record_trace(G, sweep, row=10, batch_size=8, progress=lambda d, t: calls.append(d))
    assert trace.shape == (33, 3, 64)
    assert calls == [8, 16, 24, 32, 33]
    img = G.synthesis(sweep[[0, 20]])
    torch.testing.assert_close(trace[[0, 20]], img[:, :, 10, :])
    assert torch.equal(record_trace(G, sweep)[5], G.synthesis(sweep[5:6])[0, :, 32, :])  # default: middle row


def test_stuck_texture_draws_vertical_lines_moving_texture_slants(sweep):
    sticky = record_trace(ToyGenerator(1.0), sweep)
    smooth = record_trace(ToyGenerator(0.0), sweep)
    assert verticality(sticky) > 0.97
    assert verticality(smooth) < 0.1
    assert verticality(record_trace(ToyGenerator(0.5), sweep)) == pytest.approx(0.5, abs=0.12)
    # In the sticky trace every column's fine detail is constant over time: the x-high-passed trace has
    # (almost) no variation down each column, while the smooth net's fine detail changes all the time.
    assert _fine(sticky).std(dim=0).mean() < 0.3 * _fine(smooth).std(dim=0).mean()


def _fine(trace: torch.Tensor) -> torch.Tensor:
    """Trace minus a 5-px running mean along x: its fine detail."""
    flat = trace.reshape(-1, 1, trace.shape[-1])
    blur = torch.nn.functional.avg_pool1d(flat, 5, 1, 2, count_include_pad=False)
    return (flat - blur).reshape(trace.shape)


def test_trace_image_and_errors(sweep):
    trace = record_trace(ToyGenerator(0.0), sweep[:5])
    img = trace_to_uint8(trace)
    assert img.shape == (5, 64, 3) and img.dtype == np.uint8
    expected = np.clip(trace[2, 1, 7].item() * 127.5 + 128, 0, 255)
    assert abs(int(img[2, 7, 1]) - expected) <= 1
    assert trace_to_uint8(trace[:, :1]).shape == (5, 64, 3)  # grey becomes RGB
    with pytest.raises(SG3Error):
        record_trace(ToyGenerator(0.0), sweep, row=64)
    with pytest.raises(SG3Error, match="input transform"):
        record_trace(ToyGenerator(0.0), sweep[:3], transforms=np.zeros([3, 3]))
    with pytest.raises(SG3Error):
        record_trace(ToyGenerator(0.0), sweep[0])


def test_transform_path_on_an_sg3_net_moves_the_trace_and_restores_the_transform():
    from stylegan3.explore.interpolation import seed_ws, transform_path
    from stylegan3.networks.transform import set_input_transform
    from tests.support.nets import SMALL_16PX, tiny_net

    G = tiny_net("sg3", **SMALL_16PX)
    set_input_transform(G, (0.1, 0.0), 0.05)  # a user's current view, which the trace must not lose
    before = G.synthesis.input.transform.clone()
    ws = seed_ws(G, [3]).repeat(4, 1, 1)
    path = transform_path("pan:0.5,0", 4, loop=False)
    still = record_trace(G, ws)
    moved = record_trace(G, ws, transforms=path)
    assert torch.equal(G.synthesis.input.transform, before)
    assert (moved[3] - still[3]).abs().mean() > 0.1 * still.std()
    assert verticality(still) == pytest.approx(1.0, abs=1e-6)  # same w, no motion: everything "stuck"
