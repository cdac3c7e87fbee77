"""Recording: frames of a video along the request's latent / transform path, rendered next to the network and
returned in bounded chunks; the client writes the video (`stylegan3.service.recording`).

Why chunks of a stateless call instead of a stream: each chunk is an ordinary analysis reply (one header +
one binary frame) under a fixed size, so the server keeps no per-recording state, a lost connection costs
one chunk, and a cancel lands between chunks at the latest. Every frame is `render_request` of a request
derived from the one on screen, so frame k is exactly what the main view would show at that point of the path
(layer / FFT views included).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from stylegan3.analyses.params import check_range, check_transform_path
from stylegan3.documents.request import Latent, RenderRequest, Transform
from stylegan3.networks.info import NetworkInfo

MAX_FRAMES = 100_000
MAX_CHUNK_BYTES = 64 * 1024 * 1024  # raw pixels per reply, whatever the resolution


@dataclass(frozen=True)
class RecordParams:
    """`frames` frames of a path: the transform moves along `path` (`stylegan3.explore.interpolation` spec, added to the
    request's translate / rotate; SG3 only) while the latent walks `walk` seeds along the seed plane's x. With
    `loop` time runs over [0, 1) (no repeated frame at the seam), else [0, 1]. One reply holds frames
    `start .. start + count - 1`, as `raw` pixels or lossless `png`."""

    frames: int = 60
    path: str = ""
    walk: float = 0.0
    loop: bool = True
    start: int = 0
    count: int = 8
    format: Literal["raw", "png"] = "png"

    def __post_init__(self) -> None:
        check_range("frames", self.frames, 1, MAX_FRAMES)
        check_range("walk", self.walk, -1e6, 1e6)
        check_range("start", self.start, 0, self.frames - 1)
        check_range("count", self.count, 1, 1024)
        check_transform_path("path", self.path)


def frame_requests(request: RenderRequest, params: RecordParams, first: int = 0,
                   count: int | None = None) -> Iterator[RenderRequest]:
    """The request of each frame `first .. first + count - 1` of the recording (what the server renders)."""
    from stylegan3.explore.interpolation import transform_path

    n = params.frames
    count = n - first if count is None else count
    offsets = transform_path(params.path, n, loop=params.loop) if params.path.strip() else np.zeros([n, 3])
    denom = n if params.loop or n == 1 else n - 1
    lat, tr = request.latent, request.transform
    for k in range(first, min(n, first + count)):
        t = k / denom
        dx, dy, dr = (float(v) for v in offsets[k])
        yield request.replace(
            latent=Latent(float(lat.x) + params.walk * t, lat.y, lat.class_idx),
            transform=Transform((float(tr.translate[0]) + dx, float(tr.translate[1]) + dy), float(tr.rotate) + dr),
        )


def check_chunk(asked: int, count: int, info: NetworkInfo, cells: int = 1, side: int | None = None) -> None:
    """SG3Error when `count` frames of `cells` squares of `side` (default: the network's resolution) exceed a
    chunk reply's MAX_CHUNK_BYTES of pixels; the message says how many fit (`asked`: what the client asked)."""
    from stylegan3.errors import SG3Error

    side = max(int(side or info.resolution), 1)
    limit = max(1, MAX_CHUNK_BYTES // (cells * side * side * 3))
    if count > limit:
        raise SG3Error(f"count {asked} frames of {side}² exceed a reply's {MAX_CHUNK_BYTES >> 20} MiB: "
                       f"ask for at most {limit}")


def encode_frame(image: np.ndarray, frame_format: str) -> np.ndarray:
    """A frame as a chunk reply carries it: the PNG file's bytes as a uint8 array, or the pixels themselves."""
    from stylegan3.service import codec

    if frame_format != "png":
        return image
    payload, _ = codec.encode(np.ascontiguousarray(image), "png")
    return np.frombuffer(payload, dtype=np.uint8)


@torch.no_grad()
def record(G: torch.nn.Module, request: RenderRequest, info: NetworkInfo, progress, *,
           params: RecordParams) -> dict[str, Any]:
    """{"start", "total", "shape", "format", "frames": [payload arrays]} for one chunk of the recording."""
    from stylegan3.errors import SG3Error
    from stylegan3.render.pipeline import render_request

    if params.path.strip() and not info.capabilities.input_transform:
        raise SG3Error("a transform path needs a StyleGAN3 network: this one has no input transform")
    count = min(params.count, params.frames - params.start)
    check_chunk(params.count, count, info)
    progress(0, count)
    frames, shape = [], None
    for i, req in enumerate(frame_requests(request, params, params.start, count)):
        out = render_request(G, req, info)
        if out.error is not None:
            raise SG3Error(f"frame {params.start + i}: {out.error}")
        shape = list(out.image.shape)
        frames.append(encode_frame(out.image, params.format))
        progress(i + 1, count)
    return {"start": params.start, "total": params.frames, "shape": shape, "format": params.format,
            "frames": frames}
