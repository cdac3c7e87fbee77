"""Semantic directions in W: GANSpace-style PCA of sampled w, user directions, and `.npz` direction files.

A direction is a unit vector in W with a scale `sigma`: moving "2.5 sigma" along component k adds
`2.5 * sigma[k] * vector[k]` to the selected ws. For PCA components sigma is the standard deviation of the
sampled w along that component (Harkonen et al., GANSpace, 2020: PCA of the mapping network's output), so a
slider in sigma units means the same thing on every network. For a user direction (bookmark A -> B, or the
mean difference of two seed sets) sigma is the length of the difference, so +1 sigma walks exactly from A
to B.

Which ws a move applies to (`ws_range`): GANSpace's observation is that edits confined to the early ws
change pose and layout, the middle ones features, the late ones colour and texture. The split follows
StyleGAN's coarse (4-8 px), middle (16-32 px) and fine (64 px and up) styles of an 18-ws network, scaled to
the network's `num_ws`.

Files hold only arrays and a JSON metadata string and are read with `allow_pickle=False`: loading a
direction file never executes anything from it.
"""

from __future__ import annotations

import hashlib
import json
import math
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from stylegan3.documents.request import LatentMove
from stylegan3.errors import SG3Error

__all__ = [
    "Directions",
    "DirectionMove",
    "network_fingerprint",
    "check_network",
    "DirectionsMismatch",
    "sample_w",
    "pca_directions",
    "user_direction",
    "seed_set_direction",
    "ws_range",
    "RANGE_NAMES",
    "apply_moves",
    "save_directions",
    "load_directions",
    "parse_direction_spec",
    "default_samples",
    "cached_pca",
]

FILE_VERSION = 1
RANGE_NAMES = ("all", "coarse", "middle", "fine")
_MAX_SAMPLES = 10_000_000


@dataclass
class Directions:
    """Unit direction vectors `[K, w_dim]` with their sigma `[K]`, the mean w they were centred on, and where
    they came from (`kind`: 'pca' or 'user'; `source`: a human-readable origin; `network`: fingerprint)."""

    vectors: np.ndarray
    sigmas: np.ndarray
    mean: np.ndarray
    kind: str = "pca"
    network: str = ""
    source: str = ""
    samples: int = 0
    labels: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.vectors = np.asarray(self.vectors, dtype=np.float32)
        self.sigmas = np.asarray(self.sigmas, dtype=np.float32).reshape(-1)
        self.mean = np.asarray(self.mean, dtype=np.float32).reshape(-1)
        if self.vectors.ndim != 2 or self.vectors.shape[0] != self.sigmas.shape[0]:
            raise SG3Error(f"directions: {self.vectors.shape} vectors do not match {self.sigmas.shape} sigmas")
        if self.mean.shape[0] != self.vectors.shape[1]:
            raise SG3Error(f"directions: mean of size {self.mean.shape[0]} for vectors of size {self.w_dim}")
        if not self.labels:
            self.labels = [f"PC{i}" if self.kind == "pca" else f"dir{i}" for i in range(len(self))]

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def w_dim(self) -> int:
        return int(self.vectors.shape[1])


@dataclass(frozen=True)
class DirectionMove:
    """Move along component `index` by `amount` sigma, on the ws `layers` (None = all)."""

    index: int
    amount: float
    layers: tuple[int, ...] | None = None


def network_fingerprint(G: torch.nn.Module) -> str:
    """Short hash of a network's weights and buffers: direction files and caches name the network by it.

    Why weights and not the file name: the same network under another name (or converted to .safetensors)
    must find its directions, and a retrained file under the old name must not.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps([int(G.z_dim), int(G.w_dim), int(G.num_ws), int(G.img_resolution)]).encode())
    for name, tensor in sorted({**dict(G.named_parameters()), **dict(G.named_buffers())}.items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def default_samples(device: torch.device | str) -> int:
    """Enough samples for stable leading components: 100k on a GPU (GANSpace's 10^6 is overkill for sliders),
    20k on a CPU, where the mapping network costs about a millisecond per 100 samples of a 512-wide net."""
    return 100_000 if torch.device(device).type == "cuda" else 20_000


@torch.no_grad()
def sample_w(
    G: torch.nn.Module,
    samples: int,
    seed: int = 0,
    batch: int = 4096,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """`samples` ws `[samples, w_dim]` (float64, no truncation, first ws) from z drawn with `RandomState(seed)`."""
    from stylegan3.networks.device import device_of
    from stylegan3.networks.latents import class_vector

    if not 1 <= samples <= _MAX_SAMPLES:
        raise SG3Error(f"sample count {samples} outside 1..{_MAX_SAMPLES}")
    device = device_of(G)
    rng = np.random.RandomState(int(seed))
    out = np.empty([samples, int(G.w_dim)], dtype=np.float64)
    for start in range(0, samples, batch):
        n = min(batch, samples - start)
        z = torch.from_numpy(rng.randn(n, int(G.z_dim))).to(device=device, dtype=torch.float32)
        c = class_vector(int(G.c_dim), None, device, n)
        out[start : start + n] = G.mapping(z, c)[:, 0].double().cpu().numpy()
        if progress is not None:
            progress(start + n, samples)
    return out


def pca_directions(
    G: torch.nn.Module,
    samples: int = 20_000,
    components: int | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Directions:
    """Principal components of W (largest variance first), each with the standard deviation along it.

    The covariance is accumulated in float64 and decomposed with a symmetric eigensolver, so the components
    come out orthonormal to rounding even for nearly equal eigenvalues.
    """
    w = sample_w(G, samples, seed=seed, progress=progress)
    if samples < 2:
        raise SG3Error("PCA needs at least 2 samples")
    mean = w.mean(axis=0)
    centred = w - mean
    cov = centred.T @ centred / (samples - 1)
    variance, vectors = np.linalg.eigh(cov)  # ascending
    order = np.argsort(variance)[::-1]
    variance, vectors = np.clip(variance[order], 0.0, None), vectors[:, order].T
    k = min(int(components or G.w_dim), int(G.w_dim), samples - 1)
    if k < 1:
        raise SG3Error("PCA needs at least one component")
    # A component's sign is arbitrary; fix it (largest coordinate positive) so reruns give the same slider.
    signs = np.sign(vectors[np.arange(len(vectors)), np.abs(vectors).argmax(axis=1)])
    vectors = vectors * signs[:, None]
    return Directions(vectors=vectors[:k], sigmas=np.sqrt(variance[:k]), mean=mean, kind="pca",
                      network=network_fingerprint(G), source=f"PCA of {samples} w (seed {seed})", samples=samples)


def user_direction(w_from: np.ndarray | torch.Tensor, w_to: np.ndarray | torch.Tensor, network: str = "",
                   source: str = "", label: str = "") -> Directions:
    """One direction from w `w_from` to `w_to` (`[w_dim]`, or `[num_ws, w_dim]` averaged over ws); sigma is
    the distance, so +1 sigma goes exactly from one to the other."""
    a = _as_w(w_from)
    b = _as_w(w_to)
    if a.shape != b.shape:
        raise SG3Error(f"user direction: w of size {a.shape[0]} and {b.shape[0]}")
    diff = b - a
    norm = float(np.linalg.norm(diff))
    if not norm > 0:
        raise SG3Error("user direction: both ends are the same latent")
    return Directions(vectors=(diff / norm)[None], sigmas=np.array([norm]), mean=a, kind="user",
                      network=network, source=source or "A -> B", labels=[label or "A->B"])


def seed_set_direction(G: torch.nn.Module, seeds_a: Sequence[int], seeds_b: Sequence[int], psi: float = 1.0,
                       label: str = "") -> Directions:
    """Direction from the mean w of `seeds_a` to the mean w of `seeds_b` (e.g. seeds that look young vs old)."""
    from stylegan3.explore.interpolation import seed_ws

    if not seeds_a or not seeds_b:
        raise SG3Error("a seed-set direction needs seeds on both sides")
    wa = seed_ws(G, list(seeds_a), psi=psi)[:, 0].double().mean(dim=0)
    wb = seed_ws(G, list(seeds_b), psi=psi)[:, 0].double().mean(dim=0)
    source = f"mean w of seeds {_short(seeds_a)} -> {_short(seeds_b)}"
    return user_direction(wa, wb, network=network_fingerprint(G), source=source, label=label or "set A->B")


def _short(seeds: Sequence[int]) -> str:
    text = ",".join(str(s) for s in seeds[:6])
    return text + (",..." if len(seeds) > 6 else "")


def _as_w(w) -> np.ndarray:
    arr = w.detach().double().cpu().numpy() if isinstance(w, torch.Tensor) else np.asarray(w, dtype=np.float64)
    arr = arr.reshape(-1, arr.shape[-1]).mean(axis=0) if arr.ndim > 1 else arr
    return arr


def ws_range(name: str, num_ws: int) -> tuple[int, ...]:
    """ws indices of a named range: all, coarse, middle, fine, or a custom 'A-B' / 'A,B,C' (inclusive)."""
    text = str(name).strip().lower()
    coarse_end = max(1, round(num_ws * 4 / 18))
    middle_end = max(coarse_end + 1, round(num_ws * 8 / 18))
    named = {
        "all": range(num_ws),
        "coarse": range(0, coarse_end),
        "middle": range(coarse_end, min(middle_end, num_ws)),
        "fine": range(min(middle_end, num_ws), num_ws),
    }
    if text in named:
        return tuple(named[text])
    picked: set[int] = set()
    try:
        for part in text.split(","):
            lo, sep, hi = part.strip().partition("-")
            a = int(lo)
            b = int(hi) if sep else a
            if b < a:
                raise ValueError
            picked.update(range(a, b + 1))
    except ValueError:
        raise SG3Error(f"bad ws range {name!r}: use all, coarse, middle, fine, or e.g. 0-3,8") from None
    bad = [i for i in picked if not 0 <= i < num_ws]
    if bad:
        raise SG3Error(f"ws range {name!r} outside 0..{num_ws - 1} (the network has {num_ws} ws)")
    return tuple(sorted(picked))


def request_moves(directions: Directions, moves: Sequence[DirectionMove]) -> tuple[LatentMove, ...]:
    """Moves as the render request carries them: each with its unit vector by value and its strength in W
    units (amount x sigma), so whoever renders needs no direction file."""
    out = []
    for move in moves:
        if not 0 <= move.index < len(directions):
            raise SG3Error(f"direction {move.index} out of range "
                           f"(the file has {len(directions)}: 0..{len(directions) - 1})")
        if not math.isfinite(move.amount):
            raise SG3Error(f"direction {move.index}: amount must be a finite number")
        label = directions.labels[move.index] if move.index < len(directions.labels) else f"#{move.index}"
        out.append(LatentMove(tuple(directions.vectors[move.index].astype(np.float64).tolist()),
                              float(move.amount) * float(directions.sigmas[move.index]),
                              None if move.layers is None else tuple(int(i) for i in move.layers), str(label)))
    return tuple(out)


def apply_moves(ws: torch.Tensor, directions: Directions, moves: Sequence[DirectionMove]) -> torch.Tensor:
    """`ws` `[N, num_ws, w_dim]` with every move added (a new tensor; `ws` is left alone)."""
    from stylegan3.render.inputs import apply_moves as add_moves

    if not moves:
        return ws
    if directions.w_dim != ws.shape[-1]:
        raise SG3Error(f"directions are {directions.w_dim}-dimensional but the network's w has {ws.shape[-1]}")
    return add_moves(ws, request_moves(directions, moves))


# --- files ------------------------------------------------------------------------------------------------


def save_directions(path: str | Path, directions: Directions) -> Path:
    """Write a direction file (`.npz`: vectors, sigmas, mean, and a JSON metadata string)."""
    path = Path(path)
    meta = dict(format="sg3-explorer directions", version=FILE_VERSION, kind=directions.kind,
                network=directions.network, source=directions.source, samples=int(directions.samples),
                labels=list(directions.labels))
    if not path.parent.is_dir():
        raise SG3Error(f"output folder {path.parent} does not exist")
    tmp = path.with_name(f".{path.name}.partial")
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, vectors=directions.vectors, sigmas=directions.sigmas, mean=directions.mean,
                     meta=np.array(json.dumps(meta)))
        tmp.replace(path)
    except OSError as exc:
        raise SG3Error(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_directions(path: str | Path) -> Directions:
    """Read a direction file written by `save_directions`; anything else is a one-line `SG3Error`."""
    path = Path(path)
    if not path.is_file():
        raise SG3Error(f"{path}: no such direction file")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in ("vectors", "sigmas", "mean", "meta") if k not in data.files]
            if missing:
                raise SG3Error(f"{path}: not a direction file (missing {', '.join(missing)})")
            vectors, sigmas, mean = (np.asarray(data[k]) for k in ("vectors", "sigmas", "mean"))
            meta = json.loads(str(data["meta"]))
    except SG3Error:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise SG3Error(f"{path}: not a readable direction file ({type(exc).__name__})") from None
    if not isinstance(meta, dict) or meta.get("format") != "sg3-explorer directions":
        raise SG3Error(f"{path}: not a direction file (no sg3-explorer metadata)")
    if int(meta.get("version", 0)) > FILE_VERSION:
        raise SG3Error(f"{path}: direction file version {meta.get('version')} is newer than this program reads")
    for name, arr in (("vectors", vectors), ("sigmas", sigmas), ("mean", mean)):
        if arr.dtype.kind not in "fi" or not np.all(np.isfinite(arr)):
            raise SG3Error(f"{path}: {name} must be finite numbers")
    labels = meta.get("labels") or []
    try:
        d = Directions(vectors=vectors, sigmas=sigmas, mean=mean, kind=str(meta.get("kind", "pca")),
                       network=str(meta.get("network", "")), source=str(meta.get("source", "")),
                       samples=int(meta.get("samples", 0)), labels=[str(v) for v in labels][: len(sigmas)])
    except SG3Error as exc:
        raise SG3Error(f"{path}: {exc}") from None
    if len(d) == 0:
        raise SG3Error(f"{path}: the file holds no directions")
    return d


def check_network(directions: Directions, path: str | Path, w_dim: int, fingerprint: str | None,
                  force: bool = False) -> str:
    """Refuse (one-line SG3Error) a direction file that cannot or should not move this network's w: another
    w size always, another network (fingerprint) unless `force`. Returns the warning to show when forced.

    Why refuse and not warn: PCA directions of another network point nowhere in particular in this one's W, so
    the image changes in a way that looks like a result but means nothing; a warning scrolls by unread."""
    if directions.w_dim != int(w_dim):
        raise SG3Error(f"{path}: directions are {directions.w_dim}-dimensional but the network's w has {w_dim}")
    if not directions.network or fingerprint is None or directions.network == fingerprint:
        return ""
    message = f"{path}: made for another network (fingerprint {directions.network}; this network is {fingerprint})"
    if not force:
        raise DirectionsMismatch(message)
    return message


class DirectionsMismatch(SG3Error):
    """A direction file of another network (the caller says how to apply it anyway: `--force`, a button)."""


def parse_direction_spec(spec: str) -> tuple[str, int, float, str]:
    """`'dirs.npz:3=2.5'` or `'dirs.npz:3=2.5@coarse'` -> `(path, index, amount, ws_range_name)`."""
    path, sep, rest = str(spec).rpartition(":")
    move, _, layers = rest.partition("@")
    index, eq, amount = move.partition("=")
    try:
        if not sep or not path or not eq:
            raise ValueError
        idx, value = int(index), float(amount)
    except ValueError:
        raise SG3Error(f"bad --direction {spec!r}: expected FILE.npz:INDEX=SIGMAS[@all|coarse|middle|fine|A-B]") \
            from None
    if idx < 0 or not math.isfinite(value):
        raise SG3Error(f"bad --direction {spec!r}: index must be >= 0 and the amount a finite number")
    return path, idx, value, layers.strip() or "all"


def cached_pca(G: torch.nn.Module, samples: int, progress: Callable[[int, int], None] | None = None,
               seed: int = 0) -> Directions:
    """PCA directions for this network from our cache folder, computed and stored there the first time."""
    from stylegan3.loading.download import cache_dir

    path = cache_dir() / "directions" / f"{network_fingerprint(G)}-pca-{int(samples)}-s{int(seed)}.npz"
    if path.is_file():
        try:
            return load_directions(path)
        except SG3Error:
            pass  # a damaged cache entry is recomputed
    d = pca_directions(G, samples=samples, seed=seed, progress=progress)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_directions(path, d)
    except (OSError, SG3Error):
        pass  # a read-only cache only costs the recomputation next time
    return d
