"""A timeline bound to a network: each key's ws and transform, interpolated in W, turned into frames.

`ResolvedTimeline.request_at(t)` is the frame request at `t` seconds (the W+ latent `ws_at(t)` as an explicit
latent, the transform at `t`): the GUI's scrubbing preview submits it and the export renders it through the same
request pipeline (`stylegan3.render.pipeline`), so frame k of an export at F fps is the preview at k / F, bit
for bit. Resolving keys and rendering frames next to a remote network are the analyses of
`stylegan3.analyses.timeline`.
Interpolation happens in W per ws row: `linear`, `spherical` (slerp of each w between two keys, which keeps
the norm from sagging half-way) or `cubic` (a C2 spline through the keys on their real time axis, periodic
when the timeline loops, so a loop has no kink at its seam). Keys are hit exactly at their times. The
document itself (keys, durations, file format) is `stylegan3.documents.timeline`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from stylegan3.documents.request import (
    FFTView,
    LayerView,
    NetworkRef,
    Noise,
    RenderRequest,
    Synthesis,
    Transform,
    Untransform,
)
from stylegan3.documents.timeline import Timeline
from stylegan3.errors import SG3Error
from stylegan3.networks.info import NetworkInfo

__all__ = ["TIMELINE_SYNTHESIS", "ResolvedTimeline", "interpolate_timed", "iter_timeline_frames", "render_at",
           "resolve_timeline"]

# Timeline frames render in float32 (as exports always did): the preview and the export share this, whatever the
# view's own precision setting, so a GPU's fp16 layers never make them differ.
TIMELINE_SYNTHESIS = Synthesis(force_fp32=True, cuda_graphs=True)


def _slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Row-wise spherical interpolation of `a`, `b` `[R, D]` at fractions `t` `[F]` -> `[F, R, D]`; the norm is
    interpolated linearly, the direction along the great circle (linear where the two are parallel)."""
    na = np.linalg.norm(a, axis=-1, keepdims=True)
    nb = np.linalg.norm(b, axis=-1, keepdims=True)
    ua = a / np.maximum(na, 1e-30)
    ub = b / np.maximum(nb, 1e-30)
    cos = np.clip(np.sum(ua * ub, axis=-1, keepdims=True), -1.0, 1.0)
    omega = np.arccos(cos)  # [R, 1]
    t = t[:, None, None]
    so = np.sin(omega)
    safe = so > 1e-6
    wa = np.where(safe, np.sin((1 - t) * omega) / np.where(safe, so, 1), 1 - t)
    wb = np.where(safe, np.sin(t * omega) / np.where(safe, so, 1), t)
    direction = wa * ua + wb * ub
    direction /= np.maximum(np.linalg.norm(direction, axis=-1, keepdims=True), 1e-30)
    return direction * ((1 - t) * na + t * nb)


def interpolate_timed(values: np.ndarray, knots: np.ndarray, t: np.ndarray, kind: str, loop: bool) -> np.ndarray:
    """Values `[S, R, D]` at keys placed at `knots` (`S` of them, plus the loop end when `loop`) at times `t`."""
    from scipy.interpolate import CubicSpline

    s = values.shape[0]
    total = knots[-1]
    t = np.asarray(t, dtype=np.float64).reshape(-1)
    if s == 1:
        return np.repeat(values[:1], len(t), axis=0)
    t = np.mod(t, total) if loop else np.clip(t, 0.0, total)
    vals = np.concatenate([values, values[:1]], axis=0) if loop else values
    if kind == "cubic" and len(knots) >= 3:
        flat = vals.reshape(len(knots), -1)
        out = CubicSpline(knots, flat, axis=0, bc_type="periodic" if loop else "not-a-knot")(t)
        out = out.reshape((len(t),) + values.shape[1:])
    else:
        seg = np.clip(np.searchsorted(knots, t, side="right") - 1, 0, len(knots) - 2)
        frac = (t - knots[seg]) / (knots[seg + 1] - knots[seg])
        if kind == "spherical":
            out = np.empty((len(t),) + values.shape[1:])
            for i in np.unique(seg):
                pick = seg == i
                out[pick] = _slerp(vals[i], vals[i + 1], frac[pick])
        else:
            f = frac[:, None, None]
            out = vals[seg] * (1 - f) + vals[seg + 1] * f
    hit = np.isin(t, knots)  # exactly the key at its own time (the spline only up to rounding)
    if hit.any():
        idx = np.searchsorted(knots, t[hit])
        out[hit] = vals[idx]
    return out


@dataclass
class ResolvedTimeline:
    """A timeline bound to a network: every keyframe's ws `[S, num_ws, w_dim]` (float64) and transform
    `[S, 3]` (translate x, y, rotate turns); pure numpy, so scrubbing costs no network call."""

    timeline: Timeline
    key_ws: np.ndarray
    key_transforms: np.ndarray

    @property
    def total(self) -> float:
        return self.timeline.total

    def _knots(self) -> np.ndarray:
        return self.timeline.key_times()

    def ws_at(self, t: float | Sequence[float]) -> np.ndarray:
        """ws `[F, num_ws, w_dim]` float32 at times `t` (seconds; wrapped when looping, clamped otherwise)."""
        tl = self.timeline
        out = interpolate_timed(self.key_ws, self._knots(), np.atleast_1d(t), tl.interp, tl.loop)
        return out.astype(np.float32)

    def transform_at(self, t: float | Sequence[float]) -> np.ndarray:
        """`[F, 3]` (translate x, y, rotate turns) at times `t`; linear or cubic like the ws (slerp -> linear)."""
        tl = self.timeline
        kind = "cubic" if tl.interp == "cubic" else "linear"
        vals = self.key_transforms[:, None, :]
        return interpolate_timed(vals, self._knots(), np.atleast_1d(t), kind, tl.loop)[:, 0, :]

    def request_at(self, t: float, base: RenderRequest | None = None) -> RenderRequest:
        """The frame request at time `t`: what the GUI preview submits and what export frame k = `t * fps`
        renders, so the two are the same pixels (the pipeline is deterministic for equal requests).

        On top of `base` (the network, and the seed-plane position the latent is pinned to; default: a fresh
        request naming the timeline's network): the W+ latent `ws_at(t)` as an explicit latent (no moves: the
        keys' moves are inside it), the transform at `t`, the timeline's noise mode (random noise drawn from the
        base's noise seed, so any frame renders again to the same bits), and the image itself (a
        timeline is a path of images: layer, FFT and untransform views are dropped). Precision is part of the
        timeline, not of the view: always `TIMELINE_SYNTHESIS` (float32 everywhere, CUDA graphs where
        available), so a preview on a GPU that renders fp16 layers still matches its export.
        """
        from stylegan3.render.inputs import explicit_latent

        tl = self.timeline
        base = base if base is not None else RenderRequest(network=NetworkRef(tl.network or "demo"))
        tx, ty, rot = (float(v) for v in self.transform_at(t)[0])
        return base.replace(
            explicit=explicit_latent(self.ws_at(t)[0], base.latent, "timeline"),
            moves=(),
            transform=Transform((tx, ty), rot),
            noise=Noise(tl.noise_mode, base.noise.seed),
            synthesis=TIMELINE_SYNTHESIS,
            layer=LayerView(), fft=FFTView(), untransform=Untransform(),
        )

    def frame_times(self, fps: float | None = None, frames: int | None = None) -> np.ndarray:
        fps = float(fps or self.timeline.fps)
        n = int(frames or self.timeline.num_frames(fps))
        return np.arange(n, dtype=np.float64) / fps


@torch.no_grad()
def resolve_timeline(G: torch.nn.Module, timeline: Timeline) -> ResolvedTimeline:
    """Every keyframe's ws and transform, from its request through `stylegan3.render.inputs` (mapping or the
    explicit latent, then the moves): the key's own bookmark rendered alone shows the same latent."""
    from stylegan3.networks.device import device_of
    from stylegan3.render.inputs import request_ws

    timeline.check()
    num_ws, w_dim = int(G.num_ws), int(G.w_dim)
    device = device_of(G)
    keys = []
    for i, k in enumerate(timeline.keyframes):
        request = k.request
        explicit = request.explicit
        if explicit.applies_to(request.latent) and (explicit.num_rows not in (1, num_ws)
                                                    or len(explicit.w[0]) != w_dim):
            raise SG3Error(f"keyframe {i}: explicit ws of shape ({explicit.num_rows}, {len(explicit.w[0])}), "
                           f"the network needs ({num_ws}, {w_dim})")
        bad = [m.label or "a move" for m in request.moves if len(m.vector) != w_dim]
        if bad:
            raise SG3Error(f"keyframe {i}: direction {bad[0]!r} is not {w_dim}-dimensional like the network's w")
        keys.append(request_ws(G, request, device)[0].cpu().double().numpy())
    transforms = np.array([[*k.request.transform.translate, k.request.transform.rotate] for k in timeline.keyframes],
                          dtype=np.float64)
    return ResolvedTimeline(timeline=timeline, key_ws=np.stack(keys), key_transforms=transforms)


def render_at(G: torch.nn.Module, resolved: ResolvedTimeline, t: float, base: RenderRequest | None = None,
              info: NetworkInfo | None = None) -> np.ndarray:
    """The image (HxWx3 uint8, unpadded) at time `t`: the request pipeline's render of `request_at(t)`, the
    frame the GUI preview shows (G is not modified)."""
    from stylegan3.networks.info import describe
    from stylegan3.render.pipeline import render_request

    info = info if info is not None else describe(G, resolved.timeline.network or "")
    out = render_request(G, resolved.request_at(t, base), info)
    if out.error is not None:
        raise SG3Error(f"timeline frame at {t:g} s: {out.error}")
    return out.image


def iter_timeline_frames(
    G: torch.nn.Module,
    resolved: ResolvedTimeline,
    fps: float | None = None,
    frames: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    base: RenderRequest | None = None,
) -> Iterator[np.ndarray]:
    """Frames (uint8 `[H, W, 3]`, sides padded to multiples of 16 for H.264) k = 0 .. N-1 at times k / fps.

    Frame k is `render_at(G, resolved, k / fps)`: the pipeline's render of `request_at(k / fps)`.
    """
    from stylegan3.networks.info import describe
    from stylegan3.render.images import pad_to_block

    info = describe(G, resolved.timeline.network or "")
    times = resolved.frame_times(fps, frames)
    for k in range(len(times)):
        yield pad_to_block(render_at(G, resolved, float(times[k]), base, info))
        if progress is not None:
            progress(k + 1, len(times))
