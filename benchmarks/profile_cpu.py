"""Where a CPU synthesis frame's time goes: per layer and per op, CPU time, calls, page faults, MACs vs the floor.

Why: `sg3-explorer bench` gives one number per frame; to bring a network toward its floor we need to know which op
of which layer is far from its share. The machine is shared, so next to wall time every number is the process's
CPU time (`resource.getrusage`: with one torch thread that is the work done, whatever the load) and the minor page
faults (fresh pages the allocator asked the kernel for), with the load average printed alongside.

Per op: the kernels module is served through a wrapper that times every call (`backend.serving`), the reference
path through the same wrapper around `ReferenceKernels`; convolutions are timed by wrapping
`torch.nn.functional.conv2d` / `conv_transpose2d`; "other" is the layer's time minus those (modulation, affine,
casts, Fourier features). MACs per layer and kind come from the floor model (`stylegan3.perf.floor`), and
"floor s" is that layer's work at this machine's measured matmul rate (the rate the floor model uses).

    PYTHONPATH=. python3 -m benchmarks.profile_cpu --nets SG3-R                   # kernels, 1 thread, 256x256
    PYTHONPATH=. python3 -m benchmarks.profile_cpu --nets SG3-T,SG3-R,SG2 --impl ref --threads 2
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

OPS = ("upfirdn2d", "bias_act", "filtered_lrelu")


@dataclass
class Sample:
    wall: float = 0.0
    cpu: float = 0.0
    faults: int = 0
    calls: int = 0

    def add(self, wall: float, cpu: float, faults: int) -> None:
        self.wall += wall
        self.cpu += cpu
        self.faults += faults
        self.calls += 1


def usage() -> tuple[float, float, int]:
    """(wall, process CPU seconds, minor faults) now."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), r.ru_utime + r.ru_stime, r.ru_minflt


class Recorder:
    """Per (layer, op) samples; `layer` is whichever synthesis child is running."""

    def __init__(self) -> None:
        self.layer = "-"
        self.ops: dict[tuple[str, str], Sample] = defaultdict(Sample)
        self.layers: dict[str, Sample] = defaultdict(Sample)

    def timed(self, op: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            w0, c0, f0 = usage()
            out = fn(*args, **kwargs)
            w1, c1, f1 = usage()
            self.ops[(self.layer, op)].add(w1 - w0, c1 - c0, f1 - f0)
            return out

        return wrapper


class TimedKernels:
    """A kernels module whose three ops report to a Recorder."""

    def __init__(self, inner: Any, rec: Recorder) -> None:
        self._inner = inner
        for op in OPS:
            setattr(self, op, rec.timed(op, getattr(inner, op)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@contextlib.contextmanager
def layer_hooks(G: torch.nn.Module, rec: Recorder) -> Iterator[None]:
    handles = []
    starts: dict[str, tuple[float, float, int]] = {}
    for name, child in G.synthesis.named_children():

        def pre(_m: Any, _a: Any, name: str = name) -> None:
            rec.layer = name
            starts[name] = usage()

        def post(_m: Any, _a: Any, _o: Any, name: str = name) -> None:
            w0, c0, f0 = starts.pop(name)
            w1, c1, f1 = usage()
            rec.layers[name].add(w1 - w0, c1 - c0, f1 - f0)
            rec.layer = "-"

        handles += [child.register_forward_pre_hook(pre), child.register_forward_hook(post)]
    F = torch.nn.functional
    saved = F.conv2d, F.conv_transpose2d
    F.conv2d, F.conv_transpose2d = rec.timed("conv", saved[0]), rec.timed("conv", saved[1])
    try:
        yield
    finally:
        F.conv2d, F.conv_transpose2d = saved
        for h in handles:
            h.remove()


def matmul_gflops() -> float:
    from stylegan3.perf.bench import quick_ceilings

    ceil, _ = quick_ceilings(torch.device("cpu"))
    return ceil.fp32_tflops * 1e3


def floor_macs(G: torch.nn.Module) -> dict[str, dict[str, float]]:
    """{layer name: {kind: MACs}} of one frame (fp32) from the floor model."""
    from stylegan3.perf import floor

    out: dict[str, dict[str, float]] = {}
    for lc in floor.count_network(G, "fp32"):
        if lc.synthesis:
            out[lc.name] = {k: lc.macs(k) for k in dict.fromkeys(w.kind for w in lc.work)}
    return out


def layer_key(G: torch.nn.Module, name: str) -> str:
    """The floor model's name for a synthesis child (SG2's blocks are b4, b8, ...; SG3 uses the module names)."""
    return name


def profile(net: str, resolution: int, impl: str, frames: int) -> dict[str, Any]:
    from stylegan3.networks.configs import build_config_net
    from stylegan3.ops import backend
    from stylegan3.ops.reference_kernels import ReferenceKernels

    G = build_config_net(net, resolution, "cpu")
    if impl == "cpu":
        kernels = backend.kernels_module("cpu")
        if kernels is None:
            raise SystemExit("CPU kernels unavailable")
    else:
        kernels = ReferenceKernels()
    z = torch.randn([1, G.z_dim], generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        ws = G.mapping(z, torch.zeros([1, G.c_dim]), truncation_psi=1.0)
        with backend.serving(kernels, "cpu"):
            G.synthesis(ws, noise_mode="const")  # warm-up: filter caches, first touch
            rec = Recorder()
            served = TimedKernels(kernels, rec)
            frame = Sample()
            with backend.serving(served, "cpu"), layer_hooks(G, rec):
                for _ in range(frames):
                    w0, c0, f0 = usage()
                    G.synthesis(ws, noise_mode="const")
                    w1, c1, f1 = usage()
                    frame.add(w1 - w0, c1 - c0, f1 - f0)
    return dict(G=G, rec=rec, frame=frame, frames=frames)


def fmt_table(net: str, impl: str, res: dict[str, Any], gflops: float) -> str:
    G, rec, frame, n = res["G"], res["rec"], res["frame"], res["frames"]
    macs = floor_macs(G)
    lines = [
        f"### {net} {G.img_resolution}x{G.img_resolution}, ops: {impl}, {torch.get_num_threads()} thread(s), "
        f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}",
        f"frame: wall {frame.wall / n:.3f} s, CPU {frame.cpu / n:.3f} s, minor faults {frame.faults / n / 1e3:.1f}k "
        f"(mean of {n}); matmul rate {gflops:.0f} GFLOP/s",
        "",
        "| layer | op | calls | CPU s | wall s | faults k | GMAC | GMAC/s (CPU) | floor s | x floor |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    kind_of = {"conv": ("modconv", "torgb"), "filtered_lrelu": ("filtered_lrelu",),
               "upfirdn2d": ("upfirdn2d blur", "img upsample"), "bias_act": ()}  # fmt: skip
    totals: dict[str, Sample] = defaultdict(Sample)
    total_floor: dict[str, float] = defaultdict(float)
    for layer, ls in rec.layers.items():
        lm = macs.get(layer, {})
        known = 0.0
        for op in ("conv", *OPS):
            s = rec.ops.get((layer, op))
            if s is None:
                continue
            known += s.cpu
            g = sum(lm.get(k, 0.0) for k in kind_of[op])
            fl = g / (gflops * 1e9 / 2)
            totals[op].wall += s.wall
            totals[op].cpu += s.cpu
            totals[op].faults += s.faults
            totals[op].calls += s.calls
            total_floor[op] += fl * n
            lines.append(
                f"| {layer} | {op} | {s.calls // n} | {s.cpu / n:.3f} | {s.wall / n:.3f} | {s.faults / n / 1e3:.1f} | "
                f"{g / 1e9:.2f} | {g * n / 1e9 / s.cpu if s.cpu else 0:.1f} | {fl:.3f} | "
                f"{s.cpu / n / fl if fl else 0:.1f} |"
            )
        other = ls.cpu - known
        totals["other"].cpu += other
        g_other = sum(v for k, v in lm.items() if k not in ("modconv", "torgb", "filtered_lrelu", "upfirdn2d blur",
                                                            "img upsample"))  # fmt: skip
        fl = g_other / (gflops * 1e9 / 2)
        total_floor["other"] += fl * n
        lines.append(
            f"| {layer} | other | | {other / n:.3f} | | {ls.faults / n / 1e3:.1f} (layer) | {g_other / 1e9:.2f} "
            f"| | {fl:.3f} | |"
        )
    lines += ["", "| op | calls | CPU s | share | faults k | floor s | x floor |", "|---|---|---|---|---|---|---|"]
    for op, s in totals.items():
        fl = total_floor[op] / n
        lines.append(
            f"| {op} | {s.calls // n} | {s.cpu / n:.3f} | {s.cpu / frame.cpu:.0%} | {s.faults / n / 1e3:.1f} | "
            f"{fl:.3f} | {s.cpu / n / fl if fl else 0:.1f} |"
        )
    return "\n".join(lines)


def summary_row(net: str, resolution: int, frames: int, gflops: float) -> str:
    """One row: a whole frame (kernels, warm) with wall, CPU, system time and faults, and the floor at `gflops`."""
    from stylegan3.networks.configs import build_config_net
    from stylegan3.perf import bench, floor

    G = build_config_net(net, resolution, "cpu")
    z = torch.randn([1, G.z_dim], generator=torch.Generator().manual_seed(0))
    runs = []
    with torch.inference_mode():
        ws = G.mapping(z, torch.zeros([1, G.c_dim]), truncation_psi=1.0)
        G.synthesis(ws, noise_mode="const")
        for _ in range(frames):
            r0 = resource.getrusage(resource.RUSAGE_SELF)
            t0 = time.perf_counter()
            G.synthesis(ws, noise_mode="const")
            wall = time.perf_counter() - t0
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
            runs.append((cpu, wall, r1.ru_stime - r0.ru_stime, r1.ru_minflt - r0.ru_minflt))
    cpu, wall, sys_s, faults = min(runs)
    ceil = bench.quick_ceilings(torch.device("cpu"))[0]
    ceil.fp32_tflops = ceil.tf32_tflops = ceil.fp16_tflops = gflops / 1e3
    ceil.hfma2_tflops = 2 * gflops / 1e3
    fl = floor.summarize(net, "fp32", floor.count_network(G, "fp32"), ceil)["floors"]["fp32"]["layerwise_ms"] / 1e3
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    return (
        f"| {net} {resolution} | {torch.get_num_threads()} | {cpu:.2f} | {sys_s:.2f} | {wall:.2f} "
        f"| {faults / 1e3:.0f}k | {fl:.2f} | {cpu / torch.get_num_threads() / fl:.1f}x | {load} |"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", default="SG3-R", help="comma-separated: SG3-T, SG3-R, SG2")
    ap.add_argument("--resolution", type=int, default=256)
    ap.add_argument("--impl", choices=("cpu", "ref"), default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: CPU time = the work, comparable)")
    ap.add_argument("--frames", type=int, default=1)
    ap.add_argument("--summary", action="store_true", help="one row per net (whole frame vs floor), no profile")
    ap.add_argument(
        "--flrelu-mode",
        type=int,
        default=None,
        help="CPU filtered_lrelu kernel: 0 host layout "
        "(default), 1 generic, 2 blocked in the GPU's layout (the kernel before the host layout)",
    )
    ap.add_argument(
        "--gflops",
        type=float,
        default=None,
        help="matmul rate per thread for the floor (default: measured now, best of 5)",
    )
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.flrelu_mode is not None:
        from stylegan3.ops import backend

        backend.kernels_module("cpu").set_filtered_lrelu_mode(args.flrelu_mode)
    gflops = args.gflops or max(matmul_gflops() for _ in range(5))
    if args.summary:
        print(f"matmul rate {gflops:.0f} GFLOP/s ({torch.get_num_threads()} threads); floor = layer-wise floor at it")
        print(
            "| net | threads | CPU s | of which sys | wall s | minor faults | floor s | CPU/threads vs floor | load |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for net in args.nets.split(","):
            print(summary_row(net.strip(), args.resolution, args.frames, gflops), flush=True)
        return 0
    for net in args.nets.split(","):
        res = profile(net.strip(), args.resolution, args.impl, args.frames)
        print(fmt_table(net.strip(), args.impl, res, gflops), flush=True)
        print(file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
