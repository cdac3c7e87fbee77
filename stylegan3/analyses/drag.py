"""Drag to edit as an analysis: `explore.drag.drag` runs next to the network and streams every step back.

The start is the request's latent (the image the user clicked on: seed, truncation, explicit latent, moves)
and, for StyleGAN3, its input transform. The handle / target pairs travel as params; the mask as the
attachment: a PNG (mode L, the network's resolution; white = may change), checked from its header before any
pixel is decoded. A mask that is white everywhere is no mask (`encode_mask(None)`), so every drag request has
the same shape.

Each step goes back as a partial result: the 8-bit frame the window shows, the tracked points, the losses and
the ws; the last one, with the float image, is the result. Only the latent is optimized: the network is never
modified.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from stylegan3.analyses.params import check_range
from stylegan3.documents.request import RenderRequest
from stylegan3.errors import SG3Error
from stylegan3.networks.info import NetworkInfo

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PAIRS = 64
MAX_SIDE = 8192


@dataclass(frozen=True)
class DragParams:
    """`explore.drag.drag`'s arguments: pairs `(x, y, target x, target y)` in image pixels, the step budget,
    Adam's learning rate, how many leading ws move (DragGAN: 6), the radii (0: DragGAN's, scaled to the
    resolution), the mask term's weight and the distance at which a handle has arrived."""

    points: tuple[tuple[float, float, float, float], ...] = ()
    steps: int = 200
    lr: float = 0.002
    layers: int = 6
    patch_radius: float = 0.0
    track_radius: int = 0
    mask_weight: float = 10.0
    reached: float = 1.0

    def __post_init__(self) -> None:
        check_range("number of point pairs", len(self.points), 0, MAX_PAIRS)  # none: refused by the drag
        check_range("steps", self.steps, 1, 100_000)
        check_range("lr", self.lr, 1e-8, 10.0)
        check_range("layers", self.layers, 1, 10_000)
        check_range("patch_radius", self.patch_radius, 0.0, 256.0)
        check_range("track_radius", self.track_radius, 0, 256)
        check_range("mask_weight", self.mask_weight, 0.0, 1e6)
        check_range("reached", self.reached, 0.0, 1e4)


def encode_mask(mask: np.ndarray | None, resolution: int) -> bytes:
    """The attachment of a `drag` request: the mask (HxW, nonzero = may change) as a 1-channel PNG; None is a
    white image (everything may change)."""
    from PIL import Image

    if mask is None:
        levels = np.full([resolution, resolution], 255, dtype=np.uint8)
    else:
        arr = np.asarray(mask)
        if arr.shape != (resolution, resolution):
            raise SG3Error(
                f"mask of {arr.shape[-1] if arr.ndim else 0}x{arr.shape[0] if arr.ndim else 0} pixels, "
                f"the network draws {resolution}x{resolution}"
            )
        levels = np.where(arr > 0, 255, 0).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(levels).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def decode_mask(data: bytes, resolution: int) -> np.ndarray:
    """The mask `[R, R]` float32 of 0 / 1 from an attachment; one-line SG3Error for anything but a grey PNG of
    the network's resolution (checked from the header)."""
    from PIL import Image

    if not bytes(data[:8]) == PNG_SIGNATURE:
        raise SG3Error("drag: the mask is not a PNG image")
    if not 1 <= resolution <= MAX_SIDE:
        raise SG3Error(f"drag: the network's resolution {resolution} is out of range")
    try:
        with Image.open(io.BytesIO(bytes(data)), formats=["PNG"]) as img:
            if img.size != (resolution, resolution):
                raise SG3Error(
                    f"drag: mask of {img.size[0]}x{img.size[1]} pixels, the network draws {resolution}x{resolution}"
                )
            if img.mode != "L":
                raise SG3Error(f"drag: mask in mode {img.mode}, expected L (grey)")
            img.load()
            return (np.asarray(img) > 127).astype(np.float32)
    except SG3Error:
        raise
    except Exception as exc:  # noqa: BLE001 - a corrupt or truncated PNG from a client: one line for it
        raise SG3Error(f"drag: the mask PNG is corrupt or truncated ({type(exc).__name__})") from None


def drag(
    G: torch.nn.Module,
    request: RenderRequest,
    info: NetworkInfo,
    progress,
    *,
    params: DragParams,
    emit,
    attachment: bytes,
) -> dict[str, Any]:
    """Run `explore.drag.drag` from the request's latent; emit every step (frame, points, losses, ws), return
    the last one with its float image, whether every handle arrived and the network's fingerprint."""
    from stylegan3.analyses.project import frame_of
    from stylegan3.explore.directions import network_fingerprint
    from stylegan3.explore.drag import drag as run_drag
    from stylegan3.networks.device import device_of
    from stylegan3.render.inputs import input_transform, request_ws

    if not info.capabilities.w_space:
        raise SG3Error(f"drag optimizes a latent in W+: {info.kind} has no W space")
    device = device_of(G)
    res = int(G.img_resolution)
    mask = decode_mask(attachment, res)
    ws = request_ws(G, request, device)
    transform = input_transform(request) if info.capabilities.input_transform else None
    handles = [(p[0], p[1]) for p in params.points]
    targets = [(p[2], p[3]) for p in params.points]
    progress(0, params.steps)
    last = None
    for step in run_drag(
        G,
        ws,
        handles,
        targets,
        mask=mask,
        steps=params.steps,
        lr=params.lr,
        layers=params.layers,
        patch_radius=params.patch_radius or None,
        track_radius=params.track_radius or None,
        mask_weight=params.mask_weight,
        reached=params.reached,
        transform=transform,
    ):
        last = step
        emit({**_step_fields(step), "frame": frame_of(step.image)})
        progress(step.step, params.steps)
    return {**_step_fields(last), "image": last.image.float().numpy(), "network": network_fingerprint(G)}


def _step_fields(step) -> dict:
    """What each streamed step and the final result say of a drag step (besides its picture)."""
    return {
        "step": step.step,
        "steps": step.steps,
        "loss": step.loss,
        "motion": step.motion,
        "points": [list(p) for p in step.points],
        "ws": step.ws.numpy().astype(np.float32),
        "reached": step.reached,
    }
