"""A timeline bound to a network: each key's ws and transform, interpolated in W, turned into frames.

`ResolvedTimeline.ws_at(t)` is the latent shown at `t` seconds, the one function that the GUI's scrubbing
preview and the video export both call, so frame k of an export at F fps is exactly the preview at time k / F.
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

from stylegan3.documents.timeline import Timeline
from stylegan3.errors import SG3Error

__all__ = ["ResolvedTimeline", "interpolate_timed", "iter_timeline_frames", "render_at", "resolve_timeline"]



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


@torch.no_grad()
def render_at(G: torch.nn.Module, resolved: ResolvedTimeline, t: float, force_fp32: bool = True) -> torch.Tensor:
    """The image `[1, C, H, W]` at time `t` (the transform is passed to synthesis; G is not modified)."""
    from stylegan3.documents.request import Transform
    from stylegan3.networks.device import device_of
    from stylegan3.networks.transform import has_input_transform
    from stylegan3.render.inputs import input_transform

    device = device_of(G)
    ws = torch.from_numpy(resolved.ws_at(t)).to(device)
    noise_mode = resolved.timeline.noise_mode
    if not has_input_transform(G):
        return G.synthesis(ws, noise_mode=noise_mode, force_fp32=force_fp32)
    tx, ty, rot = (float(v) for v in resolved.transform_at(t)[0])
    m = torch.from_numpy(input_transform(Transform((tx, ty), rot))).to(device=device, dtype=torch.float32)
    return G.synthesis(ws, noise_mode=noise_mode, force_fp32=force_fp32, transform=m)


def iter_timeline_frames(
    G: torch.nn.Module,
    resolved: ResolvedTimeline,
    fps: float | None = None,
    frames: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[np.ndarray]:
    """Frames (uint8 `[H, W, 3]`, sides padded to multiples of 16 for H.264) at times k / fps, k = 0 .. N-1.

    Frame k is `render_at(G, resolved, k / fps)`, converted like the app converts its image.
    """
    from stylegan3.explore.video import _pad_to_block
    from stylegan3.render.images import to_rgb_uint8

    times = resolved.frame_times(fps, frames)
    for k, t in enumerate(times):
        img = to_rgb_uint8(render_at(G, resolved, float(t)))[0].cpu().numpy()
        yield _pad_to_block(img)
        if progress is not None:
            progress(k + 1, len(times))
