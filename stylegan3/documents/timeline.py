"""Keyframed paths as a document: a timeline of bookmarks with durations, its JSON file and its versions.

A keyframe is a bookmark (`stylegan3.documents.bookmarks.Bookmark`: a name and a `RenderRequest`) plus the
duration of the segment that leaves it, so the Bookmarks panel and the timeline share one notion of "a state to
come back to", and a timeline is also a clock. Only the latent and the transform travel along the path: the
network, noise mode and views are the timeline's (the request's network names where the bookmark came from;
`--network` wins). Turning it into latents and frames is `stylegan3.render.timeline`.

The timeline file is JSON versioned like requests and sessions: an integer `schema` (3, written now; left
out, the current one is meant). Each key is `{"bookmark": {"name", "request"}, "duration"}` with the request
codec's exact floats; people writing a file by hand may give a key by seed (`{"seed": 5, "duration": 2}`,
a `SeedKey`) and leave out any field that has a default (`TimelineFile`; also inside requests), and a bad
file has all its problems reported at once. `docs/TIMELINES.md` is the reference, `docs/schemas/` the JSON
Schemas generated from these dataclasses (`stylegan3.documents.schemas`).

Older files said `{"format": "sg3-explorer timeline", "version": N}`. Version 2 is schema 3 but for those two
names. Version 1 stored seed or ws, psi, transform and moves by index into a direction file; it is still read
and converted to requests exactly (`_v1_keyframes`: the direction file is read once, its vectors travel by
value from then on). A session file holds a timeline under its `"timeline"` key; `load_timeline` reads either.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import torch

from stylegan3.documents import jsoncodec
from stylegan3.documents.bookmarks import Bookmark
from stylegan3.documents.request import (
    NOISE_MODES,
    Latent,
    NetworkRef,
    Noise,
    NoiseMode,
    RenderRequest,
    Transform,
    Truncation,
)
from stylegan3.errors import SG3Error

__all__ = [
    "Keyframe",
    "Timeline",
    "INTERPOLATIONS",
    "SCHEMA_VERSION",
    "SeedKey",
    "TimelineFile",
    "save_timeline",
    "load_timeline",
    "NeedsNetwork",
    "timeline_network",
]

SCHEMA_VERSION = 3
OLD_FORMAT = "sg3-explorer timeline"  # files before schema 3 said {"format": OLD_FORMAT, "version": 1 or 2}
OLD_VERSIONS = (1, 2)  # 1: keys as seed / ws + moves by index into a direction file; 2: schema 3's fields
Interpolation = Literal["linear", "spherical", "cubic"]
INTERPOLATIONS: tuple[str, ...] = get_args(Interpolation)
_MAX_KEYS = 10_000
_MAX_SECONDS = 24 * 3600.0


@dataclass
class Keyframe:
    """One key of a timeline: a bookmark and the seconds from it to the next key (the last one: back to the
    first when looping, else how long a single-key timeline lasts)."""

    bookmark: Bookmark
    duration: float = 2.0

    @property
    def label(self) -> str:
        return self.bookmark.name

    @property
    def request(self) -> RenderRequest:
        return self.bookmark.request

    @staticmethod
    def of_seed(seed: int, psi: float = 1.0, translate: tuple[float, float] = (0.0, 0.0), rotate: float = 0.0,
                duration: float = 2.0, label: str = "", network: str = "demo") -> Keyframe:
        """A key at a plain seed (a short form for scripts and tests)."""
        request = RenderRequest(network=NetworkRef(network), latent=Latent(float(int(seed))),
                                truncation=Truncation(float(psi)), transform=_transform(translate, rotate))
        return Keyframe(Bookmark(label or f"seed {int(seed)}", request), float(duration))

    @staticmethod
    def from_ws(ws: np.ndarray | torch.Tensor, label: str = "", translate: tuple[float, float] | None = None,
                rotate: float | None = None, duration: float = 2.0, base: RenderRequest | None = None) -> Keyframe:
        """A key showing explicit ws (`[num_ws, w_dim]` or `[1, num_ws, w_dim]`, e.g. a projection) on top of
        `base` (default: a fresh request), pinned to the base's seed-plane position; `translate` / `rotate`
        replace the base's transform where given."""
        from stylegan3.render.inputs import explicit_latent

        base = base or RenderRequest()
        t = base.transform
        transform = _transform(t.translate if translate is None else translate, t.rotate if rotate is None else rotate)
        request = base.replace(explicit=explicit_latent(ws, base.latent, label), transform=transform)
        return Keyframe(Bookmark(label or "explicit latent", request), float(duration))


def _transform(translate, rotate) -> Transform:
    return Transform((float(translate[0]), float(translate[1])), float(rotate))


@dataclass
class Timeline:
    keyframes: list[Keyframe] = field(default_factory=list)
    interp: str = "cubic"
    loop: bool = False
    fps: float = 30.0
    noise_mode: str = "const"
    network: str | None = None  # the network source the timeline was made with (informative; --network wins)

    def copy(self) -> Timeline:
        """A copy whose key list and durations can be edited without touching this one (bookmarks are frozen)."""
        return dataclasses.replace(self, keyframes=[Keyframe(k.bookmark, k.duration) for k in self.keyframes])

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

    def problems(self) -> list[str]:
        """Everything that keeps this timeline from being rendered, one line each (empty: it renders)."""
        out = []
        if not self.keyframes:
            out.append("the timeline has no keyframes")
        if len(self.keyframes) > _MAX_KEYS:
            out.append(f"the timeline has {len(self.keyframes)} keyframes (at most {_MAX_KEYS})")
        if self.interp not in INTERPOLATIONS:
            out.append(f"unknown interpolation {self.interp!r} (one of {', '.join(INTERPOLATIONS)})")
        if not (math.isfinite(self.fps) and 0 < self.fps <= 1000):
            out.append(f"fps {self.fps} outside (0, 1000]")
        if self.noise_mode not in NOISE_MODES:
            out.append(f"unknown noise mode {self.noise_mode!r} (one of {', '.join(NOISE_MODES)})")
        bad = [i for i, k in enumerate(self.keyframes) if not (math.isfinite(k.duration) and k.duration > 0)]
        for i in bad:
            out.append(f"keyframes[{i}].duration: must be a positive number of seconds")
        if not bad and self.keyframes and self.total > _MAX_SECONDS:
            out.append(f"the timeline lasts {self.total:.0f} s (at most {_MAX_SECONDS:.0f})")
        return out

    def check(self) -> None:
        """Raise one SG3Error listing everything that cannot be rendered (`problems`)."""
        problems = self.problems()
        if problems:
            raise jsoncodec.CodecProblems(problems)

    # -- file form ---------------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return jsoncodec.to_plain(TimelineFile(SCHEMA_VERSION, self.network, float(self.fps), self.interp,
                                               self.loop, self.noise_mode, tuple(self.keyframes)))

    @staticmethod
    def from_dict(data: Any, base: str | Path | None = None, num_ws: int | None = None,
                  network: str | None = None) -> Timeline:
        """Inverse of `to_dict`; also reads what people write by hand (fields with a default left out, keys
        given by seed) and the old `format` / `version` files (version 1 converted: `base` is the folder its
        direction file is named relative to, `num_ws` the network's for moves on the named coarse / middle /
        fine ranges). `network` is the source that keys given by seed (and version-1 keys) name where the file
        names none; default 'demo'. Every problem of the object is raised at once (`CodecProblems`)."""
        if not isinstance(data, dict):
            raise SG3Error("not a timeline (expected a JSON object with 'keyframes')")
        if "format" in data or "version" in data:
            data = _old_format(data)
            if data.get("version") == 1:
                return _from_v1(data, base, num_ws, network)
        schema = data.get("schema", SCHEMA_VERSION)
        if isinstance(schema, bool) or not isinstance(schema, int):
            raise SG3Error(f"timeline 'schema' must be an integer (this program writes {SCHEMA_VERSION})")
        if schema > SCHEMA_VERSION:
            raise SG3Error(f"timeline schema {schema} was written by a newer sg3-explorer (this program reads "
                           f"up to {SCHEMA_VERSION}): update sg3-explorer to open it")
        if schema != SCHEMA_VERSION:
            raise SG3Error(f"timeline schema {schema} does not exist (schema {SCHEMA_VERSION}, or the older "
                           "files with 'format' and 'version' 1 or 2)")
        return _read_current(data, network)


@dataclass(frozen=True)
class SeedKey:
    """A keyframe given by seed, the shorthand of hand-written files: `{"seed": 5, "duration": 2}` is a bookmark
    named "seed 5" of the default request at seed 5 (with `psi`, on the timeline's network)."""

    seed: int
    duration: float = 2.0
    psi: float = 1.0
    name: str = ""


@dataclass(frozen=True)
class TimelineFile:
    """A timeline file (schema 3): keyframes and how to play them; a field with a default may be left out.
    A key is a bookmark with a duration (`Keyframe`) or a seed (`SeedKey`).

    This dataclass is also what the JSON Schema in docs/schemas is generated from (`documents.schemas`)."""

    schema: int = SCHEMA_VERSION
    network: str | None = None
    fps: float = 30.0
    interp: Interpolation = "cubic"
    loop: bool = False
    noise_mode: NoiseMode = "const"
    keyframes: tuple[Keyframe | SeedKey, ...] = field(default=(), metadata={"required": True})


def _old_format(data: dict) -> dict:
    """A `format` / `version` file (the convention before timelines used `schema` like requests and sessions):
    version 2 is schema 3 but for those two names; version 1 is returned for `_from_v1`."""
    if data.get("format") != OLD_FORMAT:
        raise SG3Error(f"not a timeline ('format' must be {OLD_FORMAT!r} in a 'format' / 'version' file)")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise SG3Error("timeline has no valid 'version'")
    if version not in OLD_VERSIONS:
        newer = " (written by a newer sg3-explorer?)" if version > max(OLD_VERSIONS) else ""
        raise SG3Error(f"timeline version {version} is not supported{newer}: this program reads versions "
                       f"{', '.join(map(str, OLD_VERSIONS))} and schema {SCHEMA_VERSION}")
    if version == 1:
        return data
    rest = {k: v for k, v in data.items() if k not in ("format", "version")}
    return {"schema": SCHEMA_VERSION, **rest}


def _read_current(data: dict, network: str | None) -> Timeline:
    """A schema-3 object (defaults filled in, seed keys expanded) with every problem listed at once."""
    from stylegan3.documents.request import upgrade_plain

    problems: list[str] = []
    raws = data.get("keyframes")
    if "keyframes" not in data:
        problems.append("keyframes: missing (a list of keys such as {\"seed\": 5, \"duration\": 2})")
    elif not isinstance(raws, list):
        problems.append(f"keyframes: expected a list, got {type(raws).__name__}")
    try:
        doc = jsoncodec.from_plain_all(TimelineFile, dict(data, keyframes=[]), defaults=True)
    except jsoncodec.CodecProblems as exc:
        problems += exc.problems
        doc = None
    source = (doc.network if doc is not None else None) or network or "demo"
    keys: list[Keyframe] = []
    for i, raw in enumerate(raws if isinstance(raws, list) else ()):
        path = f"keyframes[{i}]"
        try:
            if isinstance(raw, dict) and "seed" in raw and "bookmark" not in raw:
                k = jsoncodec.from_plain_all(SeedKey, raw, path, defaults=True)
                keys.append(Keyframe.of_seed(k.seed, k.psi, duration=k.duration, label=k.name, network=source))
            else:
                if isinstance(raw, dict) and isinstance(raw.get("bookmark"), dict) and "request" in raw["bookmark"]:
                    raw = dict(raw, bookmark=dict(raw["bookmark"], request=upgrade_plain(raw["bookmark"]["request"])))
                keys.append(jsoncodec.from_plain_all(Keyframe, raw, path, defaults=True))
        except jsoncodec.CodecProblems as exc:
            problems += exc.problems
    problems += _value_problems(data, raws if isinstance(raws, list) else [])
    if doc is not None and not problems:
        timeline = Timeline(keyframes=keys, interp=doc.interp, loop=doc.loop, fps=doc.fps,
                            noise_mode=doc.noise_mode, network=doc.network)
        problems += timeline.problems()
        if not problems:
            return timeline
    raise jsoncodec.CodecProblems(problems)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _value_problems(data: dict, raws: list) -> list[str]:
    """The range checks of `Timeline.problems` on the raw values that have the right type, so that a file with
    a misspelt field also hears about its zero fps and negative durations in the same run."""
    out = []
    fps = data.get("fps", 30.0)
    if _number(fps) and not (math.isfinite(fps) and 0 < fps <= 1000):
        out.append(f"fps: {fps} outside (0, 1000]")
    if "keyframes" in data and isinstance(data["keyframes"], list) and not raws:
        out.append("the timeline has no keyframes")
    for i, raw in enumerate(raws):
        duration = raw.get("duration", 2.0) if isinstance(raw, dict) else 2.0
        if _number(duration) and not (math.isfinite(duration) and duration > 0):
            out.append(f"keyframes[{i}].duration: must be a positive number of seconds")
    return out


class NeedsNetwork(SG3Error):
    """A version-1 file that converts only with the network's number of ws (open it again with `num_ws`)."""


# -- version 1 -----------------------------------------------------------------------------------------------------

_NAMED_RANGES = ("coarse", "middle", "fine")


def _from_v1(data: dict, base: str | Path | None, num_ws: int | None, default_network: str | None) -> Timeline:
    """A version-1 timeline as bookmarks: a seed key becomes a request at that seed with its psi, an explicit-ws
    key a request whose explicit W+ latent is those ws (pinned to seed 0, where it was shown), moves become the
    request's by-value moves read from the direction file, so every key resolves to the same ws as before."""
    try:
        network = data.get("network")
        source = str(network) if network else (default_network or "demo")
        noise_mode = str(data.get("noise_mode", "const"))
        raws = list(data["keyframes"])
        directions = _v1_directions(data, base) if any(r.get("moves") for r in raws) else None
        keys = [_v1_keyframe(raw, i, source, noise_mode, directions, num_ws) for i, raw in enumerate(raws)]
        return Timeline(keyframes=keys, interp=str(data.get("interp", "cubic")), loop=bool(data.get("loop", False)),
                        fps=float(data.get("fps", 30.0)), noise_mode=noise_mode,
                        network=None if network is None else str(network))
    except SG3Error:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SG3Error(f"malformed timeline ({type(exc).__name__}: {exc})") from None


def _v1_directions(data: dict, base: str | Path | None):
    from stylegan3.explore.directions import load_directions

    name = data.get("directions")
    if not name:
        raise SG3Error("a keyframe moves along directions but the timeline names no direction file")
    path = Path(name)
    return load_directions(path if path.is_absolute() or base is None else Path(base) / path)


def _v1_keyframe(raw: dict, i: int, source: str, noise_mode: str, directions, num_ws: int | None) -> Keyframe:
    from stylegan3.documents.request import ExplicitLatent, RequestError
    from stylegan3.explore.directions import DirectionMove, request_moves, ws_range

    translate = tuple(float(v) for v in raw.get("translate", (0.0, 0.0)))
    if len(translate) != 2:
        raise SG3Error("malformed timeline: translate needs two numbers")
    seed, w = raw.get("seed", 0), raw.get("w")
    if (seed is None) == (w is None):
        raise SG3Error(f"keyframe {i}: give either a seed or explicit ws, not {'both' if w else 'neither'}")
    psi, rotate = float(raw.get("psi", 1.0)), float(raw.get("rotate", 0.0))
    if not all(math.isfinite(v) for v in (psi, rotate, *translate)):
        raise SG3Error(f"keyframe {i}: psi, translate and rotate must be finite numbers")
    moves = []
    for m in raw.get("moves", ()):
        name = str(m.get("ws", "all"))
        if name.strip().lower() == "all":
            layers = None
        elif name.strip().lower() in _NAMED_RANGES and num_ws is None:
            raise NeedsNetwork(f"keyframe {i}: a version-1 move on the {name!r} ws needs the network's number of ws "
                           "to convert (open it with a network loaded)")
        else:
            layers = ws_range(name, num_ws if num_ws is not None else 1 << 20)
        moves.append(DirectionMove(int(m["index"]), float(m["amount"]), layers))
    label = str(raw.get("label", ""))
    try:
        request = RenderRequest(network=NetworkRef(source), noise=Noise(noise_mode),
                                transform=Transform(translate, rotate),
                                moves=request_moves(directions, moves) if moves else ())
        if w is None:
            request = request.replace(latent=Latent(float(int(seed))), truncation=Truncation(psi))
            name = label or f"seed {int(seed)}"
        else:
            rows = tuple(tuple(float(v) for v in row) for row in w)
            request = request.replace(explicit=ExplicitLatent(rows, label))
            name = label or f"ws {i}"
    except RequestError as exc:
        raise SG3Error(f"malformed timeline: keyframe {i}: {exc}") from None
    return Keyframe(Bookmark(name, request), float(raw.get("duration", 2.0)))


# -- files ---------------------------------------------------------------------------------------------------------


def save_timeline(path: str | Path, timeline: Timeline) -> Path:
    path = Path(path)
    try:
        path.write_text(json.dumps(timeline.to_dict(), indent=1, allow_nan=False) + "\n")
    except OSError as exc:
        raise SG3Error(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path


_MAX_FILE_BYTES = 256 << 20


def _read_document(path: Path) -> Any:
    """The timeline object of a timeline file, or the `"timeline"` object inside a session file."""
    if not path.is_file():
        raise SG3Error(f"{path}: no such timeline / session file")
    if path.stat().st_size > _MAX_FILE_BYTES:
        raise SG3Error(f"{path}: too large for a timeline ({path.stat().st_size >> 20} MiB)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SG3Error(f"{path}: not a JSON timeline ({type(exc).__name__})") from None
    if isinstance(data, dict) and "timeline" in data and "keyframes" not in data:
        data = data["timeline"]
        if data is None:
            raise SG3Error(f"{path}: the session holds no timeline")
    return data


def timeline_network(path: str | Path) -> str | None:
    """The network a timeline file names (so a caller can load it before converting a version-1 file)."""
    data = _read_document(Path(path))
    network = data.get("network") if isinstance(data, dict) else None
    return network if isinstance(network, str) and network else None


def load_timeline(path: str | Path, num_ws: int | None = None, network: str | None = None) -> Timeline:
    """Read a timeline file, or the `"timeline"` object inside a session file (`num_ws`, `network`: see
    `Timeline.from_dict`, for version-1 files)."""
    path = Path(path)
    data = _read_document(path)
    try:
        return Timeline.from_dict(data, base=path.parent, num_ws=num_ws, network=network)
    except NeedsNetwork as exc:
        raise NeedsNetwork(f"{path}: {exc}") from None
    except SG3Error as exc:
        raise SG3Error(f"{path}: {exc}") from None


