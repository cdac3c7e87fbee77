"""Directions in W computed next to the network: PCA (GANSpace), the seed-set direction and the user
direction between two requests' latents.

All three call `stylegan3.explore.directions` (the pure functions the library user calls) and send the
`Directions` back as arrays + metadata, so a direction made over `--connect` is the file a local run writes.
PCA goes through `cached_pca`: the cache lives where the network lives (keyed by the weights' fingerprint),
so a second Directions panel on the same network, or a second `sg3-explorer directions` run, is instant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from stylegan3.analyses.params import check_range
from stylegan3.documents.request import RenderRequest
from stylegan3.networks.info import NetworkInfo

MAX_PCA_SAMPLES = 2_000_000
MAX_SET_SEEDS = 4096


def directions_to_plain(d) -> dict[str, Any]:
    """A `Directions` as JSON-ready data with its arrays (they travel as binary, `stylegan3.service.arrays`)."""
    return {"vectors": d.vectors, "sigmas": d.sigmas, "mean": d.mean, "kind": d.kind, "network": d.network,
            "source": d.source, "samples": int(d.samples), "labels": list(d.labels)}


def directions_from_plain(data: dict[str, Any]):
    """The `Directions` that `directions_to_plain` described (arrays checked by its constructor)."""
    from stylegan3.explore.directions import Directions

    return Directions(vectors=np.asarray(data["vectors"]), sigmas=np.asarray(data["sigmas"]),
                      mean=np.asarray(data["mean"]), kind=str(data["kind"]), network=str(data["network"]),
                      source=str(data["source"]), samples=int(data["samples"]),
                      labels=[str(v) for v in data["labels"]])


@dataclass(frozen=True)
class PcaParams:
    """`samples` w drawn from z seeded by `seed`; keep the first `components` (None: all)."""

    samples: int = 20_000
    components: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        check_range("samples", self.samples, 2, MAX_PCA_SAMPLES)
        if self.components is not None:
            check_range("components", self.components, 1, 65536)
        check_range("seed", self.seed, 0, 2**32 - 1)


@torch.no_grad()
def pca(G: torch.nn.Module, request: RenderRequest, info: NetworkInfo, progress, *,
        params: PcaParams) -> dict[str, Any]:
    """PCA directions of the request's network, from the backend's cache when it has them.
    The full decomposition is cached; `components` keeps its leading rows (what `pca_directions` returns)."""
    from stylegan3.explore.directions import Directions, cached_pca

    progress(0, params.samples)
    d = cached_pca(G, params.samples, progress=progress, seed=params.seed)
    k = min(int(params.components or d.w_dim), d.w_dim, params.samples - 1)
    if k < len(d):
        d = Directions(vectors=d.vectors[:k], sigmas=d.sigmas[:k], mean=d.mean, kind=d.kind, network=d.network,
                       source=d.source, samples=d.samples, labels=d.labels[:k])
    progress(params.samples, params.samples)
    return directions_to_plain(d)


@dataclass(frozen=True)
class SeedSetParams:
    """The direction from the mean w of `seeds_a` to the mean w of `seeds_b`, truncated by `psi`."""

    seeds_a: tuple[int, ...] = (0,)
    seeds_b: tuple[int, ...] = (1,)
    psi: float = 1.0
    label: str = ""

    def __post_init__(self) -> None:
        for name, seeds in (("seeds_a", self.seeds_a), ("seeds_b", self.seeds_b)):
            check_range(f"{name} count", len(seeds), 1, MAX_SET_SEEDS)
            for s in seeds:
                check_range(name, s, 0, 2**32 - 1)
        check_range("psi", self.psi, -4.0, 4.0)
        check_range("label length", len(self.label), 0, 200)


@torch.no_grad()
def seed_set_direction(G: torch.nn.Module, request: RenderRequest, info: NetworkInfo, progress, *,
                       params: SeedSetParams) -> dict[str, Any]:
    from stylegan3.explore.directions import seed_set_direction as make

    progress(0, 1)
    d = make(G, list(params.seeds_a), list(params.seeds_b), psi=params.psi, label=params.label)
    progress(1, 1)
    return directions_to_plain(d)


@dataclass(frozen=True)
class UserDirectionParams:
    """From the request's latent to the latent of `to` (on the same network: its `network` is not used), with
    the file's `source` text and the slider's `label`."""

    to: RenderRequest = field(default_factory=RenderRequest)
    source: str = ""
    label: str = ""

    def __post_init__(self) -> None:
        check_range("source length", len(self.source), 0, 1000)
        check_range("label length", len(self.label), 0, 200)


@torch.no_grad()
def user_direction(G: torch.nn.Module, request: RenderRequest, info: NetworkInfo, progress, *,
                   params: UserDirectionParams) -> dict[str, Any]:
    """The direction A -> B between the ws of two requests (both mapped here, moves included), named by the
    network's fingerprint like a PCA file of it."""
    from stylegan3.explore.directions import network_fingerprint
    from stylegan3.explore.directions import user_direction as make
    from stylegan3.networks.device import device_of
    from stylegan3.render.inputs import request_ws

    progress(0, 1)
    device = device_of(G)
    w_from = request_ws(G, request, device)
    w_to = request_ws(G, params.to.replace(network=request.network), device)
    d = make(w_from, w_to, network=network_fingerprint(G), source=params.source, label=params.label)
    progress(1, 1)
    return directions_to_plain(d)
