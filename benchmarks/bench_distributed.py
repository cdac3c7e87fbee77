"""1 -> N processes for per-sample analysis work, launched the way users launch it (torchrun, gloo on the CPU).

    python3 -m benchmarks.bench_distributed [--samples 16] [--res 64] [--procs 1,2] [--repeat 1]

Runs ``sg3-explorer equivariance`` (EQ-T_frac and EQ-R: three renders and the rotation operators per
latent) on a small random-weight StyleGAN3 built by our own code, first in one process, then in N, back to
back, each process with one thread (``OMP_NUM_THREADS=1``) so N processes use N cores. The time is the
command's own (from the first latent to the last, without start-up and loading), the speed-up is against
the one-process run of the same repetition. The machine's load average (``/proc/loadavg``, 1 minute) is
printed before each run: on a shared machine other jobs steal cores and the speed-up says as much about
them as about us. Both runs must print the same metrics (the work split does not change the result).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _network(path: Path, res: int) -> Path:
    import torch

    from stylegan3.loading.native import save_native
    from stylegan3.networks import build_generator

    torch.manual_seed(0)
    G = build_generator("sg3", dict(z_dim=32, w_dim=32, c_dim=0, img_resolution=res, img_channels=3, channel_base=1024,
                                    channel_max=32, num_layers=6, mapping_kwargs=dict(num_layers=2)))
    return save_native(G.eval().requires_grad_(False), path)


def _load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def _run(net: Path, procs: int, samples: int) -> tuple[float, float, list[str]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", "SG3_EXPLORER_CACHE": os.environ.get("SG3_EXPLORER_CACHE", str(ROOT / ".sg3-cache"))}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}",
           "-m", "stylegan3", "equivariance", "--network", str(net), "--samples", str(samples),
           "--metrics", "eqt_frac,eqr", "--device", "cpu"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{procs} process(es) failed:\n{proc.stderr[-2000:]}")
    head = re.search(r"latents, seed \d+, cpu(?:, \d+ processes)?, ([\d.]+) s", proc.stdout)
    metrics = [line.strip() for line in proc.stdout.splitlines() if line.strip().startswith("EQ-")]
    return float(head.group(1)), wall, metrics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--res", type=int, default=64)
    ap.add_argument("--procs", default="1,2", help="process counts, run back to back (1,2)")
    ap.add_argument("--repeat", type=int, default=1, help="repetitions of the whole sequence")
    args = ap.parse_args()
    counts = [int(v) for v in args.procs.split(",")]
    print(f"equivariance (EQ-T_frac + EQ-R), {args.samples} latents, SG3 {args.res}px, CPU, 1 thread per process, "
          f"{os.cpu_count()} cores")
    print(f"{'rep':>3} {'procs':>5} {'load before':>11} {'work s':>8} {'wall s':>8} {'latents/s':>9} {'speed-up':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        net = _network(Path(tmp) / "bench.safetensors", args.res)
        for rep in range(args.repeat):
            base = None
            ref_metrics = None
            for n in counts:
                load = _load()
                work, wall, metrics = _run(net, n, args.samples)
                base = base if base is not None else work
                if ref_metrics is None:
                    ref_metrics = metrics
                same = "" if metrics == ref_metrics else "  (metrics differ!)"
                print(f"{rep:>3} {n:>5} {load:>11} {work:>8.2f} {wall:>8.2f} {args.samples / work:>9.2f} "
                      f"{base / work:>7.2f}x{same}")
            print(f"    load after: {_load()}")
        print("  " + "\n  ".join(ref_metrics))


if __name__ == "__main__":
    main()
