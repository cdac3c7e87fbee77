"""Converting generator outputs ([-1, 1] floats, NCHW) to displayable 8-bit images."""

from __future__ import annotations

import numpy as np
import torch


def to_uint8(img: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] in [-1, 1] -> [N, H, W, C] uint8 on the same device (no host copy)."""
    return (img.float() * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)


def to_rgb(img: torch.Tensor) -> torch.Tensor:
    """Exactly three channels: grey repeated, a missing third channel zero, extra channels dropped."""
    channels = img.shape[1]
    if channels == 1:
        return img.expand(-1, 3, -1, -1)
    if channels == 2:
        return torch.cat([img, torch.zeros_like(img[:, :1])], dim=1)
    return img[:, :3]


def to_rgb_uint8(img: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] -> [N, H, W, 3] uint8 on the same device, ready for a texture upload or a PNG."""
    return to_uint8(to_rgb(img)).contiguous()


def to_numpy_rgb(img: torch.Tensor) -> np.ndarray:
    """First image of a batch as an HxWx3 uint8 array."""
    return to_rgb_uint8(img[:1])[0].cpu().numpy()


VIDEO_BLOCK = 16  # H.264 encodes macroblocks of 16x16 pixels: other sizes get resized by the encoder


def pad_to_block(frame: np.ndarray, block: int = VIDEO_BLOCK) -> np.ndarray:
    """HxWxC frame zero-padded at the right and bottom to multiples of `block`, so a video encoder stores the
    pixels unscaled (every writer of a frame to mp4 pads the same way, so exported frames compare exactly)."""
    h, w = frame.shape[:2]
    ph, pw = -h % block, -w % block
    if ph or pw:
        frame = np.pad(frame, ((0, ph), (0, pw), (0, 0)))
    return frame
