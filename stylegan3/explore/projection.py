"""Projection: find the latent whose image matches a given picture, by gradient descent through synthesis.

The optimizer loop is a generator (`project`) that yields one `ProjectionStep` per step, so a caller shows
the reconstruction live, records a video of it, or stops it by simply no longer iterating (the GUI cancels a
job that way); nothing here knows about threads. Optimizing in W keeps one w for every layer (stays inside
what the mapping network produces, so edits along directions still behave); W+ gives each ws its own w and
reaches much closer reconstructions.

Losses are small objects with a `name` and a `description` (what the UI prints):
- `OfflineLoss` (the default, needs nothing downloaded): mean squared error of the image and of its
  horizontal and vertical differences, at every scale of an average-pooling pyramid. The pyramid weighs the
  coarse layout as much as fine detail, and the difference terms weigh edges; both are fixed functions of the
  pixels, independent of the generator.
- `PerceptualLoss`: LPIPS (Zhang et al. 2018, the `lpips` package: VGG16 features with learned weights) plus a
  pixel term. Its backbone weights are downloaded once into our cache folder (with a progress bar) by the
  first use with `loss="lpips"`; `loss="auto"` takes it only when the package imports and the weights are
  already there, so an offline machine never waits on the network.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from stylegan3.errors import SG3Error

__all__ = [
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "load_target",
    "target_from_image",
    "OfflineLoss",
    "PerceptualLoss",
    "perceptual_status",
    "check_perceptual",
    "make_loss",
    "LOSS_CHOICES",
    "ProjectionStep",
    "project",
    "psnr",
    "save_projection",
    "load_projection",
]

MAX_IMAGE_BYTES = 256 << 20  # a bigger file is not a photo someone wants projected
MAX_IMAGE_PIXELS = 20_000 * 20_000  # decoded size, checked from the header before decoding
LOSS_CHOICES = ("auto", "offline", "lpips")
SPACES = ("w", "w+")


# --- the target -----------------------------------------------------------------------------------------------


def load_target(path: str | Path, resolution: int, channels: int = 3) -> torch.Tensor:
    """An image file as a target `[1, channels, resolution, resolution]` in [-1, 1].

    Centre-cropped to a square and resized with a Lanczos filter; transparent pixels are composited onto
    white, grey images repeated to RGB (or RGB turned grey for a one-channel network). A missing, non-image,
    corrupt or absurdly large file is a one-line SG3Error naming the file.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise SG3Error(f"{path}: no such image file")
    size = path.stat().st_size
    if size > MAX_IMAGE_BYTES:
        raise SG3Error(f"{path}: {size >> 20} MiB is too large for an image to project (at most "
                       f"{MAX_IMAGE_BYTES >> 20} MiB)")
    try:
        with Image.open(path) as img:
            w, h = img.size
            if w * h > MAX_IMAGE_PIXELS:
                raise SG3Error(f"{path}: {w}x{h} pixels is too large to project (at most {MAX_IMAGE_PIXELS:,})")
            img.load()
            return target_from_image(img, resolution, channels)
    except SG3Error:
        raise
    except UnidentifiedImageError:
        raise SG3Error(f"{path}: not an image file (PNG, JPEG, ... expected)") from None
    except Image.DecompressionBombError:
        raise SG3Error(f"{path}: the image is too large to decode safely") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise SG3Error(f"{path}: the image is corrupt or truncated ({exc})") from None


def target_from_image(img, resolution: int, channels: int = 3) -> torch.Tensor:
    """A PIL image (any mode) or an HxW[xC] uint8 array as a target tensor (see `load_target`)."""
    from PIL import Image

    if not isinstance(img, Image.Image):
        img = Image.fromarray(np.asarray(img))
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    if img.mode.startswith("I;16"):  # 16-bit grey: full scale is 65535
        arr = np.asarray(img, dtype=np.float64)
        img = Image.fromarray(np.clip(arr / 257.0, 0, 255).round().astype(np.uint8))
    elif img.mode in ("I", "F"):  # no fixed full scale: stretch the image's own range
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        img = Image.fromarray(((arr - lo) / (hi - lo if hi > lo else 1.0) * 255).round().astype(np.uint8))
    img = img.convert("L" if channels == 1 else "RGB")
    w, h = img.size
    side = min(w, h)
    if side < 1:
        raise SG3Error("the image is empty")
    left, top = (w - side) // 2, (h - side) // 2
    img = img.crop((left, top, left + side, top + side))
    if side != resolution:
        img = img.resize((resolution, resolution), Image.LANCZOS)
    arr = np.asarray(img, dtype=np.float32).reshape(resolution, resolution, -1)
    if channels not in (1, 3):
        pad = np.zeros([resolution, resolution, max(channels - 3, 0)], np.float32)
        arr = np.concatenate([arr, pad], axis=2)[..., :channels]
    return torch.from_numpy(arr / 127.5 - 1.0).permute(2, 0, 1)[None].contiguous()


# --- losses -------------------------------------------------------------------------------------------------


class OfflineLoss:
    """Multi-scale pixel + gradient MSE (see the module docstring); needs no download."""

    name = "offline"
    description = "offline: multi-scale pixel + gradient MSE (no download)"

    def __init__(self, grad_weight: float = 1.0, min_size: int = 8) -> None:
        self.grad_weight = float(grad_weight)
        self.min_size = int(min_size)

    def __call__(self, img: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = img.new_zeros([])
        a, b = img, target
        while True:
            total = total + F.mse_loss(a, b)
            if self.grad_weight:
                total = total + self.grad_weight * (F.mse_loss(a.diff(dim=-1), b.diff(dim=-1))
                                                    + F.mse_loss(a.diff(dim=-2), b.diff(dim=-2)))
            if min(a.shape[-2:]) // 2 < self.min_size:
                return total
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)




def _hub_dir() -> Path:
    from stylegan3.loading.download import cache_dir

    return cache_dir() / "torch-hub"


def perceptual_status() -> tuple[bool, bool, str]:
    """(importable, weights already cached, reason when not usable) for the LPIPS loss, without downloading.

    A torchvision made for another torch is named from the package versions before anything is imported (its
    import fails with unrelated-looking errors); the reason carries the pip command that keeps the user's torch."""
    from stylegan3.explore import torch_pairing

    mismatch = torch_pairing.installed_problem()
    if mismatch is not None:
        return False, False, mismatch
    try:
        import lpips  # noqa: F401 - imports torchvision too
    except Exception as exc:  # noqa: BLE001 - a broken torchvision raises all sorts of errors on import
        first = (str(exc).strip().splitlines() or [""])[0]
        hint = torch_pairing.install_hint(torch_pairing.installed_versions()[0] or "")
        return False, False, f"the lpips package is not usable ({type(exc).__name__}: {first}); {hint}"
    checkpoints = _hub_dir() / "checkpoints"
    cached = checkpoints.is_dir() and any(p.name.startswith("vgg16") for p in checkpoints.iterdir())
    return True, cached, "" if cached else "its VGG16 weights are not downloaded yet (use loss 'lpips' once)"


def check_perceptual() -> None:
    """Raise the one-line SG3Error `--loss lpips` gives when lpips or a matching torchvision is missing; commands
    call it before any work, the loss again where it is built (a server checks its own install)."""
    importable, _, reason = perceptual_status()
    if not importable:
        raise SG3Error(f"perceptual loss unavailable: {reason}; or use the offline loss")


class PerceptualLoss:
    """LPIPS-VGG distance plus `pixel_weight` times the pixel MSE; weights downloaded once into our cache."""

    name = "lpips"
    description = "perceptual: LPIPS (VGG16) + pixel MSE"

    def __init__(self, pixel_weight: float = 1.0, device: torch.device | str = "cpu") -> None:
        check_perceptual()
        import lpips
        import torch.hub

        previous = torch.hub.get_dir()
        torch.hub.set_dir(str(_hub_dir()))  # torchvision downloads (with a progress bar) into our cache
        try:
            self.model = lpips.LPIPS(net="vgg", verbose=False).eval().requires_grad_(False).to(device)
        except Exception as exc:  # noqa: BLE001 - no network, a damaged download: say which and how to avoid it
            raise SG3Error(f"perceptual loss unavailable: could not get its weights ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else ''}); use the offline loss") from None
        finally:
            torch.hub.set_dir(previous)
        self.pixel_weight = float(pixel_weight)

    def __call__(self, img: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        a, b = img, target
        if a.shape[1] == 1:
            a, b = a.repeat(1, 3, 1, 1), b.repeat(1, 3, 1, 1)
        if a.shape[-1] > 256:  # LPIPS was calibrated on 64-256 px patches; larger images only cost time
            a, b = F.interpolate(a, size=256, mode="area"), F.interpolate(b, size=256, mode="area")
        return self.model(a[:, :3], b[:, :3]).mean() + self.pixel_weight * F.mse_loss(img, target)


def make_loss(kind: str = "auto", device: torch.device | str = "cpu"):
    """The loss for `kind`: 'offline', 'lpips' (downloads its weights if needed), or 'auto' (LPIPS when it is
    installed and its weights are cached, else offline). Returns `(loss, note)`; `note` says why auto chose
    the offline loss (empty otherwise)."""
    if kind not in LOSS_CHOICES:
        raise SG3Error(f"unknown loss {kind!r} (one of {', '.join(LOSS_CHOICES)})")
    if kind == "offline":
        return OfflineLoss(), ""
    if kind == "lpips":
        return PerceptualLoss(device=device), ""
    importable, cached, reason = perceptual_status()
    if importable and cached:
        try:
            return PerceptualLoss(device=device), ""
        except SG3Error as exc:
            return OfflineLoss(), str(exc)
    return OfflineLoss(), f"perceptual loss not used: {reason}"


# --- the optimizer loop ---------------------------------------------------------------------------------------


@dataclass
class ProjectionStep:
    """The state after `step` of `steps` updates: its ws `[1, num_ws, w_dim]`, image `[1, C, H, W]` (CPU tensors)
    and loss. The last step yielded (`step == steps`) is the result."""

    step: int
    steps: int
    loss: float
    ws: torch.Tensor
    image: torch.Tensor

    @property
    def done(self) -> bool:
        return self.step >= self.steps


def psnr(img: torch.Tensor, target: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB of images in [-1, 1] (peak = the full range; clipped like a PNG)."""
    a = ((img.detach().float().clamp(-1, 1) + 1) / 2).cpu()
    b = ((target.detach().float().clamp(-1, 1) + 1) / 2).cpu()
    mse = float(F.mse_loss(a, b))
    return float("inf") if mse == 0 else 10 * math.log10(1.0 / mse)


def project(
    G: torch.nn.Module,
    target: torch.Tensor,
    steps: int = 300,
    space: str = "w+",
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    lr: float = 0.05,
    init_samples: int = 2000,
    seed: int = 0,
) -> Iterator[ProjectionStep]:
    """Optimize a latent so that `G.synthesis` draws `target`; yields after every step (see `ProjectionStep`).

    Starts at the mean of `init_samples` sampled w (an untrained net's `w_avg` is zero, the sample mean is
    right for every net). Adam with a short warm-up and a cosine decay of the learning rate: the large early
    steps find the layout, the small late ones the detail. Noise inputs stay constant (not optimized).
    """
    from stylegan3.explore.directions import sample_w
    from stylegan3.networks.device import device_of

    if space not in SPACES:
        raise SG3Error(f"unknown latent space {space!r} (w or w+)")
    if not 1 <= int(steps) <= 100_000:
        raise SG3Error(f"steps {steps} outside 1..100000")
    if not (math.isfinite(lr) and lr > 0):
        raise SG3Error("learning rate must be a positive number")
    device = device_of(G)
    num_ws, res, channels = int(G.num_ws), int(G.img_resolution), int(G.img_channels)
    if tuple(target.shape) != (1, channels, res, res):
        raise SG3Error(f"target of shape {tuple(target.shape)}, the network draws {(1, channels, res, res)}")
    loss = loss or OfflineLoss()
    target = target.to(device=device, dtype=torch.float32)
    w_mean = torch.from_numpy(sample_w(G, init_samples, seed=seed).mean(axis=0)).to(device, torch.float32)
    # W+ is a shared w plus a per-ws offset. The offsets join in only for the second half: fitting the shared w
    # first lands in the basin W finds (so W+ ends at least as close as W), and the offsets then refine per layer
    # instead of wandering apart from the start.
    base = w_mean[None, None].clone().requires_grad_(True)
    delta = torch.zeros([1, num_ws, w_mean.shape[0]], device=device, requires_grad=space == "w+")
    leaves = [base, delta] if space == "w+" else [base]
    groups = [{"params": [leaf]} for leaf in leaves]
    opt = torch.optim.Adam(groups, lr=lr, betas=(0.9, 0.999))
    warmup = max(1, steps // 20)
    split = steps // 2 if space == "w+" else steps

    def current() -> torch.Tensor:
        return base.expand(1, num_ws, -1) + delta

    def snapshot(step: int, value: float, img: torch.Tensor) -> ProjectionStep:
        return ProjectionStep(step, steps, value, current().detach().clone().cpu(), img.detach().cpu())

    for step in range(steps):
        rate = lr * min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * step / steps))
        opt.param_groups[0]["lr"] = rate
        if space == "w+":
            opt.param_groups[1]["lr"] = rate if step >= split else 0.0
        img = G.synthesis(current(), noise_mode="const", force_fp32=True)
        value = loss(img, target)
        yield snapshot(step, float(value.detach()), img)
        # Gradients of the latent only: the network's parameters get none (nothing of G is written, even when a
        # caller's G still requires grad), so a backend can project with the network it renders with.
        opt.zero_grad(set_to_none=True)
        for leaf, grad in zip(leaves, torch.autograd.grad(value, leaves), strict=True):
            leaf.grad = grad
        opt.step()
    with torch.no_grad():
        img = G.synthesis(current(), noise_mode="const", force_fp32=True)
        value = loss(img, target)
    yield snapshot(steps, float(value), img)


# --- result file --------------------------------------------------------------------------------------------


def save_projection(path: str | Path, result: ProjectionStep, meta: dict) -> Path:
    """The projected latent as `.npz`: `ws` `[1, num_ws, w_dim]` float32 and a JSON `meta` string."""
    import json

    path = Path(path)
    meta = {"format": "sg3-explorer projection", "version": 1, "steps": result.steps, "loss": result.loss, **meta}
    try:
        with open(path, "wb") as fh:
            np.savez(fh, ws=result.ws.numpy().astype(np.float32), meta=np.array(json.dumps(meta)))
    except OSError as exc:
        raise SG3Error(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path


def load_projection(path: str | Path) -> tuple[np.ndarray, dict]:
    """`(ws [1, num_ws, w_dim], meta)` from a file written by `save_projection` (no pickles are read)."""
    import json
    import zipfile

    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            ws = np.asarray(data["ws"], dtype=np.float32)
            meta = json.loads(str(data["meta"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        raise SG3Error(f"{path}: not a projection file ({type(exc).__name__})") from None
    if ws.ndim != 3 or ws.shape[0] != 1 or not np.all(np.isfinite(ws)):
        raise SG3Error(f"{path}: ws of shape {ws.shape}, expected [1, num_ws, w_dim] of finite numbers")
    return ws, meta
