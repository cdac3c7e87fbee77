"""Keep freed activation memory in the process's heap between frames (glibc), instead of fresh pages every frame.

Why: a CPU synthesis frame allocates the same large activations every time (an SG3-R 256x256 layer output is up
to 150 MB). glibc serves every block above its mmap threshold (at most 32 MiB, and that cap cannot be raised)
with a fresh `mmap` and gives it back with `munmap` on free, so the next frame faults in and zeroes every page
again: about 300k minor page faults and 0.5 s of system time per SG3-R frame, ~14 % of the frame's CPU time
(`benchmarks/NOTES.md`). With mmap off for malloc and a high trim threshold, freed blocks stay in the heap and the
next frames reuse them: no faults once the heap has settled (after the first two frames of a network). The cost
is that up to `trim_bytes` of freed memory stays mapped between frames; an explicit `malloc_trim(0)` still
hands everything free back.

Applied once per process when the CPU kernels are first used (`stylegan3.ops.backend`); `SG3_KEEP_HEAP=0`
leaves glibc's defaults alone. A no-op on other C libraries.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
TRIM_BYTES = 1 << 30  # freed memory kept mapped between frames (more than an SG3-R 256x256 frame's peak)

_lock = threading.Lock()
_state: dict[str, str] = {}


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def keep_freed_memory(trim_bytes: int = TRIM_BYTES) -> str:
    """Switch glibc's malloc to reuse freed large blocks (once per process); returns what was done, one line."""
    if "result" in _state:  # every op call on the CPU asks: no lock once decided
        return _state["result"]
    with _lock:
        if "result" in _state:
            return _state["result"]
        if os.environ.get("SG3_KEEP_HEAP", "1") == "0":
            result = "glibc defaults (SG3_KEEP_HEAP=0)"
        else:
            libc = _libc()
            if libc is None:
                result = "not glibc: allocator defaults"
            elif libc.mallopt(M_MMAP_MAX, 0) == 1 and libc.mallopt(M_TRIM_THRESHOLD, int(trim_bytes)) == 1:
                result = f"freed memory reused (malloc without mmap, up to {trim_bytes >> 20} MiB kept)"
            else:
                result = "mallopt refused: allocator defaults"
        _state["result"] = result
        return result


def release_freed_memory() -> bool:
    """glibc's malloc_trim(0): hand every free heap page back to the system now (False where unavailable)."""
    libc = _libc()
    return bool(libc is not None and libc.malloc_trim(0))
