"""The kernels built for the CPU: the same kernel bodies as the CUDA extension, compiled by the host C++
compiler with OpenMP (one thread per block, blocks spread over the cores), through the same JIT build and
cache (`build.load_or_build_cpu`). The module has the CUDA extension's functions and signatures.

Contract with `stylegan3.ops.backend`, like `ops.cuda.kernels()`: `kernels()` builds or loads once per
process (thread-safe) and returns the module, or None with a one-line `unavailable_reason()` (no C++
compiler, no ninja, a build error, `SG3_CPU_BUILD=0`). It never raises; the reference ops then run.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

from sg3_explorer.ops.cuda import build
from sg3_explorer.ops.cuda.once import BuildOnce

__all__ = ["kernels", "unavailable_reason", "status", "reset"]

_log = logging.getLogger(__name__)
# The build is looked up at call time, so tests can stand in for `build.load_or_build_cpu`.
_once = BuildOnce(
    lambda verbose: build.load_or_build_cpu(verbose=verbose),
    lambda reason: _log.info("CPU kernels unavailable, using the reference ops: %s", reason),
)


def kernels(verbose: bool = False) -> ModuleType | None:
    """The CPU extension, or None (see `unavailable_reason`). Builds at most once per process."""
    return _once.get(verbose)


def unavailable_reason() -> str | None:
    """Why `kernels()` returned None; None if it did not (or was not called yet)."""
    return _once.reason


def reset() -> None:
    """Forget the outcome so the next `kernels()` tries again (tests; after installing a compiler)."""
    _once.reset()


def status(build_now: bool = False) -> dict[str, Any]:
    """What `doctor` reports about the CPU kernels; builds first only when `build_now`."""
    info: dict[str, Any] = {}
    try:
        info["build_dir"] = str(build.cpu_build_dir())
    except build.BuildUnavailable as exc:
        info["build_dir"] = None
        if not _once.tried:
            info["reason"] = str(exc)
    module = kernels() if build_now else _once.module
    info["tried"] = _once.tried
    info["built_kernels"] = [k for k in build.KERNEL_NAMES if module is not None and hasattr(module, k)]
    info["build_info"] = module.build_info() if module is not None else None
    if _once.tried:
        info["reason"] = _once.reason
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
