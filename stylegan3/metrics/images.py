"""Reading real images: a folder resized to a network's size, or a dataset (folder or zip) at its own size.

For `spectra --images` without `--paper`, images are centre-cropped to a square (a resize alone would
stretch textures and shift their spectrum) and resized with a Lanczos filter, then scaled to [-1, 1] like
a generator's output.
`DatasetImages` reads a training set as stored (uint8, no resizing) for the dataset statistics and the
paper's spectrum estimator (`stylegan3.metrics.paper_spectrum`).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from stylegan3.errors import SG3Error

__all__ = ["IMAGE_SUFFIXES", "DATASET_SUFFIXES", "DatasetImages", "list_images", "load_image", "iter_image_folder"]

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


DATASET_SUFFIXES = (".png", ".jpg", ".jpeg")


class DatasetImages:
    """A training set as people keep it (a folder or a zip of PNG / JPEG files), read at its own size as uint8.

    Why not `load_image`: a dataset's spectrum and pixel statistics must be those of the stored pixels, so
    nothing is cropped, resized or scaled, and every image must have the size of the first. Files are taken
    in the sorted order of their paths inside the folder or zip (repeatable on every machine and in every
    process of a torchrun launch). ``max_images`` picks a seeded random subset, as the paper's tooling does:
    ``RandomState(seed)`` shuffles the indices and the first ``max_images`` are kept, in sorted order.
    Grayscale files stay one channel (that is how the paper's dataset loader reads them); others become RGB.
    """

    def __init__(self, source: str | Path, max_images: int | None = None, seed: int = 0) -> None:
        self.source = Path(source)
        self._zip: zipfile.ZipFile | None = None
        if self.source.is_dir():
            names = sorted(p.relative_to(self.source).as_posix() for p in self.source.rglob("*")
                           if p.is_file() and p.suffix.lower() in DATASET_SUFFIXES)
        elif self.source.is_file() and zipfile.is_zipfile(self.source):
            with zipfile.ZipFile(self.source) as zf:
                names = sorted(n for n in zf.namelist() if Path(n).suffix.lower() in DATASET_SUFFIXES)
        else:
            raise SG3Error(f"{self.source}: not a folder or a zip file of images")
        if not names:
            raise SG3Error(f"{self.source}: no images ({', '.join(DATASET_SUFFIXES)}) found")
        if max_images is not None:
            if max_images < 1:
                raise SG3Error("--max-images must be at least 1")
            if max_images < len(names):
                order = np.arange(len(names))
                np.random.RandomState(int(seed) % (1 << 32)).shuffle(order)
                names = [names[i] for i in np.sort(order[:max_images])]
        self.names = names
        self._shape: tuple[int, ...] | None = None

    def __len__(self) -> int:
        return len(self.names)

    def _open(self, name: str):
        if not self.source.is_dir():
            if self._zip is None:
                self._zip = zipfile.ZipFile(self.source)
            return self._zip.open(name)
        return open(self.source / name, "rb")

    def read(self, index: int) -> torch.Tensor:
        """Image ``index`` as uint8 ``[1, C, H, W]`` (C = 1 or 3); an error naming the file if its size differs."""
        name = self.names[index]
        try:
            with self._open(name) as f, Image.open(f) as im:
                im = im if im.mode == "L" else im.convert("RGB")
                arr = np.asarray(im, dtype=np.uint8)
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError, KeyError) as exc:
            raise SG3Error(f"{self.source}: cannot read {name} ({exc})") from exc
        arr = arr[:, :, None] if arr.ndim == 2 else arr
        if self._shape is None:
            self._shape = arr.shape[:2]
        elif arr.shape[:2] != self._shape:
            raise SG3Error(f"{self.source}: {name} is {arr.shape[1]}x{arr.shape[0]}, the first image "
                           f"{self._shape[1]}x{self._shape[0]}: all images must share one size")
        return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None]

    def size(self) -> int:
        """The side of the (square) images, from the first one; an error for non-square images."""
        h, w = self.read(0).shape[2:]
        if h != w:
            raise SG3Error(f"{self.source}: images are {w}x{h}; spectra as the paper computes them need square images")
        return int(h)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None
