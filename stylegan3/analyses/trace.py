"""Trace view of one network around the request's latent, next to the network (the comparison panes' trace).

A pane's trace walks in W from its seed to the next over `frames` frames (the same seeds for every pane),
keeps one pixel row per frame (`stylegan3.metrics.trace.record_trace`) and measures how much fine detail stays
put (`verticality`). An SG3 pane moves its input along the shared `transform_spec` path in lockstep, or holds
its current view; an SG2 pane has no input transform and records without one. Computed here, the pane's
network may live in a thread, a child process or on a server: the client gets the trace and its number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from stylegan3.analyses.params import check_range, check_transform_path
from stylegan3.documents.request import RenderRequest
from stylegan3.networks.info import NetworkInfo

MAX_FRAMES = 4096


@dataclass(frozen=True)
class TraceParams:
    """`frames` frames from the request's seed to the next; the pixel row at fraction `row` of the height;
    `transform_spec` (a `stylegan3.explore.interpolation` path, SG3 only) instead of the request's view."""

    frames: int = 16
    row: float = 0.5
    transform_spec: str = ""

    def __post_init__(self) -> None:
        check_range("frames", self.frames, 2, MAX_FRAMES)
        check_range("row", self.row, 0.0, 1.0)
        check_transform_path("transform_spec", self.transform_spec)


@dataclass(frozen=True)
class TraceResult:
    """The recorded rows `[T, C, W]` float32 (time down) and the fraction of fine detail that kept its x."""

    trace: np.ndarray
    verticality: float

    @property
    def image(self) -> np.ndarray:
        """The trace as an RGB image `[T, W, 3]` uint8, converted like a frame."""
        from stylegan3.metrics.trace import trace_to_uint8

        return trace_to_uint8(torch.from_numpy(self.trace))


def trace_transforms(request: RenderRequest, info: NetworkInfo, params: TraceParams) -> np.ndarray | None:
    """Per-frame (translate x, y, rotate) `[T, 3]`: the shared path on SG3, else the request's view held still
    on SG3, None without an input transform."""
    from stylegan3.explore.interpolation import transform_path

    if not info.capabilities.input_transform:
        return None
    if params.transform_spec.strip():
        return transform_path(params.transform_spec, params.frames, loop=False)
    t = request.transform
    view = np.asarray((float(t.translate[0]), float(t.translate[1]), float(t.rotate)), dtype=np.float64)
    return np.tile(view, (params.frames, 1))


@torch.no_grad()
def trace(G: torch.nn.Module, request: RenderRequest, info: NetworkInfo, progress, *,
          params: TraceParams) -> dict[str, Any]:
    """{"trace": [T, C, W] float32, "verticality": float} of the walk from the request's seed to the next."""
    from stylegan3.explore.interpolation import path_ws
    from stylegan3.metrics.trace import record_trace, verticality
    from stylegan3.networks.device import device_of

    seed = request.latent.seed
    c_idx = request.latent.class_idx % int(G.c_dim) if int(G.c_dim) > 0 else None
    ws = path_ws(G, [seed, seed + 1], params.frames - 1, psi=float(request.truncation.psi),
                 cutoff=request.truncation.cutoff, class_idx=c_idx, device=device_of(G))
    res = int(G.img_resolution)
    row = min(int(params.row * res), res - 1)
    progress(0, params.frames)
    rows = record_trace(G, ws, row, noise_mode=request.noise.mode, transforms=trace_transforms(request, info, params),
                        progress=progress)
    return {"trace": rows.numpy(), "verticality": verticality(rows)}


def trace_from_plain(data: dict[str, Any]) -> TraceResult:
    """A `TraceResult` from what `trace` returned (after `arrays.unpack`)."""
    return TraceResult(np.asarray(data["trace"], dtype=np.float32), float(data["verticality"]))
