"""The computations panels ask for that need the network module, as `NetworkJob`s the app runs for them.

A panel never holds the generator: it builds a job here (plain arguments in, a result out) and hands it to its
context (`widgets.context.PanelContext.start_job` for background work, `compute` for quick mapping). The app
calls `local(G, progress)` with the network when the renderer is in this process, or `remote(backend,
progress)` when the network lives in a child process or on a server; a job without `remote` is refused there
with `unavailable_message`, which the panel shows. Background jobs work on the private copy of
`visualizer.analysis_jobs` (the render thread hooks the shared net's layers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from sg3_explorer.visualizer.jobs import Progress
from stylegan3.errors import SG3Error

LocalFn = Callable[[torch.nn.Module, Progress], Any]
RemoteFn = Callable[[Any, Progress], Any]  # (a stylegan3.service RenderBackend, progress)


class JobUnavailable(SG3Error):
    """The renderer holding the network cannot run this job (it lives in another process or machine)."""


@dataclass(frozen=True)
class NetworkJob:
    label: str  # the JobSlot label ("spectra", "PCA of 5000 w", ...): progress text and out-of-memory wording
    local: LocalFn | None = None  # run with the module, in this process
    remote: RemoteFn | None = None  # run next to the network on a RenderBackend (None: not possible there)


def unavailable_message(job: NetworkJob, transport: str) -> str:
    where = "a child process" if transport == "child" else f"the server {transport}"
    return (f"{job.label}: not available while the network is rendered in {where}; "
            "open the network without --connect / --renderer child to run it here")


def _noop(_done: int, _total: int) -> None:
    pass


def run_local(job: NetworkJob, G: torch.nn.Module, progress: Progress = _noop) -> Any:
    if job.local is None:
        raise JobUnavailable(f"{job.label}: needs a renderer elsewhere")
    return job.local(G, progress)


# -- background jobs (start_job) --------------------------------------------------------------------------------

def pca_job(samples: int) -> NetworkJob:
    """Principal directions of W from `samples` mapped latents (cached per network fingerprint)."""

    def local(G: torch.nn.Module, progress: Progress):
        from sg3_explorer.visualizer.analysis_jobs import private_copy
        from stylegan3.explore.directions import cached_pca

        with private_copy(G, progress) as Gc:
            return cached_pca(Gc, int(samples), progress=progress)

    return NetworkJob(f"PCA of {int(samples)} w", local)


def spectra_job(layers: Sequence[str], num_samples: int, seed: int, psi: float, window: str = "kaiser",
                request=None) -> NetworkJob:
    """Mean spectra of `layers` over seeds seed .. seed + N - 1 ({layer: Spectrum}); on a server through its
    `spectra` analysis (the request names the network and its noise / precision settings)."""
    from sg3_explorer.visualizer import analysis_jobs

    def local(G: torch.nn.Module, progress: Progress):
        return analysis_jobs.spectra_job(G, list(layers), int(num_samples), int(seed), float(psi), window)(progress)

    def remote(backend, progress: Progress):
        return analysis_jobs.backend_spectra_job(backend, request, list(layers), int(num_samples), int(seed),
                                                 float(psi), window)(progress)

    return NetworkJob("spectra", local, remote if request is not None else None)


def sticking_job(request, samples: int, sigma: float) -> NetworkJob:
    """The texture-sticking measure of the request's latent and view where the network lives:
    (average uint8 HxWx3, StickingResult). With the network here the comparison panel measures it."""
    from sg3_explorer.visualizer import analysis_jobs

    def remote(backend, progress: Progress):
        return analysis_jobs.backend_sticking_job(backend, request, int(samples), float(sigma))(progress)

    return NetworkJob("sticking", None, remote)


def record_job(request, out, frames: int, fps: float, path: str, walk: float) -> NetworkJob:
    """An mp4 of the request's view along a transform path, rendered where the network lives, written here;
    returns the number of frames. With the network here the comparison and timeline panels record."""
    from sg3_explorer.visualizer import analysis_jobs

    def remote(backend, progress: Progress):
        return analysis_jobs.backend_record_job(backend, request, out, int(frames), float(fps), path,
                                                float(walk))(progress)

    return NetworkJob("record", None, remote)


def equivariance_job(request) -> NetworkJob:
    """EQ-T, EQ-T_frac and EQ-R of the request's latent; on a server through its `analyze` op."""
    from sg3_explorer.visualizer import analysis_jobs

    def local(G: torch.nn.Module, progress: Progress):
        return analysis_jobs.equivariance_job(G, request)(progress)

    def remote(backend, progress: Progress):
        return analysis_jobs.backend_equivariance_job(backend, request)(progress)

    return NetworkJob("equivariance", local, remote)


def projection_job(target: torch.Tensor, steps: int, space: str, loss, on_step: Callable[[Any], None],
                   label: str = "projection") -> NetworkJob:
    """Optimise a latent towards `target`; every step goes to `on_step` (the panel shows it as it forms).
    Returns (last ProjectionStep, PSNR of its image against the target)."""

    def local(G: torch.nn.Module, progress: Progress):
        from sg3_explorer.visualizer.analysis_jobs import private_copy
        from stylegan3.explore.projection import project, psnr

        progress(0, steps)
        step = None
        with private_copy(G, progress) as Gc:
            for step in project(Gc, target, steps=steps, space=space, loss=loss):
                on_step(step)
                progress(step.step, steps)
            return step, psnr(step.image, target)

    return NetworkJob(label, local)


def timeline_export_job(resolved, out: str, fps: float, total: int) -> NetworkJob:
    """Render the resolved timeline at t = k / fps into an mp4 (returns the frame count)."""

    def local(G: torch.nn.Module, progress: Progress):
        from sg3_explorer.visualizer.analysis_jobs import private_copy
        from stylegan3.explore.video import write_video
        from stylegan3.render.timeline import iter_timeline_frames

        progress(0, total)
        with private_copy(G, progress) as Gc:
            frames = iter_timeline_frames(Gc, resolved, fps=fps, frames=total, progress=progress)
            return write_video(frames, out, fps=fps, total=total, progress=False)

    return NetworkJob(f"export {total} frames", local)


# -- quick jobs (compute): a few mapping passes on the GUI thread ------------------------------------------------

def resolve_timeline_job(timeline) -> NetworkJob:
    """The timeline's keyframes as ws and transforms (`stylegan3.documents.timeline.ResolvedTimeline`)."""

    def local(G: torch.nn.Module, _progress: Progress):
        from stylegan3.render.timeline import resolve_timeline

        return resolve_timeline(G, timeline)

    return NetworkJob("the timeline preview", local)


def seed_set_direction_job(seeds_a: Sequence[int], seeds_b: Sequence[int], psi: float, label: str) -> NetworkJob:
    def local(G: torch.nn.Module, _progress: Progress):
        from stylegan3.explore.directions import seed_set_direction

        return seed_set_direction(G, list(seeds_a), list(seeds_b), psi=float(psi), label=label)

    return NetworkJob("a seed-set direction", local)


def user_direction_job(w_from: np.ndarray | torch.Tensor, w_to: np.ndarray | torch.Tensor, source: str,
                       label: str) -> NetworkJob:
    """The direction between two latents, tagged with the network's fingerprint (checked when loaded again)."""

    def local(G: torch.nn.Module, _progress: Progress):
        from stylegan3.explore.directions import network_fingerprint, user_direction

        return user_direction(w_from, w_to, network=network_fingerprint(G), source=source, label=label)

    return NetworkJob("a bookmark direction", local)


__all__ = ["JobUnavailable", "NetworkJob", "equivariance_job", "pca_job", "projection_job", "record_job",
           "resolve_timeline_job", "run_local", "seed_set_direction_job", "spectra_job",
           "sticking_job", "timeline_export_job", "unavailable_message", "user_direction_job"]
