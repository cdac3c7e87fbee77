"""Per-step time of drag to edit (`stylegan3.explore.drag`): the reference ops against the automatic choice.

One drag step is a synthesis with the feature layer captured, point tracking, the motion-supervision loss and
its gradient with respect to the first 6 ws, and an Adam update. The demo networks (`demo` = SG3-T,
`demo-sg3-r`, `demo-sg2`, 256², random weights) drag one handle 12 px to the right; `--steps` updates are timed
per implementation after one untimed update (first-touch pages, filter caches), the two implementations
alternating round by round so a change of the machine's load hits both. Reported per step: the minimum and the
median wall time, the minimum of the process's CPU time (user + system) per step, and the 1-minute load average
before and after (the machine is shared: the minimum is the least disturbed step).

"ref" is `stylegan3.ops.backend.force_impl('ref')`; "auto" is the automatic choice, which takes the kernels
where their backward passes exist and the reference ops otherwise (before issue 22's backward kernels, the two
rows run the same code).

    PYTHONPATH=. python3 -m benchmarks.bench_drag                      # the three demo nets, 3 steps, 2 rounds
    PYTHONPATH=. python3 -m benchmarks.bench_drag --nets demo-sg2 --steps 5 --device cuda
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

NETS = ("demo", "demo-sg3-r", "demo-sg2")
IMPLS = ("ref", "auto")


@dataclass
class Timing:
    wall_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return min(self.wall_s) if self.wall_s else float("nan")

    @property
    def wall_median(self) -> float:
        return statistics.median(self.wall_s) if self.wall_s else float("nan")

    @property
    def cpu(self) -> float:
        return min(self.cpu_s) if self.cpu_s else float("nan")


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def time_steps(G: torch.nn.Module, ws: torch.Tensor, steps: int, timing: Timing, sync) -> None:
    """Run a drag of `steps + 1` updates and add the time of every update after the first to `timing`."""
    from stylegan3.explore.drag import drag

    res = int(G.img_resolution)
    handle, target = (res // 2 - 6, res // 2), (res // 2 + 6, res // 2)
    marks: list[tuple[float, float]] = []
    for _step in drag(G, ws, [handle], [target], steps=steps + 1, lr=0.002, reached=0.0):
        sync()
        marks.append((time.perf_counter(), _cpu()))
    for (w0, c0), (w1, c1) in zip(marks[1:], marks[2:], strict=False):  # marks[0]: the forward before any update
        timing.wall_s.append(w1 - w0)
        timing.cpu_s.append(c1 - c0)


def bench(nets: list[str], steps: int, rounds: int, device: torch.device) -> list[list[str]]:
    from stylegan3 import load_network
    from stylegan3.ops import backend

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    rows = []
    for name in nets:
        G = load_network(name, device=device).eval().requires_grad_(False)
        z = torch.randn([1, G.z_dim], generator=torch.Generator().manual_seed(0)).to(device)
        with torch.no_grad():
            ws = G.mapping(z, torch.zeros([1, G.c_dim], device=device))
        timings = {impl: Timing() for impl in IMPLS}
        auto_impl = backend.active_impl(device)
        for rnd in range(rounds):
            for impl in IMPLS if rnd % 2 == 0 else IMPLS[::-1]:
                backend.force_impl("ref" if impl == "ref" else None)
                try:
                    time_steps(G, ws, steps, timings[impl], sync)
                finally:
                    backend.force_impl(None)
                t = timings[impl]
                print(
                    f"  {name} round {rnd} {impl}: {t.wall_s[-1]:.2f} s/step (load {os.getloadavg()[0]:.1f})",
                    file=sys.stderr,
                )
        ref, auto = timings["ref"], timings["auto"]
        rows.append(
            [
                name,
                f"{int(G.img_resolution)}²",
                device.type,
                f"{ref.wall:.2f}",
                f"{auto.wall:.2f}",
                f"{ref.wall / auto.wall:.2f}x",
                f"{ref.wall_median:.2f}",
                f"{auto.wall_median:.2f}",
                f"{ref.cpu:.2f}",
                f"{auto.cpu:.2f}",
                f"{ref.cpu / auto.cpu:.2f}x",
                auto_impl,
                str(len(ref.wall_s)),
            ]
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nets", nargs="+", default=list(NETS), help="network sources (default: the three demo nets)")
    p.add_argument("--steps", type=int, default=3, help="timed updates per round and implementation (3)")
    p.add_argument("--rounds", type=int, default=2, help="rounds, the implementations alternating (2)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (cpu)")
    args = p.parse_args(argv)
    torch.manual_seed(0)
    load_before = " ".join(open("/proc/loadavg").read().split()[:3])
    t0 = time.perf_counter()
    rows = bench(args.nets, args.steps, args.rounds, torch.device(args.device))
    load_after = " ".join(open("/proc/loadavg").read().split()[:3])
    head = [
        "net",
        "res",
        "device",
        "ref s/step min",
        "auto s/step min",
        "auto vs ref",
        "ref median",
        "auto median",
        "ref cpu s/step min",
        "auto cpu s/step min",
        "cpu ratio",
        "ops built",
        "steps",
    ]
    print(
        f"# drag per step (1 handle, 6 ws optimized), torch {torch.__version__}, {os.cpu_count()} CPUs; "
        f"min and median over the timed steps; load average before {load_before}, after {load_after}; "
        f"{time.perf_counter() - t0:.0f} s in all"
    )
    print("\n".join(text_table(head, rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
