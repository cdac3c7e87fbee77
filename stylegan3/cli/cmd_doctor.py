"""`sg3-explorer doctor`: what this machine can run, and why it runs what it runs.

Slow rendering is usually a missing toolchain or a CPU-only torch, not a bug; this command names the
cause in one screen (GPU, torch, CUDA, compiler tools, kernel build, fallback in force). It always exits
0 on a working install: a missing GPU or compiler is a fact to report, not an error.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from typing import Any

from stylegan3.cli.args import add_device_argument
from stylegan3.loading.build import resolve_device


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="report GPU, torch, CUDA, compilers and which kernels are in use",
        description="Report the GPU, PyTorch, CUDA toolkit and compilers, build the CUDA kernels if possible "
        "(first use takes about a minute), and say which op implementation renders and why.",
    )
    parser.add_argument("--no-build", action="store_true", help="report only; do not compile the CUDA kernels")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    add_device_argument(parser)
    parser.set_defaults(func=run)


def self_check_lines(device: Any, build_now: bool) -> list[str]:
    """The self-check's verdict on `device` (run on the demo network if this build was never checked)."""
    from stylegan3.ops import backend, selfcheck

    if not build_now:
        return ["not run (--no-build)"]
    if backend.kernels_module(device) is None:
        return ["not needed (reference ops: nothing to check)"]
    from stylegan3 import load_network

    load_network("demo", device=device)  # runs or reads the check (its first line goes to stderr)
    return selfcheck.status_lines(device) or ["no verdict (SG3_SELFCHECK=0?)"]


def gather(build_now: bool = True, device: Any = None) -> dict[str, Any]:
    """The report as a dict (also used by tests and the GUI's about box)."""
    import sg3_explorer.ops.cuda as cuda_ops

    info = cuda_ops.status(build_now=build_now)
    info["python"] = f"{platform.python_version()} ({sys.executable})"
    info["platform"] = platform.platform()
    try:
        from stylegan3.ops import backend

        info["self_check"] = self_check_lines(resolve_device(device), build_now)
        # Without --no-build this loads (or builds) the kernels for the device; with it, nothing compiles.
        info["dispatch"] = (backend.describe(resolve_device(device)) if build_now
                            else "not decided (--no-build loads no kernels; run `sg3-explorer doctor`)")
    except Exception as exc:  # noqa: BLE001 - the report must come out even if the library is broken
        info["dispatch"] = f"unknown ({type(exc).__name__}: {exc})"
    from stylegan3.render.graphs import DISABLE_ENV, graphs_disabled

    graphs_off = backend_graphs_off(device)
    if graphs_disabled():
        info["cuda_graphs"] = f"off ({DISABLE_ENV}=0)"
    elif graphs_off:
        info["cuda_graphs"] = f"off: {graphs_off}"
    elif info.get("cuda_available"):
        info["cuda_graphs"] = "on: the app replays synthesis from a captured CUDA graph"
    else:
        info["cuda_graphs"] = "not applicable (no CUDA device)"
    return info


def backend_graphs_off(device: Any) -> str | None:
    try:
        from stylegan3.ops import backend

        return backend.disabled_reason(resolve_device(device), "graphs")
    except Exception:  # noqa: BLE001 - a bad device was reported above
        return None


def _kernels_row(build: dict[str, Any], kind: str) -> str:
    """One build's row (`kind` 'cuda' or 'cpu'): what it holds, or why there is none; which ops render is said
    once, by the dispatch, below the rows (a CPU-only torch has no CUDA kernels while the CPU kernels serve)."""
    built = build.get("built_kernels") or []
    if built:
        return ", ".join(built) + (f" [{build['build_info']}]" if build.get("build_info") else "")
    if build.get("reason"):
        return f"none: {build['reason']}"
    if build.get("tried"):
        return "none"
    return "not loaded (--no-build)" if kind == "cpu" else "not built (--no-build)"


def format_report(info: dict[str, Any]) -> str:
    """Human-readable report, one fact per line."""
    dash = "-"
    rows = [
        ("python", info.get("python")),
        ("platform", info.get("platform")),
        ("torch", info.get("torch") or "not importable"),
        ("torch CUDA", info.get("torch_cuda") or "none (CPU-only build)"),
        ("GPU", info.get("device") or "none visible"),
        ("CUDA_HOME", info.get("cuda_home") or dash),
        ("nvcc", info.get("nvcc")),
        ("ninja", info.get("ninja")),
        ("c++", info.get("cxx")),
        ("kernel cache", info.get("build_dir") or info.get("cache_dir")),
        ("target arch", info.get("arch") or dash),
    ]
    rows.append(("CUDA kernels", _kernels_row(info, "cuda")))
    cpu = info.get("cpu") or {}
    if cpu:
        rows.append(("CPU kernels", _kernels_row(cpu, "cpu")))
    if cpu.get("build_dir"):
        rows.append(("CPU cache", cpu["build_dir"]))
    width = max(len(k) for k, _ in rows)
    lines = [f"{k.ljust(width)}  {v}" for k, v in rows]
    # The one account of what renders: the dispatch's own line for the device (the rows above are the builds).
    lines.append(f"ops in use: {info.get('dispatch') or 'unknown'}")
    for line in info.get("self_check") or []:
        lines.append(f"self-check: {line}")
    if info.get("cuda_graphs"):
        lines.append(f"CUDA graphs: {info['cuda_graphs']}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    resolve_device(args.device)  # a bad --device is a one-line error before anything else
    info = gather(build_now=not args.no_build, device=args.device)
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
    else:
        print(format_report(info))
    return 0
