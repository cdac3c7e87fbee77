"""Analyses of a request that run where the network is (a server, a child process), with progress.

Each takes (G, request, info, progress) and returns plain JSON-ready data, so the server can stream the
progress back and send the result as a reply. Today: the equivariance metrics of the request's latent
(the Equivariance panel's "Measure"), one metric at a time with one fixed draw of transforms each.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from stylegan3.netinfo import NetworkInfo
from stylegan3.render.inputs import request_ws
from stylegan3.request import RenderRequest

ProgressFn = Callable[[int, int], None]


@torch.no_grad()
def eq_metrics(G: torch.nn.Module, request: RenderRequest, info: NetworkInfo, progress: ProgressFn,
               seed: int = 0) -> dict[str, float]:
    """EQ-T, EQ-T_frac and EQ-R (PSNR dB) of the request's latent, as `visualizer.analysis_jobs` computes them."""
    from stylegan3.analysis.equivariance import METRICS, eq_metrics_for_latent
    from stylegan3.errors import SG3Error
    from stylegan3.generate import device_of

    if not info.capabilities.input_transform:
        raise SG3Error("equivariance metrics need a StyleGAN3 network: this one has no input transform")
    progress(0, len(METRICS) + 1)
    ws = request_ws(G, request, device_of(G))
    out: dict[str, float] = {}
    for i, metric in enumerate(METRICS):
        out.update(eq_metrics_for_latent(G, ws, metrics=[metric], rng=[seed, i], noise_mode="const",
                                         force_fp32=bool(request.synthesis.force_fp32)))
        progress(i + 1, len(METRICS) + 1)
    progress(len(METRICS) + 1, len(METRICS) + 1)
    return out


ANALYSES: dict[str, Callable[..., dict]] = {"eq_metrics": eq_metrics}
