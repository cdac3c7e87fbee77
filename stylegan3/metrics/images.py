"""Reading a folder of real images as tensors of one size, to set a network beside its training data.

Images are centre-cropped to a square (a resize alone would stretch textures and shift their
spectrum) and resized with a Lanczos filter, then scaled to [-1, 1] like a generator's output.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from stylegan3.errors import SG3Error

__all__ = ["IMAGE_SUFFIXES", "list_images", "load_image", "iter_image_folder"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def list_images(folder: str | Path, max_images: int | None = None) -> list[Path]:
    """Image files directly in ``folder`` or below it, sorted so runs are repeatable."""
    root = Path(folder)
    if not root.is_dir():
        raise SG3Error(f"{root}: not a folder")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SG3Error(f"{root}: no images ({', '.join(IMAGE_SUFFIXES)}) found")
    return files[:max_images] if max_images else files


def load_image(path: str | Path, size: int) -> torch.Tensor:
    """One image as ``[1, 3, size, size]`` float32 in [-1, 1] (centre square crop, Lanczos resize)."""
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            s = min(w, h)
            left, top = (w - s) // 2, (h - s) // 2
            im = im.crop((left, top, left + s, top + s))
            if s != size:
                im = im.resize((size, size), Image.LANCZOS)
            arr = np.asarray(im, dtype=np.float32)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise SG3Error(f"{path}: cannot read image ({exc})") from exc
    return torch.from_numpy(arr / 127.5 - 1).permute(2, 0, 1)[None].contiguous()


def iter_image_folder(folder: str | Path, size: int, max_images: int | None = None) -> Iterator[torch.Tensor]:
    """Yield the folder's images one at a time as ``[1, 3, size, size]`` tensors."""
    for path in list_images(folder, max_images):
        yield load_image(path, size)
