"""Background computations of the analysis panels (equivariance metrics, averaged spectra), no GUI code.

They take seconds to minutes on a CPU, so they run on their own thread and the panels poll for progress and
results; the GUI thread never waits. They work on a private copy of the network: the render worker rewrites
the shared net's input transform for every frame and hooks its layers to cancel stale renders, and neither
must leak into a measurement (nor a measurement's transforms into the picture on screen).
"""

from __future__ import annotations

import contextlib
import copy
import threading
import weakref
from collections.abc import Callable
from typing import Any

import torch

from stylegan3.transform import set_input_transform

Progress = Callable[[int, int], None]
JobFn = Callable[[Progress], Any]


class JobCancelled(Exception):
    """Raised from the progress callback when the panel cancelled the job."""


class BackgroundJob:
    """At most one computation at a time; `poll()` hands its result (or error) to the GUI once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._cancel = False
        self._generation = 0  # bumped by cancel(): results of an older generation are never handed out
        self.done = 0
        self.total = 0
        self.label = ""
        self._outcome: tuple[Any, str | None] | None = None
        self.error: str | None = None

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    def start(self, fn: JobFn, label: str = "") -> bool:
        """Run `fn(progress)` on a worker thread; False (nothing started) while another job runs."""
        if self.busy:
            return False
        self._cancel = False
        self.done, self.total, self.label, self.error = 0, 0, label, None
        self._thread = threading.Thread(
            target=self._run, args=(fn, self._generation), name=f"sg3-job-{label}", daemon=True
        )
        self._thread.start()
        return True

    def cancel(self) -> None:
        """Stop the running job and forget any result not yet polled (e.g. the network was replaced)."""
        with self._lock:
            self._cancel = True
            self._generation += 1
            self._outcome = None

    def wait(self, timeout: float = 60.0) -> bool:
        """Block until the job ends (tests only; the GUI polls)."""
        t = self._thread
        if t is not None:
            t.join(timeout)
        return not self.busy

    def poll(self) -> tuple[bool, Any]:
        """(True, result) once after a job finished successfully; errors land in `self.error`."""
        with self._lock:
            outcome, self._outcome = self._outcome, None
        if outcome is None:
            return False, None
        result, error = outcome
        self.error = error
        return error is None, result

    def _progress(self, done: int, total: int) -> None:
        self.done, self.total = int(done), int(total)
        if self._cancel:
            raise JobCancelled()

    def _run(self, fn: JobFn, generation: int) -> None:
        from visualizer.async_renderer import lower_thread_priority

        lower_thread_priority()
        try:
            result, error = fn(self._progress), None
        except JobCancelled:
            result, error = None, "cancelled"
        except Exception as exc:  # noqa: BLE001 - a failed measurement is a message in its panel
            result, error = None, f"{type(exc).__name__}: {exc}"
        with self._lock:
            if generation != self._generation:
                result, error = None, "cancelled"
            self._outcome = (result, error)


_COPIES: dict[int, tuple[weakref.ref, torch.nn.Module]] = {}
_COPIES_LOCK = threading.Lock()
_COPY_IN_USE = threading.Lock()  # one job at a time on the copy: jobs rewrite its transform and hook it


def _make_copy(G: torch.nn.Module) -> torch.nn.Module:
    """Rebuild G from its constructor arguments and weights: unlike deepcopy this never walks the hook
    dicts the render thread is changing, and the copy starts with no hooks at all."""
    kind = getattr(G, "kind", None)
    if kind in ("sg2", "sg3") and hasattr(G, "init_kwargs"):
        from stylegan3.networks import build_generator

        Gc = build_generator(kind, G.init_kwargs)
        Gc.load_state_dict(G.state_dict())
        Gc = Gc.to(next(G.parameters()).device)
    else:
        Gc = copy.deepcopy(G)
        for m in Gc.modules():
            m._forward_pre_hooks.clear()
            m._forward_hooks.clear()
    Gc.eval().requires_grad_(False)
    set_input_transform(Gc, (0.0, 0.0), 0.0)
    return Gc


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


def equivariance_job(G: torch.nn.Module, state, seed: int = 0) -> JobFn:
    """EQ-T, EQ-T_frac and EQ-R (PSNR dB) of the state's latent, one fixed draw of transforms per metric."""
    snap = state.copy()

    def run(progress: Progress) -> dict[str, float]:
        from stylegan3.analysis.equivariance import METRICS, eq_metrics_for_latent
        from visualizer.renderer import compute_ws

        progress(0, len(METRICS) + 1)
        with private_copy(G, progress) as Gc:
            with torch.no_grad():
                ws = compute_ws(Gc, snap)
            out: dict[str, float] = {}
            for i, metric in enumerate(METRICS):  # one at a time, so progress moves and cancel is quick
                out.update(eq_metrics_for_latent(Gc, ws, metrics=[metric], rng=[seed, i], noise_mode="const",
                                                 force_fp32=bool(snap.force_fp32)))
                progress(i + 1, len(METRICS) + 1)
        progress(len(METRICS) + 1, len(METRICS) + 1)
        return out

    return run


def spectra_job(G: torch.nn.Module, layers: list[str], num_samples: int, seed: int, psi: float,
                window: str = "kaiser") -> JobFn:
    """Mean spectra of `layers` over the latents of seeds seed .. seed + N - 1 ({layer: Spectrum})."""

    def run(progress: Progress) -> dict:
        from stylegan3.analysis.spectra import network_spectrum

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
