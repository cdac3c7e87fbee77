"""The kernels built for the CPU: the same kernel bodies as the CUDA extension, compiled by the host C++
compiler with OpenMP (one thread per block, blocks spread over the cores), through the same JIT build and
cache (`build.load_or_build_cpu`). The module has the CUDA extension's functions and signatures.

Contract with `stylegan3.ops.backend`, like `ops.cuda.kernels()`: `kernels()` builds or loads once per
process (thread-safe) and returns the module, or None with a one-line `unavailable_reason()` (no C++
compiler, no ninja, a build error, `SG3_CPU_BUILD=0`). It never raises; the reference ops then run.
"""

from __future__ import annotations

import logging
import threading
from types import ModuleType
from typing import Any

from ops.cuda import build

__all__ = ["kernels", "unavailable_reason", "status", "reset"]

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_tried = False
_module: ModuleType | None = None
_reason: str | None = None


def kernels(verbose: bool = False) -> ModuleType | None:
    """The CPU extension, or None (see `unavailable_reason`). Builds at most once per process."""
    global _tried, _module, _reason
    if _tried:
        return _module
    with _lock:
        if not _tried:
            try:
                _module = build.load_or_build_cpu(verbose=verbose)
                _reason = None
            except build.BuildUnavailable as exc:
                _module, _reason = None, str(exc)
            except Exception as exc:  # noqa: BLE001 - the contract is: never raise
                _module, _reason = None, f"unexpected {type(exc).__name__}: {exc}"
            _tried = True
            if _module is None:
                _log.info("CPU kernels unavailable, using the reference ops: %s", _reason)
    return _module


def unavailable_reason() -> str | None:
    """Why `kernels()` returned None; None if it did not (or was not called yet)."""
    return _reason


def reset() -> None:
    """Forget the outcome so the next `kernels()` tries again (tests; after installing a compiler)."""
    global _tried, _module, _reason
    with _lock:
        _tried, _module, _reason = False, None, None


def status(build_now: bool = False) -> dict[str, Any]:
    """What `doctor` reports about the CPU kernels; builds first only when `build_now`."""
    info: dict[str, Any] = {}
    try:
        info["build_dir"] = str(build.cpu_build_dir())
    except build.BuildUnavailable as exc:
        info["build_dir"] = None
        if not _tried:
            info["reason"] = str(exc)
    module = kernels() if build_now else _module
    info["tried"] = _tried
    info["built_kernels"] = [k for k in build.KERNEL_NAMES if module is not None and hasattr(module, k)]
    info["build_info"] = module.build_info() if module is not None else None
    if _tried:
        info["reason"] = _reason
    elif "reason" not in info:
        cxx, ninja = build.find_cxx(), build.find_ninja()
        info["reason"] = (
            "no C++ compiler found (c++, g++ or clang++)"
            if cxx.path is None
            else "ninja not found (pip install ninja)"
            if ninja.path is None
            else None
        )
    info["active"] = "cpu" if module is not None else "ref"
    return info
