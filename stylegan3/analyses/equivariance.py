"""Equivariance terms of a range of latents, next to the network (`sg3-explorer equivariance --connect`).

Each latent's terms are a pure function of (network, index, seed, metric) (`metrics.equivariance.sample_terms`),
so the caller asks for its latents in chunks (a bounded reply each, a resumed run asks only for the missing
ones), appends them to its `--resume` log as they arrive and pools them itself (`pool_terms`): the estimates
are the ones a local run prints, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from stylegan3.analyses.params import check_range
from stylegan3.documents.request import RenderRequest
from stylegan3.networks.info import NetworkInfo

MAX_CHUNK = 1024


@dataclass(frozen=True)
class TermsParams:
    """Latents `start` .. `start + count - 1` of a run with `seed` and truncation `psi`, for `metrics`."""

    start: int = 0
    count: int = 1
    metrics: tuple[str, ...] = ("eqt", "eqt_frac", "eqr")
    seed: int = 0
    psi: float = 1.0

    def __post_init__(self) -> None:
        from stylegan3.metrics.equivariance import METRICS

        check_range("start", self.start, 0, 2**40)
        check_range("count", self.count, 1, MAX_CHUNK)
        bad = [m for m in self.metrics if m not in METRICS]
        if bad or not self.metrics:
            raise ValueError(f"metrics: unknown {', '.join(bad) or '(none)'}; choose from {', '.join(METRICS)}")
        check_range("seed", self.seed, 0, 2**32 - 1)
        check_range("psi", self.psi, -4.0, 4.0)


def equivariance_terms(G: torch.nn.Module, request: RenderRequest, info: NetworkInfo, progress, *,
                       params: TermsParams, emit) -> dict[str, Any]:
    """{"terms": [[index, {metric: [squared error sum, mask sum]}], ...]}; each latent is also emitted."""
    from stylegan3.metrics.equivariance import input_transform_buffer, sample_terms

    input_transform_buffer(G)  # StyleGAN2: one line before any work
    out = []
    progress(0, params.count)
    for k in range(params.count):
        index = params.start + k
        terms = sample_terms(G, index, params.metrics, params.seed, params.psi)
        row = [index, {m: [float(a), float(b)] for m, (a, b) in terms.items()}]
        out.append(row)
        emit({"index": index, "terms": row[1]})
        progress(k + 1, params.count)
    return {"terms": out}
