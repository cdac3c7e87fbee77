"""Frame time through the thread backend vs the window's old local path, interleaved in one run (issue 19).

Before issue 19 the window rendered with its own worker: `visualizer.async_renderer.AsyncRenderer` over
`visualizer.renderer.timed_render`, fed the window's `RenderState` (turned into a request on every frame).
Now it renders through `stylegan3.service.ThreadBackend`, fed the request itself. The change must not make a
frame slower. Both paths run here on the same machine in the same minutes: the old one from a git worktree
of the commit before the change (d3a0a41), the new one from this tree, each in its own child process (same
start-up, same number of torch threads), alternating block by block so that load on a shared machine falls
on both alike.

A block is `--frames` frames of one network after `--warmup` untimed ones, one frame at a time (submit, wait,
next) the way the window asks while a slider moves: every frame a new seed, psi and translation. Per frame:
wall time from submit to the image in hand, and the renderer's own render time (so "path ms" = wall - render
is what the worker and the request handling add). Table: min and median over the blocks' medians.

    PYTHONPATH=. python3 -m benchmarks.bench_frame_path                     # 256^2 demo SG3-T, SG3-R, SG2
    PYTHONPATH=. python3 -m benchmarks.bench_frame_path --nets demo-sg2 --rounds 3 --frames 3
    PYTHONPATH=. python3 -m benchmarks.bench_frame_path --old-tree /tmp/sg3_old   # reuse a checkout
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.tables import text_table

ROOT = Path(__file__).resolve().parent.parent
OLD_COMMIT = "d3a0a41"
# 'demo' is the 256^2 demo SG3-T; 'tiny' a 64^2 tiny-config SG3-T of ours (written to a temporary file that both
# trees read): its frame takes milliseconds, so its row shows what the path itself adds to a frame.
NETS = ("tiny", "demo", "demo-sg3-r", "demo-sg2")
LABELS = {"tiny": "tiny SG3-T 64", "demo": "demo SG3-T 256", "demo-sg3-r": "demo SG3-R 256",
          "demo-sg2": "demo SG2 256"}  # fmt: skip

# Runs in a child process of either tree (`python -c`), so it uses only what both trees have under their own
# import paths. stdin: one JSON command per line ({"net", "frames", "warmup", "start"}); stdout: one JSON reply
# per command ({"wall_ms": [...], "render_ms": [...]}) after a first line "READY <where stylegan3 came from>".
WORKER = r'''
import json, sys, time
import torch

side, threads = sys.argv[1], int(sys.argv[2])
torch.set_num_threads(threads)
if side == "old":
    from sg3_explorer.visualizer.async_renderer import AsyncRenderer
    from sg3_explorer.visualizer.renderer import prepare_network
    from sg3_explorer.visualizer.state import RenderState
    from stylegan3 import load_network

    worker, nets, current = AsyncRenderer(), {}, [None]

    def load(net):
        if net not in nets:
            nets[net] = prepare_network(load_network(net), torch.device("cpu"))
        if current[0] != net:
            current[0] = net
            worker.set_network(nets[net], list(nets).index(net) + 1)

    def frame(net, i, seed, psi, tx):
        state = RenderState(x=float(seed), psi=psi, translate=(tx, 0.0), cuda_graphs=False)
        t0 = time.perf_counter()
        worker.submit(state, force=True)
        worker.wait_idle(600)
        res = worker.poll()
        wall = time.perf_counter() - t0
        if res is None or res.error or res.image is None:
            raise SystemExit(f"old path: no image ({res and res.error})")
        return wall * 1e3, res.render_ms
else:
    from stylegan3.documents.request import NetworkRef, RenderRequest, Synthesis, Transform, Truncation
    from stylegan3.service.thread_backend import ThreadBackend

    backend = ThreadBackend("cpu")

    def load(net):
        backend.load(NetworkRef(net), timeout=600)

    def frame(net, i, seed, psi, tx):
        request = RenderRequest(network=NetworkRef(net), synthesis=Synthesis(cuda_graphs=False)).with_seed(seed)
        request = request.replace(truncation=Truncation(psi=psi), transform=Transform(translate=(tx, 0.0)))
        t0 = time.perf_counter()
        res = backend.render(request, timeout=600)
        wall = time.perf_counter() - t0
        if res.error or res.image is None:
            raise SystemExit(f"new path: no image ({res.error})")
        return wall * 1e3, res.render_ms

import stylegan3
print("READY", stylegan3.__file__, flush=True)
for line in sys.stdin:
    cmd = json.loads(line)
    load(cmd["net"])
    walls, renders = [], []
    for i in range(cmd["warmup"] + cmd["frames"]):
        k = cmd["start"] + i
        wall, render = frame(cmd["net"], i, k, (0.5, 0.7, 1.0)[k % 3], (k % 20) / 40.0)
        if i >= cmd["warmup"]:
            walls.append(wall)
            renders.append(render)
    print(json.dumps({"wall_ms": walls, "render_ms": renders}), flush=True)
'''


class Worker:
    """One side's child process: the old tree or this one on PYTHONPATH, rendering on request."""

    def __init__(self, side: str, tree: Path, threads: int) -> None:
        env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        self.side = side
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER, side, str(threads)], cwd=tree, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
        line = self.proc.stdout.readline().split()
        if line[:1] != ["READY"] or not Path(line[1]).resolve().is_relative_to(tree.resolve()):
            self.close()
            raise SystemExit(f"{side} worker did not start from {tree}: {' '.join(line)!r}")

    def block(self, net: str, frames: int, warmup: int, start: int) -> dict[str, list[float]]:
        self.proc.stdin.write(json.dumps(dict(net=net, frames=frames, warmup=warmup, start=start)) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"{self.side} worker exited (rc {self.proc.wait()})")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


def old_tree(path: str | None) -> tuple[Path, bool]:
    """A checkout of the commit before the change: `path` when given, else a new detached worktree (removed after)."""
    if path:
        return Path(path), False
    tree = Path(tempfile.mkdtemp(prefix="sg3_old_")) / "tree"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), OLD_COMMIT], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    return tree, True


def _load() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nets", default=",".join(NETS), help=f"comma list (default {','.join(NETS)})")
    p.add_argument("--rounds", type=int, default=5, help="blocks per side and network (default 5)")
    p.add_argument("--frames", type=int, default=5, help="timed frames per block (default 5)")
    p.add_argument("--tiny-frames", type=int, default=50, help="timed frames per block of the tiny net (default 50)")
    p.add_argument("--warmup", type=int, default=1, help="untimed frames at the start of each block (default 1)")
    p.add_argument("--threads", type=int, default=1, help="torch threads in each worker (default 1)")
    p.add_argument("--old-tree", default=None, help=f"a checkout of {OLD_COMMIT} to use instead of a new worktree")
    p.add_argument("--json", default=None, help="also write every block's times here")
    args = p.parse_args(argv)

    load_before = _load()
    tmp = tempfile.TemporaryDirectory(prefix="sg3-frame-path-")
    sources = {net: net for net in args.nets.split(",")}
    if "tiny" in sources:
        from stylegan3.loading.native import save_native
        from stylegan3.networks.configs import build_config_net

        tiny = build_config_net("SG3-T", 64, tiny=True)
        sources["tiny"] = str(save_native(tiny, Path(tmp.name) / "tiny.safetensors"))
    tree, made = old_tree(args.old_tree)
    blocks: dict[tuple[str, str], list[dict[str, list[float]]]] = {}
    try:
        workers = {"old": Worker("old", tree, args.threads), "new": Worker("new", ROOT, args.threads)}
        try:
            for net in args.nets.split(","):
                for r in range(args.rounds):
                    order = ("old", "new") if r % 2 == 0 else ("new", "old")  # neither side always goes first
                    for side in order:
                        start = 1000 * r  # the same seeds / psi / translations on both sides in round r
                        frames = args.tiny_frames if net == "tiny" else args.frames
                        res = workers[side].block(sources[net], frames, args.warmup, start)
                        blocks.setdefault((net, side), []).append(res)
                        print(f"  {net} round {r + 1}/{args.rounds} {side}: median "
                              f"{statistics.median(res['wall_ms']):.1f} ms", file=sys.stderr, flush=True)  # fmt: skip
        finally:
            for w in workers.values():
                w.close()
    finally:
        if made:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
            subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], check=False)
        tmp.cleanup()
    load_after = _load()

    print(f"frame time, old local path ({OLD_COMMIT}: AsyncRenderer + timed_render, RenderState) vs ThreadBackend "
          f"(this tree, RenderRequest); CPU, {args.threads} torch thread(s) per worker, {args.rounds} rounds x "
          f"{args.frames} frames ({args.tiny_frames} for tiny; +{args.warmup} warm-up) per side and network, "
          f"interleaved; {os.cpu_count()} CPUs, "
          f"load average {load_before} before / {load_after} after")  # fmt: skip
    head = ["network", "path", "wall ms min", "wall ms median", "render ms median", "path ms median", "new / old"]
    rows = []
    for net in args.nets.split(","):
        med: dict[str, float] = {}
        for side in ("old", "new"):
            walls = [statistics.median(b["wall_ms"]) for b in blocks[(net, side)]]
            renders = [statistics.median(b["render_ms"]) for b in blocks[(net, side)]]
            paths = [statistics.median(w - r for w, r in zip(b["wall_ms"], b["render_ms"], strict=True))
                     for b in blocks[(net, side)]]  # fmt: skip
            med[side] = statistics.median(walls)
            ratio = f"{med['new'] / med['old']:.3f}" if side == "new" else ""
            rows.append([LABELS.get(net, net), "old (AsyncRenderer)" if side == "old" else "new (ThreadBackend)",
                         f"{min(walls):.1f}", f"{med[side]:.1f}", f"{statistics.median(renders):.1f}",
                         f"{statistics.median(paths):.2f}", ratio])  # fmt: skip
    print("\n".join(text_table(head, rows, left={0, 1})))
    print("new / old: median wall time per frame of the new path over the old one (below 1 = the new path is faster)")
    if args.json:
        with open(args.json, "w") as fh:
            doc = dict(load=[load_before, load_after], args=vars(args),
                       blocks={f"{net}|{side}": b for (net, side), b in blocks.items()})  # fmt: skip
            json.dump(doc, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
