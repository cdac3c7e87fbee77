"""Texture sticking of one network around the request's latent, next to the network.

The comparison panel's measure (`visualizer.comparison.sticking_job_fn`) and `sg3-explorer sticking` both
call `stylegan3.metrics.sticking.sticking_view`; this builds its arguments from the request (latent, class,
truncation, noise, the SG3 view transform) the same way, so remote and local scores and averages agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch

from stylegan3.analyses.params import check_range
from stylegan3.documents.request import RenderRequest
from stylegan3.networks.info import NetworkInfo

MAX_SAMPLES = 4096


@dataclass(frozen=True)
class StickingParams:
    """K perturbed renders of size `sigma` (in z or w), their noise seed, the fine-detail cutoff, batch size.
    `zero_label` conditions on zeros instead of the request's class, and `view` False leaves the input transform
    to the network's own buffer instead of passing the request's (both what `sg3-explorer sticking` does)."""

    samples: int = 8
    sigma: float = 0.2
    seed: int = 0
    space: Literal["z", "w"] = "z"
    hp_cutoff: float = 0.25
    batch_size: int = 4
    zero_label: bool = False
    view: bool = True

    def __post_init__(self) -> None:
        check_range("samples", self.samples, 2, MAX_SAMPLES)
        check_range("sigma", self.sigma, 1e-6, 100.0)
        check_range("seed", self.seed, 0, 2**63 - 1)
        check_range("hp_cutoff", self.hp_cutoff, 0.0, 1.0)
        check_range("batch_size", self.batch_size, 1, 64)


def sticking_args(G: torch.nn.Module, request: RenderRequest, info: NetworkInfo, params: StickingParams,
                  device: torch.device) -> dict[str, Any]:
    """`sticking_view` keyword arguments (besides G) for the request; the transform only where the net has one."""
    from stylegan3.networks.latents import class_vector
    from stylegan3.render.inputs import request_c, request_z

    z = torch.from_numpy(request_z(request.latent, int(G.z_dim))).to(device)
    c = class_vector(int(G.c_dim), None, device) if params.zero_label else request_c(G, request.latent, device)
    t = request.transform
    transform = ((float(t.translate[0]), float(t.translate[1]), float(t.rotate))
                 if info.capabilities.input_transform and params.view else None)
    return dict(z=z, samples=params.samples, sigma=params.sigma, space=params.space,
                psi=float(request.truncation.psi), cutoff_layers=request.truncation.cutoff, c=c,
                noise_mode=request.noise.mode, transform=transform, hp_cutoff=params.hp_cutoff,
                batch_size=params.batch_size, seed=params.seed)


@torch.no_grad()
def sticking(G: torch.nn.Module, request: RenderRequest, info: NetworkInfo, progress, *,
             params: StickingParams) -> dict[str, Any]:
    """Score, ratio, detail energy, and the average / single frames (float32 [C, H, W]) of `sticking_view`."""
    from stylegan3.metrics.sticking import sticking_view
    from stylegan3.networks.device import device_of

    progress(0, params.samples)
    res = sticking_view(G, progress=progress, **sticking_args(G, request, info, params, device_of(G)))
    return {"score": float(res.score), "ratio": float(res.ratio), "detail_energy": float(res.detail_energy),
            "samples": int(res.samples), "sigma": float(res.sigma), "cutoff": float(res.cutoff),
            "average": res.average.numpy(), "single": res.single.numpy()}


def sticking_from_plain(data: dict[str, Any]):
    """A `StickingResult` from what `sticking` returned (after `arrays.unpack`)."""
    from stylegan3.metrics.sticking import StickingResult

    return StickingResult(average=torch.from_numpy(data["average"]), single=torch.from_numpy(data["single"]),
                          score=float(data["score"]), ratio=float(data["ratio"]),
                          detail_energy=float(data["detail_energy"]), samples=int(data["samples"]),
                          sigma=float(data["sigma"]), cutoff=float(data["cutoff"]))
