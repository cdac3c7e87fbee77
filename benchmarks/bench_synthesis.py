"""Frame-time benchmark: mapping, synthesis and end-to-end frame for SG3-T, SG3-R and SG2.

Networks use the official FFHQ configs with random weights (timing does not depend on the values).
Each row is one (network, precision, op implementation); times are medians after warm-up, measured
with CUDA events on a GPU and `perf_counter` on the CPU. "frame" is z -> image as a uint8 HWC tensor
on the host, i.e. what a viewer needs to show a frame.

    PYTHONPATH=. python3 -m benchmarks.bench_synthesis                 # full size on the GPU
    PYTHONPATH=. python3 -m benchmarks.bench_synthesis --tiny          # tiny nets on the CPU (smoke test)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

# The network configs live in the package (the `bench` command and the floor use them too).
from stylegan3.networks.configs import NETS, TARGETS_MS, official_config, tiny_config  # noqa: F401 - re-exported
from stylegan3.perf.bench import median_ms  # one timing loop for the scripts and the `bench` command


@dataclass
class Row:
    net: str
    precision: str
    impl: str
    mapping_ms: float | None = None
    synthesis_ms: float | None = None
    frame_ms: float | None = None
    note: str = ""


class Timer:
    """Median wall time of a callable in ms: CUDA events on a GPU, perf_counter otherwise."""

    def __init__(self, device: torch.device, warmup: int, iters: int) -> None:
        self.device, self.warmup, self.iters = device, warmup, iters

    def __call__(self, fn: Callable[[], Any]) -> float:
        return median_ms(fn, self.device, self.warmup, self.iters)


def to_uint8_hwc(img: torch.Tensor) -> np.ndarray:
    """[1, C, H, W] -> HxWx3 uint8 on the host, through the app's own conversion and host copy."""
    from sg3_explorer.visualizer.renderer import to_uint8_hwc as app_uint8
    from stylegan3.render.pipeline import to_host

    return to_host(app_uint8(img))


def build_net(net: str, tiny: bool, resolution: int | None, device: torch.device) -> torch.nn.Module:
    """`net`'s official (or tiny) config, by default at 1024 (16 when tiny): the library's own builder."""
    from stylegan3.networks.configs import build_config_net

    return build_config_net(net, resolution or (16 if tiny else 1024), device, tiny=tiny)


def measure(
    G: torch.nn.Module, net: str, precision: str, impl: str, device: torch.device, timer: Timer, batch: int
) -> Row:
    """One row. `impl` is ref or cuda (which ops), optionally +graph (synthesis replayed from a CUDA graph)."""
    from stylegan3.ops import backend
    from stylegan3.render.graphs import SynthesisGraphs

    row = Row(net, precision, impl)
    force_fp32 = precision == "fp32"
    ops_impl, _, mode = impl.partition("+")
    backend.force_impl(ops_impl)
    try:
        if ops_impl == "cuda" and backend.active_impl(device) != "cuda":
            import sg3_explorer.ops.cuda as cuda_ops

            row.note = f"n/a: {cuda_ops.unavailable_reason() or 'kernels unavailable'}"
            return row
        if mode == "graph" and device.type != "cuda":
            row.note = "n/a: CUDA graphs need a GPU"
            return row
        z = torch.randn([batch, G.z_dim], device=device)
        c = torch.zeros([batch, G.c_dim], device=device)
        runner = SynthesisGraphs(G) if mode == "graph" else None

        def synth(w: torch.Tensor) -> torch.Tensor:
            if runner is None:
                return G.synthesis(w, noise_mode="const", force_fp32=force_fp32)
            out = runner(w, noise_mode="const", force_fp32=force_fp32)
            if runner.last_reason is not None:
                raise RuntimeError(f"graph not used: {runner.last_reason}")
            return out

        with torch.inference_mode():
            ws = G.mapping(z, c, truncation_psi=1.0)
            row.mapping_ms = timer(lambda: G.mapping(z, c, truncation_psi=1.0))
            row.synthesis_ms = timer(lambda: synth(ws))

            def frame() -> torch.Tensor:
                w = G.mapping(z[:1], c[:1], truncation_psi=1.0)
                return to_uint8_hwc(synth(w))

            row.frame_ms = timer(frame)
    except torch.cuda.OutOfMemoryError:
        row.note = "out of GPU memory"
    except RuntimeError as exc:
        row.note = f"failed: {str(exc).splitlines()[0][:120]}"
    finally:
        backend.force_impl(None)
    return row


def format_table(rows: list[Row], res_label: str, device_label: str, with_targets: bool) -> str:
    head = ["net", "prec", "ops", "mapping ms", "synthesis ms", "frame ms", "vs ref", "target"]
    ref = {(r.net, r.precision): r.synthesis_ms for r in rows if r.impl == "ref"}
    lines = []
    for r in rows:
        base = ref.get((r.net, r.precision))
        speed = f"{base / r.synthesis_ms:.2f}x" if base and r.synthesis_ms and r.impl != "ref" else ""
        target = ""
        if with_targets and r.impl.startswith("cuda") and r.synthesis_ms is not None:
            goal = TARGETS_MS[r.net]
            target = f"<= {goal:g} {'ok' if r.synthesis_ms <= goal else 'MISSED'}"

        def fmt(v: float | None) -> str:
            return f"{v:.2f}" if v is not None else "-"

        cells = [r.net, r.precision, r.impl, fmt(r.mapping_ms), fmt(r.synthesis_ms), fmt(r.frame_ms), speed, target]
        lines.append(cells + ([r.note] if r.note else []))
    widths = [max(len(str(x[i])) for x in [head, *lines] if i < len(x)) for i in range(len(head))]
    out = [f"# synthesis benchmark: {res_label}, {device_label}"]
    out.append("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    out.append("  ".join("-" * w for w in widths))
    for cells in lines:
        text = "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=False))
        if len(cells) > len(head):
            text += "  " + cells[-1]
        out.append(text.rstrip())
    return "\n".join(out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    p.add_argument("--nets", default=",".join(NETS), help="comma list of SG3-T, SG3-R, SG2")
    p.add_argument("--precisions", default=None, help="comma list of fp16, fp32 (default: both on GPU, fp32 on CPU)")
    p.add_argument(
        "--impls",
        default=None,
        help="comma list of ref, cuda, ref+graph, cuda+graph (default on a GPU: ref,cuda,cuda+graph; CPU: ref)",
    )
    p.add_argument("--tf32", action="store_true", help="leave cuDNN TF32 on (torch's default, as the app renders)")
    p.add_argument("--resolution", type=int, default=None, help="output resolution (default 1024; 16 with --tiny)")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--warmup", type=int, default=None, help="warm-up runs (default 10 on GPU, 1 on CPU)")
    p.add_argument("--iters", type=int, default=None, help="timed runs (default 50 on GPU, 3 on CPU)")
    p.add_argument("--tiny", action="store_true", help="tiny channels and resolution (CPU smoke test)")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    on_gpu = device.type == "cuda"
    impls = (args.impls or ("ref,cuda,cuda+graph" if on_gpu else "ref")).split(",")
    precisions = (args.precisions or ("fp16,fp32" if on_gpu else "fp32")).split(",")
    timer = Timer(
        device,
        args.warmup if args.warmup is not None else (10 if on_gpu else 1),
        args.iters if args.iters is not None else (50 if on_gpu else 3),
    )
    if on_gpu:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = bool(args.tf32)
    rows: list[Row] = []
    res = args.resolution or (16 if args.tiny else 1024)
    for net in args.nets.split(","):
        t0 = time.perf_counter()
        G = build_net(net, args.tiny, res, device)
        print(f"built {net} in {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
        for precision in precisions:
            for impl in impls:
                rows.append(measure(G, net, precision, impl, device, timer, args.batch))
                r = rows[-1]
                print(f"  {net} {precision} {impl}: synthesis {r.synthesis_ms} ms {r.note}", file=sys.stderr)
        del G
        if on_gpu:
            torch.cuda.empty_cache()
    device_label = torch.cuda.get_device_name(device) if on_gpu else "CPU"
    device_label += f", torch {torch.__version__}, batch {args.batch}, tf32 {'on' if args.tf32 else 'off'}"
    label = f"{res}x{res}" + (" (tiny channels)" if args.tiny else "")
    print(format_table(rows, label, device_label, with_targets=on_gpu and not args.tiny and res == 1024))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"device": device_label, "resolution": res, "rows": [asdict(r) for r in rows]}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
