"""Out of memory as a message with a way out, and how much GPU memory is in use.

Why: a 1024² network in fp32, a large batch or many comparison panes can exhaust a GPU (or the host's
RAM on the CPU path). That is the user's configuration, not a bug: the job that ran out stops, the cached
memory is handed back, and the message says what to change; the app keeps running.
"""

from __future__ import annotations

import gc
import re

import torch

SUGGESTION = "try fp16 (no Force FP32 / --force-fp32), a smaller batch, or fewer panes / networks"


def is_out_of_memory(exc: BaseException) -> bool:
    """torch.cuda.OutOfMemoryError, the CPU allocator's RuntimeError, MPS's, or Python's MemoryError."""
    if isinstance(exc, MemoryError):
        return True
    oom_type = getattr(torch.cuda, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    if isinstance(exc, RuntimeError):
        text = str(exc)
        return "out of memory" in text.lower() or "not enough memory" in text
    return False


def _requested(text: str) -> str | None:
    """'2.00 GiB' from torch's 'Tried to allocate 2.00 GiB' / 'you tried to allocate 123456 bytes'."""
    m = re.search(r"[Tt]ried to allocate ([\d.]+ ?[KMGT]i?B)", text)
    if m:
        return m.group(1)
    m = re.search(r"[Tt]ried to allocate (\d+) bytes", text)
    if m:
        return format_bytes(int(m.group(1)))
    return None


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def out_of_memory_message(exc: BaseException, doing: str) -> str:
    """One line: what ran out while doing what, how much was asked for, and what to change."""
    text = str(exc)
    is_gpu = isinstance(exc, getattr(torch.cuda, "OutOfMemoryError", ())) or "CUDA" in text or "MPS" in text
    where = "GPU memory" if is_gpu else "memory"
    asked = _requested(text)
    return f"out of {where} while {doing}" + (f" (tried to allocate {asked})" if asked else "") + f": {SUGGESTION}"


def release_cached_memory() -> None:
    """Hand the allocator's cached blocks back after a failed job, so the next one can have them."""
    gc.collect()
    if torch.cuda.is_available():
        try:
            torch.cuda.empty_cache()
        except RuntimeError:
            pass


def gpu_memory_line(device: torch.device | str) -> str | None:
    """'GPU memory 1.2 GiB in use, 1.5 GiB reserved, of 80.0 GiB' on a CUDA device; None elsewhere."""
    dev = torch.device(device)
    if dev.type != "cuda" or not torch.cuda.is_available():
        return None
    try:
        used = torch.cuda.memory_allocated(dev)
        reserved = torch.cuda.memory_reserved(dev)
        total = torch.cuda.get_device_properties(dev).total_memory
    except Exception:  # noqa: BLE001 - a panel line must never break drawing
        return None
    return f"GPU memory {format_bytes(used)} in use, {format_bytes(reserved)} reserved, of {format_bytes(total)}"
