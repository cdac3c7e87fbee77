"""Typed client calls for the analyses of `stylegan3.analyses`, over any backend with `analyze`.

`ThreadBackend`, `ChildProcessBackend` and `RemoteBackend` answer the same `analyze(name, request, progress,
params=...)`; these helpers turn the plain results back into the library's objects (`Spectrum`,
`StickingResult`, frames), so the GUI and the CLI write one code path whatever the renderer's location.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stylegan3.documents.request import RenderRequest
from stylegan3.explore.projection import ProjectionStep

ProgressFn = Callable[[int, int], None] | None


def spectra(backend, request: RenderRequest, layers: list[str] | tuple[str, ...], samples: int,
            seed: int | None = None, psi: float | None = None, window: str = "kaiser", beta: float = 8.0,
            progress: ProgressFn = None) -> dict:
    """{layer: Spectrum} of the request's network (`stylegan3.metrics.spectra.network_spectrum` per layer)."""
    from stylegan3.analyses.spectra import spectrum_from_plain

    params = dict(layers=list(layers), samples=int(samples), seed=seed, psi=psi, window=window, beta=float(beta))
    out = backend.analyze("spectra", request, progress, params=params)
    return {name: spectrum_from_plain(data) for name, data in out.items()}


def sticking(backend, request: RenderRequest, progress: ProgressFn = None, **params):
    """The `StickingResult` of the request's latent / view (params: see `StickingParams`)."""
    from stylegan3.analyses.sticking import sticking_from_plain

    return sticking_from_plain(backend.analyze("sticking", request, progress, params=params))


def fingerprint(backend, request: RenderRequest) -> str:
    """SHA-256 of the request's network's weights, computed where it lives (`stylegan3.runs.runlog`)."""
    return str(backend.analyze("fingerprint", request)["sha256"])


def directions_fingerprint(backend, request: RenderRequest) -> str:
    """The short fingerprint direction files name the request's network by (`explore.directions`)."""
    return str(backend.analyze("fingerprint", request)["directions"])


def chunk_images(out: dict, start: int, what: str) -> list[np.ndarray]:
    """The HxWx3 uint8 frames of one chunk reply of a frame-producing analysis (`record`, `timeline_frames`),
    checked: it starts where asked, is not empty, and every frame has the announced shape."""
    from stylegan3.errors import SG3Error
    from stylegan3.service import codec

    got = out["frames"]
    if out["start"] != start or not got:
        raise SG3Error(f"{what}: expected frames from {start}, got {len(got)} from {out['start']}")
    shape = tuple(int(v) for v in out["shape"])
    images = []
    for payload in got:
        if out["format"] == "png":
            img, _ = codec.decode(payload.tobytes(), "png", shape)
        else:
            img = np.asarray(payload, dtype=np.uint8)
            if img.shape != shape:
                raise SG3Error(f"{what}: frame of shape {img.shape}, expected {shape}")
        images.append(img)
    return images


def record_frames(backend, request: RenderRequest, frames: int, path: str = "", walk: float = 0.0,
                  loop: bool = True, chunk: int = 8, frame_format: str = "png",
                  progress: ProgressFn = None) -> Iterator[np.ndarray]:
    """HxWx3 uint8 frames of the recording, fetched `chunk` at a time (each reply bounded); lossless either way.
    `progress(done, frames)` counts frames received; it may raise to stop (the running chunk is cancelled)."""
    params = dict(frames=int(frames), path=path, walk=float(walk), loop=bool(loop), format=frame_format)
    yield from fetch_frames(backend, "record", request, params, int(frames), chunk, progress)


def fetch_frames(backend, name: str, request: RenderRequest, params: dict, total: int, chunk: int,
                 progress: ProgressFn) -> Iterator[np.ndarray]:
    """Frames 0 .. total-1 of the frame-producing analysis `name`, asked for `chunk` at a time (`start` /
    `count` added to `params`) so every reply stays bounded. `progress(done, total)` counts frames received,
    within a chunk too; it may raise to stop (the running chunk is cancelled)."""
    start = 0
    while start < total:

        def report(done: int, _total: int, first: int = start) -> None:
            if progress is not None:
                progress(first + done, total)

        ask = dict(params, start=start, count=int(min(chunk, total - start)))
        got = chunk_images(backend.analyze(name, request, report, params=ask), start, name)
        yield from got
        start += len(got)
        if progress is not None:
            progress(start, total)


def record_video(backend, request: RenderRequest, out: str | Path, frames: int, fps: float = 30.0,
                 path: str = "", walk: float = 0.0, loop: bool = True, chunk: int = 8,
                 progress: ProgressFn = None) -> int:
    """Render the recording where the network is and write it here as an mp4; the number of frames written."""
    from stylegan3.explore.video import write_video
    from stylegan3.render.images import pad_to_block

    it = (pad_to_block(f) for f in record_frames(backend, request, frames, path, walk, loop, chunk,
                                                     progress=progress))
    return write_video(it, out, fps=fps, total=frames, progress=False)


# -- timelines and comparison panes ------------------------------------------------------------------------------

def _timeline_base(timeline, base: RenderRequest | None) -> RenderRequest:
    """The request a timeline call sends: `base` (names the network, pins the latents), else the timeline's
    own network (`--network` style callers pass a base)."""
    from stylegan3.documents.request import NetworkRef

    return base if base is not None else RenderRequest(network=NetworkRef(timeline.network or "demo"))


def resolve_timeline(backend, timeline, base: RenderRequest | None = None):
    """The `ResolvedTimeline` of `timeline` (a `stylegan3.documents.timeline.Timeline`) on `base`'s network:
    every key's ws and transform, computed next to the network (the timeline travels as its JSON document);
    scrubbing it afterwards (`ws_at`, `request_at`) costs no call."""
    from stylegan3.render.timeline import ResolvedTimeline

    out = backend.analyze("timeline_keys", _timeline_base(timeline, base), params=dict(timeline=timeline.to_dict()))
    return ResolvedTimeline(timeline=timeline, key_ws=np.asarray(out["key_ws"], dtype=np.float64),
                            key_transforms=np.asarray(out["key_transforms"], dtype=np.float64))


def timeline_frames(backend, timeline, fps: float | None = None, frames: int | None = None,
                    progress: ProgressFn = None, chunk: int = 8, base: RenderRequest | None = None,
                    frame_format: str = "png") -> Iterator[np.ndarray]:
    """The export's frames k = 0 .. N-1 (HxWx3 uint8, sides padded to multiples of 16 for H.264), frame k the
    pipeline's render of `ResolvedTimeline.request_at(k / fps, base)`, i.e. the preview at that time, bit for bit.
    Fetched `chunk` at a time (each reply bounded), lossless either way; `fps` / `frames` None = the
    timeline's. `progress(done, frames)` counts frames received; it may raise to stop (the chunk is cancelled)."""
    from stylegan3.render.images import pad_to_block

    fps = float(fps or timeline.fps)
    total = int(frames or timeline.num_frames(fps))
    params = dict(timeline=timeline.to_dict(), fps=fps, frames=total, format=frame_format)
    for img in fetch_frames(backend, "timeline_frames", _timeline_base(timeline, base), params, total, chunk,
                            progress):
        yield pad_to_block(img)


def trace(backend, request: RenderRequest, frames: int = 16, row: float = 0.5, transform_spec: str = "",
          progress: ProgressFn = None):
    """The `TraceResult` (rows `[T, C, W]`, verticality; `.image` for display) of the comparison pane `request`:
    the walk in W from its seed to the next, one pixel row per frame (`stylegan3.analyses.trace`)."""
    from stylegan3.analyses.trace import trace_from_plain

    params = dict(frames=int(frames), row=float(row), transform_spec=str(transform_spec))
    return trace_from_plain(backend.analyze("trace", request, progress, params=params))


def video_frames(backend, networks: Sequence[tuple[str, str]], spec, chunk: int = 8,
                 progress: ProgressFn = None) -> Iterator[np.ndarray]:
    """The frames of `sg3-explorer video` (a `stylegan3.explore.video.VideoSpec` seed walk) for `networks`
    (display name, source) whose panes render on `backend`, each through the same batches as a local run
    (`stylegan3.analyses.walk`); labels and layout are drawn here. Equal to `iter_video_frames` frame by frame."""
    from stylegan3.analyses.record import MAX_CHUNK_BYTES
    from stylegan3.documents.request import NetworkRef
    from stylegan3.errors import SG3Error
    from stylegan3.explore.video import check_cell, compose_frame, draw_label, label_text, video_frame_count

    total = video_frame_count(spec)
    infos = [backend.load(NetworkRef(source)) for _, source in networks]
    if not infos:
        raise SG3Error("no network to render")
    if spec.translate_path:
        flat = [name for (name, _), info in zip(networks, infos, strict=True)
                if not info.capabilities.input_transform]
        if flat:
            raise SG3Error(f"a translate path needs StyleGAN3 networks; no input transform in: {', '.join(flat)}")
    cols, rows = spec.grid
    cell = check_cell(int(spec.pane_size or max(info.resolution for info in infos)))
    labels = [draw_label(cols * cell, label_text(name, info.kind, info.resolution))
              for (name, _), info in zip(networks, infos, strict=True)]
    batch = int(spec.batch_size)
    fits = max(1, MAX_CHUNK_BYTES // (rows * cols * cell * cell * 3))
    count = max(1, min(int(chunk), fits) // batch) * batch  # whole batches: the local run's batches exactly
    walk = dict(seeds=[int(s) for s in spec.seeds], frames_per_seed=int(spec.frames_per_seed), loop=bool(spec.loop),
                grid=[cols, rows], kind=spec.kind, psi=float(spec.psi), cutoff=spec.cutoff, class_idx=spec.class_idx,
                noise_mode=spec.noise_mode, translate_path=spec.translate_path or "", cell=cell, batch_size=batch)
    start = 0
    while start < total:
        params = dict(walk, start=start, count=count)
        panes = [chunk_images(backend.analyze("video_walk", RenderRequest(network=NetworkRef(source)),
                                              params=params), start, "video_walk")
                 for _, source in networks]
        for f in range(len(panes[0])):
            yield compose_frame([pane[f] for pane in panes], labels)
        start += len(panes[0])
        if progress is not None:
            progress(start, total)


# --- exploration: latents, directions, projection (issue 19) --------------------------------------------------


def request_ws(backend, request: RenderRequest) -> np.ndarray:
    """float32 [1, num_ws, w_dim]: the ws the request shows (mapped or explicit latent, direction moves),
    mapped where the network is (`stylegan3.render.inputs.request_ws`)."""
    return np.asarray(backend.analyze("ws", request)["ws"], dtype=np.float32)


def pca(backend, request: RenderRequest, samples: int, progress: ProgressFn = None, *,
        components: int | None = None, seed: int = 0):
    """PCA `Directions` of the request's network from `samples` w (GANSpace), cached on the backend's side per
    network fingerprint (`explore.directions.cached_pca`); `components` keeps the leading ones."""
    from stylegan3.analyses.directions import directions_from_plain

    params = dict(samples=int(samples), components=None if components is None else int(components), seed=int(seed))
    return directions_from_plain(backend.analyze("pca", request, progress, params=params))


def seed_set_direction(backend, request: RenderRequest, seeds_a, seeds_b, psi: float = 1.0, label: str = ""):
    """The `Directions` from the mean w of `seeds_a` to that of `seeds_b` on the request's network."""
    from stylegan3.analyses.directions import directions_from_plain

    params = dict(seeds_a=[int(s) for s in seeds_a], seeds_b=[int(s) for s in seeds_b], psi=float(psi),
                  label=str(label))
    return directions_from_plain(backend.analyze("seed_set_direction", request, params=params))


def user_direction(backend, request_from: RenderRequest, request_to: RenderRequest, source: str = "",
                   label: str = ""):
    """The `Directions` from the latent of `request_from` to that of `request_to` (a bookmark A -> B), both
    mapped next to the network and named by its fingerprint."""
    from stylegan3.analyses.directions import directions_from_plain
    from stylegan3.documents.request import to_dict
    from stylegan3.errors import SG3Error

    if request_from.network != request_to.network:
        raise SG3Error("a user direction needs both ends on the same network")

    params = dict(to=to_dict(request_to), source=str(source), label=str(label))
    return directions_from_plain(backend.analyze("user_direction", request_from, params=params))


@dataclass
class Projection:
    """A finished projection: the last step (float image, ws, loss), its PSNR in dB and what the file records:
    the network's fingerprint and the loss the backend used (with why 'auto' chose it, when it fell back)."""

    step: ProjectionStep
    psnr: float
    network: str
    loss_kind: str
    loss_description: str
    note: str


def _step_from_partial(data: dict) -> ProjectionStep:
    """A streamed step: its image is the 8-bit frame as floats in [-1, 1], chosen so that `to_numpy_rgb` gives
    the frame back exactly (the frame is what travelled; the last step's full image is in the result)."""
    import torch

    frame = np.asarray(data["frame"], dtype=np.uint8)
    image = torch.from_numpy((frame.astype(np.float32) - 127.5) / 127.5).permute(2, 0, 1)[None].contiguous()
    return ProjectionStep(int(data["step"]), int(data["steps"]), float(data["loss"]),
                          torch.from_numpy(np.asarray(data["ws"], dtype=np.float32)), image)


def run_projection(backend, request: RenderRequest, target, steps: int = 300, space: str = "w+",
                   loss: str = "auto", on_step: Callable[[ProjectionStep], None] | None = None,
                   progress: ProgressFn = None, *, lr: float = 0.05, seed: int = 0,
                   init_samples: int = 2000) -> Projection:
    """Project `target` (HxWxC uint8 image, or the [1, C, R, R] tensor `explore.projection.load_target` gives)
    into the request's network where it lives; every step arrives at `on_step` on this thread as it is made.
    Cancel by raising from `progress` or `on_step`."""
    import torch

    from stylegan3.analyses.project import encode_target

    info = backend.load(request.network)
    attachment = encode_target(target, int(info.resolution), int(info.img_channels))
    params = dict(steps=int(steps), space=space, loss=loss, lr=float(lr), seed=int(seed),
                  init_samples=int(init_samples))

    def partial(data: dict) -> None:
        if on_step is not None:
            on_step(_step_from_partial(data))

    out = backend.analyze("project", request, progress, params=params, on_partial=partial, attachment=attachment)
    step = ProjectionStep(int(out["step"]), int(out["steps"]), float(out["loss"]),
                          torch.from_numpy(np.asarray(out["ws"], dtype=np.float32)),
                          torch.from_numpy(np.asarray(out["image"], dtype=np.float32)))
    quality = float("inf") if out["psnr"] is None else float(out["psnr"])
    return Projection(step, quality, str(out["network"]), str(out["loss_kind"]), str(out["loss_description"]),
                      str(out["note"]))


def project(backend, request: RenderRequest, target, steps: int = 300, space: str = "w+", loss: str = "auto",
            on_step: Callable[[ProjectionStep], None] | None = None,
            progress: ProgressFn = None) -> tuple[ProjectionStep, float]:
    """(last step, PSNR dB) of a projection of `target` (see `run_projection`)."""
    result = run_projection(backend, request, target, steps, space, loss, on_step, progress)
    return result.step, result.psnr


def equivariance_terms(backend, request: RenderRequest, start: int, count: int, metrics, seed: int, psi: float,
                       on_latent: Callable[[int, dict], None] | None = None,
                       progress: ProgressFn = None) -> list[tuple[int, dict[str, tuple[float, float]]]]:
    """Per-latent equivariance terms of latents start .. start + count - 1 (see `analyses.equivariance`); each
    latent also reaches `on_latent(index, terms)` as soon as it is done."""

    def as_terms(plain: dict) -> dict[str, tuple[float, float]]:
        return {m: (float(v[0]), float(v[1])) for m, v in plain.items()}

    def partial(data: dict) -> None:
        if on_latent is not None:
            on_latent(int(data["index"]), as_terms(data["terms"]))

    params = dict(start=int(start), count=int(count), metrics=list(metrics), seed=int(seed), psi=float(psi))
    out = backend.analyze("equivariance_terms", request, progress, params=params, on_partial=partial)
    return [(int(i), as_terms(t)) for i, t in out["terms"]]


# --- editing by gradients: drag to edit (issue 22) --------------------------------------------------------------


def _drag_step(data: dict, image=None):
    """A streamed drag step (its image the 8-bit frame as floats in [-1, 1], as `_step_from_partial`), or the
    result when `image` (the float image) is given."""
    import torch

    from stylegan3.explore.drag import DragStep

    final = image is not None
    if not final:
        frame = np.asarray(data["frame"], dtype=np.uint8)
        image = torch.from_numpy((frame.astype(np.float32) - 127.5) / 127.5).permute(2, 0, 1)[None].contiguous()
    else:
        image = torch.from_numpy(np.asarray(image, dtype=np.float32))
    return DragStep(int(data["step"]), int(data["steps"]), float(data["loss"]), float(data["motion"]),
                    [(int(p[0]), int(p[1])) for p in data["points"]],
                    torch.from_numpy(np.asarray(data["ws"], dtype=np.float32)), image,
                    done=final, reached=bool(data["reached"]))


@dataclass
class DragResult:
    """A finished drag: the last step (float image, ws, tracked points, losses) and the network's fingerprint."""

    step: object  # explore.drag.DragStep
    network: str


def run_drag(backend, request: RenderRequest, points, mask: np.ndarray | None = None, steps: int = 200,
             on_step: Callable[[object], None] | None = None, progress: ProgressFn = None, *,
             lr: float = 0.002, layers: int = 6, mask_weight: float = 10.0, reached: float = 1.0,
             patch_radius: float = 0.0, track_radius: int = 0) -> DragResult:
    """Drag on the request's image where its network lives: `points` are `(x, y, target x, target y)` in image
    pixels, `mask` (HxW, nonzero = may change) or None; every step (a `DragStep`) arrives at `on_step` on this
    thread as it is made. Cancel by raising from `progress` or `on_step`."""
    from stylegan3.analyses.drag import encode_mask

    info = backend.load(request.network)
    attachment = encode_mask(mask, int(info.resolution))
    params = dict(points=[[float(v) for v in p] for p in points], steps=int(steps), lr=float(lr),
                  layers=int(layers), mask_weight=float(mask_weight), reached=float(reached),
                  patch_radius=float(patch_radius), track_radius=int(track_radius))

    def partial(data: dict) -> None:
        if on_step is not None:
            on_step(_drag_step(data))

    out = backend.analyze("drag", request, progress, params=params, on_partial=partial, attachment=attachment)
    return DragResult(_drag_step(out, out["image"]), str(out["network"]))
