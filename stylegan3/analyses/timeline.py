"""Timelines next to the network: each key's ws and transform ("timeline_keys"), and chunks of export frames
("timeline_frames"), so the Timeline panel and `video --session` work the same in a thread, a child process
and over `--connect`.

The timeline travels as its JSON document (`Timeline.to_dict`: exact floats, requests by value), so
whoever renders needs no file of the client's; the request that comes with the call names the network and the
seed-plane position the frames' latents are pinned to (`ResolvedTimeline.request_at`). Frames come back in
bounded chunks of a stateless call, like a recording (`stylegan3.analyses.record`): frame k is the pipeline's
render of `request_at(k / fps)`, the GUI preview at that time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from stylegan3.analyses.params import check_range
from stylegan3.documents.request import RenderRequest
from stylegan3.documents.timeline import Timeline
from stylegan3.errors import SG3Error
from stylegan3.networks.info import NetworkInfo

MAX_FRAMES = 1_000_000


def timeline_from_plain(data: dict[str, Any]) -> Timeline:
    """The checked timeline of a document (a version-1 file names a direction file: convert it first)."""
    if data.get("version") == 1:
        raise SG3Error("a version-1 timeline names a direction file: load it here and send its version-2 form")
    timeline = Timeline.from_dict(data)
    timeline.check()
    return timeline


def _check_timeline(data: dict[str, Any]) -> None:
    try:
        timeline_from_plain(data)
    except SG3Error as exc:
        raise ValueError(f"timeline: {exc}") from None


@dataclass(frozen=True)
class TimelineParams:
    """The timeline document (`Timeline.to_dict()`); empty only as the default a client must replace."""

    timeline: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.timeline:
            _check_timeline(self.timeline)


@dataclass(frozen=True)
class TimelineFramesParams:
    """Frames `start .. start + count - 1` of an export of `frames` frames at `fps` (0 = the timeline's fps and
    frame count), as `raw` pixels or lossless `png`."""

    timeline: dict[str, Any] = field(default_factory=dict)
    fps: float = 0.0
    frames: int = 0
    start: int = 0
    count: int = 8
    format: Literal["raw", "png"] = "png"

    def __post_init__(self) -> None:
        check_range("fps", self.fps, 0.0, 1000.0)
        check_range("frames", self.frames, 0, MAX_FRAMES)
        check_range("start", self.start, 0, MAX_FRAMES - 1)
        check_range("count", self.count, 1, 1024)
        if self.frames:
            check_range("start", self.start, 0, self.frames - 1)
        if self.timeline:
            _check_timeline(self.timeline)


def _timeline(data: dict[str, Any]) -> Timeline:
    if not data:
        raise SG3Error("no timeline given")
    return timeline_from_plain(data)


@torch.no_grad()
def timeline_keys(G: torch.nn.Module, request: RenderRequest, info: NetworkInfo, progress, *,
                  params: TimelineParams) -> dict[str, np.ndarray]:
    """{"key_ws": [S, num_ws, w_dim] float64, "key_transforms": [S, 3] float64} of `resolve_timeline`."""
    from stylegan3.render.timeline import resolve_timeline

    progress(0, 1)
    resolved = resolve_timeline(G, _timeline(params.timeline))
    progress(1, 1)
    return {"key_ws": resolved.key_ws, "key_transforms": resolved.key_transforms}


@torch.no_grad()
def timeline_frames(G: torch.nn.Module, request: RenderRequest, info: NetworkInfo, progress, *,
                    params: TimelineFramesParams) -> dict[str, Any]:
    """{"start", "total", "shape", "format", "frames": [payload arrays]}: one chunk of the export, each frame
    the pipeline's render of `request_at(k / fps)` on top of `request` (unpadded; the client pads for H.264)."""
    from stylegan3.analyses.record import check_chunk, encode_frame
    from stylegan3.render.timeline import render_at, resolve_timeline

    timeline = _timeline(params.timeline)
    fps = float(params.fps or timeline.fps)
    total = int(params.frames or timeline.num_frames(fps))
    if params.start >= total:
        raise SG3Error(f"start {params.start} is past the export's {total} frames")
    count = min(params.count, total - params.start)
    check_chunk(params.count, count, info)
    progress(0, count)
    resolved = resolve_timeline(G, timeline)
    frames, shape = [], None
    for i in range(count):
        image = render_at(G, resolved, (params.start + i) / fps, request, info)
        shape = list(image.shape)
        frames.append(encode_frame(image, params.format))
        progress(i + 1, count)
    return {"start": params.start, "total": total, "shape": shape, "format": params.format, "frames": frames}
