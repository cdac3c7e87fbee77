"""CUDA kernels of SG3 Explorer, built on first use; `None` plus a one-line reason when they cannot be.

This is the contract with `stylegan3.ops.backend` (the one dispatch point):

- `kernels()` builds or loads the extension once per process (thread-safe) and returns it, or None when
  unavailable (no CUDA device, CPU-only torch, no nvcc/ninja/compiler, build error). It never raises.
- `unavailable_reason()` is that one-line reason (None while kernels are available or not yet tried).
- `status()` gathers what `sg3-explorer doctor` prints, the CPU build's state under "cpu".

The same kernel bodies built for the CPU live in `ops.cuda.cpu`, with the same contract.

When a CUDA device exists but the kernels cannot be used, one RuntimeWarning says so, once per process:
rendering then continues on the reference PyTorch ops. Without any CUDA device there is nothing to fall
back from, so nothing is printed.
"""

from __future__ import annotations

import logging
import warnings
from types import ModuleType
from typing import Any

from sg3_explorer.ops.cuda import build, cpu
from sg3_explorer.ops.cuda.once import BuildOnce

__all__ = ["kernels", "unavailable_reason", "status", "reset"]

_log = logging.getLogger(__name__)
_warned = False


def kernels(verbose: bool = False) -> ModuleType | None:
    """The compiled extension, or None (see `unavailable_reason`). Builds at most once per process."""
    return _once.get(verbose)


def unavailable_reason() -> str | None:
    """Why `kernels()` returned None; None if it did not (or was not called yet)."""
    return _once.reason


def reset() -> None:
    """Forget the outcome so the next `kernels()` tries again (tests; after installing a toolchain)."""
    global _warned
    _once.reset()
    _warned = False


def _cuda_device_present() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001
        return False


def _announce_fallback(reason: str) -> None:
    global _warned
    if _warned:
        return
    _warned = True
    if _cuda_device_present():
        warnings.warn(
            f"sg3-explorer: CUDA kernels unavailable, using the slower reference ops: {reason}",
            RuntimeWarning,
            stacklevel=4,  # the caller of kernels(), past BuildOnce.get
        )
    else:
        _log.debug("CUDA kernels unavailable: %s", reason)


# The build is looked up at call time, so tests can stand in for `build.load_or_build`.
_once = BuildOnce(lambda verbose: build.load_or_build(verbose=verbose), _announce_fallback)


def status(build_now: bool = False) -> dict[str, Any]:
    """Everything `doctor` reports; builds first only when `build_now` (may take a minute)."""
    info: dict[str, Any] = {}
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_cuda"] = torch.version.cuda
        info["cuda_available"] = bool(torch.cuda.is_available())
        if info["cuda_available"]:
            index = torch.cuda.current_device()
            major, minor = torch.cuda.get_device_capability(index)
            info["device"] = f"{torch.cuda.get_device_name(index)} (sm_{major}{minor})"
        else:
            info["device"] = None
    except Exception as exc:  # noqa: BLE001
        info.update(torch=None, torch_cuda=None, cuda_available=False, device=None, torch_error=str(exc))
    info["cuda_home"] = build.cuda_home()
    info["nvcc"] = build.find_nvcc().describe()
    info["ninja"] = build.find_ninja().describe()
    info["cxx"] = build.find_cxx().describe()
    info["cache_dir"] = str(build.cache_root() / "extensions")
    try:
        target = build.describe_target()
        key = build.cache_key(target.torch_version, target.cuda_version, target.arch, build.source_digest())
        info["build_dir"] = str(build.build_dir_for(key))
        info["arch"] = target.arch
    except build.BuildUnavailable:
        info["build_dir"] = None
        info["arch"] = None
    module = kernels() if build_now else _once.module
    info["tried"] = _once.tried
    info["built_kernels"] = [k for k in build.KERNEL_NAMES if module is not None and hasattr(module, k)]
    info["build_info"] = module.build_info() if module is not None and hasattr(module, "build_info") else None
    reason = _once.reason
    if not _once.tried:
        try:
            build.describe_target()
            reason = None
        except build.BuildUnavailable as exc:
            reason = str(exc)
    info["reason"] = reason
    info["active"] = "cuda" if module is not None else "ref"
    info["cpu"] = cpu.status(build_now=build_now)
    return info
