"""The one dispatch point between the reference ops and our compiled kernels.

Kernels serve float16/float32 tensors: the CUDA extension (`ops.cuda.kernels()`) for CUDA tensors, its CPU
build (`ops.cuda.cpu.kernels()`, the same kernel bodies and the same functions) for CPU tensors, each when it
built; everything else takes the reference path. With autograd recording, the kernels serve forward and
backward through `stylegan3.ops.autograd` (projection, drag), when the module has the backward kernels.
`SG3_OPS=ref` forces the reference path (tests compare both); `cuda` or `cpu` allows only that build.

The ops ask `kernels_for(x, op, *others)` (others: tensors such as a bias that may ask for a gradient too): on
top of that choice it honours the self-check's verdict (an op switched off for a device, with its reason:
`disable` / `disabled`; an op's gradient alone is switched off as "<op>:backward", which sends only calls that
need a gradient to the reference; call shapes the self-check timed slower on the kernels: `prefer_reference`,
keyed by `call_key` of the op for inference and of "<op>:backward" for calls that need a gradient) and, for the
calling thread only, a kernels module served in place of the
automatic choice (`serving`: the self-check and tests).
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from stylegan3.ops import autograd, heap

_forced: str | None = None
_disabled: dict[tuple[str, str], str] = {}  # (device key, op or "graphs") -> one-line reason
_faster_ref: dict[tuple[str, str], str] = {}  # (device key, call_key) -> why the reference computes those calls
_local = threading.local()  # .served: (device key, kernels module or None = reference) for this thread
_REFERENCE = object()


def force_impl(name: str | None) -> None:
    """Force 'ref', 'cuda' or 'cpu' (None restores automatic choice); used by tests and benchmarks.

    'cuda' / 'cpu' allow only that build of the kernels; tensors on the other device take the reference path."""
    global _forced
    if name not in (None, "ref", "cuda", "cpu"):
        raise ValueError(f"unknown op implementation {name!r}")
    _forced = name


def _kernels_of(module_name: str) -> Any | None:
    """`module_name.kernels()`, or None when the module is missing or its build fails.

    Both kernel builds (CUDA and CPU) are reached the same way; a missing or broken build only means the reference
    path, never an error while rendering.
    """
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    try:
        return module.kernels()
    except Exception:  # noqa: BLE001 - a broken build must never break rendering
        return None


def _cuda_module() -> Any | None:
    return _kernels_of("sg3_explorer.ops.cuda")


def _cpu_module() -> Any | None:
    module = _kernels_of("sg3_explorer.ops.cuda.cpu")
    if module is not None:
        heap.keep_freed_memory()  # frames on the CPU: reuse freed activations instead of fresh pages
    return module


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
    return _cuda_module() if kind == "cuda" else _cpu_module()


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
    for k in [k for k in _faster_ref if key is None or k[0] == key]:
        del _faster_ref[k]


def call_key(op: str, x_shape: tuple[int, ...] | torch.Size, dtype: torch.dtype) -> str:
    """What the dispatch knows of a call when it chooses between kernels and reference by speed: the op, x's shape
    without the batch (channels and size: what the cost depends on; a batch of frames keeps the choice made for
    one) and dtype. E.g. 'filtered_lrelu [512, 148, 148] float32'."""
    return f"{op} {list(x_shape[1:])} {str(dtype).replace('torch.', '')}"


def prefer_reference(device: torch.device | str, key: str, reason: str) -> None:
    """Let the reference compute the calls with this `call_key` on `device` (the self-check timed it faster)."""
    _faster_ref[(device_key(device), key)] = reason


def reference_faster(device: torch.device | str) -> dict[str, str]:
    """{call_key: reason} of the calls the reference computes on `device` because it was faster there."""
    key = device_key(device)
    return {k: why for (dev, k), why in _faster_ref.items() if dev == key}


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


def backward_key(op: str) -> str:
    """The switch of `op`'s gradient path alone (self-check verdicts, `disable`)."""
    return f"{op}:backward"


def kernels_for(x: torch.Tensor, op: str, *others: torch.Tensor | None) -> Any | None:
    """The kernels module that should compute `op` on `x`, or None for the reference path.

    When autograd needs a gradient of `x` or of one of `others`, only a module with the op's backward kernels
    qualifies (`autograd.supports`), and not where the op's backward is switched off."""
    grad = autograd.needs_grad(x, *others)
    served = getattr(_local, "served", None)
    if served is not None and served[0] == str(x.device):
        if served[1] is _REFERENCE or x.dtype not in (torch.float16, torch.float32):
            return None
        return None if grad and not autograd.supports(served[1], op) else served[1]
    if (_forced or os.environ.get("SG3_OPS", "auto")) == "ref":
        return None  # checked here too, so a test that stands in for `cuda_kernels_for` still gets the reference
    if _disabled and ((str(x.device), op) in _disabled or (grad and (str(x.device), backward_key(op)) in _disabled)):
        return None
    if _faster_ref and (str(x.device), call_key(backward_key(op) if grad else op, x.shape, x.dtype)) in _faster_ref:
        return None  # timed slower here: with a gradient its forward + backward, else its forward (own verdicts)
    kernels = cuda_kernels_for(x)
    return None if kernels is None or (grad and not autograd.supports(kernels, op)) else kernels


def kernels_module(device: torch.device | str) -> Any | None:
    """The kernels module the automatic choice uses on `device` (None: reference ops there)."""
    kind = _kind(torch.device(device))
    if kind is None:
        return None
    return _cuda_module() if kind == "cuda" else _cpu_module()


def _unavailable_reason(device: torch.device) -> str | None:
    """Why the kernel build for `device` is not there (None when it is, or was not tried)."""
    try:
        if device.type == "cuda":
            import sg3_explorer.ops.cuda as cuda_ops

            return cuda_ops.unavailable_reason()
        from sg3_explorer.ops.cuda import cpu as cpu_ops

        return cpu_ops.unavailable_reason()
    except ImportError:
        return "ops.cuda package missing"


def implementations(device: torch.device | str) -> list[tuple[str, str | None]]:
    """What can render on `device`, for benchmarks: [(name, None if available else why not)], in the order
    reference, kernels, kernels+graphs. Kernels are whatever `kernels_module` serves there."""
    dev = torch.device(device)
    out: list[tuple[str, str | None]] = [("reference", None)]
    kernels_why = None
    if kernels_module(dev) is None:
        if (_forced or os.environ.get("SG3_OPS")) == "ref":
            kernels_why = "forced to the reference (SG3_OPS=ref)"
        elif _kind(dev) is None:
            kernels_why = "no kernels for this device"
        else:
            kernels_why = _unavailable_reason(dev) or "no kernels for this device"
    out.append(("kernels", kernels_why))
    graphs_why = kernels_why or (None if dev.type == "cuda" else "CUDA graphs need a CUDA device")
    out.append(("kernels+graphs", graphs_why or disabled_reason(dev, "graphs")))
    return out


def active_impl(device: torch.device | str | None = None) -> str:
    """'cuda', 'cpu' or 'ref': which implementation renders on `device` right now."""
    dev = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return _kind(dev) if kernels_module(dev) is not None else "ref"


def _switched_off(dev: torch.device) -> str:
    ops_off = sorted(op for op in disabled(dev) if op != "graphs")
    text = f", reference for {', '.join(ops_off)} (self-check)" if ops_off else ""
    return text + _faster_note(dev)


def _faster_note(dev: torch.device) -> str:
    """', reference where faster: filtered_lrelu at 2 shapes, upfirdn2d gradients at 1 shape (self-check timing)',
    or ''."""
    faster = reference_faster(dev)
    if not faster:
        return ""
    per_op: dict[str, int] = {}
    for key in faster:
        op = key.split(" ", 1)[0]
        op = op.replace(":backward", " gradients")
        per_op[op] = per_op.get(op, 0) + 1
    what = ", ".join(f"{op} at {n} shape{'s' if n > 1 else ''}" for op, n in sorted(per_op.items()))
    return f", reference where faster: {what} (self-check timing)"


def describe(device: torch.device | str | None = None) -> str:
    """One line for the performance panel and `doctor`: implementation, device and why."""
    dev = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    impl = active_impl(dev)
    if dev.type == "cuda":
        name = torch.cuda.get_device_name(dev)
        if impl == "cuda":
            return f"CUDA kernels on {name}{_switched_off(dev)}"
        return f"reference ops on {name} ({_unavailable_reason(dev) or 'forced'})"
    if dev.type != "cpu":
        return f"reference ops on {dev.type} (kernels are CUDA and CPU only)"
    if impl == "cpu":
        return f"CPU kernels ({torch.get_num_threads()} threads){_switched_off(dev)}"
    return f"reference ops on CPU ({_unavailable_reason(dev) or 'forced'})"
