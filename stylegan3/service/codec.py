"""Frames on the wire: raw pixels, PNG (lossless) or JPEG (a quality setting), with bounded decoding."""

from __future__ import annotations

import io
import time

import numpy as np

from stylegan3.errors import SG3Error

FORMATS = ("raw", "png", "jpeg")
MAX_SIDE = 8192  # no published network is larger; a reply claiming more is refused before allocating
PNG_LEVEL = 1  # zlib level 1: most of PNG's size saving at a fraction of its default time


class FrameCodecError(SG3Error):
    pass


def check_format(fmt: str, quality: int) -> None:
    if fmt not in FORMATS:
        raise FrameCodecError(f"unknown frame format {fmt!r} (expected one of {', '.join(FORMATS)})")
    if not 1 <= int(quality) <= 100:
        raise FrameCodecError(f"JPEG quality {quality} outside 1..100")


def encode(image: np.ndarray, fmt: str = "raw", quality: int = 90) -> tuple[bytes | memoryview, float]:
    """(payload, encode ms). Raw is the array's own memory (no copy)."""
    check_format(fmt, quality)
    t0 = time.perf_counter()
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if fmt == "raw":
        payload: bytes | memoryview = memoryview(image).cast("B")
    else:
        from PIL import Image

        buf = io.BytesIO()
        if fmt == "png":
            Image.fromarray(image).save(buf, format="PNG", compress_level=PNG_LEVEL)
        else:
            # 4:4:4 chroma from q95 (the analysis views have colour detail at pixel scale); 4:2:0 below,
            # which halves encode and decode time
            subsampling = 0 if quality >= 95 else 2
            Image.fromarray(image).save(buf, format="JPEG", quality=int(quality), subsampling=subsampling)
        payload = buf.getvalue()
    return payload, (time.perf_counter() - t0) * 1000.0


def decode(payload: bytes | memoryview, fmt: str, shape: tuple[int, int, int]) -> tuple[np.ndarray, float]:
    """(HxWx3 uint8, decode ms); a payload that does not match its declared shape is refused."""
    h, w, c = (int(v) for v in shape)
    if not (0 < h <= MAX_SIDE and 0 < w <= MAX_SIDE and c == 3):
        raise FrameCodecError(f"frame of shape {shape} refused (at most {MAX_SIDE} px a side, 3 channels)")
    t0 = time.perf_counter()
    if fmt == "raw":
        if len(payload) != h * w * c:
            raise FrameCodecError(f"raw frame has {len(payload)} bytes, {h}x{w}x{c} needs {h * w * c}")
        image = np.frombuffer(payload, dtype=np.uint8).reshape(h, w, c)
    elif fmt in ("png", "jpeg"):
        from PIL import Image

        try:
            with Image.open(io.BytesIO(bytes(payload)), formats=[fmt.upper()]) as im:
                if im.size != (w, h):
                    raise FrameCodecError(f"{fmt} frame is {im.size[0]}x{im.size[1]}, expected {w}x{h}")
                image = np.asarray(im if im.mode == "RGB" else im.convert("RGB"))
        except FrameCodecError:
            raise
        except Exception as exc:  # noqa: BLE001 - PIL raises many types for bad data
            raise FrameCodecError(f"{fmt} frame could not be decoded ({type(exc).__name__})") from None
    else:
        raise FrameCodecError(f"unknown frame format {fmt!r}")
    return image, (time.perf_counter() - t0) * 1000.0
