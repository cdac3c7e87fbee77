"""Projection of a target image as an analysis: the optimizer runs next to the network and streams every step.

The target travels as the request's attachment: a PNG of the target exactly as the optimizer sees it (centre
crop and Lanczos resize done by the caller, `encode_target`), at the network's resolution, so it is small
(a 1024² RGB PNG is at most ~3 MiB), lossless (the target tensor on the backend is the caller's bit for bit)
and checked before decoding (`decode_target`: signature, format, size, mode; a hostile or oversized file is a
one-line error). The loss is built on the backend's side (`make_loss`: LPIPS weights live where the GPU is).

Each step goes back as a partial result: the reconstruction as the 8-bit frame the window shows and a video
writes, its ws and its loss; the last one, with the full-precision image and the PSNR, is the result. Only a
latent is optimized: the network's parameters get no gradient and are never modified.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from stylegan3.analyses.params import check_range
from stylegan3.documents.request import RenderRequest
from stylegan3.errors import SG3Error
from stylegan3.networks.info import NetworkInfo

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_TARGET_SIDE = 8192


@dataclass(frozen=True)
class ProjectParams:
    """`explore.projection.project`'s arguments: steps, latent space, loss kind, learning rate, seed and number
    of w samples whose mean is the start."""

    steps: int = 300
    space: Literal["w", "w+"] = "w+"
    loss: Literal["auto", "offline", "lpips"] = "auto"
    lr: float = 0.05
    seed: int = 0
    init_samples: int = 2000

    def __post_init__(self) -> None:
        check_range("steps", self.steps, 1, 100_000)
        check_range("lr", self.lr, 1e-8, 10.0)
        check_range("seed", self.seed, 0, 2**32 - 1)
        check_range("init_samples", self.init_samples, 1, 1_000_000)


def target_uint8(target: np.ndarray | torch.Tensor, resolution: int, channels: int) -> np.ndarray:
    """The target as the optimizer will see it, HxWxK uint8 at `resolution` (K = 1 for grey networks, else 3):
    an image (HxW[xC] uint8, any size) is cropped and resized as `load_target` does; a `[1, C, R, R]` tensor
    in [-1, 1] from `load_target` is taken as it is (its values are 8-bit levels, so this is exact)."""
    from stylegan3.explore.projection import target_from_image

    if not isinstance(target, torch.Tensor):
        target = target_from_image(np.asarray(target), resolution, channels)
    if tuple(target.shape) != (1, channels, resolution, resolution):
        raise SG3Error(f"target of shape {tuple(target.shape)}, the network draws "
                       f"{(1, channels, resolution, resolution)}")
    levels = ((target.detach().float().cpu() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)[0]
    if channels == 1:
        return levels[0].numpy()
    rgb = torch.zeros([3, resolution, resolution], dtype=torch.uint8)
    rgb[: min(channels, 3)] = levels[:3]
    return rgb.permute(1, 2, 0).contiguous().numpy()


def encode_target(target: np.ndarray | torch.Tensor, resolution: int, channels: int) -> bytes:
    """The attachment of a `project` request: `target_uint8` as PNG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(target_uint8(target, resolution, channels)).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def decode_target(data: bytes, resolution: int, channels: int) -> torch.Tensor:
    """The target tensor `[1, channels, R, R]` from an attachment; one-line SG3Error for anything but a PNG of
    the network's resolution in grey or RGB (checked from the header, before any pixel is decoded)."""
    from PIL import Image

    from stylegan3.explore.projection import target_from_image

    if not bytes(data[:8]) == PNG_SIGNATURE:
        raise SG3Error("project: the target is not a PNG image")
    if not 1 <= resolution <= MAX_TARGET_SIDE:
        raise SG3Error(f"project: the network's resolution {resolution} is out of range")
    try:
        with Image.open(io.BytesIO(bytes(data)), formats=["PNG"]) as img:
            if img.size != (resolution, resolution):
                raise SG3Error(f"project: target of {img.size[0]}x{img.size[1]} pixels, the network draws "
                               f"{resolution}x{resolution}")
            if img.mode not in ("L", "RGB"):
                raise SG3Error(f"project: target in mode {img.mode}, expected L or RGB")
            img.load()
            return target_from_image(img, resolution, channels)
    except SG3Error:
        raise
    except Exception as exc:  # noqa: BLE001 - a corrupt or truncated PNG from a client: one line for it
        raise SG3Error(f"project: the target PNG is corrupt or truncated ({type(exc).__name__})") from None


def frame_of(image: torch.Tensor) -> np.ndarray:
    from stylegan3.render.images import to_numpy_rgb

    return to_numpy_rgb(image)


def project(G: torch.nn.Module, request: RenderRequest, info: NetworkInfo, progress, *, params: ProjectParams,
            emit, attachment: bytes) -> dict[str, Any]:
    """Run `explore.projection.project` on the target of `attachment`; emit every step (frame, ws, loss),
    return the last one with its float image, PSNR, loss and the network's fingerprint."""
    from stylegan3.explore.directions import network_fingerprint
    from stylegan3.explore.projection import make_loss, psnr
    from stylegan3.explore.projection import project as optimize
    from stylegan3.networks.device import device_of

    device = device_of(G)
    target = decode_target(attachment, int(G.img_resolution), int(G.img_channels))
    loss, note = make_loss(params.loss, device)
    total = params.steps + 1
    progress(0, total)
    last = None
    with torch.enable_grad():
        for step in optimize(G, target, steps=params.steps, space=params.space, loss=loss, lr=params.lr,
                             init_samples=params.init_samples, seed=params.seed):
            last = step
            emit({"step": step.step, "steps": step.steps, "loss": step.loss,
                  "ws": step.ws.numpy().astype(np.float32), "frame": frame_of(step.image)})
            progress(step.step + 1, total)
    quality = psnr(last.image, target.to(last.image.device))
    return {"step": last.step, "steps": last.steps, "loss": last.loss, "ws": last.ws.numpy().astype(np.float32),
            "image": last.image.float().numpy(), "psnr": quality if np.isfinite(quality) else None,
            "network": network_fingerprint(G), "loss_kind": loss.name, "loss_description": loss.description,
            "note": note}
