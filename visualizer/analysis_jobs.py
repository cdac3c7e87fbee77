"""Background computations of the analysis panels (equivariance metrics, averaged spectra, recording), no GUI
code.

With a local network they run on a private copy of it (below). When the network lives in a renderer elsewhere
(`App.backend` set: `gui --connect`, `gui --renderer child`) the `backend_*` jobs send the same computation to
it (`stylegan3.analyses`) and only wait for its progress and result here, so a panel calls one job
function either way and gets the same objects back.

They take seconds to minutes on a CPU, so each runs as a `visualizer.jobs.Job` and the panels poll for
progress and results; the GUI thread never waits. They work on a private copy of the network: the render worker
hooks the shared net's layers (layer capture, cancelling stale renders), and that must not leak into a
measurement. (The input transform is no longer an issue: every renderer passes it to synthesis as an argument.)
"""

from __future__ import annotations

import contextlib
import copy
import threading
import weakref

import torch

from sg3_explorer.visualizer.jobs import JobFn, Progress

_COPIES: dict[int, tuple[weakref.ref, torch.nn.Module]] = {}
_COPIES_LOCK = threading.Lock()
_COPY_IN_USE = threading.Lock()  # one job at a time on the copy: jobs may hook it


def _make_copy(G: torch.nn.Module) -> torch.nn.Module:
    """Rebuild G from its constructor arguments and weights: unlike deepcopy this never walks the hook
    dicts the render thread is changing, and the copy starts with no hooks at all."""
    from stylegan3 import families

    family = families.family_of(G)
    if family is not None and hasattr(G, "init_kwargs"):
        from stylegan3.networks import build_generator

        Gc = build_generator(family.name, G.init_kwargs)
        state = dict(G.state_dict())
        if "synthesis.input.transform" in state:  # measurements start from the untransformed view
            state["synthesis.input.transform"] = torch.eye(3, dtype=state["synthesis.input.transform"].dtype)
        Gc.load_state_dict(state)
        Gc = Gc.to(next(G.parameters()).device)
    else:
        Gc = copy.deepcopy(G)
        for m in Gc.modules():
            m._forward_pre_hooks.clear()
            m._forward_hooks.clear()
    return Gc.eval().requires_grad_(False)


@contextlib.contextmanager
def private_copy(G: torch.nn.Module, progress: Progress | None = None):
    """Use a copy of G for background work (cached per network), exclusively: a second job waits (and can
    still be cancelled through `progress`, which raises JobCancelled) until the first is done with it."""
    while not _COPY_IN_USE.acquire(timeout=0.05):
        if progress is not None:
            progress(0, 1)
    try:
        with _COPIES_LOCK:
            entry = _COPIES.get(id(G))
            Gc = entry[1] if entry is not None and entry[0]() is G else None
        if Gc is None:
            with torch.no_grad():
                Gc = _make_copy(G)
            with _COPIES_LOCK:
                _COPIES.clear()  # one network at a time: do not keep a big copy of the previous one alive
                _COPIES[id(G)] = (weakref.ref(G), Gc)
        yield Gc
    finally:
        _COPY_IN_USE.release()


def equivariance_job(G: torch.nn.Module, request, seed: int = 0) -> JobFn:
    """EQ-T, EQ-T_frac and EQ-R (PSNR dB) of the request's latent (its ws come from `stylegan3.render.inputs`,
    as the frame's do), one fixed draw of transforms per metric."""

    def run(progress: Progress) -> dict[str, float]:
        from stylegan3.metrics.equivariance import METRICS, eq_metrics_for_latent
        from stylegan3.networks.device import device_of
        from stylegan3.render.inputs import request_ws

        progress(0, len(METRICS) + 1)
        with private_copy(G, progress) as Gc:
            with torch.no_grad():
                ws = request_ws(Gc, request, device_of(Gc))
            out: dict[str, float] = {}
            for i, metric in enumerate(METRICS):  # one at a time, so progress moves and cancel is quick
                out.update(eq_metrics_for_latent(Gc, ws, metrics=[metric], rng=[seed, i], noise_mode="const",
                                                 force_fp32=bool(request.synthesis.force_fp32)))
                progress(i + 1, len(METRICS) + 1)
        progress(len(METRICS) + 1, len(METRICS) + 1)
        return out

    return run


def spectra_job(G: torch.nn.Module, layers: list[str], num_samples: int, seed: int, psi: float,
                window: str = "kaiser") -> JobFn:
    """Mean spectra of `layers` over the latents of seeds seed .. seed + N - 1 ({layer: Spectrum})."""

    def run(progress: Progress) -> dict:
        from stylegan3.metrics.spectra import network_spectrum

        total = num_samples * len(layers)
        out = {}
        with private_copy(G, progress) as Gc:
            for i, name in enumerate(layers):
                def step(done: int, _total: int, base: int = i * num_samples) -> None:
                    progress(base + done, total)

                out[name] = network_spectrum(Gc, name, num_samples=num_samples, seed=seed, truncation_psi=psi,
                                             window=window, progress=step)
        return out

    return run


def backend_equivariance_job(backend, request, seed: int = 0) -> JobFn:
    """`equivariance_job` where the network lives in `backend` (the request carries the latent)."""

    def run(progress: Progress) -> dict[str, float]:
        return backend.analyze("eq_metrics", request, progress, params={"seed": int(seed)})

    return run


def backend_spectra_job(backend, request, layers: list[str], num_samples: int, seed: int, psi: float,
                        window: str = "kaiser") -> JobFn:
    """`spectra_job` where the network lives in `backend`: the same {layer: Spectrum}, bit for bit."""

    def run(progress: Progress) -> dict:
        from stylegan3.service import analyses

        return analyses.spectra(backend, request, layers, int(num_samples), int(seed), float(psi), window,
                                progress=progress)

    return run


def backend_sticking_job(backend, request, samples: int = 8, sigma: float = 0.2, seed: int = 0) -> JobFn:
    """The comparison panel's sticking measure of the request's latent and view, where the network lives;
    returns (average uint8 HxWx3, StickingResult) like `visualizer.comparison.sticking_job_fn`."""

    def run(progress: Progress):
        from stylegan3.render.images import to_numpy_rgb
        from stylegan3.service import analyses

        res = analyses.sticking(backend, request, progress, samples=int(samples), sigma=float(sigma),
                                seed=int(seed))
        return to_numpy_rgb(res.average[None]), res

    return run


def backend_record_job(backend, request, out, frames: int, fps: float = 30.0, path: str = "",
                       walk: float = 0.0) -> JobFn:
    """An mp4 of the request's view moving along a transform `path` (and `walk` seeds), rendered where the
    network lives and written here; returns the number of frames."""

    def run(progress: Progress) -> int:
        from stylegan3.service import analyses

        return analyses.record_video(backend, request, out, int(frames), fps=float(fps), path=path,
                                     walk=float(walk), progress=progress)

    return run
