"""Latent paths through time: seeds -> keyframe ws -> a smooth per-frame w path, plus input-transform paths.

Videos, the trace view and the GUI's animation all need the same thing: a list of seeds turned into
keyframes and a frame-by-frame path between them. Interpolation happens in W (after the mapping network,
truncation already applied) because W is the space the synthesis network sees; a straight or spline path
there gives smooth motion, whereas interpolating z runs through the mapping network's nonlinearity.

Every network gets z from the same seeds at its own `z_dim` (`stylegan3.networks.latents.z_from_seed`), so
networks of different sizes shown side by side follow "the same" seeds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from stylegan3.errors import SG3Error
from stylegan3.networks.transform import preserved_input_transform  # re-exported: paths animate the transform

__all__ = [
    "parse_seeds",
    "parse_grid",
    "seed_zs",
    "make_c",
    "seed_ws",
    "num_frames",
    "frame_times",
    "interpolate_at",
    "interpolate_keys",
    "path_ws",
    "parse_transform_path",
    "transform_path",
    "preserved_input_transform",
]

_MAX_SEEDS = 100_000


def parse_seeds(spec: str) -> list[int]:
    """Parse a seed list such as `"0-7"`, `"1,5,9"` or `"0-3,10,20-22"` (ranges are inclusive).

    Why inclusive: it matches how people read "seeds 0-7" and the official tools' `--seeds` option.
    """
    seeds: list[int] = []
    text = str(spec).strip()
    if not text:
        raise SG3Error("empty seed list")
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part[1:]:
                cut = part.index("-", 1)
                lo, hi = int(part[:cut]), int(part[cut + 1 :])
                if hi < lo:
                    raise SG3Error(f"seed range {part!r} runs backwards")
                if hi - lo >= _MAX_SEEDS:
                    raise SG3Error(f"seed range {part!r} is too long (at most {_MAX_SEEDS} seeds)")
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise SG3Error(f"bad seed list {spec!r}: expected numbers and ranges like '0-7,12'") from None
    for seed in seeds:
        if not 0 <= seed < 2**32:
            raise SG3Error(f"seed {seed} out of range (0 .. 2**32-1)")
    return seeds


def parse_grid(spec: str) -> tuple[int, int]:
    """Parse `"WxH"` (columns x rows) into `(W, H)`."""
    try:
        w, h = (int(v) for v in str(spec).lower().split("x"))
    except ValueError:
        raise SG3Error(f"bad grid {spec!r}: expected WxH, e.g. 2x2") from None
    if w < 1 or h < 1 or w * h > 256:
        raise SG3Error(f"bad grid {spec!r}: both sides must be >= 1 and the grid at most 256 cells")
    return w, h


def seed_zs(seeds: Sequence[int], z_dim: int) -> np.ndarray:
    """z for each seed at this `z_dim`, shape `[len(seeds), z_dim]`, the project-wide seed convention."""
    from stylegan3.networks.latents import z_from_seed

    if z_dim == 0:
        return np.zeros([len(seeds), 0], dtype=np.float64)
    return np.concatenate([z_from_seed(int(s), z_dim) for s in seeds], axis=0)


def make_c(G: torch.nn.Module, n: int, class_idx: int | None = None, device: torch.device | str = "cpu"):
    """Conditioning labels `[n, c_dim]`: zeros (unconditional use) or a one-hot class."""
    from stylegan3.networks.latents import class_vector

    return class_vector(int(G.c_dim), class_idx, device, n)


@torch.no_grad()
def seed_ws(
    G: torch.nn.Module,
    seeds: Sequence[int],
    psi: float = 1.0,
    cutoff: int | None = None,
    class_idx: int | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Keyframe ws `[len(seeds), num_ws, w_dim]` for the seeds, truncation applied, on `device`
    (`stylegan3.render.inputs.seeds_ws`: the same seed -> z -> ws as every render request)."""
    from stylegan3.documents.request import Truncation
    from stylegan3.render.inputs import seeds_ws

    if device is None:
        device = next(iter(G.parameters()), torch.zeros([])).device
    return seeds_ws(G, seeds, Truncation(float(psi), cutoff), class_idx, device)


def num_frames(num_keys: int, frames_per_key: int, loop: bool) -> int:
    """Length of an interpolation: a loop spends `frames_per_key` on every key including the way back."""
    if num_keys < 1 or frames_per_key < 1:
        raise SG3Error("need at least one seed and one frame per seed")
    return num_keys * frames_per_key if loop else (num_keys - 1) * frames_per_key + 1


def frame_times(num_keys: int, frames_per_key: int, loop: bool) -> np.ndarray:
    """Position of each frame along the key axis (key i sits at time i)."""
    return np.arange(num_frames(num_keys, frames_per_key, loop), dtype=np.float64) / frames_per_key


def interpolate_at(keys, times, loop: bool = False, kind: str = "cubic"):
    """Points of the path through keyframes `keys` `[S, ...]` at `times` (in key units: key i sits at i).

    Torch in -> torch out (same device and dtype), numpy -> numpy. With `loop` the path closes (times
    wrap modulo S); without, times are clamped to `[0, S - 1]`. `cubic` is a C2 cubic spline through the
    keys (periodic when looping, so the seam is as smooth as the rest); `linear` is piecewise linear,
    which turns abruptly at every key but never overshoots. Whole-number times return the keys exactly,
    so a path's keyframes match a plain render of their seeds bit for bit. The GUI animates through this
    with a continuous clock; videos sample it at `frame_times`.
    """
    from scipy.interpolate import CubicSpline

    if kind not in ("cubic", "linear"):
        raise SG3Error(f"unknown interpolation {kind!r} (cubic or linear)")
    is_torch = isinstance(keys, torch.Tensor)
    arr = keys.detach().cpu().double().numpy() if is_torch else np.asarray(keys, dtype=np.float64)
    s = arr.shape[0]
    if s < 1:
        raise SG3Error("need at least one keyframe")
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    t = np.mod(t, s) if loop else np.clip(t, 0, s - 1)
    flat = arr.reshape(s, -1)
    if s == 1:
        out = np.repeat(flat, len(t), axis=0)
    else:
        knots = np.arange(s + 1 if loop else s, dtype=np.float64)
        values = np.concatenate([flat, flat[:1]], axis=0) if loop else flat
        if kind == "linear" or len(knots) < 3:
            i0 = np.minimum(np.floor(t).astype(int), len(knots) - 2)
            a = (t - i0)[:, None]
            out = values[i0] * (1 - a) + values[i0 + 1] * a
        else:
            out = CubicSpline(knots, values, axis=0, bc_type="periodic" if loop else "not-a-knot")(t)
        on_key = t == np.round(t)  # the spline hits keys only up to rounding; make it exact
        out[on_key] = flat[np.round(t[on_key]).astype(int) % s]
    out = out.reshape((len(t),) + arr.shape[1:])
    if is_torch:
        return torch.from_numpy(out).to(device=keys.device, dtype=keys.dtype)
    in_dtype = np.asarray(keys).dtype
    return out.astype(in_dtype) if in_dtype.kind == "f" else out


def interpolate_keys(keys, frames_per_key: int, loop: bool = False, kind: str = "cubic"):
    """Interpolate keyframes `[S, ...]` into the frames `[F, ...]` of a video (see `interpolate_at`).

    Frame `i * frames_per_key` is key `i`; a loop ends one frame before returning to key 0.
    """
    return interpolate_at(keys, frame_times(len(keys), frames_per_key, loop), loop=loop, kind=kind)


def path_ws(
    G: torch.nn.Module,
    seeds: Sequence[int],
    frames_per_seed: int,
    loop: bool = False,
    kind: str = "cubic",
    psi: float = 1.0,
    cutoff: int | None = None,
    class_idx: int | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Per-frame ws `[F, num_ws, w_dim]` of an interpolation video through `seeds` (interpolated in W)."""
    keys = seed_ws(G, seeds, psi=psi, cutoff=cutoff, class_idx=class_idx, device=device)
    return interpolate_keys(keys, frames_per_seed, loop=loop, kind=kind)


# --- input-transform paths (SG3 only: StyleGAN2 has no input transform) ---------------------------------

_PATH_HELP = "circle:R, sway:X,Y, pan:X,Y, spin:TURNS, joined with '+', e.g. circle:0.2+spin:1"


def parse_transform_path(spec: str) -> list[tuple[str, tuple[float, ...]]]:
    """Parse a transform path spec into `[(kind, params), ...]`.

    Kinds (t runs over the video, 0 -> 1): `circle:R` translate on a circle of radius R, one turn;
    `sway:X,Y` translate `sin(2 pi t) * (X, Y)`; `pan:X,Y` translate `t * (X, Y)`; `spin:T` rotate
    `t * T` turns. Parts joined with `+` add up. Units are those of the official viewer's translate /
    rotate controls (rotation in turns), so the same numbers give the same motion there and here.
    """
    arity = {"circle": 1, "sway": 2, "pan": 2, "spin": 1}
    parts = []
    for raw in str(spec).split("+"):
        name, _, args = raw.strip().partition(":")
        name = name.strip().lower()
        if name not in arity:
            raise SG3Error(f"bad transform path {spec!r}: unknown part {name!r} (use {_PATH_HELP})")
        try:
            params = tuple(float(v) for v in args.split(",")) if args.strip() else ()
        except ValueError:
            raise SG3Error(f"bad transform path {spec!r}: {raw.strip()!r} needs numbers") from None
        if len(params) != arity[name] or not all(math.isfinite(p) for p in params):
            raise SG3Error(f"bad transform path {spec!r}: {name} takes {arity[name]} number(s) ({_PATH_HELP})")
        parts.append((name, params))
    return parts


def transform_path(spec: str, frames: int, loop: bool = True) -> np.ndarray:
    """Per-frame `(translate_x, translate_y, rotate_turns)`, shape `[frames, 3]`.

    With `loop` the time runs over `[0, 1)` so a looping video has no repeated frame at its seam;
    otherwise over `[0, 1]`, ending exactly on the end point.
    """
    parts = parse_transform_path(spec)
    denom = frames if loop or frames == 1 else frames - 1
    t = np.arange(frames, dtype=np.float64) / denom
    out = np.zeros([frames, 3], dtype=np.float64)
    for name, p in parts:
        if name == "circle":
            out[:, 0] += p[0] * np.cos(2 * np.pi * t)
            out[:, 1] += p[0] * np.sin(2 * np.pi * t)
        elif name == "sway":
            out[:, 0] += p[0] * np.sin(2 * np.pi * t)
            out[:, 1] += p[1] * np.sin(2 * np.pi * t)
        elif name == "pan":
            out[:, 0] += p[0] * t
            out[:, 1] += p[1] * t
        elif name == "spin":
            out[:, 2] += p[0] * t
    return out
