"""Soak through the render service: resident memory stays flat over many frames of changing requests.

A renderer that keeps something per request (a cache keyed on the latent, a captured layer, a graph, an
encoded frame) grows for as long as the window is open; a few frames in a test do not show it, ten thousand
do. This drives one small network of our own (the tiny SG3-T config at 64^2, random weights, saved as a
native file) with a new request every frame: seed, psi, translate / rotate, layer view (image, the output
as a layer, a hidden layer in RGB or one channel, normalized, with gain), now and then the FFT view or the
untransform, through

  (a) a ThreadBackend in this process, and
  (b) a loopback `sg3-explorer serve` (`python -m stylegan3 serve`) child process with a RemoteBackend,

one frame at a time (submit, wait, next), as the window does. Resident memory (VmRSS of /proc) is sampled
every `--sample-every` frames once `--warmup` frames have run (allocator pools and first-use caches fill
there): this process's on both sides, the server's too. Growth = (end - start) / start; the script exits
1 when any side grows more than `--max-growth` percent (default 5, issue 19).

    PYTHONPATH=. python3 -m benchmarks.bench_soak                     # 10,000 frames each side
    PYTHONPATH=. python3 -m benchmarks.bench_soak --frames 1000 --sample-every 100
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from benchmarks.tables import text_table
from stylegan3.documents.request import (
    FFTView,
    LayerView,
    NetworkRef,
    RenderRequest,
    Synthesis,
    Transform,
    Truncation,
    Untransform,
)

RESOLUTION = 64


def rss_kib(pid: int | str = "self") -> int:
    """Resident set size of a process in KiB (VmRSS), the number `top` shows as RES."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def make_network(folder: Path) -> Path:
    """The tiny SG3-T config at 64^2 with seeded random weights, written natively (so a server can load it)."""
    from stylegan3.loading.native import save_native
    from stylegan3.networks.configs import build_config_net

    return save_native(build_config_net("SG3-T", RESOLUTION, tiny=True), folder / "soak-sg3t-64.safetensors")


def requests(source: str, layer_names: list[str]) -> Iterator[RenderRequest]:
    """An endless stream of different requests; every variation recurs with a different seed each time."""
    base = RenderRequest(network=NetworkRef(source), synthesis=Synthesis(cuda_graphs=False))
    hidden = layer_names[len(layer_names) // 2] if layer_names else None
    views = [
        LayerView(),
        LayerView(layer="output"),
        LayerView(layer=hidden),
        LayerView(layer=hidden, channel=0, normalize=True),
        LayerView(layer=hidden, normalize=True, gain_db=6.0),
    ]
    for i in itertools.count():
        view = views[i % len(views)] if hidden else views[i % 2]
        req = base.with_seed(i % 1009).replace(
            truncation=Truncation(psi=(0.4, 0.7, 1.0, 0.85)[i % 4]),
            transform=Transform(translate=((i % 37) / 37 - 0.5, (i % 23) / 46), rotate=(i % 101) / 101),
            layer=view,
        )
        if i % 7 == 3 and view.layer is not None:
            req = req.replace(fft=FFTView(enabled=True, window=("kaiser", "hann")[i % 2]))
        if i % 11 == 5:
            req = req.replace(untransform=Untransform(enabled=True, view=("warped", "difference")[i % 2]))
        yield req


@dataclass
class Side:
    """One soak run: timings and the RSS samples (KiB) of each process watched."""

    name: str
    frames: int = 0
    seconds: float = 0.0
    errors: int = 0
    first_error: str | None = None
    samples: dict[str, list[int]] = field(default_factory=dict)

    def growth(self, who: str) -> float:
        s = self.samples[who]
        return 100.0 * (s[-1] - s[0]) / s[0]


def soak(backend, source: str, name: str, frames: int, warmup: int, every: int, pids: dict[str, int | str]) -> Side:
    """Render `warmup` then `frames` requests one at a time, sampling each watched process's RSS."""
    info = backend.load(NetworkRef(source), timeout=120)
    side = Side(name, samples={who: [] for who in pids})
    reqs = requests(source, [layer.name for layer in info.layers])

    def frame() -> None:
        res = backend.render(next(reqs), timeout=120)
        if res.error or res.image is None:
            side.errors += 1
            side.first_error = side.first_error or (res.error or "no image")

    for _ in range(warmup):
        frame()
    t0 = time.perf_counter()
    for i in range(frames + 1):
        if i % every == 0 or i == frames:
            for who, pid in pids.items():
                side.samples[who].append(rss_kib(pid))
        if i < frames:
            frame()
        if i and i % max(1, frames // 10) == 0:
            print(f"  {name}: {i}/{frames} frames, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    side.seconds = time.perf_counter() - t0
    side.frames = frames
    return side


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path, port: int) -> subprocess.Popen:
    """`sg3-explorer serve` on loopback, one torch thread (the machine is shared), allowed to read `folder`."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "stylegan3", "serve", "--listen", f"127.0.0.1:{port}", "--allow", str(folder),
           "--device", "cpu"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return proc


def _mib(kib: float) -> str:
    return f"{kib / 1024:.1f}"


def table(sides: list[Side]) -> list[str]:
    head = ["side", "process", "frames", "s", "frames/s", "RSS start MiB", "end MiB", "max MiB", "growth %", "errors"]
    rows = []
    for s in sides:
        for who, samples in s.samples.items():
            rows.append([s.name, who, str(s.frames), f"{s.seconds:.0f}", f"{s.frames / s.seconds:.1f}",
                         _mib(samples[0]), _mib(samples[-1]), _mib(max(samples)), f"{s.growth(who):+.2f}",
                         str(s.errors)])  # fmt: skip
    return text_table(head, rows, left={0, 1})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=10000, help="frames per side after the warm-up (default 10000)")
    p.add_argument("--warmup", type=int, default=200, help="frames before the first sample (default 200)")
    p.add_argument("--sample-every", type=int, default=500, help="RSS sample interval in frames (default 500)")
    p.add_argument("--max-growth", type=float, default=5.0, help="percent; more on any side exits 1 (default 5)")
    p.add_argument("--sides", default="thread,remote", help="comma list of thread, remote")
    p.add_argument("--json", default=None, help="also write the samples here")
    args = p.parse_args(argv)

    from stylegan3.service.client import RemoteBackend
    from stylegan3.service.thread_backend import ThreadBackend

    torch.set_num_threads(1)
    load_before = open("/proc/loadavg").read().split()[:3]
    sides: list[Side] = []
    with tempfile.TemporaryDirectory(prefix="sg3-soak-") as tmp:
        folder = Path(tmp)
        source = str(make_network(folder))
        if "thread" in args.sides:
            with ThreadBackend("cpu") as backend:
                sides.append(soak(backend, source, "thread", args.frames, args.warmup, args.sample_every,
                                  {"this process": "self"}))  # fmt: skip
        if "remote" in args.sides:
            port = free_port()
            proc = start_server(folder, port)
            try:
                with RemoteBackend(f"127.0.0.1:{port}") as backend:
                    if not backend.wait_ready(30):
                        raise SystemExit(f"cannot reach the server: {backend.status().message}")
                    sides.append(soak(backend, source, "remote", args.frames, args.warmup, args.sample_every,
                                      {"client": "self", "server": proc.pid}))  # fmt: skip
            finally:
                proc.terminate()
                proc.wait(timeout=20)
                proc.stdout.close()
    load_after = open("/proc/loadavg").read().split()[:3]

    print(f"render-service soak: tiny SG3-T {RESOLUTION}^2 (random weights), CPU, 1 torch thread per process, "
          f"{args.warmup} warm-up frames, RSS every {args.sample_every} frames; {os.cpu_count()} CPUs, "
          f"load average {' '.join(load_before)} before / {' '.join(load_after)} after; torch {torch.__version__}")
    for line in table(sides):
        print(line)
    worst = max(s.growth(who) for s in sides for who in s.samples)
    errors = sum(s.errors for s in sides)
    ok = worst <= args.max_growth and errors == 0
    print(f"largest growth {worst:+.2f} % (limit {args.max_growth:g} %), {errors} frame errors: "
          f"{'flat' if ok else 'FAILED'}" + (f" (first error: {next(s.first_error for s in sides if s.errors)})"
                                             if errors else ""))  # fmt: skip
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(load=[load_before, load_after], sides=[s.__dict__ for s in sides]), fh, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
