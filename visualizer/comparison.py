"""Comparison mode, headless part: a set of panes, each one network that follows the app's view.

Comparing generators only means something when every pane shows "the same" thing, so a pane never has its own
latent: `pane_request(main, pane, overrides)` derives the `RenderRequest` a pane renders from the main view's
request. Where the networks differ that derivation says so instead of failing: a different z_dim draws z from
the same seed at the pane's own z_dim (`stylegan3.render.inputs`), StyleGAN2 has no input transform so it
ignores translate/rotate, class labels wrap to the pane's own class count, noise can be overridden per pane.

A pane is a `RenderRequest` naming its network, rendered by the window's backend on a `FrameChannel` of its own
(the backend holds several networks, `stylegan3.service.owner.NetworkOwner`), so panes work the same in this
process, in a child renderer and on a server. Sticking, trace and the recording are the backend's analyses on
the pane's request, run as `visualizer.jobs.Job`s with a progress fraction the GUI draws and a cancel the
progress callback turns into an abort. Nothing here imports imgui; drawing lives in `widgets/comparison.py`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from sg3_explorer.visualizer.backend_renderer import FrameChannel, FrameChannels
from sg3_explorer.visualizer.jobs import Job
from sg3_explorer.visualizer.loader import LoadedNetwork, NetworkLoader
from sg3_explorer.visualizer.network_jobs import sticking_job, trace_job
from stylegan3.documents.request import (
    ExplicitLatent,
    FFTView,
    LayerView,
    NetworkRef,
    RenderRequest,
    Transform,
    Truncation,
    Untransform,
)
from stylegan3.networks.info import NetworkInfo
from stylegan3.service.backend import RenderBackend

MAX_PANES = 4
FOLLOW = "follow"  # per-pane override value meaning "use the main view's setting"


# -- deriving a pane's request from the main one ------------------------------------------------------------------

@dataclass
class PaneOverrides:
    """Per-pane settings where the networks differ; FOLLOW / None keep the main view's value."""

    class_idx: int | None = None  # conditional nets: own label (wrapped to the pane's c_dim)
    noise_mode: str = FOLLOW  # nets with noise inputs (SG1, SG2): 'const' | 'random' | 'none' or FOLLOW


def has_transform(info: NetworkInfo) -> bool:
    """Whether the network has an input transform (translate / rotate): only StyleGAN3's Fourier input does."""
    return info.capabilities.input_transform


def pane_request(main: RenderRequest, info: NetworkInfo, overrides: PaneOverrides | None = None,
                 source: str | None = None) -> RenderRequest:
    """What a pane renders for the app's `main` view: same latent position, truncation, noise and transform,
    adapted to the pane's network. Analysis views of the main net (layer, FFT, untransform) do not carry over,
    nor do its explicit latent and direction moves (W of another network): a pane always shows its generated
    image for the seed-plane position, so panes stay comparable whatever the main view shows."""
    o = overrides or PaneOverrides()
    class_idx = int(main.latent.class_idx if o.class_idx is None else o.class_idx) % info.c_dim if info.c_dim else 0
    cutoff = main.truncation.cutoff
    if cutoff is not None and cutoff >= info.num_ws:
        cutoff = None  # "all ws" on the pane's (possibly shorter) ws stack
    return main.replace(
        network=NetworkRef(source) if source is not None else main.network,
        latent=dataclasses.replace(main.latent, class_idx=class_idx),
        mix=main.mix.limited_to(info.num_ws),
        truncation=Truncation(main.truncation.psi, cutoff),
        noise=main.noise if o.noise_mode == FOLLOW else dataclasses.replace(main.noise, mode=o.noise_mode),
        transform=main.transform if has_transform(info) else Transform(),
        layer=LayerView(), fft=FFTView(), untransform=Untransform(), explicit=ExplicitLatent(), moves=(),
    )


def pane_notes(main: RenderRequest, info: NetworkInfo, reference: NetworkInfo | None) -> list[str]:
    """Why a pane may not show exactly the main view: the lines the GUI prints under the pane's label."""
    notes = []
    if reference is not None and info.z_dim != reference.z_dim:
        notes.append(f"z_dim {info.z_dim} (not {reference.z_dim}): latent not shared, "
                     f"z drawn from the same seed at z_dim {info.z_dim}")
    if not has_transform(info) and not main.transform.is_identity:
        notes.append(f"{info.kind}: no input transform, ignores translate/rotate")
    if not info.capabilities.w_space and (main.truncation.psi != 1.0 or main.mix.ws):
        notes.append(f"{info.kind}: no W space, ignores truncation and style mixing")
    if main.mix.ws and any(i >= info.num_ws for i in main.mix.ws):
        notes.append(f"style mix limited to its {info.num_ws} ws")
    return notes


# -- lockstep motion ------------------------------------------------------------------------------------------

def transform_at(spec: str, t: float) -> tuple[tuple[float, float], float]:
    """Input transform `(translate, rotate)` at time `t` (cycles; 1.0 = one period) of a transform path spec,
    the same spec language and units as videos and traces (`stylegan3.explore.interpolation.parse_transform_path`),
    evaluated at any continuous time so the GUI can animate it with its own clock."""
    from stylegan3.explore.interpolation import parse_transform_path

    tx = ty = rot = 0.0
    phase = 2 * math.pi * t
    for name, p in parse_transform_path(spec):
        if name == "circle":
            tx, ty = tx + p[0] * math.cos(phase), ty + p[0] * math.sin(phase)
        elif name == "sway":
            tx, ty = tx + p[0] * math.sin(phase), ty + p[1] * math.sin(phase)
        elif name == "pan":
            frac = t - math.floor(t)  # a pan restarts every period instead of walking off forever
            tx, ty = tx + p[0] * frac, ty + p[1] * frac
        elif name == "spin":
            rot += p[0] * t
    return (tx, ty), rot


# -- analysis jobs ------------------------------------------------------------------------------------------

@dataclass
class StickingSettings:
    samples: int = 8  # K perturbed frames
    sigma: float = 0.2  # perturbation size in z
    seed: int = 0


@dataclass
class TraceSettings:
    frames: int = 16  # frames of the interpolation from the current seed to the next one
    row: float = 0.5  # fraction of the image height
    transform_spec: str = ""  # e.g. "pan:0.25,0"; SG3 panes only (panes without input transform ignore it)


# -- the panes ------------------------------------------------------------------------------------------------

@dataclass
class Pane:
    """One network of the comparison: its load, its frame channel on the backend, its analysis jobs."""

    pane_id: int
    source: str
    loader: NetworkLoader
    channel: FrameChannel
    network: LoadedNetwork | None = None
    overrides: PaneOverrides = field(default_factory=PaneOverrides)
    image: np.ndarray | None = None  # last finished render (HxWx3 uint8)
    shown_request: RenderRequest | None = None  # the request `image` was rendered from
    render_error: str | None = None
    render_ms: float = 0.0
    sticking: Job | None = None
    sticking_image: np.ndarray | None = None
    sticking_score: float | None = None
    sticking_request: RenderRequest | None = None
    trace: Job | None = None
    trace_image: np.ndarray | None = None
    trace_verticality: float | None = None
    submitted: RenderRequest | None = None  # the newest request sent on the channel
    image_version: int = 0  # bumped when `image` / `sticking_image` / `trace_image` change (texture upload)

    @property
    def info(self) -> NetworkInfo | None:
        return self.network.info if self.network else None

    @property
    def label(self) -> str:
        name = Path(self.source).name or self.source
        if self.network is None:
            return name
        return f"{name} ({self.network.info.kind} {self.network.info.resolution}px)"

    @property
    def status(self) -> str:
        st = self.loader.status
        if st.error:
            return f"load failed: {st.error}"
        if st.busy:
            return st.message
        if self.render_error:
            return self.render_error
        return ""

    def request_for(self, main: RenderRequest) -> RenderRequest | None:
        """This pane's view of the main one (None until its network is loaded)."""
        return pane_request(main, self.network.info, self.overrides, self.source) if self.network else None


class ComparisonModel:
    """The panes and everything they compute; the GUI thread calls `tick(app.request)` once per frame."""

    def __init__(self, frames: FrameChannels) -> None:
        self.frames = frames
        self.panes: list[Pane] = []
        self.sticking = StickingSettings()
        self.trace = TraceSettings()
        self.record: Job | None = None
        self.record_path: Path | None = None
        self.record_message = ""
        self._record_note = ""
        self._next_id = 0

    # -- panes --------------------------------------------------------------------------------------------
    def add(self, source: str) -> Pane:
        """Start loading `source` into a new pane (background; the pane shows the loader's status meanwhile)."""
        source = str(source).strip()
        if len(self.panes) >= MAX_PANES:
            from stylegan3.errors import SG3Error

            raise SG3Error(f"at most {MAX_PANES} panes")
        self._next_id += 1
        pane = Pane(self._next_id, source, NetworkLoader(self.backend), self.frames.channel())
        pane.loader.load(source)
        self.panes.append(pane)
        return pane

    def remove(self, pane: Pane) -> None:
        if self.record is not None and not self.record.done:  # the recording renders every pane
            self.record.cancel()
        for job in (pane.sticking, pane.trace):
            if job is not None:
                job.cancel()
        pane.channel.close()
        self.panes.remove(pane)

    def close(self) -> None:
        if self.record is not None:
            self.record.cancel()
        for pane in list(self.panes):
            self.remove(pane)

    @property
    def backend(self) -> RenderBackend:
        return self.frames.backend

    @property
    def reference(self) -> NetworkInfo | None:
        """The first loaded pane's network: the one whose z_dim the others are compared against."""
        for p in self.panes:
            if p.network is not None:
                return p.network.info
        return None

    def notes(self, pane: Pane, main: RenderRequest) -> list[str]:
        return pane_notes(main, pane.info, self.reference) if pane.network else []

    # -- per frame ----------------------------------------------------------------------------------------
    def tick(self, main: RenderRequest) -> bool:
        """Take finished loads/renders/jobs and ask every pane for `main`; True when something new arrived."""
        changed = False
        for pane in self.panes:
            loaded = pane.loader.poll()
            if loaded is not None:
                pane.network = loaded
                pane.channel.drop()
                pane.image = pane.shown_request = pane.submitted = None
                changed = True
            if pane.network is None:
                continue
            request = pane.request_for(main)
            if request != pane.submitted:
                pane.submitted = request
                pane.channel.submit(request)
            res = pane.channel.poll()
            if res is not None and res.request.network == request.network:
                if res.error:
                    pane.render_error = res.error
                elif res.image is not None:
                    pane.render_error = None
                    pane.image, pane.shown_request, pane.render_ms = res.image, res.request, res.render_ms
                    pane.image_version += 1
                    changed = True
            changed |= self._collect_jobs(pane)
        if self.record is not None and self.record.done:
            job, self.record = self.record, None
            if job.error:
                self.record_message = f"recording failed: {job.error}"
            elif job.cancelled:
                self.record_message = "recording cancelled"
            else:
                self.record_message = f"wrote {job.result} frames to {self.record_path}{self._record_note}"
            changed = True
        return changed

    def _collect_jobs(self, pane: Pane) -> bool:
        changed = False
        job = pane.sticking
        if job is not None and job.done:
            pane.sticking = None
            if job.result is not None:
                pane.sticking_image, res = job.result
                pane.sticking_score = float(res.score)
                pane.image_version += 1
                changed = True
            elif job.error:
                pane.render_error = f"sticking: {job.error}"
        job = pane.trace
        if job is not None and job.done:
            pane.trace = None
            if job.result is not None:
                pane.trace_image, pane.trace_verticality = job.result
                pane.image_version += 1
                changed = True
            elif job.error:
                pane.render_error = f"trace: {job.error}"
        return changed

    @property
    def loaded(self) -> list[Pane]:
        return [p for p in self.panes if p.network is not None]

    @property
    def busy(self) -> bool:
        return any(p.loader.busy or p.channel.busy or p.sticking or p.trace for p in self.panes) or bool(self.record)

    def all_shown(self, main: RenderRequest) -> bool:
        """Every pane is loaded and shows its image for `main` (what the tests wait for)."""
        return bool(self.panes) and all(
            p.network is not None and p.shown_request == p.request_for(main) and not p.channel.busy
            for p in self.panes)

    # -- analysis -----------------------------------------------------------------------------------------
    def start_sticking(self, main: RenderRequest) -> None:
        """(Re)start the sticking average on every loaded pane for the current view (previous jobs cancelled)."""
        for pane in self.loaded:
            if pane.sticking is not None:
                pane.sticking.cancel()
            request = pane.request_for(main)
            pane.sticking_request = request
            job = sticking_job(request, self.sticking.samples, self.sticking.sigma, self.sticking.seed)
            pane.sticking = Job(lambda progress, run=job.run: run(self.backend, progress), "sticking")

    def start_trace(self, main: RenderRequest) -> None:
        for pane in self.loaded:
            if pane.trace is not None:
                pane.trace.cancel()
            spec = self.trace.transform_spec if has_transform(pane.info) else ""
            job = trace_job(pane.request_for(main), max(2, int(self.trace.frames)), self.trace.row, spec)
            pane.trace = Job(lambda progress, run=job.run: run(self.backend, progress), "trace")

    @property
    def sticking_progress(self) -> float | None:
        jobs = [p.sticking for p in self.panes if p.sticking is not None]
        return None if not jobs else float(np.mean([j.fraction for j in jobs]))

    def wait_jobs(self, timeout: float = 60.0) -> bool:
        """Block until every analysis job and recording finished (tests only)."""
        end = time.monotonic() + timeout
        jobs = [j for p in self.panes for j in (p.sticking, p.trace) if j is not None]
        jobs += [self.record] if self.record else []
        return all(j.wait(max(0.0, end - time.monotonic())) for j in jobs)

    # -- capture ------------------------------------------------------------------------------------------
    def panes_image(self, with_sticking: bool = False, min_size: int = 256) -> np.ndarray | None:
        """The panes side by side as one uint8 image, labelled the way the mp4 writer labels them
        (`stylegan3.explore.video`); with `with_sticking`, the sticking averages as a second row where every pane has
        one. Every pane gets the same side: the largest resolution, times a whole factor for small nets (so the
        labels stay readable). A pane whose resolution divides that side is enlarged by repeating pixels, which
        keeps pixel-level detail (what sticking is about) exact; others are resampled. None until a pane has an
        image."""
        from stylegan3.explore.video import draw_label

        panes = [p for p in self.loaded if p.image is not None]
        if not panes:
            return None
        largest = max(p.info.resolution for p in panes)
        size = largest * max(1, math.ceil(min_size / largest))
        columns = []
        sticking = with_sticking and all(p.sticking_image is not None for p in panes)
        for p in panes:
            parts = [draw_label(size, p.label), scaled(p.image, size)]
            if sticking:
                parts += [draw_label(size, f"sticking {p.sticking_score:.3f}"), scaled(p.sticking_image, size)]
            columns.append(np.concatenate(parts, axis=0))
        return np.concatenate(columns, axis=1)

    # -- recording ----------------------------------------------------------------------------------------
    def start_record(self, main: RenderRequest, out: str | Path, seconds_per_seed: float = 1.0,
                     seeds: int = 2, fps: float = 15.0, transform_spec: str = "") -> None:
        """Write an mp4 of the panes side by side walking `seeds` seeds from the current one (the backend's
        `record` analysis on each pane's request); the panes move along
        `transform_spec` when every pane has an input transform."""
        from stylegan3.explore.video import draw_label, write_video
        from stylegan3.service.analyses import record_frames

        panes = self.loaded
        if not panes or self.record is not None:
            return
        spec_path = transform_spec.strip()
        note = ""
        still = [p.info.kind for p in panes if not has_transform(p.info)]
        if spec_path and still:
            spec_path, note = "", f" (no motion: the {still[0]} pane has no input transform)"
        requests = [p.request_for(main) for p in panes]
        walk = float(max(2, seeds) - 1)
        total = max(2, round(walk * seconds_per_seed * fps) + 1)
        size = max(p.info.resolution for p in panes)
        labels = [draw_label(size, p.label) for p in panes]
        backend = self.backend
        out = Path(out)
        self.record_path = out
        self.record_message = f"recording {out.name} ...{note}"
        self._record_note = note

        def run(progress):
            streams = [record_frames(backend, r, total, spec_path, walk, loop=False) for r in requests]

            def side_by_side() -> Iterator[np.ndarray]:
                for n, imgs in enumerate(zip(*streams, strict=True)):
                    progress(n, total)
                    yield np.concatenate([np.concatenate([lab, scaled(img, size)], axis=0)
                                          for lab, img in zip(labels, imgs, strict=True)], axis=1)

            return write_video(side_by_side(), out, fps=fps, total=total, progress=False)

        self.record = Job(run, "record")


def scaled(img: np.ndarray, size: int) -> np.ndarray:
    """`img` at `size` x `size`: whole factors repeat pixels (pixel-level detail, what sticking is about, stays
    exact); others are resampled."""
    from stylegan3.explore.video import resize_images

    if size % img.shape[0] == 0 and img.shape[0] == img.shape[1]:
        k = size // img.shape[0]
        return np.repeat(np.repeat(img, k, axis=0), k, axis=1)
    x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float()
    x = resize_images(x, size).round().clamp(0, 255).to(torch.uint8)
    return x[0].permute(1, 2, 0).numpy()
