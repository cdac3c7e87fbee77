"""The one dispatch point between the reference ops and our CUDA kernels.

Kernels are used only for CUDA tensors when autograd is off (the app renders, it never trains) and
when `ops.cuda` built; everything else takes the reference path. `SG3_OPS=ref` forces the reference
path, which the tests use to compare both.
"""

from __future__ import annotations

import os
from typing import Any

import torch

_forced: str | None = None


def force_impl(name: str | None) -> None:
    """Force 'ref' or 'cuda' (None restores automatic choice); used by tests and benchmarks."""
    global _forced
    if name not in (None, "ref", "cuda"):
        raise ValueError(f"unknown op implementation {name!r}")
    _forced = name


def _cuda_module() -> Any | None:
    try:
        import ops.cuda as cuda_ops
    except ImportError:
        return None
    try:
        return cuda_ops.kernels()
    except Exception:  # noqa: BLE001 - a broken build must never break rendering
        return None


def cuda_kernels_for(x: torch.Tensor) -> Any | None:
    """The compiled kernel module if it should handle `x`, else None (reference path)."""
    choice = _forced or os.environ.get("SG3_OPS", "auto")
    if choice == "ref" or not x.is_cuda or x.dtype not in (torch.float16, torch.float32):
        return None
    if torch.is_grad_enabled() and x.requires_grad:
        return None
    return _cuda_module()


def active_impl(device: torch.device | str | None = None) -> str:
    """'cuda' or 'ref': which implementation renders on `device` right now."""
    dev = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    choice = _forced or os.environ.get("SG3_OPS", "auto")
    if dev.type != "cuda" or choice == "ref":
        return "ref"
    return "cuda" if _cuda_module() is not None else "ref"


def describe(device: torch.device | str | None = None) -> str:
    """One line for the performance panel and `doctor`: implementation, device and why."""
    dev = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    impl = active_impl(dev)
    if dev.type == "cuda":
        name = torch.cuda.get_device_name(dev)
        if impl == "cuda":
            return f"CUDA kernels on {name}"
        reason = None
        try:
            import ops.cuda as cuda_ops

            reason = cuda_ops.unavailable_reason()
        except ImportError:
            reason = "ops.cuda package missing"
        return f"reference ops on {name} ({reason or 'forced'})"
    return "reference ops on CPU (no CUDA device)"
