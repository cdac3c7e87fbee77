"""Keyframed paths: a timeline of bookmarks interpolated in W, turned into frames at a given time.

A bookmark (`Keyframe`) is a latent (a seed mapped with its psi, or explicit ws such as a projected image),
an SG3 input transform and optional moves along semantic directions. Each keyframe holds the duration of the
segment that leaves it, so a timeline is also a clock: `ResolvedTimeline.ws_at(t)` is the latent shown at
`t` seconds, the one function that the GUI's scrubbing preview and the video export both call, so frame k of
an export at F fps is exactly the preview at time k / F.

Interpolation happens in W per ws row: `linear`, `spherical` (slerp of each w between two keys, which keeps
the norm from sagging half-way) or `cubic` (a C2 spline through the keys on their real time axis, periodic
when the timeline loops, so a loop has no kink at its seam). Keys are hit exactly at their times.

The timeline file is JSON with a `format` and `version` field (`to_dict` / `from_dict` round-trip exactly:
floats are written with Python's shortest exact repr). A session file may embed the same object under a
`"timeline"` key; `load_timeline` reads either.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from stylegan3.errors import SG3Error

__all__ = [
    "Keyframe",
    "Move",
    "Timeline",
    "ResolvedTimeline",
    "INTERPOLATIONS",
    "resolve_timeline",
    "save_timeline",
    "load_timeline",
    "iter_timeline_frames",
    "render_at",
]

FORMAT = "sg3-explorer timeline"
VERSION = 1
INTERPOLATIONS = ("linear", "spherical", "cubic")
_MAX_KEYS = 10_000
_MAX_SECONDS = 24 * 3600.0


@dataclass(frozen=True)
class Move:
    """A move along direction `index` of the timeline's direction file, by `amount` sigma on the ws `ws`."""

    index: int
    amount: float
    ws: str = "all"  # see stylegan3.directions.ws_range


@dataclass
class Keyframe:
    """One bookmark. Exactly one of `seed` / `w` sets the latent; `w` is `[num_ws][w_dim]` (truncation applied)."""

    seed: int | None = 0
    w: tuple[tuple[float, ...], ...] | None = None
    psi: float = 1.0
    translate: tuple[float, float] = (0.0, 0.0)
    rotate: float = 0.0
    moves: tuple[Move, ...] = ()
    duration: float = 2.0  # seconds from this keyframe to the next (for the last one: back to the first, looping)
    label: str = ""

    @staticmethod
    def from_ws(ws: np.ndarray | torch.Tensor, **kwargs) -> Keyframe:
        """A keyframe holding explicit ws (`[num_ws, w_dim]` or `[1, num_ws, w_dim]`), e.g. a projection."""
        arr = ws.detach().cpu().numpy() if isinstance(ws, torch.Tensor) else np.asarray(ws)
        arr = arr.reshape(arr.shape[-2:]).astype(np.float32)
        return Keyframe(seed=None, w=tuple(tuple(float(v) for v in row) for row in arr), **kwargs)


@dataclass
class Timeline:
    keyframes: list[Keyframe] = field(default_factory=list)
    interp: str = "cubic"
    loop: bool = False
    fps: float = 30.0
    noise_mode: str = "const"
    directions: str | None = None  # direction file the keyframes' moves refer to (relative to the timeline file)
    network: str | None = None  # the network source the timeline was made with (informative; --network wins)
    base: str | None = field(default=None, compare=False)  # folder of the file it came from (not saved)

    def directions_path(self) -> Path | None:
        """The direction file, a relative name taken from the folder of the timeline file."""
        if not self.directions:
            return None
        path = Path(self.directions)
        return path if path.is_absolute() or self.base is None else Path(self.base) / path

    def durations(self) -> np.ndarray:
        return np.array([k.duration for k in self.keyframes], dtype=np.float64)

    def key_times(self) -> np.ndarray:
        """Start time of every keyframe, plus the end of the loop when looping."""
        d = self.durations()
        n = len(d) if self.loop else max(len(d) - 1, 0)
        return np.concatenate([[0.0], np.cumsum(d[:n])])

    @property
    def total(self) -> float:
        """Length in seconds (a single keyframe is a still of its own duration)."""
        if len(self.keyframes) == 1:
            return float(self.keyframes[0].duration)
        return float(self.key_times()[-1])

    def num_frames(self, fps: float | None = None) -> int:
        """Frames of an export: a loop ends one frame before its start comes round again; otherwise the last
        frame is the last keyframe."""
        fps = float(fps or self.fps)
        n = round(self.total * fps)
        return max(1, n if self.loop or len(self.keyframes) == 1 else n + 1)

    def check(self) -> None:
        """Raise a one-line SG3Error for anything that cannot be rendered."""
        if not self.keyframes:
            raise SG3Error("the timeline has no keyframes")
        if len(self.keyframes) > _MAX_KEYS:
            raise SG3Error(f"the timeline has {len(self.keyframes)} keyframes (at most {_MAX_KEYS})")
        if self.interp not in INTERPOLATIONS:
            raise SG3Error(f"unknown interpolation {self.interp!r} (one of {', '.join(INTERPOLATIONS)})")
        if not (math.isfinite(self.fps) and 0 < self.fps <= 1000):
            raise SG3Error(f"fps {self.fps} outside (0, 1000]")
        if self.noise_mode not in ("const", "random", "none"):
            raise SG3Error(f"unknown noise mode {self.noise_mode!r}")
        for i, k in enumerate(self.keyframes):
            if not (math.isfinite(k.duration) and k.duration > 0):
                raise SG3Error(f"keyframe {i}: duration must be a positive number of seconds")
            if (k.seed is None) == (k.w is None):
                raise SG3Error(f"keyframe {i}: give either a seed or explicit ws, not {'both' if k.w else 'neither'}")
            if not all(math.isfinite(v) for v in (k.psi, k.rotate, *k.translate)):
                raise SG3Error(f"keyframe {i}: psi, translate and rotate must be finite numbers")
            if k.moves and not self.directions:
                raise SG3Error(f"keyframe {i} moves along directions but the timeline names no direction file")
        if self.total > _MAX_SECONDS:
            raise SG3Error(f"the timeline lasts {self.total:.0f} s (at most {_MAX_SECONDS:.0f})")

    # -- file form ---------------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "interp": self.interp,
            "loop": self.loop,
            "fps": self.fps,
            "noise_mode": self.noise_mode,
            "directions": self.directions,
            "network": self.network,
            "keyframes": [
                {
                    "seed": k.seed,
                    "w": [list(row) for row in k.w] if k.w is not None else None,
                    "psi": k.psi,
                    "translate": list(k.translate),
                    "rotate": k.rotate,
                    "moves": [{"index": m.index, "amount": m.amount, "ws": m.ws} for m in k.moves],
                    "duration": k.duration,
                    "label": k.label,
                }
                for k in self.keyframes
            ],
        }

    @staticmethod
    def from_dict(data: dict) -> Timeline:
        """Inverse of `to_dict`; a malformed object is a one-line SG3Error."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise SG3Error("not a timeline (no 'format': 'sg3-explorer timeline')")
        version = data.get("version")
        if not isinstance(version, int) or version < 1:
            raise SG3Error("timeline has no valid 'version'")
        if version > VERSION:
            raise SG3Error(f"timeline version {version} is newer than this program reads ({VERSION})")
        try:
            keys = []
            for raw in data["keyframes"]:
                w = raw.get("w")
                keys.append(Keyframe(
                    seed=None if raw.get("seed") is None else int(raw["seed"]),
                    w=None if w is None else tuple(tuple(float(v) for v in row) for row in w),
                    psi=float(raw.get("psi", 1.0)),
                    translate=tuple(float(v) for v in raw.get("translate", (0.0, 0.0))),
                    rotate=float(raw.get("rotate", 0.0)),
                    moves=tuple(Move(int(m["index"]), float(m["amount"]), str(m.get("ws", "all")))
                                for m in raw.get("moves", ())),
                    duration=float(raw.get("duration", 2.0)),
                    label=str(raw.get("label", "")),
                ))  # fmt: skip
            tl = Timeline(keyframes=keys, interp=str(data.get("interp", "cubic")), loop=bool(data.get("loop", False)),
                          fps=float(data.get("fps", 30.0)), noise_mode=str(data.get("noise_mode", "const")),
                          directions=data.get("directions"), network=data.get("network"))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SG3Error(f"malformed timeline ({type(exc).__name__}: {exc})") from None
        for k in tl.keyframes:
            if len(k.translate) != 2:
                raise SG3Error("malformed timeline: translate needs two numbers")
            if k.w is not None and (not k.w or len({len(row) for row in k.w}) != 1):
                raise SG3Error("malformed timeline: explicit ws must be a non-empty rectangular list")
        return tl


def save_timeline(path: str | Path, timeline: Timeline) -> Path:
    path = Path(path)
    try:
        path.write_text(json.dumps(timeline.to_dict(), indent=1) + "\n")
    except OSError as exc:
        raise SG3Error(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path


_MAX_FILE_BYTES = 256 << 20


def load_timeline(path: str | Path) -> Timeline:
    """Read a timeline file, or the `"timeline"` object inside a session file."""
    path = Path(path)
    if not path.is_file():
        raise SG3Error(f"{path}: no such timeline / session file")
    if path.stat().st_size > _MAX_FILE_BYTES:
        raise SG3Error(f"{path}: too large for a timeline ({path.stat().st_size >> 20} MiB)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SG3Error(f"{path}: not a JSON timeline ({type(exc).__name__})") from None
    if isinstance(data, dict) and "timeline" in data and data.get("format") != FORMAT:
        data = data["timeline"]
    try:
        tl = Timeline.from_dict(data)
    except SG3Error as exc:
        raise SG3Error(f"{path}: {exc}") from None
    tl.base = str(path.parent)
    return tl


# --- time -> latent -------------------------------------------------------------------------------------------


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
    """Map every keyframe to its ws (seed with psi, or the explicit ws) and apply its direction moves."""
    from stylegan3.directions import DirectionMove, apply_moves, load_directions, ws_range
    from stylegan3.interpolation import seed_ws

    timeline.check()
    num_ws, w_dim = int(G.num_ws), int(G.w_dim)
    directions = load_directions(timeline.directions_path()) if timeline.directions else None
    if directions is not None and directions.w_dim != w_dim:
        raise SG3Error(f"{timeline.directions}: {directions.w_dim}-d directions for a network with {w_dim}-d w")
    keys = []
    for i, k in enumerate(timeline.keyframes):
        if k.w is not None:
            ws = torch.tensor(k.w, dtype=torch.float32)[None]
            if tuple(ws.shape[1:]) != (num_ws, w_dim):
                raise SG3Error(f"keyframe {i}: ws of shape {tuple(ws.shape[1:])}, "
                               f"the network needs ({num_ws}, {w_dim})")
        else:
            ws = seed_ws(G, [int(k.seed)], psi=float(k.psi)).cpu()
        if k.moves:
            moves = [DirectionMove(m.index, m.amount, ws_range(m.ws, num_ws)) for m in k.moves]
            ws = apply_moves(ws, directions, moves)
        keys.append(ws[0].double().numpy())
    transforms = np.array([[k.translate[0], k.translate[1], k.rotate] for k in timeline.keyframes])
    return ResolvedTimeline(timeline=timeline, key_ws=np.stack(keys), key_transforms=transforms)


@torch.no_grad()
def render_at(G: torch.nn.Module, resolved: ResolvedTimeline, t: float, force_fp32: bool = True) -> torch.Tensor:
    """The image `[1, C, H, W]` at time `t` (the transform is passed to synthesis; G is not modified)."""
    from stylegan3.generate import device_of
    from stylegan3.render.inputs import input_transform
    from stylegan3.request import Transform
    from stylegan3.transform import has_input_transform

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
    from stylegan3.imageutil import to_rgb_uint8
    from stylegan3.video import _pad_to_block

    times = resolved.frame_times(fps, frames)
    for k, t in enumerate(times):
        img = to_rgb_uint8(render_at(G, resolved, float(t)))[0].cpu().numpy()
        yield _pad_to_block(img)
        if progress is not None:
            progress(k + 1, len(times))
