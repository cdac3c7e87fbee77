"""The one dispatch point between the reference ops and our compiled kernels.

Kernels are used only when autograd is off (the app renders, it never trains): the CUDA extension
(`ops.cuda.kernels()`) for CUDA tensors, its CPU build (`ops.cuda.cpu.kernels()`, the same kernel bodies
and the same functions) for CPU tensors, each when it built; everything else takes the reference path.
`SG3_OPS=ref` forces the reference path (tests compare both); `cuda` or `cpu` allows only that build.
"""

from __future__ import annotations

import os
from typing import Any

import torch

_forced: str | None = None


def force_impl(name: str | None) -> None:
    """Force 'ref', 'cuda' or 'cpu' (None restores automatic choice); used by tests and benchmarks.

    'cuda' / 'cpu' allow only that build of the kernels; tensors on the other device take the reference path."""
    global _forced
    if name not in (None, "ref", "cuda", "cpu"):
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


def _cpu_module() -> Any | None:
    try:
        from ops.cuda import cpu as cpu_ops
    except ImportError:
        return None
    try:
        return cpu_ops.kernels()
    except Exception:  # noqa: BLE001 - a broken build must never break rendering
        return None


def _kind(device: torch.device) -> str | None:
    """Which kernel build serves `device` under the current choice: 'cuda', 'cpu' or None (reference)."""
    choice = _forced or os.environ.get("SG3_OPS", "auto")
    if device.type in ("cuda", "cpu") and choice in ("auto", device.type):
        return device.type
    return None


def cuda_kernels_for(x: torch.Tensor) -> Any | None:
    """The compiled kernel module (CUDA or CPU build) if it should handle `x`, else None (reference path)."""
    kind = _kind(x.device)
    if kind is None or x.dtype not in (torch.float16, torch.float32):
        return None
    if torch.is_grad_enabled() and x.requires_grad:
        return None
    return _cuda_module() if kind == "cuda" else _cpu_module()


def active_impl(device: torch.device | str | None = None) -> str:
    """'cuda', 'cpu' or 'ref': which implementation renders on `device` right now."""
    dev = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    kind = _kind(dev)
    if kind is None:
        return "ref"
    return kind if (_cuda_module() if kind == "cuda" else _cpu_module()) is not None else "ref"


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
    if dev.type != "cpu":
        return f"reference ops on {dev.type}"
    if impl == "cpu":
        return f"CPU kernels ({torch.get_num_threads()} threads)"
    from ops.cuda import cpu as cpu_ops

    return f"reference ops on CPU ({cpu_ops.unavailable_reason() or 'forced'})"
