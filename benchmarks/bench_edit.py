"""Editing-by-gradients benchmark: per-step projection time on the kernels against the reference ops, in one run.

Why: projection (and drag) differentiate through synthesis every step; before the kernels had backward passes
every such step ran on the reference ops. Here both paths project the same target from the same start for the
same number of steps (`stylegan3.explore.projection.project`, W+, the offline loss): `backend.force_impl('ref')`
against the automatic choice (the kernels with their gradients, after the first-use self-check: call shapes it
timed slower on the kernels, with or without gradients, go to the reference as they would for a user). The per-step
time is the median over the steps after the first (which builds caches); the final PSNR of both paths must agree
within 0.1 dB.

Networks: the official configs (`stylegan3.networks.configs.official_config`: SG3-T, SG3-R, SG2) at 256x256 with
random weights, or with `--demo` the bundled demo networks (the same architectures with fewer channels: channel
max 128 / 256, 128-d latents). The target is the network's own image of seed 1 (reachable, so PSNR means
something); projection starts from the mean w. The machine may be shared: CPU time (user + system of this
process, `resource.getrusage`) is printed beside wall time, with the 1-minute load average.

    PYTHONPATH=. python3 -m benchmarks.bench_edit                       # SG3-T, SG3-R, SG2 at 256, 6 steps
    PYTHONPATH=. python3 -m benchmarks.bench_edit --nets SG3-T --steps 10 --demo
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from dataclasses import dataclass, field

import torch

from benchmarks.tables import text_table

NETS = ("SG3-T", "SG3-R", "SG2")
DEMO = {"SG3-T": "sg3-t", "SG3-R": "sg3-r", "SG2": "sg2"}
IMPLS = ("ref", "kernels")
# "before": the reference ops with the fused modulated convolution (`stylegan3.networks.modconv.FACTORED` off):
# projection as it ran before the kernels had gradients and before the factored form (`--with-before`).
BEFORE = "before"


@dataclass
class PathResult:
    wall_s: list[float] = field(default_factory=list)  # per step
    cpu_s: list[float] = field(default_factory=list)
    psnr: float = float("nan")
    load: float = 0.0

    def step_wall(self) -> float:
        return statistics.median(self.wall_s[1:] or self.wall_s)

    def step_cpu(self) -> float:
        return statistics.median(self.cpu_s[1:] or self.cpu_s)


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def build(net: str, demo: bool, resolution: int) -> torch.nn.Module:
    if demo:
        from stylegan3.loading.demo import demo_network

        return demo_network(DEMO[net])
    from stylegan3.networks.configs import build_config_net

    return build_config_net(net, resolution, torch.device("cpu")).eval().requires_grad_(False)


def target_of(G: torch.nn.Module) -> torch.Tensor:
    """The network's own image of seed 1 (reference ops, no autograd), clipped like a picture."""
    from stylegan3.ops import backend

    z = torch.randn([1, G.z_dim], generator=torch.Generator().manual_seed(1))
    backend.force_impl("ref")
    try:
        with torch.no_grad():
            img = G(z, torch.zeros([1, G.c_dim]), noise_mode="const", force_fp32=True)
    finally:
        backend.force_impl(None)
    return img.clamp(-1, 1)


def run_path(G: torch.nn.Module, target: torch.Tensor, impl: str, steps: int) -> PathResult:
    """Project `steps` steps with `impl` ('ref' or 'kernels'), timing each step (the generator's step = one
    forward + loss, then the backward and the optimizer update at the next `next`)."""
    from stylegan3.explore.projection import project, psnr
    from stylegan3.networks import modconv
    from stylegan3.ops import backend

    out = PathResult()
    backend.force_impl(None if impl == "kernels" else "ref")
    modconv.FACTORED = impl != BEFORE
    try:
        it = project(G, target, steps=steps, init_samples=200, seed=0)
        step = next(it)  # forward of step 0 (mapping samples, first synthesis)
        for _ in range(steps):
            t0, c0 = time.perf_counter(), _cpu_seconds()
            step = next(it)  # backward + update of one step, forward of the next
            out.wall_s.append(time.perf_counter() - t0)
            out.cpu_s.append(_cpu_seconds() - c0)
        out.psnr = psnr(step.image, target)
    finally:
        backend.force_impl(None)
        modconv.FACTORED = True
    out.load = os.getloadavg()[0]
    return out


def format_rows(results: dict[str, dict[str, PathResult]]) -> list[str]:
    before = any(BEFORE in paths for paths in results.values())
    head = ["net", "ref s/step (cpu)", "kernels s/step (cpu)", "speed-up wall", "speed-up cpu", "PSNR ref",
            "PSNR kernels", "dPSNR", "load"]  # fmt: skip
    if before:
        head[1:1] = ["before s/step (cpu)"]
        head[6:6] = ["vs before wall", "vs before cpu"]
    rows = []
    for net, paths in results.items():
        ref, ker = paths["ref"], paths["kernels"]
        row = [
            net,
            f"{ref.step_wall():.2f} ({ref.step_cpu():.2f})",
            f"{ker.step_wall():.2f} ({ker.step_cpu():.2f})",
            f"{ref.step_wall() / ker.step_wall():.2f}x",
            f"{ref.step_cpu() / ker.step_cpu():.2f}x",
            f"{ref.psnr:.3f}",
            f"{ker.psnr:.3f}",
            f"{max(abs(p.psnr - ker.psnr) for p in paths.values()):.3f}",
            f"{max(p.load for p in paths.values()):.1f}",
        ]
        if before:
            old = paths[BEFORE]
            row[1:1] = [f"{old.step_wall():.2f} ({old.step_cpu():.2f})"]
            row[6:6] = [f"{old.step_wall() / ker.step_wall():.2f}x", f"{old.step_cpu() / ker.step_cpu():.2f}x"]
        rows.append(row)
    return text_table(head, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", nargs="+", default=list(NETS), choices=NETS)
    parser.add_argument("--steps", type=int, default=6, help="projection steps per path (default 6)")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--demo", action="store_true", help="the bundled demo networks instead of official configs")
    parser.add_argument("--with-before", action="store_true",
                        help="also time the path before issue 22 (reference ops, fused modulated convolution)")
    args = parser.parse_args(argv)

    from stylegan3.ops import backend

    print(f"load average {os.getloadavg()[0]:.2f} (1 min), {torch.get_num_threads()} threads, "
          f"kernels: {backend.describe('cpu')}", flush=True)  # fmt: skip
    results: dict[str, dict[str, PathResult]] = {}
    from stylegan3.ops import selfcheck

    for net in args.nets:
        G = build(net, args.demo, args.resolution)
        selfcheck.ensure_safe(G)  # time what a user gets: the first-use check's verdicts (forward and gradients)
        target = target_of(G)
        label = f"{net} {'demo' if args.demo else 'official'} {G.img_resolution}"
        paths = {}
        for impl in ((BEFORE,) if args.with_before else ()) + IMPLS:
            paths[impl] = run_path(G, target, impl, args.steps)
            p = paths[impl]
            print(f"{label} {impl}: {p.step_wall():.2f} s/step wall, {p.step_cpu():.2f} s cpu, PSNR {p.psnr:.3f} dB, "
                  f"load {p.load:.1f}", file=sys.stderr, flush=True)  # fmt: skip
        results[label] = paths
    print("\n".join(format_rows(results)))
    print(f"kernels after the self-check: {backend.describe('cpu')}")
    print(f"load average {os.getloadavg()[0]:.2f} (1 min) at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
