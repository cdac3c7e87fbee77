"""Per-op benchmark: reference vs CUDA for filtered_lrelu, upfirdn2d and bias_act at SG3/SG2-like shapes.

Where the synthesis benchmark says *whether* we are fast, this says *which op* costs what, and shows the
fused kernel's tile plan and the gain from separable (1-D) filters that the dispatch could pass.

    PYTHONPATH=. python3 -m benchmarks.bench_ops            # GPU
    PYTHONPATH=. python3 -m benchmarks.bench_ops --tiny     # CPU smoke test (reference only)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import numpy as np
import torch

from benchmarks.bench_synthesis import Timer

# (channels, size): late SG3-T 1024 layers are wide images with few channels, early ones the reverse.
FLRELU_SHAPES = [(512, 36), (512, 84), (256, 148), (128, 276), (64, 532), (32, 1044)]
TINY_SHAPES = [(4, 12), (2, 20)]


def lowpass(taps: int) -> torch.Tensor:
    """A normalised windowed-sinc low-pass (shape only matters for timing)."""
    n = np.arange(taps) - (taps - 1) / 2
    f = np.sinc(n / 2) * np.kaiser(taps, 4.0)
    return torch.tensor(f / f.sum(), dtype=torch.float32)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default=None)
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--iters", type=int, default=None)
    args = p.parse_args(argv)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    on_gpu = device.type == "cuda"
    timer = Timer(device, 5 if on_gpu else 1, args.iters or (30 if on_gpu else 2))

    from stylegan3.ops import backend, bias_act, filtered_lrelu, upfirdn2d

    ext = None
    if on_gpu:
        import ops.cuda as cuda_ops

        ext = cuda_ops.kernels()
        if ext is None:
            print(f"CUDA kernels unavailable: {cuda_ops.unavailable_reason()}")
    impls = ["ref"] + (["cuda"] if ext is not None else [])
    dtypes = [torch.float16, torch.float32] if on_gpu else [torch.float32]
    shapes = TINY_SHAPES if args.tiny else FLRELU_SHAPES
    fu, fd = lowpass(12).to(device), lowpass(12).to(device)
    rows: list[list[str]] = []

    def run(name: str, dtype: torch.dtype, shape: str, fns: dict[str, Callable[[], object]], note: str = "") -> None:
        times = {}
        for impl, fn in fns.items():
            backend.force_impl(impl if impl in ("ref", "cuda") else None)
            try:
                with torch.inference_mode():
                    times[impl] = timer(fn)
            finally:
                backend.force_impl(None)
        ref = times.get("ref")
        cells = [name, str(dtype).replace("torch.", ""), shape]
        for impl in ("ref", "cuda", "cuda-1d"):
            t = times.get(impl)
            cells.append(f"{t:.3f}" if t is not None else "-")
        best = min((t for k, t in times.items() if k != "ref"), default=None)
        cells.append(f"{ref / best:.1f}x" if ref and best else "")
        cells.append(note)
        rows.append(cells)

    for dtype in dtypes:
        for ch, size in shapes:
            x = torch.randn([1, ch, size, size], device=device, dtype=dtype)
            b = torch.randn([ch], device=device, dtype=dtype)
            pad = [11, 10, 11, 10]
            fns: dict[str, Callable[[], object]] = {
                impl: (lambda x=x, b=b, pad=pad: filtered_lrelu(x, fu, fd, b, up=2, down=2, padding=pad, clamp=256.0))
                for impl in impls
            }
            note = ""
            if ext is not None:
                # What the kernel does with separable filters passed as 1-D (flip for correlation).
                fu1, fd1 = fu.flip(0).contiguous(), fd.flip(0).contiguous()
                fns["cuda-1d"] = lambda x=x, b=b, fu1=fu1, fd1=fd1, pad=pad: ext.filtered_lrelu(
                    x, fu1, fd1, b, 2, 2, *pad, float(np.sqrt(2)), 0.2, 256.0
                )
                plan = ext.filtered_lrelu_plan(size, size, 2, 2, 12, 12, False, 12, 12, False, *pad)
                plan1 = ext.filtered_lrelu_plan(size, size, 2, 2, 12, 12, True, 12, 12, True, *pad)
                note = f"tile 2-D {plan[0]}x{plan[1]} ({plan[2] // 1024} KiB), 1-D {plan1[0]}x{plan1[1]}"
            run("filtered_lrelu up2 down2 12tap", dtype, f"{ch}x{size}^2", fns, note)
        for ch, size in shapes[-2:]:
            x = torch.randn([1, ch, size, size], device=device, dtype=dtype)
            f4 = lowpass(4).to(device)
            run("upfirdn2d up2 4tap", dtype, f"{ch}x{size}^2",
                {impl: (lambda x=x, f4=f4: upfirdn2d(x, f4, up=2, padding=[2, 1, 2, 1], gain=4)) for impl in impls})
            b = torch.randn([ch], device=device, dtype=dtype)
            run("bias_act lrelu clamp", dtype, f"{ch}x{size}^2",
                {impl: (lambda x=x, b=b: bias_act(x, b, act="lrelu", clamp=256.0)) for impl in impls})

    head = ["op", "dtype", "shape", "ref ms", "cuda ms", "cuda 1-D ms", "speedup", "note"]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    label = torch.cuda.get_device_name(device) if on_gpu else "CPU"
    print(f"# op benchmark on {label}, torch {torch.__version__} (median ms)")
    for r in [head, ["-" * w for w in widths], *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
