"""Seed-walk videos next to the network: one network's pane of `sg3-explorer video`, in bounded chunks.

`video --connect` renders each network's pane where the network is and draws the labels and the side-by-side
layout here (`stylegan3.explore.video.compose_frame`), so the frames equal a local run's: every chunk renders
through `stylegan3.explore.video.pane_frames` in the same batches as the local video (a chunk starts on a batch
boundary and holds whole batches), and batches are where float results could otherwise differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch

from stylegan3.analyses.params import check_range, check_transform_path
from stylegan3.documents.request import NoiseMode, RenderRequest
from stylegan3.errors import SG3Error
from stylegan3.networks.info import NetworkInfo


@dataclass(frozen=True)
class WalkParams:
    """The `VideoSpec` of the walk (the pane's `cell` size is fixed by the client: the largest network's
    resolution when comparing several), and which frames: `start .. start + count - 1`."""

    seeds: tuple[int, ...] = (0, 1)
    frames_per_seed: int = 60
    loop: bool = False
    grid: tuple[int, int] = (1, 1)
    kind: Literal["cubic", "linear"] = "cubic"
    psi: float = 1.0
    cutoff: int | None = None
    class_idx: int | None = None
    noise_mode: NoiseMode = "const"
    translate_path: str = ""
    cell: int = 256
    batch_size: int = 4
    start: int = 0
    count: int = 8
    format: Literal["raw", "png"] = "png"

    def __post_init__(self) -> None:
        check_range("seeds", len(self.seeds), 1, 100_000)
        check_range("frames_per_seed", self.frames_per_seed, 1, 100_000)
        check_range("grid", self.grid[0] * self.grid[1], 1, 1024)
        check_range("psi", self.psi, -100.0, 100.0)
        check_range("cell", self.cell, 8, 4096)
        check_range("batch_size", self.batch_size, 1, 256)
        check_range("start", self.start, 0, 10**9)
        check_range("count", self.count, 1, 4096)
        if self.start % self.batch_size:
            raise ValueError(f"start {self.start} is not on a batch boundary (batch_size {self.batch_size})")
        check_transform_path("translate_path", self.translate_path)

    def spec(self):
        """The library's `VideoSpec` of these params."""
        from stylegan3.explore.video import VideoSpec

        return VideoSpec(seeds=list(self.seeds), frames_per_seed=self.frames_per_seed, loop=self.loop,
                         grid=self.grid, kind=self.kind, psi=self.psi, cutoff=self.cutoff, class_idx=self.class_idx,
                         noise_mode=self.noise_mode, translate_path=self.translate_path or None,
                         pane_size=self.cell, batch_size=self.batch_size)


@torch.no_grad()
def video_walk(G: torch.nn.Module, request: RenderRequest, info: NetworkInfo, progress, *,
               params: WalkParams) -> dict[str, Any]:
    """{"start", "total", "shape", "format", "frames": [payload arrays]}: the pane of the request's network for
    one chunk of the video (frames without label, unpadded)."""
    from stylegan3.analyses.record import check_chunk, encode_frame
    from stylegan3.explore.video import cell_ws, pane_frames, transform_matrices, video_frame_count
    from stylegan3.networks.device import device_of

    spec = params.spec()
    if spec.translate_path and not info.capabilities.input_transform:
        raise SG3Error("a translate path needs a StyleGAN3 network: this one has no input transform")
    total = video_frame_count(spec)
    if params.start >= total:
        raise SG3Error(f"start {params.start} is past the video's {total} frames")
    stop = min(total, params.start + params.count)
    if stop < total and (stop - params.start) % params.batch_size:
        raise SG3Error(f"count {params.count} is not whole batches of {params.batch_size}")
    check_chunk(params.count, stop - params.start, info, spec.grid[0] * spec.grid[1], params.cell)
    device = device_of(G)
    ws = cell_ws(G, spec, device)
    matrices = transform_matrices(spec, total, device)
    progress(0, stop - params.start)
    frames, shape = [], None
    for first in range(params.start, stop, params.batch_size):
        last = min(first + params.batch_size, stop)
        for image in pane_frames(G, spec, ws, params.cell, first, last, matrices):
            shape = list(image.shape)
            frames.append(encode_frame(image, params.format))
        progress(last - params.start, stop - params.start)
    return {"start": params.start, "total": total, "shape": shape, "format": params.format, "frames": frames}
