"""Analyses of a request that run where the network is (a thread, a child process, a server), with progress.

Each is a plain function `(G, request, info, progress, *, params) -> JSON-ready data` (numpy arrays allowed:
they travel as one binary frame, `stylegan3.service.arrays`), with a frozen dataclass of typed, range-checked
params, so a server can refuse bad params with one clear line before the work starts and stream progress back.
`progress(done, total)` may raise to abandon the computation (a client's cancel lands at its next report).

- `eq_metrics`: EQ-T, EQ-T_frac, EQ-R of the request's latent (the Equivariance panel's Compute);
- `spectra`: mean power spectra of layers over N latents (the Spectra panel, `sg3-explorer spectra`);
- `sticking`: texture-sticking score and average image (the comparison panel, `sg3-explorer sticking`);
- `record`: a chunk of video frames along the request's latent / transform path (written by the client);
- `fingerprint`: SHA-256 of the weights, for the run records (`--record`) of remote runs;
- `ws`: the latent a request shows (bookmarks, user directions, a projection's start);
- `pca`, `seed_set_direction`, `user_direction`: directions in W (the Directions panel, `sg3-explorer directions`);
- `project`: a projection of a target image, streaming every step back (the Projection panel, `sg3-explorer
  project`);
- `drag`: drag to edit (DragGAN): handles pulled onto targets, streaming every step back (the Drag panel,
  `sg3-explorer drag`);
- `equivariance_terms`: per-latent equivariance terms of a range of latents (`sg3-explorer equivariance
  --connect`; pooled by the caller);
- `timeline_keys`, `timeline_frames`: a timeline's key latents, and chunks of its export's frames (the
  Timeline panel, `video --session`);
- `trace`: a comparison pane's space-time trace of one pixel row and its verticality;
- `video_walk`: one network's pane of a seed-walk video, in chunks (`video --connect`).

Two optional extras, declared per analysis: `streams` (the function gets `emit(data)`, each call a partial
result that reaches the caller before the end, with flow control) and `attachment` (the function gets the bytes
a client sent beside its params, e.g. a target image: bounded by `service.protocol.MAX_ATTACHMENT_BYTES`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from stylegan3.analyses import (  # modules, one analysis each
    directions,
    drag,
    equivariance,
    latents,
    project,
    record,
    spectra,
    sticking,
    timeline,
    trace,
    walk,
)
from stylegan3.analyses.params import ParamsError, check_range, parse_params
from stylegan3.analyses.record import RecordParams
from stylegan3.analyses.spectra import SpectraParams
from stylegan3.analyses.sticking import StickingParams
from stylegan3.analyses.timeline import TimelineFramesParams, TimelineParams
from stylegan3.analyses.trace import TraceParams
from stylegan3.analyses.walk import WalkParams
from stylegan3.documents.request import RenderRequest
from stylegan3.networks.info import NetworkInfo
from stylegan3.render.inputs import request_ws

ProgressFn = Callable[[int, int], None]
EmitFn = Callable[[Any], None]

__all__ = ["ANALYSES", "Analysis", "EqParams", "NoParams", "ParamsError", "RecordParams", "SpectraParams",
           "StickingParams", "TimelineFramesParams", "TimelineParams", "TraceParams", "WalkParams",
           "check_attachment", "directions", "drag", "eq_metrics", "equivariance", "fingerprint", "latents", "parse",
           "project", "record", "run", "spectra", "sticking", "timeline", "trace", "walk"]


@dataclass(frozen=True)
class EqParams:
    seed: int = 0  # seed of the fixed draw of transforms

    def __post_init__(self) -> None:
        check_range("seed", self.seed, 0, 2**32 - 1)


@torch.no_grad()
def eq_metrics(G: torch.nn.Module, request: RenderRequest, info: NetworkInfo, progress: ProgressFn, *,
               params: EqParams = EqParams()) -> dict[str, float]:  # noqa: B008 - frozen, never mutated
    """EQ-T, EQ-T_frac and EQ-R (PSNR dB) of the request's latent (the Equivariance panel's metrics)."""
    from stylegan3.errors import SG3Error
    from stylegan3.metrics.equivariance import METRICS, eq_metrics_for_latent
    from stylegan3.networks.device import device_of

    if not info.capabilities.input_transform:
        raise SG3Error("equivariance metrics need a StyleGAN3 network: this one has no input transform")
    progress(0, len(METRICS) + 1)
    ws = request_ws(G, request, device_of(G))
    out: dict[str, float] = {}
    for i, metric in enumerate(METRICS):
        out.update(eq_metrics_for_latent(G, ws, metrics=[metric], rng=[params.seed, i], noise_mode="const",
                                         force_fp32=bool(request.synthesis.force_fp32)))
        progress(i + 1, len(METRICS) + 1)
    progress(len(METRICS) + 1, len(METRICS) + 1)
    return out


@dataclass(frozen=True)
class NoParams:
    pass


def fingerprint(G: torch.nn.Module, request: RenderRequest, info: NetworkInfo, progress: ProgressFn, *,
                params: NoParams = NoParams()) -> dict[str, str]:  # noqa: B008 - frozen, never mutated
    """SHA-256 of the weights (`stylegan3.runs.runlog.network_fingerprint`), for `--record` logs of remote runs,
    and the short fingerprint direction files name their network by (`explore.directions.network_fingerprint`),
    so a client can refuse a direction file made for another network."""
    from stylegan3.explore.directions import network_fingerprint as directions_fingerprint
    from stylegan3.runs.runlog import network_fingerprint

    progress(0, 1)
    return {"sha256": network_fingerprint(G), "directions": directions_fingerprint(G)}


@dataclass(frozen=True)
class Analysis:
    fn: Callable[..., Any]
    params: type
    streams: bool = False  # fn takes `emit`: partial results sent back while it runs
    attachment: bool = False  # fn takes `attachment`: bytes sent beside the params (required then)


ANALYSES: dict[str, Analysis] = {
    "eq_metrics": Analysis(eq_metrics, EqParams),
    "spectra": Analysis(spectra.spectra, SpectraParams),
    "paper_spectrum": Analysis(spectra.paper_spectrum, spectra.PaperSpectrumParams),
    "sticking": Analysis(sticking.sticking, StickingParams),
    "record": Analysis(record.record, RecordParams),
    "fingerprint": Analysis(fingerprint, NoParams),
}

# Timelines and comparison panes.
ANALYSES.update({
    "timeline_keys": Analysis(timeline.timeline_keys, TimelineParams),
    "timeline_frames": Analysis(timeline.timeline_frames, TimelineFramesParams),
    "trace": Analysis(trace.trace, TraceParams),
    "video_walk": Analysis(walk.video_walk, WalkParams),
})

# Exploration: latents, directions, projection, equivariance over many latents (issue 19).
ANALYSES.update({
    "ws": Analysis(latents.ws, latents.WsParams),
    "pca": Analysis(directions.pca, directions.PcaParams),
    "seed_set_direction": Analysis(directions.seed_set_direction, directions.SeedSetParams),
    "user_direction": Analysis(directions.user_direction, directions.UserDirectionParams),
    "project": Analysis(project.project, project.ProjectParams, streams=True, attachment=True),
    "equivariance_terms": Analysis(equivariance.equivariance_terms, equivariance.TermsParams, streams=True),
})

# Editing by gradients (issue 22): drag to edit; the mask is the attachment.
ANALYSES["drag"] = Analysis(drag.drag, drag.DragParams, streams=True, attachment=True)


def parse(name: object, params: object) -> Any:
    """The typed params of analysis `name`; ParamsError for an unknown analysis or bad params (one line)."""
    if not isinstance(name, str) or name not in ANALYSES:
        raise ParamsError(f"unknown analysis {name!r} (expected one of {', '.join(ANALYSES)})")
    return parse_params(ANALYSES[name].params, params, f"{name} params")


def check_attachment(name: str, attachment: bytes | None) -> None:
    """ParamsError when analysis `name` needs an attachment and has none, or gets one it does not take."""
    spec = ANALYSES[name]
    if spec.attachment and attachment is None:
        raise ParamsError(f"{name}: this analysis needs its attachment (e.g. the target image)")
    if not spec.attachment and attachment is not None:
        raise ParamsError(f"{name}: this analysis takes no attachment")


def run(name: str, G: torch.nn.Module, request: RenderRequest, info: NetworkInfo, progress: ProgressFn,
        params: Any = None, *, emit: EmitFn | None = None, attachment: bytes | None = None) -> Any:
    """Run analysis `name` with parsed params (or a plain dict / None, parsed here); `emit` receives its partial
    results (dropped when None), `attachment` the bytes sent beside the params."""
    spec = ANALYSES[name]
    if not isinstance(params, spec.params):
        params = parse(name, params)
    check_attachment(name, attachment)
    extra: dict[str, Any] = {}
    if spec.streams:
        extra["emit"] = emit if emit is not None else (lambda data: None)
    if spec.attachment:
        extra["attachment"] = attachment
    return spec.fn(G, request, info, progress, params=params, **extra)
