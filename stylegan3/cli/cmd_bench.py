"""`sg3-explorer bench`: how fast synthesis runs here, as a table to paste into a bug report."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench",
        help="time synthesis per frame for every op implementation here (table for bug reports)",
        description="Per-frame synthesis time with the reference ops, our kernels and kernels + CUDA graphs (those "
        "available on the device), fp16 and fp32, next to the per-frame floor at this machine's measured rates; the "
        "one-time kernel build and self-check are timed apart. Default networks: the official SG3-T, SG3-R and SG2 "
        "configs with random weights "
        "(1024x1024 on a GPU, 256x256 elsewhere).",
    )
    p.add_argument("--network", action="append", metavar="N",
                   help="SG3-T, SG3-R or SG2 (official config, random weights) or any network source; repeatable")
    p.add_argument("--resolution", type=int, default=None, metavar="R",
                   help="resolution of the official configs (default: 1024 on a GPU, 256 elsewhere)")
    p.add_argument("--batch", type=int, default=1, metavar="B", help="frames per synthesis call (default 1)")
    p.add_argument("--warmup", type=int, default=None, help="untimed runs first (default 5 on a GPU, 1 elsewhere)")
    p.add_argument("--iters", type=int, default=None, help="timed runs, median reported (default 20 on a GPU, 2 "
                   "elsewhere)")
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write everything to this JSON file")
    from stylegan3.cli.args import add_device_argument

    add_device_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from stylegan3.cli.args import pick_device
    from stylegan3.errors import SG3Error
    from stylegan3.perf import bench

    device = pick_device(args.device)
    if args.batch < 1 or (args.iters is not None and args.iters < 1) or (args.warmup is not None and args.warmup < 0):
        raise SG3Error("--batch and --iters must be at least 1, --warmup at least 0")
    if args.resolution is not None and (args.resolution < 16 or args.resolution & (args.resolution - 1)):
        raise SG3Error(f"--resolution must be a power of two of at least 16, not {args.resolution}")
    if args.json is not None and not args.json.parent.is_dir():
        raise SG3Error(f"{args.json}: folder {args.json.parent} does not exist")
    nets = bench.networks(args.network, device, args.resolution)
    print("bench: building or loading the kernels and self-checking them (one-time costs, timed apart)",
          file=sys.stderr)
    setup = bench.prepare(nets, device)
    bar = None  # drawn at the first timed run, with the final count: no placeholder 0/1 while preparing

    def progress(done: int, total: int, what: str) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc="bench", unit="run", file=sys.stderr, leave=False, dynamic_ncols=True)
        bar.set_description(what, refresh=False)
        bar.update(done - bar.n)

    try:
        report = bench.run(nets, device, batch=args.batch, warmup=args.warmup, iters=args.iters, progress=progress,
                           setup=setup)
    finally:
        if bar is not None:
            bar.close()
    print(bench.format_report(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report.to_json(), indent=2))
    return 0
