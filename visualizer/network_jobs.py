"""The computations panels ask for, as `NetworkJob`s: one function run against the window's `RenderBackend`.

A panel never holds the generator: it builds a job here (plain arguments and a `RenderRequest` in, a result
out) and hands it to its context (`widgets.context.PanelContext.start_job` for background work, `compute`
for a quick answer). Every job is a typed client call of `stylegan3.service.analyses` (or the backend's
`analyze`), so it runs next to the network wherever that lives (this process, a child process, a server)
and the panel gets the same objects back in each case.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sg3_explorer.visualizer.jobs import Progress
from stylegan3.documents.request import RenderRequest
from stylegan3.service import analyses
from stylegan3.service.backend import RenderBackend

JobRun = Callable[[RenderBackend, Progress], Any]


@dataclass(frozen=True)
class NetworkJob:
    label: str  # the JobSlot label ("spectra", "PCA of 5000 w", ...): progress text and out-of-memory wording
    run: JobRun  # run(backend, progress) on the job's thread (or the GUI thread for `compute`)


# -- background jobs (start_job) --------------------------------------------------------------------------------

def pca_job(request: RenderRequest, samples: int) -> NetworkJob:
    """Principal directions of W from `samples` mapped latents (cached per network fingerprint there)."""
    return NetworkJob(f"PCA of {int(samples)} w",
                      lambda backend, progress: analyses.pca(backend, request, int(samples), progress=progress))


def spectra_job(request: RenderRequest, layers: Sequence[str], num_samples: int, seed: int, psi: float,
                window: str = "kaiser") -> NetworkJob:
    """Mean spectra of `layers` over seeds seed .. seed + N - 1 ({layer: Spectrum})."""
    return NetworkJob("spectra", lambda backend, progress: analyses.spectra(
        backend, request, list(layers), int(num_samples), int(seed), float(psi), window, progress=progress))


def paper_spectrum_job(request: RenderRequest, params: dict[str, Any], label: str = "") -> NetworkJob:
    """The paper's spectrum of the output image (`stylegan3.analyses.spectra.paper_spectrum`: `params` are its
    `PaperSpectrumParams` fields) as a `PaperSpectrum` labelled `label`: the numbers and file of
    `spectra --paper` with the same arguments, wherever the network lives."""

    def run(backend: RenderBackend, progress: Progress):
        from stylegan3.analyses.spectra import paper_spectrum_from_plain

        return paper_spectrum_from_plain(backend.analyze("paper_spectrum", request, progress, params=dict(params)),
                                         label)

    return NetworkJob("paper spectrum", run)


def sticking_job(request: RenderRequest, samples: int, sigma: float, seed: int = 0) -> NetworkJob:
    """The texture-sticking measure of the request's latent and view: (average uint8 HxWx3, StickingResult)."""

    def run(backend: RenderBackend, progress: Progress):
        from stylegan3.render.images import to_numpy_rgb

        res = analyses.sticking(backend, request, progress, samples=int(samples), sigma=float(sigma), seed=int(seed))
        return to_numpy_rgb(res.average[None]), res

    return NetworkJob("sticking", run)


def record_job(request: RenderRequest, out: str | Path, frames: int, fps: float, path: str,
               walk: float) -> NetworkJob:
    """An mp4 of the request's view along a transform path (and `walk` seeds), written here; the frame count."""
    return NetworkJob("record", lambda backend, progress: analyses.record_video(
        backend, request, out, int(frames), fps=float(fps), path=path, walk=float(walk), progress=progress))


def trace_job(request: RenderRequest, frames: int, row: float, transform_spec: str) -> NetworkJob:
    """One pixel row per frame from the request's seed to the next: (trace uint8 [T, W, 3], verticality)."""

    def run(backend: RenderBackend, progress: Progress):
        res = analyses.trace(backend, request, frames=int(frames), row=float(row), transform_spec=transform_spec,
                             progress=progress)
        return res.image, float(res.verticality)

    return NetworkJob("trace", run)


def equivariance_job(request: RenderRequest, seed: int = 0) -> NetworkJob:
    """EQ-T, EQ-T_frac and EQ-R (PSNR dB) of the request's latent."""
    return NetworkJob("equivariance", lambda backend, progress: backend.analyze(
        "eq_metrics", request, progress, params={"seed": int(seed)}))


def projection_job(request: RenderRequest, target: Any, steps: int, space: str, loss: str,
                   on_step: Callable[[Any], None], label: str = "projection") -> NetworkJob:
    """Optimise a latent towards `target`; every step goes to `on_step` as it arrives (the panel shows the
    reconstruction forming). Returns the `Projection` (last step, PSNR against the target, the loss used)."""
    return NetworkJob(label, lambda backend, progress: analyses.run_projection(
        backend, request, target, int(steps), space, loss, on_step=on_step, progress=progress))


def drag_job(request: RenderRequest, points, mask, steps: int, on_step: Callable[[Any], None], *,
             lr: float = 0.002, layers: int = 6, mask_weight: float = 10.0, label: str = "drag") -> NetworkJob:
    """Drag handles onto targets on the request's image (`points`: (x, y, target x, target y) in image pixels,
    `mask`: HxW, nonzero = may change, or None); every step goes to `on_step` as it arrives (the panel shows
    the image following). Returns the `DragResult`."""
    return NetworkJob(label, lambda backend, progress: analyses.run_drag(
        backend, request, points, mask, int(steps), on_step=on_step, progress=progress, lr=lr, layers=layers,
        mask_weight=mask_weight))


def timeline_export_job(timeline, base: RenderRequest, out: str | Path, fps: float, total: int) -> NetworkJob:
    """The timeline's frames at t = k / fps (the preview's requests `request_at(t, base)`, rendered there) into
    an mp4 written here; returns the frame count."""

    def run(backend: RenderBackend, progress: Progress) -> int:
        from stylegan3.explore.video import write_video

        progress(0, total)
        frames = analyses.timeline_frames(backend, timeline, float(fps), int(total), progress=progress, base=base)
        return write_video(frames, out, fps=fps, total=total, progress=False)

    return NetworkJob(f"export {total} frames", run)


# -- quick jobs (compute): a few mapping passes ------------------------------------------------------------------

def request_ws_job(request: RenderRequest) -> NetworkJob:
    """The ws the request shows (seed blend, mixing, explicit latent, moves), as a [1, num_ws, w_dim] array."""
    return NetworkJob("the latent of this view", lambda backend, _progress: analyses.request_ws(backend, request))


def directions_fingerprint_job(request: RenderRequest) -> NetworkJob:
    """The fingerprint direction files name the request's network by (a loaded file of another is refused)."""
    return NetworkJob("the network's fingerprint",
                      lambda backend, _progress: analyses.directions_fingerprint(backend, request))


def resolve_timeline_job(timeline, base: RenderRequest) -> NetworkJob:
    """The timeline's keyframes resolved on `base`'s network (`ResolvedTimeline`; `request_at(t, base)` is the
    preview's frame request)."""
    return NetworkJob("the timeline preview",
                      lambda backend, _progress: analyses.resolve_timeline(backend, timeline, base))


def seed_set_direction_job(request: RenderRequest, seeds_a: Sequence[int], seeds_b: Sequence[int], psi: float,
                           label: str) -> NetworkJob:
    return NetworkJob("a seed-set direction", lambda backend, _progress: analyses.seed_set_direction(
        backend, request, list(seeds_a), list(seeds_b), float(psi), label))


def user_direction_job(request_from: RenderRequest, request_to: RenderRequest, source: str,
                       label: str) -> NetworkJob:
    """The direction between the latents of two views, tagged with the network's fingerprint."""
    return NetworkJob("a bookmark direction", lambda backend, _progress: analyses.user_direction(
        backend, request_from, request_to, source, label))



__all__ = ["NetworkJob", "equivariance_job", "paper_spectrum_job", "pca_job", "projection_job", "record_job",
           "request_ws_job", "resolve_timeline_job", "seed_set_direction_job", "spectra_job", "sticking_job",
           "timeline_export_job", "trace_job", "user_direction_job"]
