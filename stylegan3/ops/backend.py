"""The one dispatch point between the reference ops and our CUDA kernels.

Kernels are used only for CUDA tensors when autograd is off (the app renders, it never trains) and
when `ops.cuda` built; everything else takes the reference path. `SG3_OPS=ref` forces the reference
path, which the tests use to compare both.

The ops ask `kernels_for(x, op)`: on top of that choice it honours the self-check's verdict (an op switched
off for a device, with its reason: `disable` / `disabled`) and, for the calling thread only, a kernels
module served in place of the automatic choice (`serving`: the self-check and tests).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

_forced: str | None = None
_disabled: dict[tuple[str, str], str] = {}  # (device key, op or "graphs") -> one-line reason
_local = threading.local()  # .served: (device key, kernels module or None = reference) for this thread
_REFERENCE = object()


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


def device_key(device: torch.device | str) -> str:
    """'cuda:0', 'cpu', ...: a CUDA device without an index is the current one, so both spellings agree."""
    dev = torch.device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device() if torch.cuda.is_available() else 0)
    return str(dev)


def disable(device: torch.device | str, op: str, reason: str) -> None:
    """Switch `op` (or "graphs") off on `device` for this process; the reference path takes over."""
    _disabled[(device_key(device), op)] = reason


def disabled(device: torch.device | str) -> dict[str, str]:
    """{op: reason} of what is switched off on `device`."""
    key = device_key(device)
    return {op: reason for (dev, op), reason in _disabled.items() if dev == key}


def disabled_reason(device: torch.device | str, op: str) -> str | None:
    """Why `op` is switched off on `device`, or None."""
    return _disabled.get((device_key(device), op)) if _disabled else None


def enable_all(device: torch.device | str | None = None) -> None:
    """Forget switched-off ops (of one device, or all): tests, and a new self-check verdict."""
    key = None if device is None else device_key(device)
    for k in [k for k in _disabled if key is None or k[0] == key]:
        del _disabled[k]


@contextmanager
def serving(kernels: Any | None, device: torch.device | str) -> Iterator[None]:
    """In this thread, let `kernels` (None: the reference path) handle every op on `device`, whatever the
    automatic choice or the switched-off set says; the self-check compares through it."""
    previous = getattr(_local, "served", None)
    _local.served = (device_key(device), _REFERENCE if kernels is None else kernels)
    try:
        yield
    finally:
        _local.served = previous


def kernels_for(x: torch.Tensor, op: str) -> Any | None:
    """The kernels module that should compute `op` on `x`, or None for the reference path."""
    served = getattr(_local, "served", None)
    if served is not None and served[0] == str(x.device):
        if served[1] is _REFERENCE or x.dtype not in (torch.float16, torch.float32):
            return None
        return None if torch.is_grad_enabled() and x.requires_grad else served[1]
    if (_forced or os.environ.get("SG3_OPS", "auto")) == "ref":
        return None  # checked here too, so a test that stands in for `cuda_kernels_for` still gets the reference
    if _disabled and (str(x.device), op) in _disabled:
        return None
    return cuda_kernels_for(x)


def kernels_module(device: torch.device | str) -> Any | None:
    """The kernels module the automatic choice uses on `device` (None: reference ops there)."""
    dev = torch.device(device)
    if (_forced or os.environ.get("SG3_OPS", "auto")) == "ref" or dev.type != "cuda":
        return None
    return _cuda_module()


def implementations(device: torch.device | str) -> list[tuple[str, str | None]]:
    """What can render on `device`, for benchmarks: [(name, None if available else why not)], in the order
    reference, kernels, kernels+graphs. Kernels are whatever `kernels_module` serves there."""
    dev = torch.device(device)
    out: list[tuple[str, str | None]] = [("reference", None)]
    kernels_why = None
    if kernels_module(dev) is None:
        kernels_why = "forced to the reference (SG3_OPS=ref)" if (_forced or os.environ.get("SG3_OPS")) == "ref" \
            else "no kernels for this device"
        if dev.type == "cuda":
            try:
                import ops.cuda as cuda_ops

                kernels_why = cuda_ops.unavailable_reason() or kernels_why
            except ImportError:
                kernels_why = "ops.cuda package missing"
    out.append(("kernels", kernels_why))
    graphs_why = kernels_why or (None if dev.type == "cuda" else "CUDA graphs need a CUDA device")
    out.append(("kernels+graphs", graphs_why or disabled_reason(dev, "graphs")))
    return out


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
            off = disabled(dev)
            ops_off = sorted(op for op in off if op != "graphs")
            if ops_off:
                return f"CUDA kernels on {name}, reference for {', '.join(ops_off)} (self-check)"
            return f"CUDA kernels on {name}"
        reason = None
        try:
            import ops.cuda as cuda_ops

            reason = cuda_ops.unavailable_reason()
        except ImportError:
            reason = "ops.cuda package missing"
        return f"reference ops on {name} ({reason or 'forced'})"
    if dev.type != "cpu":
        return f"reference ops on {dev} (kernels are CUDA only)"
    return "reference ops on CPU (no CUDA device)" if not torch.cuda.is_available() else "reference ops on CPU"
