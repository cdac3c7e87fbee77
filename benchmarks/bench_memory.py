"""Resident memory of one process holding one loaded network: one copy of the weights, whatever is used.

Issue 19: the window used to keep private copies of the network for its analyses (a second copy of the
weights, and of the 1024^2 nets' hundreds of MB with it). With every computation an analysis of the backend
that owns the network, the process should grow by about the weights when a network is loaded and by little
more when a frame is rendered and every analysis has run once. This measures that, per network, in a fresh
child process each (so nothing of the previous network stays in the numbers):

  RSS before the load (torch, the network code and the CPU kernels loaded, a ThreadBackend started, no
  network), after the load, after one frame, after each analysis of `stylegan3.analyses.ANALYSES` with small
  params (a budget stops a long one),

next to the network's weight bytes (parameters + buffers as loaded). "x weights" is (RSS - RSS before the load)
/ weight bytes: about 1 plus the activations of one frame and the allocator's pools is one copy; 2 or more
would be a second copy. "trimmed" is the same after glibc's malloc_trim(0), called after every step: what is
live, without the freed memory the allocator kept (a 1024^2 frame's activations on the CPU). "cached" is what
the per-tensor caches of derived values (`DerivedCache`: SG3's frozen conv weights prenormalized, the filters)
hold beside the weights: the prenormalized weights are a second copy of the conv weights, kept to save passes
over them every frame. "tensors" is every CPU tensor Python still reaches beside the weights (cached ones
included): live growth beyond it is native memory, not a tensor copy. VmHWM (peak RSS) shows transient copies
that were freed again.

Networks: the 256^2 demo SG3-R ('demo-sg3-r') and the official-config SG3-R at 1024^2 with random weights
(`stylegan3.networks.configs.build_config_net`), both on the CPU. `--quick` measures the demo only.

    PYTHONPATH=. python3 -m benchmarks.bench_memory            # both networks (minutes on a 2-core CPU)
    PYTHONPATH=. python3 -m benchmarks.bench_memory --quick    # the 256^2 demo only
    PYTHONPATH=. python3 -m benchmarks.bench_memory --networks config:SG3-R:1024 --analyses fingerprint,record

A 1024^2 SG3-R frame takes minutes on a loaded 2-core CPU (and eq_metrics renders about seven): the whole
run is for a quiet machine or a GPU box's CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

from benchmarks.tables import text_table

# Small params per analysis: one latent, one layer, a couple of frames. An analysis not listed here (one added
# later) runs with its defaults, under the same time budget.
SMALL_PARAMS: dict[str, dict[str, Any]] = {
    "eq_metrics": {},
    "spectra": {"samples": 1, "layers": ["output"]},
    "sticking": {"samples": 2, "batch_size": 1},
    "record": {"frames": 2, "count": 2, "format": "raw"},
    "fingerprint": {},
}
NETWORKS = {"demo-sg3-r": "256^2 demo SG3-R", "config:SG3-R:1024": "1024^2 official-config SG3-R (random weights)"}


def status_kib(field: str, pid: int | str = "self") -> int:
    """A VmRSS / VmHWM line of /proc/<pid>/status, in KiB."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def weight_storages(G: Any) -> dict[int, int]:
    """{storage address: bytes} of every parameter and buffer, as the network is held (shared ones once)."""
    return {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in [*G.parameters(), *G.buffers()]}


def derived_bytes(exclude: set[int]) -> int:
    """Bytes of the tensors that the per-tensor caches (`stylegan3.ops.derived.DerivedCache`: filters, frozen
    weight statistics) hold beside the weights, storages in `exclude` (the weights themselves) left out.
    Reads the caches' entries: a benchmark's look inside, so a cache that changes shape counts as 0."""
    import gc

    import torch

    from stylegan3.ops.derived import DerivedCache

    seen: dict[int, int] = {}
    for cache in [o for o in gc.get_objects() if issubclass(type(o), DerivedCache)]:  # type(): no __class__ hooks
        for _, value in getattr(cache, "_entries", {}).values():
            for t in value if isinstance(value, tuple) else (value,):
                if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() not in exclude:
                    seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
    return sum(seen.values())


def tensor_bytes(exclude: set[int]) -> int:
    """Bytes of every CPU tensor storage Python objects still reach (the gc's view), storages in `exclude` (the
    weights) left out: growth that is not here is native (allocator pools, FFT plans, library workspaces)."""
    import gc

    import torch

    seen: dict[int, int] = {}
    for o in gc.get_objects():
        if issubclass(type(o), torch.Tensor) and o.device.type == "cpu" and not o.is_meta:
            storage = o.untyped_storage()
            if storage.data_ptr() not in exclude:
                seen[storage.data_ptr()] = storage.nbytes()
    return sum(seen.values())


def trim_heap() -> bool:
    """glibc's malloc_trim(0): return freed heap pages to the system. Large frees below the (adaptive) mmap
    threshold stay in the process, so RSS after a big computation mixes live memory with the allocator's
    reserve; RSS after the trim separates them. False where there is no glibc."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        return False
    return True


def warm_code() -> None:
    """Import the network and loading code and load the CPU kernels before the first sample, so that the
    baseline holds the program and the deltas hold the network (a 256^2 demo's weights are a few MiB, less
    than the kernel library)."""
    import stylegan3.loading.load  # noqa: F401
    import stylegan3.networks.sg2  # noqa: F401
    import stylegan3.networks.sg3  # noqa: F401
    import stylegan3.render.pipeline  # noqa: F401

    try:
        from sg3_explorer.ops.cuda import cpu as cpu_ops

        cpu_ops.kernels()
    except Exception:  # noqa: BLE001 - no kernels here: the reference ops, nothing to preload
        pass


def measure_one(source: str, budget_s: float, only: list[str] | None = None) -> dict[str, Any]:
    """In this (fresh) process: load `source` into a ThreadBackend, render, run each analysis; RSS after each."""
    import torch

    from stylegan3 import analyses
    from stylegan3.documents.request import NetworkRef, RenderRequest, Synthesis
    from stylegan3.service.owner import default_loader
    from stylegan3.service.thread_backend import ThreadBackend

    torch.set_num_threads(int(os.environ.get("SG3_BENCH_THREADS", "1")))
    held: dict[int, int] = {}  # storage address -> bytes of the loaded network's weights

    def loader(ref: NetworkRef, device: torch.device) -> torch.nn.Module:
        """The default loader, plus `config:NET:RES` (an official config built here); notes the weight bytes."""
        if ref.source.startswith("config:"):
            from stylegan3.networks.configs import build_config_net

            _, net, res = ref.source.split(":")
            G = build_config_net(net, int(res), device)
        else:
            G = default_loader(ref, device)
        held.update(weight_storages(G))
        return G

    steps: list[dict[str, Any]] = []

    def step(name: str, seconds: float = 0.0, note: str = "") -> None:
        rss, hwm = status_kib("VmRSS"), status_kib("VmHWM")
        live = status_kib("VmRSS") if trim_heap() else None
        steps.append(dict(step=name, rss_kib=rss, live_kib=live, hwm_kib=hwm, seconds=seconds,
                          derived=derived_bytes(set(held)), tensors=tensor_bytes(set(held)), note=note))  # fmt: skip
        print(f"  {source}: {name} {seconds:.1f} s {note}", file=sys.stderr, flush=True)

    request = RenderRequest(network=NetworkRef(source), synthesis=Synthesis(cuda_graphs=False)).with_seed(1)
    warm_code()
    with ThreadBackend("cpu", loader=loader) as backend:
        step("before load")
        t0 = time.perf_counter()
        backend.load(request.network, timeout=3600)
        step("after load", time.perf_counter() - t0)
        t0 = time.perf_counter()
        res = backend.render(request, timeout=3600)
        step("after 1 frame", time.perf_counter() - t0, res.error or "")
        for name in [n for n in analyses.ANALYSES if only is None or n in only]:
            t0 = time.perf_counter()

            def progress(done: int, total: int, t0: float = t0) -> None:
                if time.perf_counter() - t0 > budget_s:
                    raise TimeoutError(f"stopped at {done}/{total} after the {budget_s:g} s budget")

            params = SMALL_PARAMS.get(name)
            note = "" if name in SMALL_PARAMS else "default params"
            try:
                try:
                    backend.analyze(name, request, progress=progress, params=params)
                except Exception as exc:  # params of a changed analysis: its defaults instead
                    if params is None or "param" not in str(exc).lower():
                        raise
                    note = "default params"
                    backend.analyze(name, request, progress=progress, params=None)
            except TimeoutError as exc:
                note = str(exc)
            except Exception as exc:  # noqa: BLE001 - reported in the table, the other steps still run
                note = f"failed: {(str(exc).strip().splitlines() or [type(exc).__name__])[0][:80]}"
            step(f"after {name}", time.perf_counter() - t0, note)
    return dict(source=source, weights=sum(held.values()), steps=steps, torch=torch.__version__)


def run_child(source: str, budget_s: float, only: list[str] | None) -> dict[str, Any]:
    """`measure_one` in a fresh interpreter, so each network starts from the same empty process."""
    cmd = [sys.executable, "-m", "benchmarks.bench_memory", "--one", source, "--budget", str(budget_s)]
    cmd += ["--analyses", ",".join(only)] if only else []
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(result: dict[str, Any]) -> list[str]:
    w = result["weights"]
    first = result["steps"][0]

    def grown(s: dict[str, Any], key: str) -> list[str]:
        if s.get(key) is None or first.get(key) is None:
            return ["", "", ""]
        delta = (s[key] - first[key]) * 1024
        return [f"{s[key] / 1024:.1f}", f"{delta / 2**20:+.1f}", f"{delta / w:.2f}" if w else ""]

    head = ["step", "RSS MiB", "+MiB", "x weights", "trimmed MiB", "+MiB", "x weights", "peak MiB", "cached MiB",
            "tensors MiB", "s", "note"]  # fmt: skip
    rows = [[s["step"], *grown(s, "rss_kib"), *grown(s, "live_kib"), f"{s['hwm_kib'] / 1024:.1f}",
             f"{s.get('derived', 0) / 2**20:.1f}", f"{s.get('tensors', 0) / 2**20:.1f}", f"{s['seconds']:.1f}",
             s["note"]] for s in result["steps"]]  # fmt: skip
    title = f"## {NETWORKS.get(result['source'], result['source'])}: weights {w / 2**20:.1f} MiB ({w:,} bytes)"
    return [title, *text_table(head, rows, left={0, 11})]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="the 256^2 demo SG3-R only")
    p.add_argument("--networks", default=None, help=f"comma list of sources (default: {', '.join(NETWORKS)})")
    p.add_argument("--budget", type=float, default=120.0, help="seconds one analysis may run before it is stopped")
    p.add_argument("--analyses", default=None, help="comma list: run only these analyses (default: every one)")
    p.add_argument("--json", default=None, help="also write the measurements here")
    p.add_argument("--one", default=None, help=argparse.SUPPRESS)  # the child: measure one network, print JSON
    args = p.parse_args(argv)
    only = args.analyses.split(",") if args.analyses else None
    if args.one:
        print(json.dumps(measure_one(args.one, args.budget, only)))
        return 0
    sources = args.networks.split(",") if args.networks else list(NETWORKS)[:1 if args.quick else None]
    load_before = open("/proc/loadavg").read().split()[:3]
    results = [run_child(src, args.budget, only) for src in sources]
    load_after = open("/proc/loadavg").read().split()[:3]
    print(f"resident memory of one process holding one network (CPU, ThreadBackend, 1 torch thread); "
          f"{os.cpu_count()} CPUs, load average {' '.join(load_before)} before / {' '.join(load_after)} after; "
          f"torch {results[0]['torch']}")  # fmt: skip
    for r in results:
        print()
        print("\n".join(table(r)))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(load=[load_before, load_after], results=results), fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
