"""Self-check on first use: kernels and CUDA graphs prove themselves on this machine before they render.

Why: our kernels and graph replays are first run on users' machines. Before a kernels module renders a
network on a device, each op is compared with the reference on the very calls that network makes (its
up/down factors, filters, paddings, gains, clamps), on randomized batch, channel and odd spatial sizes,
in float16 and float32; then the network's first frame is rendered both ways and, on CUDA, a graph
replay is compared with eager synthesis. Whatever disagrees beyond tolerance is switched off for that
device (`backend.disable`) with a one-line reason, and the reference path renders instead.

The verdict is stored next to the build (`selfcheck.json` beside `build.json`), keyed by everything the
kernels' behaviour depends on (GPU, driver, torch, CUDA, the build key with its source hash, this
check's version): any change redoes it, otherwise later starts only read it. Networks with other
layer configurations are checked once each, into the same file.

Generic over "a kernels module + a device": anything with the binding's API (ops/cuda/binding.cpp) can
be checked, e.g. the host harness in the tests, or kernels built for the CPU.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch

from stylegan3.ops import autograd, backend
from stylegan3.ops.reference_kernels import OPS, ReferenceKernels

DISABLE_ENV = "SG3_SELFCHECK"  # "0" skips the check (the kernels then render unchecked)
CHECK_VERSION = 5  # bump when the check changes: cached verdicts are redone (3: speed per call shape; 4: gradients;
# 5: speed of the gradient path per call shape)
FILE_NAME = "selfcheck.json"
# Error measure: max |kernel - reference| / max(max |reference|, 1): relative for large outputs, absolute for small.
OP_TOL = {"fp32": 1e-4, "fp16": 1e-2}
FRAME_TOL = {"fp32": 1e-4, "fp16": 5e-2}  # whole first frame, image in about [-1, 1]
GRAPH_TOL = 1e-5  # a replay runs the same kernels as eager: only reduction order may differ
CASES_PER_OP = 12  # distinct calls of one op checked per network (the first of each kind, then spread)
SHAPES_PER_CALL = 2  # randomized shapes per call and precision, plus the layer's own size

SPEED_MARGIN = 1.15  # the reference takes over a call shape only when the kernels take this much longer there
SPEED_MIN_GAIN_S = 1e-3  # ... and at least this much longer per frame: below, noise decides and nothing is gained
SPEED_CONFIRM_RUNS = 5  # a call shape that looked slower in the frame is timed again this often each way (min)
Replay = Callable[[torch.nn.Module, torch.Tensor, bool], torch.Tensor]
# timer(impl, op, x, run) -> (run's result, seconds): impl is "kernels" or "reference"; tests inject the seconds.
Timer = Callable[[str, str, torch.Tensor, Callable[[], torch.Tensor]], tuple[torch.Tensor, float]]


# ---------------------------------------------------------------------------------------------------
# Recording the calls a network makes (while the kernels render its first frame: the arguments the dispatch
# passes do not depend on the values computed, so that frame also serves the frame check).


@dataclass
class Call:
    op: str
    x_shape: tuple[int, ...]
    args: tuple  # everything after x, as the dispatch passed it


class _OpWrapper:
    """A kernels module stand-in whose three inference ops go through `_run(op, x, args)` (record, time, ...)."""

    def _run(self, op: str, x: torch.Tensor, args: tuple) -> torch.Tensor:
        raise NotImplementedError

    def upfirdn2d(self, x, *args):
        return self._run("upfirdn2d", x, args)

    def bias_act(self, x, *args):
        return self._run("bias_act", x, args)

    def filtered_lrelu(self, x, *args):
        return self._run("filtered_lrelu", x, args)


class _Recorder(_OpWrapper):
    def __init__(self, kernels: Any) -> None:
        self.kernels = kernels
        self.calls: list[Call] = []

    def _run(self, op: str, x: torch.Tensor, args: tuple) -> torch.Tensor:
        self.calls.append(Call(op, tuple(x.shape), _detach(args)))
        return getattr(self.kernels, op)(x, *args)


def _detach(args: tuple) -> tuple:
    return tuple(a.detach().clone() if isinstance(a, torch.Tensor) else a for a in args)


def _call_key(call: Call) -> tuple:
    """Calls that differ only in values (input, bias, filter taps) are the same case: a kernel's code paths
    depend on shapes, factors, paddings and flags."""
    parts: list[Any] = [call.op, len(call.x_shape), call.x_shape[2:]]  # batch and channels are randomized anyway
    for i, a in enumerate(call.args):
        if not isinstance(a, torch.Tensor):
            parts.append(a)
        elif call.op != "upfirdn2d" and i == (0 if call.op == "bias_act" else 2):
            parts.append(("bias", a.numel() > 0))
        else:
            parts.append(tuple(a.shape))
    return tuple(parts)


def first_frame_ws(G: torch.nn.Module, device: torch.device, seed: int = 0) -> torch.Tensor:
    from stylegan3.networks.latents import z_from_seed

    z = torch.from_numpy(z_from_seed(seed, G.z_dim)).to(device=device, dtype=torch.float32)
    c = torch.zeros([1, G.c_dim], device=device)
    return G.mapping(z, c, truncation_psi=1.0, truncation_cutoff=None)


def record_calls(
    G: torch.nn.Module, device: torch.device, kernels: Any | None = None, ws: torch.Tensor | None = None
) -> tuple[list[Call], torch.Tensor]:
    """Every distinct op call of one frame (mapping + synthesis in the network's own precision), and that frame
    as `kernels` (default: the reference through the kernels' API) rendered it."""
    recorder = _Recorder(kernels if kernels is not None else ReferenceKernels())
    with torch.no_grad(), backend.serving(recorder, device):
        mapped = first_frame_ws(G, device)  # the mapping's calls count too; the frame uses the caller's ws
        img = G.synthesis(mapped if ws is None else ws, noise_mode="const", force_fp32=False).float()
    seen: dict[tuple, Call] = {}
    for call in recorder.calls:
        seen.setdefault(_call_key(call), call)
    return list(seen.values()), img


# ---------------------------------------------------------------------------------------------------
# Op checks on randomized shapes.


def _filter_wh(f: torch.Tensor) -> tuple[int, int]:
    return (int(f.shape[0]), int(f.shape[0])) if f.ndim == 1 else (int(f.shape[-1]), int(f.shape[0]))


def _smallest_size(call: Call, axis: str) -> int:
    """Smallest input height ('y') or width ('x') for which the call's output is not empty."""
    a = call.args
    if call.op == "upfirdn2d":
        f, up, pad0, pad1 = a[0], a[1 if axis == "x" else 2], a[5 if axis == "x" else 7], a[6 if axis == "x" else 8]
        need = _filter_wh(f)[0 if axis == "x" else 1]
    else:  # filtered_lrelu: fu, fd, b, up, down, px0, px1, py0, py1
        up, pad0, pad1 = a[3], a[5 if axis == "x" else 7], a[6 if axis == "x" else 8]
        need = _filter_wh(a[0])[0 if axis == "x" else 1] + _filter_wh(a[1])[0 if axis == "x" else 1] - 1
    size = 1
    while size * up + pad0 + pad1 < need:
        size += 1
    return size


def _shapes(call: Call, rng: np.random.Generator) -> list[tuple[int, ...]]:
    """The layer's own size (few channels) plus randomized batch, channels and (often odd) spatial sizes."""
    shape = call.x_shape
    c_max = shape[1] if len(shape) > 1 else 1
    if call.op == "bias_act":
        dim = call.args[1] % max(len(shape), 1)
        out = []
        for _ in range(SHAPES_PER_CALL):
            s = [int(rng.integers(1, min(n, 7) + 1)) for n in shape]
            out.append(tuple(s[:dim] + [int(rng.integers(1, min(shape[dim], 24) + 1))] + s[dim + 1 :]))
        own = [1, *shape[1:]] if len(shape) > 1 else list(shape)
        if len(own) > 1:
            own[1] = min(own[1], 3)  # the bias is refilled to any size
        return [tuple(own), *out]
    h0, w0 = _smallest_size(call, "y"), _smallest_size(call, "x")
    own = (1, min(c_max, 3), max(shape[2], h0), max(shape[3], w0))
    out = [own]
    for _ in range(SHAPES_PER_CALL):
        h = int(rng.integers(h0, max(h0, min(shape[2], 40)) + 9))
        w = int(rng.integers(w0, max(w0, min(shape[3], 40)) + 9))
        out.append((int(rng.integers(1, 3)), int(rng.integers(1, min(c_max, 6) + 1)), h, w))
    return out


def _args_for(call: Call, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> tuple:
    """The call's arguments fitted to a new input shape: the bias cut to the channel count, cast as dispatched."""
    args = [a.to(device) if isinstance(a, torch.Tensor) else a for a in call.args]
    if call.op == "bias_act" and args[0].numel():
        dim = args[1] % len(shape)
        args[0] = _refill(args[0], shape[dim]).to(dtype)
    if call.op == "filtered_lrelu" and args[2].numel():
        args[2] = _refill(args[2], shape[1]).to(dtype)
    return tuple(args)


def _refill(b: torch.Tensor, n: int) -> torch.Tensor:
    """`n` bias values taken (cyclically) from the layer's own."""
    return b.repeat((n + b.numel() - 1) // b.numel())[:n].contiguous()


def error(got: torch.Tensor, want: torch.Tensor) -> float:
    """max |got - want| / max(max |want|, 1); inf when shapes differ or the kernel made NaN/inf where the
    reference did not."""
    if tuple(got.shape) != tuple(want.shape):
        return float("inf")
    g, w = got.detach().double(), want.detach().double()
    if bool((~torch.isfinite(g) & torch.isfinite(w)).any()):
        return float("inf")
    finite = torch.isfinite(w)
    if not bool(finite.any()):
        return 0.0
    scale = max(float(w[finite].abs().max()), 1.0)
    return float((g[finite] - w[finite]).abs().max()) / scale


@dataclass
class OpResult:
    cases: int = 0
    worst: dict[str, float] = field(default_factory=lambda: {"fp32": 0.0, "fp16": 0.0})
    problem: str | None = None  # one line: the first case beyond tolerance (or that raised)


def _describe_case(call: Call, shape: tuple[int, ...], precision: str) -> str:
    a = call.args
    if call.op == "upfirdn2d":
        what = f"up {a[1]}x{a[2]} down {a[3]}x{a[4]} pad {list(a[5:9])} filter {list(a[0].shape)}"
    elif call.op == "filtered_lrelu":
        what = f"up {a[3]} down {a[4]} pad {list(a[5:9])} fu {list(a[0].shape)} fd {list(a[1].shape)}"
    else:
        what = f"act {a[2]} dim {a[1]} clamp {a[5]:g}"
    return f"{precision} x {list(shape)}, {what}"


def check_ops(
    kernels: Any, device: torch.device, calls: list[Call], seed: int = 0, ops: tuple[str, ...] = OPS
) -> dict[str, OpResult]:
    """Each op of `kernels` against the reference on the recorded calls, randomized shapes, fp16 and fp32."""
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    ref = ReferenceKernels()
    results = {op: OpResult() for op in ops}
    for op in ops:
        mine = [c for c in calls if c.op == op]
        if len(mine) > CASES_PER_OP:  # spread over the network: first, last and evenly between
            mine = [mine[int(i)] for i in np.linspace(0, len(mine) - 1, CASES_PER_OP).round()]
        result = results[op]
        for call in mine:
            for shape in _shapes(call, rng):
                for precision, dtype in (("fp32", torch.float32), ("fp16", torch.float16)):
                    x = torch.randn(shape, generator=gen).to(device=device, dtype=dtype)
                    args = _args_for(call, shape, dtype, device)
                    with torch.no_grad():
                        want = getattr(ref, op)(x.float(), *_args_for(call, shape, torch.float32, device))
                        try:
                            got = getattr(kernels, op)(x, *args)
                        except Exception as exc:  # noqa: BLE001 - a kernel that refuses valid input fails
                            err, note = float("inf"), f"raised {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
                        else:
                            err, note = error(got.float(), want), None
                    result.cases += 1
                    result.worst[precision] = max(result.worst[precision], err)
                    if err > OP_TOL[precision] and result.problem is None:
                        detail = note or f"differs from the reference by {err:.2g} (tolerance {OP_TOL[precision]:g})"
                        result.problem = f"{op} {detail} at {_describe_case(call, shape, precision)}"
    return results


# ---------------------------------------------------------------------------------------------------
# Backward: each op's gradient path (stylegan3.ops.autograd) against torch autograd of the reference.

BACKWARD_TOL = 1e-4  # float32 gradients against the float64 reference, of max(|reference|, 1)


def _bias_index(op: str) -> int | None:
    return {"bias_act": 0, "filtered_lrelu": 2}.get(op)


def _grads(fn: Callable[..., torch.Tensor], x: torch.Tensor, args: list, bias_at: int | None, dy_seed: int):
    """(output, dx, db or None) of `fn(x, *args)` for a fixed random upstream gradient."""
    x = x.detach().requires_grad_(True)
    leaves = [x]
    if bias_at is not None and args[bias_at].numel():
        args[bias_at] = args[bias_at].detach().requires_grad_(True)
        leaves.append(args[bias_at])
    with torch.enable_grad():
        y = fn(x, *args)
        dy = torch.randn(y.shape, generator=torch.Generator().manual_seed(dy_seed)).to(y.device, y.dtype)
        grads = torch.autograd.grad(y, leaves, dy)
    return y.detach(), grads[0], grads[1] if len(grads) > 1 else None


def check_backward(
    kernels: Any, device: torch.device, calls: list[Call], seed: int = 0, ops: tuple[str, ...] = OPS
) -> dict[str, OpResult]:
    """Gradients wrt input and bias through `kernels` (float32) against the reference's autograd in float64, on
    the recorded calls at the layer's own size and randomized ones. A module without an op's backward kernels
    has no case for it (the dispatch never sends that op's gradients there)."""
    rng = np.random.default_rng(seed + 1)
    gen = torch.Generator().manual_seed(seed + 1)
    ref = ReferenceKernels()
    results = {op: OpResult(worst={"fp32": 0.0}) for op in ops}
    for op in ops:
        if not autograd.supports(kernels, op):
            continue
        mine = [c for c in calls if c.op == op]
        if len(mine) > CASES_PER_OP:
            mine = [mine[int(i)] for i in np.linspace(0, len(mine) - 1, CASES_PER_OP).round()]
        result, bias_at = results[op], _bias_index(op)
        for n, call in enumerate(mine):
            for shape in _shapes(call, rng):
                x = torch.randn(shape, generator=gen).to(device=device)
                args = list(_args_for(call, shape, torch.float32, device))
                want = _grads(
                    getattr(ref, op),
                    x.double(),
                    [a.double() if i == bias_at else a for i, a in enumerate(args)],
                    bias_at,
                    n,
                )
                try:
                    got = _grads(lambda x, *a, op=op: autograd.run(kernels, op, x, *a), x, args, bias_at, n)
                except Exception as exc:  # noqa: BLE001 - a backward that refuses valid input fails
                    err, note = float("inf"), f"raised {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
                else:
                    err = max(error(g, w) for g, w in zip(got, want, strict=True) if w is not None)
                    note = None
                result.cases += 1
                result.worst["fp32"] = max(result.worst["fp32"], err)
                if err > BACKWARD_TOL and result.problem is None:
                    detail = note or f"differs from the reference by {err:.2g} (tolerance {BACKWARD_TOL:g})"
                    result.problem = f"{op} backward {detail} at {_describe_case(call, shape, 'fp32')}"
    return results


def check_backward_into(verdict: Verdict, kernels: Any, device: torch.device, calls: list[Call], seed: int) -> None:
    """Record the backward check in `verdict` ("<op>:backward" entries); a failing gradient path is switched
    off alone: the op's forward keeps the kernels, calls that need its gradient take the reference."""
    for op, res in check_backward(kernels, device, calls, seed=seed).items():
        key = backend.backward_key(op)
        verdict.ops[key] = {"cases": res.cases, "worst": res.worst}
        if res.problem:
            verdict.off[key] = res.problem


# ---------------------------------------------------------------------------------------------------
# First frame and graph replay.


class _Mixed:
    """The kernels, except the ops switched off, which the reference computes (as the dispatch would)."""

    def __init__(self, kernels: Any, off: set[str]) -> None:
        self._kernels, self._off, self._ref = kernels, off, ReferenceKernels()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ref if name in self._off else self._kernels, name)


def frame(G: torch.nn.Module, ws: torch.Tensor, device: torch.device, kernels: Any | None, force_fp32: bool):
    """One synthesis with `kernels` serving every op on `device` (None: the reference path)."""
    with torch.no_grad(), backend.serving(kernels, device):
        return G.synthesis(ws, noise_mode="const", force_fp32=force_fp32).float()


def cuda_graph_replay(G: torch.nn.Module, ws: torch.Tensor, force_fp32: bool) -> torch.Tensor | str:
    """A frame replayed from a freshly captured CUDA graph, or why there was none."""
    from stylegan3.render.graphs import SynthesisGraphs

    runner = SynthesisGraphs(G)
    with torch.no_grad():
        runner(ws, noise_mode="const", force_fp32=force_fp32)  # captures
        img = runner(ws, noise_mode="const", force_fp32=force_fp32)
    reason = runner.last_reason
    runner.clear()
    return img.float() if reason is None else reason


def _uses_fp16(G: torch.nn.Module, device: torch.device) -> bool:
    return device.type == "cuda" and any(getattr(m, "use_fp16", False) for m in G.modules())


# ---------------------------------------------------------------------------------------------------
# Speed: which path is faster on the network's own calls.


def clock(impl: str, op: str, x: torch.Tensor, run: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, float]:
    """The default Timer: wall seconds of one call (synchronized on CUDA)."""
    del impl, op
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)
    t0 = time.perf_counter()
    out = run()
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)
    return out, time.perf_counter() - t0


class _Timed(_OpWrapper):
    """A kernels module whose ops add their time to per-call-key totals."""

    def __init__(self, kernels: Any, impl: str, timer: Timer, totals: dict[str, float], skip: set[str]) -> None:
        self._kernels, self._impl, self._timer, self._totals, self._skip = kernels, impl, timer, totals, skip
        self.examples: dict[str, tuple[str, torch.Tensor, tuple]] = {}  # key -> the first call (op, x, args)
        self.counts: dict[str, int] = {}  # key -> calls in the frame

    def _run(self, op: str, x: torch.Tensor, args: tuple) -> torch.Tensor:
        if op in self._skip:
            return getattr(self._kernels, op)(x, *args)
        out, seconds = self._timer(self._impl, op, x, lambda: getattr(self._kernels, op)(x, *args))
        key = backend.call_key(op, x.shape, x.dtype)
        self._totals[key] = self._totals.get(key, 0.0) + seconds
        self.examples.setdefault(key, (op, x, args))
        self.counts[key] = self.counts.get(key, 0) + 1
        return out


def time_calls(
    kernels: Any,
    device: torch.device,
    G: torch.nn.Module,
    ws: torch.Tensor,
    timer: Timer | None = None,
    skip: set[str] | None = None,
) -> tuple[dict[str, float], dict[str, float]]:
    """Seconds per call key of one frame (the network's precision) on `kernels` and on the reference:
    ({key: kernels s}, {key: reference s}); ops in `skip` run untimed on the kernels side. The kernels frame runs
    after a warm-up frame (filter caches, first touch), so both sides are timed warm."""
    timer = timer or clock
    skip = skip or set()
    mine: dict[str, float] = {}
    ref: dict[str, float] = {}
    timed = _Timed(kernels, "kernels", timer, mine, skip)
    with torch.no_grad():
        frame(G, ws, device, kernels, False)
        frame(G, ws, device, timed, False)
        frame(G, ws, device, _Timed(ReferenceKernels(), "reference", timer, ref, set()), False)
    _last_calls.clear()
    _last_calls.update({k: (ex, timed.counts[k]) for k, ex in timed.examples.items()})
    return mine, ref


# The kernels frame's calls of the latest time_calls: key -> ((op, x, args) of its first call, calls per frame).
_last_calls: dict[str, tuple[tuple[str, torch.Tensor, tuple], int]] = {}


def _confirm(kernels: Any, key: str, timer: Timer) -> tuple[float, float] | None:
    """(kernels s, reference s) per frame for `key`: the min of SPEED_CONFIRM_RUNS runs of its first call on each
    path, times its calls per frame. Why: one frame's timing of a small call can catch a stall (a thread waiting
    for a core on a loaded machine); a shape goes to the reference only when repeated runs agree."""
    found = _last_calls.get(key)
    if found is None:
        return None
    (op, x, args), count = found
    ref = ReferenceKernels()
    with torch.no_grad():
        k_s = min(timer("kernels", op, x, lambda: getattr(kernels, op)(x, *args))[1] for _ in range(SPEED_CONFIRM_RUNS))
        r_s = min(timer("reference", op, x, lambda: getattr(ref, op)(x, *args))[1] for _ in range(SPEED_CONFIRM_RUNS))
    return k_s * count, r_s * count


def compare_speed(
    kernels: Any,
    device: torch.device,
    G: torch.nn.Module,
    ws: torch.Tensor,
    off: set[str],
    timer: Timer | None = None,
) -> dict[str, str]:
    """{call key: reason} where the reference was faster than the kernels by more than SPEED_MARGIN (and by at
    least SPEED_MIN_GAIN_S per frame) on `G`'s own calls (ops already switched off are not timed: the reference
    computes them anyway).

    Why per call shape: a kernel that wins on large layers can lose on small ones (thread start-up, tile
    halos), and the dispatch sees exactly the op and x when it chooses."""
    timer = timer or clock
    mine, ref = time_calls(_Mixed(kernels, off), device, G, ws, timer, skip=off)
    slower = {}
    for key, k_s in mine.items():
        r_s = ref.get(key)
        if key.split(" ", 1)[0] in off or r_s is None:
            continue
        if k_s > SPEED_MARGIN * r_s and k_s - r_s >= SPEED_MIN_GAIN_S:
            again = _confirm(kernels, key, timer)
            if again is None:
                continue
            k_s, r_s = again
            if k_s > SPEED_MARGIN * r_s and k_s - r_s >= SPEED_MIN_GAIN_S:
                slower[key] = f"reference faster on this network's calls ({r_s * 1e3:.3g} ms vs {k_s * 1e3:.3g} ms)"
    slower.update(compare_grad_speed(kernels, off, timer))
    return slower


def _with_grad(fn: Callable[..., torch.Tensor], x: torch.Tensor, args: tuple, dy: torch.Tensor) -> Callable:
    """A run of forward + backward of `fn(x, *args)` wrt x, as projection and drag make it (the network's
    weights and biases frozen: only x asks for a gradient)."""

    def run() -> torch.Tensor:
        xg = x.detach().requires_grad_(True)
        with torch.enable_grad():
            y = fn(xg, *args)
            y.backward(dy)
        return y.detach()

    return run


def _time_grad(kernels: Any, op: str, x: torch.Tensor, args: tuple, timer: Timer, runs: int) -> tuple[float, float]:
    """(kernels s, reference s): the min of `runs` forward + backward runs of one call on each path."""
    ref = ReferenceKernels()
    with torch.no_grad():
        shape = getattr(ref, op)(x, *args).shape
    dy = torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(device=x.device, dtype=x.dtype)
    key = backend.backward_key(op)  # the timer sees "<op>:backward": tests tell the two paths apart
    mine = _with_grad(lambda xg, *a: autograd.run(kernels, op, xg, *a), x, args, dy)
    theirs = _with_grad(lambda xg, *a: getattr(ref, op)(xg, *a), x, args, dy)
    k_s = min(timer("kernels", key, x, mine)[1] for _ in range(runs))
    r_s = min(timer("reference", key, x, theirs)[1] for _ in range(runs))
    return k_s, r_s


def compare_grad_speed(kernels: Any, off: set[str], timer: Timer | None = None) -> dict[str, str]:
    """{call key of "<op>:backward": reason} where the kernels' gradient path (forward + backward through
    `stylegan3.ops.autograd`) was slower than the reference's autograd on the calls of the latest `time_calls`
    frame, by the forward's rules (SPEED_MARGIN, SPEED_MIN_GAIN_S per frame, confirmed by SPEED_CONFIRM_RUNS).

    Why separately: projection and drag run every call forward and backward, and the backward passes (transposed
    filters, another layout) can lose where the forward wins, and win where it loses; the dispatch asks this
    verdict only for calls that need a gradient. Ops whose gradient path is off or missing are not timed."""
    timer = timer or clock
    slower = {}
    for (op, x, args), count in list(_last_calls.values()):
        if op in off or backend.backward_key(op) in off or not autograd.supports(kernels, op):
            continue
        if x.dtype not in (torch.float16, torch.float32):
            continue
        try:  # screened on the min of two runs each (the first backward also fills the kernels' filter caches)
            k_s, r_s = (t * count for t in _time_grad(kernels, op, x, args, timer, 2))
            if not (k_s > SPEED_MARGIN * r_s and k_s - r_s >= SPEED_MIN_GAIN_S):
                continue
            k_s, r_s = (t * count for t in _time_grad(kernels, op, x, args, timer, SPEED_CONFIRM_RUNS))
        except Exception:  # noqa: BLE001 - a path that cannot run here is timed by nothing; check_backward judges it
            continue
        if k_s > SPEED_MARGIN * r_s and k_s - r_s >= SPEED_MIN_GAIN_S:
            grad_key = backend.call_key(backend.backward_key(op), x.shape, x.dtype)
            slower[grad_key] = (
                f"reference faster with gradients on this network's calls ({r_s * 1e3:.3g} ms vs {k_s * 1e3:.3g} ms "
                "forward + backward)"
            )
    return slower


# ---------------------------------------------------------------------------------------------------
# The verdict.


@dataclass
class Verdict:
    """What one check found. `off` maps an op (or "graphs") to the one-line reason it is switched off."""

    identity: dict[str, Any]
    network: str
    off: dict[str, str] = field(default_factory=dict)
    ops: dict[str, dict[str, Any]] = field(default_factory=dict)  # op -> {"cases", "worst"}
    frame: dict[str, float] = field(default_factory=dict)  # precision -> error of the first frame
    graphs: str = "not checked"  # "agree (error ...)", a reason it was not checked, or the mismatch
    slower: dict[str, str] = field(default_factory=dict)  # backend.call_key -> why the reference computes it
    seconds: float = 0.0
    cached: bool = False

    def summary(self) -> str:
        """One line: what agreed, what was switched off, and the check's cost (paid once per build)."""
        forward = [op for op in self.ops if not op.endswith(":backward")]
        good = [op for op in forward if op not in self.off and self.ops[op].get("cases")]
        unused = [op for op in forward if op not in self.off and not self.ops[op].get("cases")]
        grads = [
            op
            for op in forward
            if self.ops.get(backend.backward_key(op), {}).get("cases") and backend.backward_key(op) not in self.off
        ]
        parts = []
        if good:
            parts.append(f"{', '.join(good)} agree with the reference")
        if unused:
            parts.append(f"{', '.join(unused)} not used by this network")
        if grads:
            parts.append(f"gradients of {', '.join(grads)} agree")
        if self.off:
            parts.append(f"turned off: {', '.join(sorted(self.off))}")
        if self.slower:
            ops = sorted({key.split(" ", 1)[0] for key in self.slower})
            parts.append(f"reference faster at {len(self.slower)} call shape(s) of {', '.join(ops)}, used there")
        if "graphs" not in self.off:
            parts.append(f"CUDA graphs {self.graphs}")
        when = "cached verdict" if self.cached else "once per build"
        return (
            f"self-check on {self.identity.get('device', '?')} ({self.network}): {'; '.join(parts)} "
            f"[{self.seconds:.1f} s, {when}]"
        )

    def reasons(self) -> list[str]:
        where = self.identity.get("device", "?")
        return [f"{op} switched off on {where}: {why}" for op, why in sorted(self.off.items())]

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _STORED}


_STORED = ("network", "off", "ops", "frame", "graphs", "slower", "seconds")


def check(
    kernels: Any,
    device: torch.device | str,
    G: torch.nn.Module,
    identity: dict[str, Any] | None = None,
    replay: Replay | None = None,
    seed: int = 0,
    timer: Timer | None = None,
) -> Verdict:
    """Run the whole check of `kernels` on `device` with `G`'s own calls; switches nothing off itself.

    Then times every call of one frame both ways (`compare_speed`; `timer` stands in for the clock in tests) and
    lists in `slower` the call shapes where the reference is faster.

    `replay(G, ws, force_fp32)` gives a graph-replayed frame (default: a CUDA graph on CUDA devices; none
    elsewhere); tests pass their own to simulate a bad replay.
    """
    device = torch.device(device)
    t0 = time.perf_counter()
    verdict = Verdict(identity=dict(identity or {"device": backend.device_key(device)}), network=network_label(G))
    with torch.no_grad(), backend.serving(None, device):
        ws = first_frame_ws(G, device, seed)
    fp16 = _uses_fp16(G, device)
    try:
        calls, first = record_calls(G, device, kernels, ws)
    except Exception:  # noqa: BLE001 - kernels that raise on the network's own calls: record with the reference
        calls, first = record_calls(G, device, None, ws)
        first = None
    for op, res in check_ops(kernels, device, calls, seed=seed).items():
        verdict.ops[op] = {"cases": res.cases, "worst": res.worst}  # worst error per precision
        if res.problem:
            verdict.off[op] = res.problem
    check_backward_into(verdict, kernels, device, calls, seed)
    precisions = [("fp32", True)] + ([("fp16", False)] if fp16 else [])
    served = _Mixed(kernels, set(verdict.off))
    for precision, force_fp32 in precisions:
        want = frame(G, ws, device, None, force_fp32)
        # The recording frame is the kernels' own (network precision) unless an op has been switched off since.
        reuse = first is not None and not verdict.off and (precision == "fp16") == fp16
        err = error(first if reuse else frame(G, ws, device, served, force_fp32), want)
        verdict.frame[precision] = err
        if err > FRAME_TOL[precision]:
            # Each op agreed on its own, the frame does not: the dispatch or an interplay. Trust none.
            why = (
                f"the first frame ({precision}) differs from the reference by {err:.2g} (tolerance "
                f"{FRAME_TOL[precision]:g})"
            )
            for op in OPS:
                verdict.off.setdefault(op, why)
            served = _Mixed(kernels, set(OPS))
    verdict.slower = compare_speed(kernels, device, G, ws, set(verdict.off), timer)
    replay = replay or (cuda_graph_replay if device.type == "cuda" else None)
    if replay is None:
        verdict.graphs = "not applicable (no CUDA device)"
    else:
        with backend.serving(served, device):
            got = replay(G, ws, False)
            want = frame(G, ws, device, served, False)
        if isinstance(got, str):
            verdict.graphs = f"not checked ({got})"
        else:
            err = error(got, want)
            if err > GRAPH_TOL:
                verdict.off["graphs"] = f"self-check: a CUDA graph replay differs from eager synthesis by {err:.2g}"
            verdict.graphs = f"agree (error {err:.1g})" if err <= GRAPH_TOL else f"differ by {err:.2g}"
    verdict.seconds = time.perf_counter() - t0
    return verdict


def network_label(G: torch.nn.Module) -> str:
    try:
        from stylegan3.networks import network_kind

        kind = network_kind(G)
    except Exception:  # noqa: BLE001 - any module with mapping/synthesis can be checked
        kind = type(G).__name__
    return f"{kind} {getattr(G, 'img_resolution', '?')}px"


def network_signature(G: torch.nn.Module) -> str:
    """Architecture of `G` (its constructor arguments): networks that make the same calls share a verdict."""
    kwargs = getattr(G, "init_kwargs", None) or {}
    text = json.dumps({"type": type(G).__name__, "kwargs": kwargs}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------------
# Cache, application and the first-use hook.


def apply(verdict: Verdict, device: torch.device | str) -> None:
    for op, reason in verdict.off.items():
        backend.disable(device, op, reason)
    for key, reason in verdict.slower.items():
        backend.prefer_reference(device, key, reason)


def load_cached(path: Path, identity: dict[str, Any]) -> dict[str, Any]:
    """The stored verdicts when they were made for exactly this identity, else an empty record."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"identity": identity, "networks": {}}
    if not isinstance(data, dict) or data.get("identity") != identity or not isinstance(data.get("networks"), dict):
        return {"identity": identity, "networks": {}}
    return data


def _save(path: Path, data: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        tmp.replace(path)
    except OSError:
        pass  # a read-only cache means the check runs again next time, never that rendering stops


def _driver_version() -> str | None:
    import shutil
    import subprocess

    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run(
            [smi, "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout or "").strip().splitlines()[0] if (out.stdout or "").strip() else None


def cuda_identity(device: torch.device) -> tuple[dict[str, Any], Path]:
    """The key of the CUDA kernels' verdict (GPU, driver, torch, CUDA, build key) and their build folder."""
    from sg3_explorer.ops.cuda import build

    target = build.describe_target()
    key = build.cache_key(target.torch_version, target.cuda_version, target.arch, build.source_digest())
    index = device.index if device.index is not None else torch.cuda.current_device()
    identity = {
        "kernels": "cuda",
        "device": torch.cuda.get_device_name(index),
        "capability": ".".join(map(str, torch.cuda.get_device_capability(index))),
        "driver": _driver_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "build": key,
        "check": CHECK_VERSION,
    }
    return identity, build.build_dir_for(key)


def module_identity(kernels: Any, device: torch.device) -> tuple[dict[str, Any], Path | None]:
    """Key and folder of any other kernels module (e.g. built for the CPU): a compiled module that sits in a
    build folder (with build.json) keeps its verdict there; the folder name is the build key."""
    import platform

    path = getattr(kernels, "__file__", None)
    folder = Path(path).parent if path else None
    if folder is not None and not (folder / "build.json").is_file():
        folder = None
    identity = {
        "kernels": getattr(kernels, "__name__", type(kernels).__name__),
        "device": backend.device_key(device),
        "machine": f"{platform.machine()} {platform.processor()}".strip(),
        "torch": torch.__version__,
        "build": folder.name if folder is not None else None,
        "check": CHECK_VERSION,
    }
    return identity, folder


_lock = threading.Lock()
_verdicts: dict[str, list[Verdict]] = {}  # device key -> verdicts applied in this process
_checked: set[tuple[str, str]] = set()  # (device key, network signature)


def verdicts(device: torch.device | str) -> list[Verdict]:
    """The verdicts applied on `device` in this process (the Performance panel shows them)."""
    return list(_verdicts.get(backend.device_key(device), []))


def status_lines(device: torch.device | str) -> list[str]:
    """One line per switched-off op of `device`, one per call shape the reference computes because it is faster
    there, plus the latest summary (panel, doctor)."""
    found = verdicts(device)
    lines = [f"{op} switched off: {why}" for op, why in sorted(backend.disabled(device).items())]
    lines += [f"reference used for {key}: {why}" for key, why in sorted(backend.reference_faster(device).items())]
    if found:
        lines.append(found[-1].summary())
    return lines


def ensure(
    G: torch.nn.Module,
    device: torch.device | str | None = None,
    kernels: Any | None = None,
    identity: dict[str, Any] | None = None,
    folder: Path | None = None,
    replay: Replay | None = None,
    stream: TextIO | None = None,
    timer: Timer | None = None,
) -> Verdict | None:
    """The first-use hook: check `G`'s calls once per (identity, architecture), apply the verdict, say so.

    Without `kernels`, those the dispatch would use on `device` (none: nothing to check, returns None).
    Prints to `stream` (stderr by default) the summary when a check ran, and every reason an op is off.
    """
    if device is None:
        p = next(iter(G.parameters()), None)
        device = p.device if p is not None else torch.device("cpu")
    device = torch.device(device)
    if kernels is None:
        kernels = backend.kernels_module(device)
        if kernels is None:
            return None
        if identity is None:
            identity, folder = cuda_identity(device) if device.type == "cuda" else module_identity(kernels, device)
    if identity is None:
        identity, found = module_identity(kernels, device)
        folder = folder if folder is not None else found
    dkey, sig = backend.device_key(device), network_signature(G)
    stream = sys.stderr if stream is None else stream
    with _lock:
        path = folder / FILE_NAME if folder is not None else None
        data = load_cached(path, identity) if path is not None else {"identity": identity, "networks": {}}
        stored = data["networks"].get(sig)
        if (dkey, sig) in _checked:
            return next((v for v in reversed(_verdicts.get(dkey, [])) if v.network == network_label(G)), None)
        if stored is not None:
            verdict = Verdict(identity=identity, cached=True, **{k: stored[k] for k in _STORED if k in stored})
        else:
            verdict = check(kernels, device, G, identity=identity, replay=replay, timer=timer)
            data["networks"][sig] = verdict.to_json()
            if path is not None:
                _save(path, data)
        # Ops found bad with any network stay off for every network on this device.
        for other in data["networks"].values():
            for op, why in other.get("off", {}).items():
                verdict.off.setdefault(op, why)
        _checked.add((dkey, sig))
        known = _verdicts.setdefault(dkey, [])
        already = {op for v in known for op in v.off}
        apply(verdict, device)
        known.append(verdict)
    if not verdict.cached:
        print(f"sg3-explorer: {verdict.summary()}" + (f"; saved in {path}" if path else ""), file=stream)
    for line in verdict.reasons():
        if line.split(" ", 1)[0] not in already:
            print(f"sg3-explorer: {line}", file=stream)
    return verdict


def ensure_safe(G: torch.nn.Module, device: torch.device | str | None = None, stream: TextIO | None = None) -> None:
    """`ensure` for loaders: never raises. A check that crashes switches the kernels off on that device, since
    a kernel that faults on valid input is no safer than one that computes wrongly."""
    if os.environ.get(DISABLE_ENV, "1") == "0":
        return
    try:
        ensure(G, device, stream=stream)
    except Exception as exc:  # noqa: BLE001 - loading must go on, on the reference ops
        p = next(iter(G.parameters()), None)
        dev = torch.device(device) if device is not None else (p.device if p is not None else torch.device("cpu"))
        why = f"self-check failed: {type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:160]}"
        for op in OPS:
            backend.disable(dev, op, why)
        print(f"sg3-explorer: kernels switched off on {backend.device_key(dev)}: {why}", file=stream or sys.stderr)


def reset() -> None:
    """Forget this process's verdicts and switched-off ops (tests)."""
    with _lock:
        for dkey in list(_verdicts):
            backend.enable_all(dkey)
        _verdicts.clear()
        _checked.clear()
