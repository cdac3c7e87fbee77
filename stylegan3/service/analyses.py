"""Typed client calls for the analyses of `stylegan3.analyses`, over any backend with `analyze`.

`ThreadBackend`, `ChildProcessBackend` and `RemoteBackend` answer the same `analyze(name, request, progress,
params=...)`; these helpers turn the plain results back into the library's objects (`Spectrum`,
`StickingResult`, frames), so the GUI and the CLI write one code path whatever the renderer's location.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from stylegan3.documents.request import RenderRequest

ProgressFn = Callable[[int, int], None] | None


def spectra(backend, request: RenderRequest, layers: list[str] | tuple[str, ...], samples: int,
            seed: int | None = None, psi: float | None = None, window: str = "kaiser", beta: float = 8.0,
            progress: ProgressFn = None) -> dict:
    """{layer: Spectrum} of the request's network, as `visualizer.analysis_jobs.spectra_job` computes locally."""
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


def record_frames(backend, request: RenderRequest, frames: int, path: str = "", walk: float = 0.0,
                  loop: bool = True, chunk: int = 8, frame_format: str = "png",
                  progress: ProgressFn = None) -> Iterator[np.ndarray]:
    """HxWx3 uint8 frames of the recording, fetched `chunk` at a time (each reply bounded); lossless either way.
    `progress(done, frames)` counts frames received; it may raise to stop (the running chunk is cancelled)."""
    from stylegan3.errors import SG3Error
    from stylegan3.service import codec

    start = 0
    while start < frames:
        params = dict(frames=int(frames), path=path, walk=float(walk), loop=bool(loop), start=start,
                      count=int(min(chunk, frames - start)), format=frame_format)
        base = start

        def report(done: int, _total: int, base: int = base) -> None:
            if progress is not None:
                progress(base + done, frames)

        out = backend.analyze("record", request, report, params=params)
        got = out["frames"]
        if out["start"] != start or not got:
            raise SG3Error(f"record: expected frames from {start}, got {len(got)} from {out['start']}")
        shape = tuple(int(v) for v in out["shape"])
        for payload in got:
            if out["format"] == "png":
                img, _ = codec.decode(payload.tobytes(), "png", shape)
            else:
                img = np.asarray(payload, dtype=np.uint8)
                if img.shape != shape:
                    raise SG3Error(f"record: frame of shape {img.shape}, expected {shape}")
            yield img
        start += len(got)
        if progress is not None:
            progress(start, frames)


def record_video(backend, request: RenderRequest, out: str | Path, frames: int, fps: float = 30.0,
                 path: str = "", walk: float = 0.0, loop: bool = True, chunk: int = 8,
                 progress: ProgressFn = None) -> int:
    """Render the recording where the network is and write it here as an mp4; the number of frames written."""
    from stylegan3.explore.video import _pad_to_block, write_video

    it = (_pad_to_block(f) for f in record_frames(backend, request, frames, path, walk, loop, chunk,
                                                     progress=progress))
    return write_video(it, out, fps=fps, total=frames, progress=False)
