"""The render request: everything that decides one frame, as typed, immutable, JSON-exact data.

One request travels unchanged from the GUI (or `render`, a comparison pane, a session file) to whichever
renderer owns the network: a thread of this process, a child process or a server on a GPU machine. So it
is plain data (no tensors, no module), every post-synthesis stage has its own typed settings (no free-form
dict), and `from_json(to_json(r)) == r` holds exactly (tuples stay tuples, floats keep every bit).

Conventions are those of the official viewer and of `stylegan3/render/views.py`: the seed plane position (x, y)
blends neighbouring seeds' z; rotate is in turns; the layer name "output" is the image itself. An explicit
latent (a projection, a timeline position) and direction moves travel by value, so whoever renders needs no
file of the client's. Schema 2 added those two sections; version-1 JSON is still read (`upgrade_plain`).

The window's state is a request too: panels edit its frozen sections (`RenderRequest.edit`), so the constants
below (noise modes, FFT windows, untransform views, the sections' defaults) are the only copy of them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Literal, get_args

from stylegan3.documents import jsoncodec
from stylegan3.documents.jsoncodec import CodecError

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)  # version 1 had no explicit latent and no direction moves
OUTPUT_LAYER = "output"
NoiseMode = Literal["const", "random", "none"]
Window = Literal["kaiser", "hann", "none"]
UntransformView = Literal["warped", "difference"]
NOISE_MODES: tuple[str, ...] = get_args(NoiseMode)
WINDOWS: tuple[str, ...] = get_args(Window)
UNTRANSFORM_VIEWS: tuple[str, ...] = get_args(UntransformView)


class RequestError(CodecError):
    """A request (or its JSON) is not valid; the message names the field."""


@dataclass(frozen=True)
class _Checked:
    def __post_init__(self) -> None:
        self._check()

    def _check(self, skip: tuple[str, ...] = ()) -> None:
        try:
            jsoncodec.check_fields(self, skip)
        except CodecError as exc:
            raise RequestError(str(exc)) from None


def _float_rows(w: object) -> bool:
    """True for a tuple of tuples of finite Python floats: checked at C speed (a W+ latent has ~10^4 values,
    and the timeline sets one every frame), where the generic field check would take tens of milliseconds."""
    return (type(w) is tuple and all(type(row) is tuple for row in w)
            and all(set(map(type, row)) <= {float} and all(map(math.isfinite, row)) for row in w))


@dataclass(frozen=True)
class NetworkRef(_Checked):
    """Which network: a path, URL, catalog name or demo name, and the pickle key to read."""

    source: str = "demo"
    key: str = "G_ema"


@dataclass(frozen=True)
class Latent(_Checked):
    """Position in the 2-D seed plane (integers are plain seeds) and the class of conditional nets."""

    x: float = 0.0
    y: float = 0.0
    class_idx: int = 0  # wraps around c_dim; ignored by unconditional nets

    @property
    def seed(self) -> int:
        return int(self.x // 1)


@dataclass(frozen=True)
class StyleMix(_Checked):
    """ws whose index is listed come from `seed`'s latent instead."""

    seed: int = 0
    ws: tuple[int, ...] = ()

    def limited_to(self, num_ws: int) -> StyleMix:
        """The mix on a network with `num_ws` ws: indices unique, sorted, those it does not have dropped."""
        return StyleMix(self.seed, tuple(sorted({i for i in self.ws if 0 <= i < num_ws})))


@dataclass(frozen=True)
class Truncation(_Checked):
    psi: float = 1.0
    cutoff: int | None = None  # truncate only the first `cutoff` ws; None = all


@dataclass(frozen=True)
class Noise(_Checked):
    mode: NoiseMode = "const"
    seed: int = 0  # random noise is reproducible: drawn from a generator seeded with this


@dataclass(frozen=True)
class Transform(_Checked):
    """The user's image transform of an SG3 net: translate in image widths, rotate in turns."""

    translate: tuple[float, float] = (0.0, 0.0)
    rotate: float = 0.0

    @property
    def is_identity(self) -> bool:
        return not (self.translate[0] or self.translate[1] or self.rotate)


@dataclass(frozen=True)
class LayerView(_Checked):
    """Show a synthesis layer instead of the image: `layer` None = the image, "output" = the image as a layer."""

    layer: str | None = None
    channel: int | None = None  # None = first three channels as RGB
    normalize: bool = False
    gain_db: float = 0.0


@dataclass(frozen=True)
class FFTView(_Checked):
    """The shown layer's power spectrum with cutoff / stopband / Nyquist rings (needs a layer)."""

    enabled: bool = False
    window: Window = "kaiser"
    range_db: float = 80.0


@dataclass(frozen=True)
class Untransform(_Checked):
    """Warp the transformed output back (a perfectly equivariant net shows a still image), or the residual."""

    enabled: bool = False
    view: UntransformView = "warped"
    diff_gain_db: float = 20.0


@dataclass(frozen=True)
class Synthesis(_Checked):
    force_fp32: bool = False
    cuda_graphs: bool = True


@dataclass(frozen=True)
class ExplicitLatent(_Checked):
    """A latent given by value instead of the seed's (a projection, a timeline position, a bookmark).

    `w` is W (one row, used for every ws) or W+ (one row per ws); None = no explicit latent. It applies only
    while the seed-plane position is still `at`, the one it was set at: moving to another seed leaves it,
    as in the GUI. psi and style mixing do not apply to it; direction moves do. Values are float64 copies of
    the float32 latent, so the JSON text gives back the same float32 bits.
    """

    w: tuple[tuple[float, ...], ...] | None = None
    label: str = ""
    at: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        self._check(("w",) if _float_rows(self.w) else ())
        if self.w is not None and (not self.w or len({len(row) for row in self.w}) != 1 or not self.w[0]):
            raise RequestError("ExplicitLatent.w: expected one or more rows of equal, non-zero length")

    @property
    def num_rows(self) -> int:
        return 0 if self.w is None else len(self.w)

    def applies_to(self, latent: Latent) -> bool:
        return self.w is not None and (float(latent.x), float(latent.y)) == tuple(self.at)


@dataclass(frozen=True)
class LatentMove(_Checked):
    """One move along a semantic direction, by value: ws[i] += strength * vector for i in `ws` (None = all).

    The unit vector travels with the request and `strength` is already in W units (sigmas x amount), so a
    remote renderer needs no direction file and gives the same bits as the window's own thread.
    """

    vector: tuple[float, ...] = ()
    strength: float = 0.0
    ws: tuple[int, ...] | None = None
    label: str = ""

    def __post_init__(self) -> None:
        self._check(("vector",) if _float_rows((self.vector,)) else ())


@dataclass(frozen=True)
class RenderRequest(_Checked):
    """One frame: network + latent + every stage's settings. Compare with `==`, hash, send as JSON."""

    schema: int = SCHEMA_VERSION
    network: NetworkRef = field(default_factory=NetworkRef)
    latent: Latent = field(default_factory=Latent)
    mix: StyleMix = field(default_factory=StyleMix)
    truncation: Truncation = field(default_factory=Truncation)
    noise: Noise = field(default_factory=Noise)
    transform: Transform = field(default_factory=Transform)
    layer: LayerView = field(default_factory=LayerView)
    fft: FFTView = field(default_factory=FFTView)
    untransform: Untransform = field(default_factory=Untransform)
    synthesis: Synthesis = field(default_factory=Synthesis)
    explicit: ExplicitLatent = field(default_factory=ExplicitLatent)
    moves: tuple[LatentMove, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.schema != SCHEMA_VERSION:
            raise RequestError(f"RenderRequest.schema: version {self.schema} is not supported "
                               f"(this program reads version {SCHEMA_VERSION})")

    def replace(self, **sections) -> RenderRequest:
        """A copy with whole sections replaced, e.g. `r.replace(transform=Transform(rotate=0.1))`."""
        return dataclasses.replace(self, **sections)

    def edit(self, section: str, **fields) -> RenderRequest:
        """A copy with fields of one (frozen) section changed, e.g. `r.edit("truncation", psi=0.7)`: how the
        window's panels change what is shown."""
        return self.replace(**{section: dataclasses.replace(getattr(self, section), **fields)})

    def with_seed(self, seed: int) -> RenderRequest:
        return self.edit("latent", x=float(seed), y=0.0)

    def for_frame(self) -> RenderRequest:
        """The request to send for one frame: the explicit latent travels only while it applies to the
        seed-plane position it was set at. A W+ latent is ~200 KiB of JSON, too much to send with every frame of
        another seed; the window keeps it in its own request, so going back to that position shows it again."""
        if self.explicit.w is None or self.explicit.applies_to(self.latent):
            return self
        return self.replace(explicit=ExplicitLatent())

    def latent_part(self) -> RenderRequest:
        """The request with what only changes the picture of the latent reset (noise, transform, layer / FFT /
        untransform views) and the explicit latent only while it applies: the key of anything measured on the
        latent itself (the live equivariance metrics). Sections are reset by name, so a section added later
        counts as part of the latent until said otherwise: a cache on this key recomputes too often rather than
        going stale, as one keyed on hand-picked fields did (it missed the explicit latent and the moves)."""
        return self.for_frame().replace(noise=Noise(), transform=Transform(), layer=LayerView(), fft=FFTView(),
                                        untransform=Untransform())


def to_dict(request: RenderRequest) -> dict:
    return jsoncodec.to_plain(request)


def upgrade_plain(data: object) -> object:
    """Parsed JSON of an older request brought to the current schema (other data is returned as it is).

    Version 1 -> 2 added `explicit` and `moves`; a version-1 request meant "none of either", so the
    defaults are filled in. A version-1 document that already has one of them is left alone to be refused.
    """
    if isinstance(data, dict) and data.get("schema") == 1 and "explicit" not in data and "moves" not in data:
        data = dict(data, schema=2, explicit=jsoncodec.to_plain(ExplicitLatent()), moves=[])
    return data


def from_dict(data: object) -> RenderRequest:
    """A request from parsed JSON (version 1 is upgraded); a newer or unknown version is named, not guessed at."""
    if isinstance(data, dict) and data.get("schema", SCHEMA_VERSION) not in READABLE_VERSIONS:
        raise RequestError(f"render request schema version {data.get('schema')!r} is not supported "
                           f"(this program reads versions {', '.join(map(str, READABLE_VERSIONS))})")
    data = upgrade_plain(data)
    try:
        return jsoncodec.from_plain(RenderRequest, data)
    except RequestError:
        raise
    except CodecError as exc:
        raise RequestError(str(exc)) from None


def to_json(request: RenderRequest, indent: int | None = None) -> str:
    return jsoncodec.dumps(request, indent=indent)


def from_json(text: str | bytes) -> RenderRequest:
    import json

    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(f"render request is not valid JSON ({exc})") from None
    return from_dict(data)
