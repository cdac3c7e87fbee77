"""Equivariance metrics EQ-T, EQ-T_frac and EQ-R of "Alias-Free Generative Adversarial Networks".

Each metric renders a latent twice, once plain and once with a transformed input (through the SG3
synthesis input's ``transform`` buffer), transforms the plain image the same way with a band-limited
resampler (see :mod:`stylegan3.metrics.resample`) and measures how close the two are as a PSNR in dB
over the pixels both images really cover. The images live in [-1, 1], so the peak-to-peak value is 2:

    PSNR = 20 log10(2) - 10 log10(MSE)

As in the paper, translations are drawn uniformly in [-1/8, 1/8] of the image size along each axis
(EQ-T rounds them to whole pixels, EQ-T_frac keeps them fractional) and rotations uniformly in
[-180, 180] degrees. For rotations both images are limited to the band the rotated grid can carry
before comparing, otherwise corner frequencies the reference cannot hold would count as errors; the
rotation operators, their filter and the pixels counted are those of the paper's published numbers
(:mod:`stylegan3.metrics.paper_rotation`). The estimate over many latents pools the squared errors of
all samples before taking the PSNR (the paper's definition), renders in float32 (``force_fp32``, as the
paper's numbers were) and reports a bootstrap spread over latents as its uncertainty.

Every latent's draws come from its own random streams (seeded by the run's seed, the latent's index and
the metric), so a latent's result does not depend on the others: the work splits over processes
(:mod:`stylegan3.runs.distributed`) and an interrupted run resumes with the same result. Differences to the
reference's sampling that remain: its transforms are drawn once per batch of 4 latents (ours once per
latent, same distribution), its labels of conditional networks follow the training set's label
distribution (ours are uniform over the classes: we have no dataset), and its random streams are
torch's, so individual draws differ (the estimate converges to the same value).

Only networks with an input transform (StyleGAN3) can be measured; StyleGAN2 has no such input.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from stylegan3.errors import SG3Error
from stylegan3.metrics.paper_rotation import paper_pseudo_rotate, paper_rotate
from stylegan3.metrics.resample import shift_image_int, translate_image
from stylegan3.networks.transform import input_transform
from stylegan3.runs.distributed import SINGLE, Context, map_ordered

__all__ = [
    "METRICS",
    "METRIC_LABELS",
    "EqEstimate",
    "psnr_from_mse",
    "input_transform_buffer",
    "eq_terms",
    "eq_metrics_for_latent",
    "sample_terms",
    "pool_terms",
    "estimate_equivariance",
]

METRICS: tuple[str, ...] = ("eqt", "eqt_frac", "eqr")
METRIC_LABELS = {"eqt": "EQ-T", "eqt_frac": "EQ-T_frac", "eqr": "EQ-R"}
DEFINITION_VERSION = 2  # bumped when a metric's value for the same seed changes (results files record it)
TRANSLATE_MAX = 0.125  # fraction of the image size
ROTATE_MAX = 1.0  # fraction of 180 degrees

ProgressFn = Callable[[int, int], None]


class EquivarianceUnsupportedError(SG3Error):
    """The network has no input transform, so equivariance cannot be probed (e.g. StyleGAN2)."""


def psnr_from_mse(mse: float) -> float:
    """PSNR in dB of images in [-1, 1] (peak-to-peak 2); infinite for a perfect match."""
    if mse <= 0:
        return math.inf
    return 20 * math.log10(2) - 10 * math.log10(mse)


def input_transform_buffer(G: torch.nn.Module) -> torch.Tensor:
    """The 3x3 buffer an SG3 synthesis input reads its (inverse) transform from."""
    buf = getattr(getattr(getattr(G, "synthesis", None), "input", None), "transform", None)
    if not isinstance(buf, torch.Tensor) or tuple(buf.shape) != (3, 3):
        raise EquivarianceUnsupportedError(
            "equivariance metrics need a StyleGAN3 network: this one has no input transform"
        )
    return buf


def _check_metrics(metrics: Sequence[str]) -> tuple[str, ...]:
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise SG3Error(f"unknown equivariance metric(s) {unknown or metrics}; choose from {', '.join(METRICS)}")
    return metrics


def _render(G, ws, translate=(0.0, 0.0), rotate=0.0, synthesis_kwargs=None) -> torch.Tensor:
    """Synthesis with the input moved by (translate, rotate), passed as an argument (the network is not
    modified, so measurements may share it with a renderer)."""
    m = torch.from_numpy(input_transform(translate, rotate)).to(device=ws.device, dtype=torch.float32)
    kwargs = {"noise_mode": "const", **(synthesis_kwargs or {}), "transform": m}
    return G.synthesis(ws, **kwargs).to(torch.float32)


def eq_terms(
    G: torch.nn.Module,
    ws: torch.Tensor,
    metric: str,
    rng: np.random.Generator,
    orig: torch.Tensor | None = None,
    translate_max: float = TRANSLATE_MAX,
    rotate_max: float = ROTATE_MAX,
    synthesis_kwargs: dict | None = None,
) -> tuple[float, float]:
    """Sum of masked squared errors and the mask's sum, for one draw of ``metric`` on the latents ``ws``.

    Kept as a pair (not a PSNR) so draws pool correctly: the paper's PSNR is over the total error.
    ``orig`` is the plain rendering, passed in when several metrics share it. The network is not modified
    (the transforms are arguments of synthesis).
    """
    input_transform_buffer(G)  # StyleGAN2: EquivarianceUnsupportedError with its own message
    with torch.no_grad():
        if orig is None:
            orig = _render(G, ws, synthesis_kwargs=synthesis_kwargs)
        h, w = orig.shape[-2:]
        if metric in ("eqt", "eqt_frac"):
            t = rng.uniform(-translate_max, translate_max, size=2)
            if metric == "eqt":
                px = np.round(t * [w, h])
                t = px / [w, h]
                ref, mask = shift_image_int(orig, int(px[0]), int(px[1]))
            else:
                ref, mask = translate_image(orig, t[0] * w, t[1] * h)
            img = _render(G, ws, translate=(float(t[0]), float(t[1])), synthesis_kwargs=synthesis_kwargs)
            diff = ref - img
        elif metric == "eqr":
            angle = float(rng.uniform(-1, 1) * rotate_max * math.pi)
            img = _render(G, ws, rotate=angle / (2 * math.pi), synthesis_kwargs=synthesis_kwargs)
            ref, ref_mask = paper_rotate(orig, angle)
            pseudo, pseudo_mask = paper_pseudo_rotate(img, angle)
            mask = ref_mask * pseudo_mask
            diff = ref - pseudo
        else:
            _check_metrics([metric])
            raise AssertionError
        sq = (diff.to(torch.float64).square() * mask).sum()
        return float(sq), float(mask.to(torch.float64).sum())


def eq_metrics_for_latent(
    G: torch.nn.Module,
    ws: torch.Tensor,
    metrics: Sequence[str] = METRICS,
    rng: np.random.Generator | int | None = None,
    translate_max: float = TRANSLATE_MAX,
    rotate_max: float = ROTATE_MAX,
    **synthesis_kwargs,
) -> dict[str, float]:
    """PSNR (dB) of each metric for one latent and one random draw of each transform; for live display.

    ``ws`` is ``[1, num_ws, w_dim]`` (or without the batch axis). The transform buffer is restored, but
    it is changed while this runs: call it from the thread that renders with ``G`` (the GUI's renderer),
    never beside another render of the same network.
    """
    metrics = _check_metrics(metrics)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    if ws.ndim == 2:
        ws = ws[None]
    input_transform_buffer(G)  # StyleGAN2: EquivarianceUnsupportedError with its own message
    out: dict[str, float] = {}
    with torch.no_grad():
        orig = _render(G, ws, synthesis_kwargs=synthesis_kwargs)
        for m in metrics:
            sq, cnt = eq_terms(G, ws, m, rng, orig, translate_max, rotate_max, synthesis_kwargs)
            out[m] = psnr_from_mse(sq / max(cnt, 1.0))
    return out


@dataclass
class EqEstimate:
    """A metric estimated over ``num_samples`` latents: pooled PSNR and its bootstrap uncertainty."""

    metric: str
    psnr: float
    stderr: float
    ci_low: float
    ci_high: float
    num_samples: int
    per_sample: list[float] = field(default_factory=list)

    @property
    def label(self) -> str:
        return METRIC_LABELS[self.metric]

    def __str__(self) -> str:
        if math.isnan(self.stderr):  # one latent: no spread to report
            return f"{self.label:<10} {self.psnr:7.2f} dB  (n={self.num_samples}, no uncertainty from one sample)"
        return (
            f"{self.label:<10} {self.psnr:7.2f} dB  +- {self.stderr:.3f}"
            f"  (95% {self.ci_low:.2f} .. {self.ci_high:.2f}, n={self.num_samples})"
        )


def _pooled_estimate(metric: str, sq: np.ndarray, cnt: np.ndarray, rng: np.random.Generator, boot: int) -> EqEstimate:
    """Pooled PSNR of the draws, with a bootstrap over latents for its spread (PSNR is not linear in MSE)."""
    n = len(sq)
    psnr = psnr_from_mse(sq.sum() / max(cnt.sum(), 1.0))
    per = [psnr_from_mse(s / max(c, 1.0)) for s, c in zip(sq, cnt, strict=True)]
    if n < 2 or boot < 2:
        return EqEstimate(metric, psnr, math.nan, math.nan, math.nan, n, per)
    mses = np.empty(boot)
    step = max(1, (1 << 22) // n)  # replicates per chunk: 50,000 latents x 500 replicates would need GBs at once
    for start in range(0, boot, step):
        idx = rng.integers(0, n, size=(min(step, boot - start), n))
        mses[start : start + len(idx)] = sq[idx].sum(axis=1) / np.maximum(cnt[idx].sum(axis=1), 1.0)
    with np.errstate(divide="ignore"):
        psnrs = 20 * np.log10(2) - 10 * np.log10(mses)
    finite = psnrs[np.isfinite(psnrs)]
    if finite.size < 2:
        return EqEstimate(metric, psnr, math.nan, math.nan, math.nan, n, per)
    lo, hi = np.percentile(finite, [2.5, 97.5])
    return EqEstimate(metric, psnr, float(finite.std(ddof=1)), float(lo), float(hi), n, per)


def _random_labels(G, rng: np.random.Generator, device) -> torch.Tensor | None:
    c_dim = int(getattr(G, "c_dim", 0) or 0)
    if c_dim == 0:
        return torch.zeros([1, 0], device=device)
    c = torch.zeros([1, c_dim], device=device)
    c[0, int(rng.integers(c_dim))] = 1
    return c


Terms = dict[str, tuple[float, float]]


def sample_terms(
    G: torch.nn.Module,
    index: int,
    metrics: Sequence[str] = METRICS,
    seed: int = 0,
    truncation_psi: float = 1.0,
    translate_max: float = TRANSLATE_MAX,
    rotate_max: float = ROTATE_MAX,
    **synthesis_kwargs,
) -> Terms:
    """``{metric: (sum of masked squared errors, mask sum)}`` for latent number ``index`` of a run with ``seed``.

    A pure function of its arguments: latent, label and each metric's transform come from streams seeded
    by ``(seed, stream, index)``, so any process can compute any sample. The network is not modified.
    """
    metrics = _check_metrics(metrics)
    device = input_transform_buffer(G).device
    kwargs = {"force_fp32": True, **synthesis_kwargs}
    rng = np.random.default_rng([seed, 0, index])
    with torch.no_grad():
        z = torch.from_numpy(rng.standard_normal((1, G.z_dim))).to(device=device, dtype=torch.float32)
        ws = G.mapping(z, _random_labels(G, rng, device), truncation_psi=truncation_psi)
        orig = _render(G, ws, synthesis_kwargs=kwargs)
        return {m: eq_terms(G, ws, m, np.random.default_rng([seed, 1 + METRICS.index(m), index]), orig,
                            translate_max, rotate_max, kwargs) for m in metrics}


def pool_terms(terms: Sequence[Terms], metrics: Sequence[str], seed: int = 0,
               bootstrap: int = 500) -> dict[str, EqEstimate]:
    """The estimates from every latent's terms, in latent order (the order fixes the float sums' bits)."""
    boot_rng = np.random.default_rng([seed, len(METRICS) + 1])
    out = {}
    for m in metrics:
        arr = np.array([t[m] for t in terms], dtype=np.float64).reshape(-1, 2)
        out[m] = _pooled_estimate(m, arr[:, 0], arr[:, 1], boot_rng, bootstrap)
    return out


def estimate_equivariance(
    G: torch.nn.Module,
    num_samples: int,
    metrics: Sequence[str] = METRICS,
    seed: int = 0,
    truncation_psi: float = 1.0,
    translate_max: float = TRANSLATE_MAX,
    rotate_max: float = ROTATE_MAX,
    progress: ProgressFn | None = None,
    bootstrap: int = 500,
    *,
    done: Mapping[int, Terms] | None = None,
    on_results: Callable[[list[tuple[int, Terms]]], None] | None = None,
    context: Context = SINGLE,
    **synthesis_kwargs,
) -> dict[str, EqEstimate] | None:
    """Estimate each metric over ``num_samples`` random latents (z ~ N(0, I), random class if any).

    Deterministic for a given ``seed`` and independent of how the work is split: each latent is
    :func:`sample_terms` of its index. ``done`` holds latents already computed (a resumed run); the new
    ones are passed to ``on_results`` as they finish and ``progress(done, total)`` is called after each
    round. With a ``context`` of several processes (every rank calls this) the latents are spread over
    the ranks and only rank 0 gets the estimates (the others get None). The transform buffer is restored.
    """
    metrics = _check_metrics(metrics)
    if num_samples < 1:
        raise SG3Error("the number of samples must be at least 1")
    input_transform_buffer(G)  # StyleGAN2: EquivarianceUnsupportedError
    have = {i: t for i, t in (done or {}).items() if 0 <= i < num_samples}
    todo = [i for i in range(num_samples) if i not in have]

    def one(i: int) -> Terms:
        return sample_terms(G, i, metrics, seed, truncation_psi, translate_max, rotate_max, **synthesis_kwargs)

    for results in map_ordered(one, todo, context):
        if results is None:
            continue
        have.update(results)
        if on_results is not None:
            on_results(results)
        if progress is not None:
            progress(len(have), num_samples)
    if not context.is_main:
        return None
    return pool_terms([have[i] for i in range(num_samples)], metrics, seed, bootstrap)
