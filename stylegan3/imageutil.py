"""Converting generator outputs ([-1, 1] floats, NCHW) to displayable 8-bit images."""

from __future__ import annotations

import numpy as np
import torch


def to_uint8(img: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] in [-1, 1] -> [N, H, W, C] uint8 on the same device (no host copy)."""
    return (img * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)


def to_numpy_rgb(img: torch.Tensor) -> np.ndarray:
    """First image of a batch as an HxWx3 uint8 array (grey images repeated to RGB)."""
    arr = to_uint8(img[:1])[0].cpu().numpy()
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return arr[:, :, :3]
