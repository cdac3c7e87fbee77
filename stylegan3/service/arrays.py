"""Numeric arrays inside analysis results: JSON header + one binary frame, bounded, checked on arrival.

Why not JSON lists: a 1024² float64 spectrum is 8 MiB as bytes and ~20 MiB (and slow) as JSON text, and a
text round trip of a float is only exact with care. Here each array in a result is replaced by a small
descriptor `{"$array": [offset, nbytes], "dtype": ..., "shape": [...]}` pointing into one payload frame, which
the receiver checks against its declared dtype and shape before viewing it (a lying server cannot make the
client read out of bounds or allocate more than the frame holds).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from stylegan3.errors import SG3Error

DTYPES = ("uint8", "int64", "float32", "float64")
MAX_RESULT_BYTES = 128 * 1024 * 1024  # below the client socket's limit (protocol.MAX_REPLY_MESSAGE)
TAG = "$array"


class ArrayError(SG3Error):
    """A result's arrays do not fit the limits or do not match their descriptors."""


def pack(obj: Any, limit: int = MAX_RESULT_BYTES) -> tuple[Any, bytes | None]:
    """(JSON-ready data, payload or None): arrays moved into the payload, numpy scalars made plain."""
    chunks: list[bytes] = []
    size = [0]

    def walk(v: Any) -> Any:
        if isinstance(v, np.ndarray):
            if v.dtype.name not in DTYPES:
                v = v.astype(np.float64) if v.dtype.kind == "f" else v
                if v.dtype.name not in DTYPES:
                    raise ArrayError(f"cannot send an array of dtype {v.dtype} (allowed: {', '.join(DTYPES)})")
            data = np.ascontiguousarray(v).tobytes()
            desc = {TAG: [size[0], len(data)], "dtype": v.dtype.name, "shape": [int(s) for s in v.shape]}
            size[0] += len(data)
            if size[0] > limit:
                raise ArrayError(f"result too large ({size[0]} bytes of arrays, limit {limit}): ask for less")
            chunks.append(data)
            return desc
        if isinstance(v, dict):
            return {str(k): walk(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [walk(x) for x in v]
        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, float) and not math.isfinite(v):
            raise ArrayError(f"cannot send the non-finite number {v} as JSON")
        return v

    plain = walk(obj)
    return plain, (b"".join(chunks) if chunks else None)


def unpack(plain: Any, payload: bytes | memoryview | None) -> Any:
    """The inverse of `pack`: descriptors replaced by (copied, writable) arrays; ArrayError when one lies."""
    buf = memoryview(payload).cast("B") if payload is not None else memoryview(b"")

    def walk(v: Any) -> Any:
        if isinstance(v, dict) and TAG in v:
            return _array(v, buf)
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(plain)


def _array(desc: dict, buf: memoryview) -> np.ndarray:
    span, dtype, shape = desc.get(TAG), desc.get("dtype"), desc.get("shape")
    if set(desc) != {TAG, "dtype", "shape"} or dtype not in DTYPES:
        raise ArrayError(f"bad array descriptor {str(desc)[:80]}")
    if not (isinstance(span, list) and len(span) == 2 and all(isinstance(s, int) and s >= 0 for s in span)):
        raise ArrayError("bad array span")
    if not (isinstance(shape, list) and all(isinstance(s, int) and 0 <= s < 2**31 for s in shape)):
        raise ArrayError("bad array shape")
    offset, nbytes = span
    if offset + nbytes > len(buf) or math.prod(shape) * np.dtype(dtype).itemsize != nbytes:
        raise ArrayError(f"array {shape} {dtype} does not match its {nbytes} bytes at {offset} "
                         f"(payload {len(buf)} bytes)")
    return np.frombuffer(buf[offset : offset + nbytes], dtype=dtype).reshape(shape).copy()
