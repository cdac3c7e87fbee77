"""Equivariance metrics on constructed generators whose equivariance is known exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stylegan3.errors import SG3Error
from stylegan3.metrics.equivariance import (
    EquivarianceUnsupportedError,
    eq_metrics_for_latent,
    estimate_equivariance,
    psnr_from_mse,
)


class _Input(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("transform", torch.eye(3))


class _Synthesis(torch.nn.Module):
    """Renders plane waves (|f| < 0.2 cycles/pixel, picked by ws) at the input-transformed coordinates.

    Like an SG3 input layer (the transform comes as synthesis' `transform` argument, the buffer is the
    default), pixel u (image units, centred) shows the signal at transform @ u, so the
    map is exactly equivariant; with `snap`, the sampling point is rounded to the pixel grid first,
    which keeps whole-pixel moves exact but breaks fractional moves and rotations.
    """

    def __init__(self, size: int, snap: bool) -> None:
        super().__init__()
        self.input = _Input()
        self.size, self.snap, self.calls = size, snap, 0

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", transform=None, **_: object) -> torch.Tensor:
        self.calls += 1
        n = self.size
        c = (torch.arange(n, dtype=torch.float64) + 0.5 - n / 2) / n
        y, x = torch.meshgrid(c, c, indexing="ij")
        t = (self.input.transform if transform is None else torch.as_tensor(transform)).to(torch.float64)
        u = t[0, 0] * x + t[0, 1] * y + t[0, 2]
        v = t[1, 0] * x + t[1, 1] * y + t[1, 2]
        if self.snap:
            u = (torch.floor(u * n) + 0.5) / n
            v = (torch.floor(v * n) + 0.5) / n
        p = ws[0, 0].to(torch.float64)
        k = p.numel() // 3
        r = 0.05 + 0.15 * torch.sigmoid(p[:k])
        th = p[k : 2 * k] * 3
        ph = p[2 * k : 3 * k] * 3
        img = sum(torch.cos(2 * math.pi * n * r[i] * (th[i].cos() * u + th[i].sin() * v) + ph[i]) for i in range(k)) / k
        return torch.stack([img, -img, 0.5 * img])[None].to(torch.float32)


class FakeGenerator(torch.nn.Module):
    def __init__(self, size: int = 48, snap: bool = False) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws, self.img_resolution = 24, 0, 24, 1, size
        self.synthesis = _Synthesis(size, snap)

    def mapping(self, z, c, truncation_psi=1, truncation_cutoff=None):
        return z[:, None, :]


def _ws(seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).standard_normal((1, 1, 24))).float()


def test_psnr_of_known_errors():
    assert psnr_from_mse(4.0) == pytest.approx(0.0)
    assert psnr_from_mse(4e-4) == pytest.approx(40.0)
    assert psnr_from_mse(0.0) == math.inf


def test_exactly_equivariant_map_scores_high():
    G = FakeGenerator()
    scores = eq_metrics_for_latent(G, _ws(), rng=1)
    assert set(scores) == {"eqt", "eqt_frac", "eqr"}
    assert scores["eqt"] > 60  # whole pixels: the reference is exact
    assert scores["eqt_frac"] > 50
    assert scores["eqr"] > 50


def test_grid_snapping_map_passes_only_integer_translation():
    G = FakeGenerator(snap=True)
    scores = eq_metrics_for_latent(G, _ws(), rng=1)
    assert scores["eqt"] > 60
    # half-pixel snapping errors on waves of up to 0.2 cycles/pixel cost well over 10 dB
    assert scores["eqt_frac"] < 40
    assert scores["eqr"] < 40


def test_transform_buffer_is_restored_and_renders_are_counted():
    G = FakeGenerator()
    custom = torch.tensor([[1.0, 0, 0.1], [0, 1, 0.2], [0, 0, 1]])
    G.synthesis.input.transform.copy_(custom)
    eq_metrics_for_latent(G, _ws(), metrics=("eqt_frac", "eqr"), rng=0)
    assert torch.equal(G.synthesis.input.transform, custom)
    assert G.synthesis.calls == 3  # one plain render shared by both metrics


def test_estimate_pools_samples_reports_uncertainty_and_progress():
    G = FakeGenerator(snap=True)
    seen = []
    est = estimate_equivariance(G, 6, metrics=("eqt", "eqt_frac"), seed=3, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(i, 6) for i in range(1, 7)]
    frac = est["eqt_frac"]
    assert frac.num_samples == 6 and len(frac.per_sample) == 6
    assert 20 < frac.psnr < 40
    assert 0 < frac.stderr < 10
    assert frac.ci_low <= frac.psnr <= frac.ci_high
    assert min(frac.per_sample) <= frac.psnr <= max(frac.per_sample)
    assert est["eqt"].psnr > 60
    again = estimate_equivariance(G, 6, metrics=("eqt_frac",), seed=3)
    assert again["eqt_frac"].psnr == pytest.approx(frac.psnr)
    assert "EQ-T_frac" in str(frac)


def test_network_without_input_transform_is_refused():
    G = FakeGenerator()
    del G.synthesis.input
    with pytest.raises(EquivarianceUnsupportedError, match="StyleGAN3"):
        eq_metrics_for_latent(G, _ws())
    with pytest.raises(SG3Error, match="unknown equivariance metric"):
        estimate_equivariance(FakeGenerator(), 2, metrics=("eqx",))


@pytest.mark.fixtures
def test_rotation_config_is_more_rotation_equivariant_than_translation_config(fixtures_dir):
    """On the reference nets (random weights) SG3-R follows rotations far better than SG3-T."""
    from stylegan3 import load_network

    scores = {}
    for name in ("sg3t", "sg3r"):
        G = load_network(fixtures_dir / f"{name}.pkl", device="cpu").eval()
        ws = torch.from_numpy(np.load(fixtures_dir / f"{name}_s42_p1.0_cNone_ws.npy"))
        before = G.synthesis.input.transform.clone()
        scores[name] = eq_metrics_for_latent(G, ws, metrics=("eqr",), rng=2)["eqr"]  # a turn of -86 degrees
        assert torch.equal(G.synthesis.input.transform, before)
    assert 25 < scores["sg3t"] < 44  # measured 38.76 (SG3-R: 51.48); 38.4 and 51.2 with our older operators
    assert scores["sg3r"] > scores["sg3t"] + 8


def test_latents_are_independent_so_runs_split_and_resume():
    from stylegan3.metrics.equivariance import pool_terms, sample_terms

    G = FakeGenerator(size=32, snap=True)
    full = estimate_equivariance(G, 4, metrics=("eqt_frac", "eqr"), seed=9)
    # latent 2 alone, computed out of order, is what the run used
    terms = [sample_terms(G, i, ("eqt_frac", "eqr"), seed=9) for i in (2, 0, 3, 1)]
    ordered = [terms[1], terms[3], terms[0], terms[2]]
    pooled = pool_terms(ordered, ("eqt_frac", "eqr"), seed=9)
    for m in ("eqt_frac", "eqr"):
        assert pooled[m].psnr == full[m].psnr and pooled[m].stderr == full[m].stderr
        assert pooled[m].per_sample == full[m].per_sample
    # a resumed run: two latents from a file, two computed now, reported through on_results
    seen = []
    resumed = estimate_equivariance(G, 4, metrics=("eqt_frac", "eqr"), seed=9, done={0: ordered[0], 1: ordered[1]},
                                    on_results=seen.extend)
    assert [i for i, _ in seen] == [2, 3]
    assert resumed["eqr"].psnr == full["eqr"].psnr and resumed["eqt_frac"].ci_low == full["eqt_frac"].ci_low
    # different latents really differ (the streams are not all the same)
    assert len(set(full["eqt_frac"].per_sample)) == 4
