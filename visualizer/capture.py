"""Saving images: the generated image at full resolution and screenshots of the whole window.

File names say what was rendered (seed, psi) and never overwrite an earlier capture.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from stylegan3.documents.request import RenderRequest


def capture_name(kind: str, request: RenderRequest | None, network: str = "") -> str:
    """Base name without counter or extension, e.g. 'image_sg3t_seed42_psi0.70'."""
    parts = [kind]
    if network:
        stem = Path(network.split("?")[0]).stem or network
        parts.append("".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in stem)[:40])
    if request is not None:
        x, y = request.latent.x, request.latent.y
        parts.append(f"seed{x:g}" if y == 0 else f"seed{x:g}_{y:g}")
        parts.append(f"psi{request.truncation.psi:.2f}")
    return "_".join(parts)


def next_free_path(folder: Path, base: str, ext: str = ".png") -> Path:
    """folder/base_0000.png, _0001, ...: the first that does not exist yet."""
    for i in range(100000):
        p = folder / f"{base}_{i:04d}{ext}"
        if not p.exists():
            return p
    raise OSError(f"too many captures named {base} in {folder}")


def save_png(pixels: np.ndarray, folder: str | Path, base: str) -> Path:
    """Write an HxWx3 (or HxWx4) uint8 array as PNG into `folder` (created); returns the path."""
    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    path = next_free_path(folder, base)
    Image.fromarray(np.ascontiguousarray(pixels)).save(path)
    return path
