"""Measured ceilings of this GPU: memory bandwidth and matrix/vector arithmetic rates.

METHOD: datasheet rates are leads; the floor of a frame (benchmarks/floor.py) should use what the
device really reaches. This times, with CUDA events (warm-up, median of repeats, rotating buffers so
no run is served from L2):
- a large device-to-device copy (bytes read + bytes written, GB/s);
- large matrix products in fp16, bf16, tf32 and fp32 (TFLOPS, 2 FLOPs per multiply-add);
- an elementwise fused multiply-add chain on CUDA cores in fp32 and fp16 (TFLOPS), for stencil-like kernels.

    PYTHONPATH=. python3 -m benchmarks.ceilings [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable

import torch


def _median_ms(fn: Callable[[int], object], warmup: int = 3, iters: int = 20) -> float:
    for i in range(warmup):
        fn(i)
    torch.cuda.synchronize()
    times = []
    for i in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn(i)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def copy_bandwidth_gbs(mib: int = 1024) -> float:
    n = mib * 2**20 // 4
    srcs = [torch.randn(n, device="cuda") for _ in range(2)]
    dst = torch.empty(n, device="cuda")
    ms = _median_ms(lambda i: dst.copy_(srcs[i % 2]))
    return 2 * n * 4 / (ms * 1e-3) / 1e9


def matmul_tflops(dtype: torch.dtype, tf32: bool = False, n: int = 8192) -> float:
    old = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    try:
        a = [torch.randn(n, n, device="cuda", dtype=dtype) for _ in range(2)]
        b = torch.randn(n, n, device="cuda", dtype=dtype)
        out = torch.empty(n, n, device="cuda", dtype=dtype)
        ms = _median_ms(lambda i: torch.mm(a[i % 2], b, out=out), iters=10)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old
    return 2 * n**3 / (ms * 1e-3) / 1e12


def fma_tflops(dtype: torch.dtype, n: int = 1 << 25, chain: int = 256) -> float:
    """addcmul chain, fused by torch.compile when available, else eager (then it measures bandwidth)."""
    x = torch.randn(n, device="cuda", dtype=dtype)
    a, b = torch.tensor(0.999, device="cuda", dtype=dtype), torch.tensor(1e-3, device="cuda", dtype=dtype)

    def body(v: torch.Tensor) -> torch.Tensor:
        for _ in range(chain):
            v = v * a + b
        return v

    try:
        fn = torch.compile(body, fullgraph=True)
        fn(x)
    except Exception:  # noqa: BLE001 - no compiler backend: report what eager reaches, marked as such
        return float("nan")
    ms = _median_ms(lambda i: fn(x))
    return 2 * chain * n / (ms * 1e-3) / 1e12


def measure() -> dict[str, float | str]:
    out: dict[str, float | str] = {"device": torch.cuda.get_device_name(), "torch": torch.__version__}
    out["bw_gbs"] = copy_bandwidth_gbs()
    out["fp16_tflops"] = matmul_tflops(torch.float16)
    out["bf16_tflops"] = matmul_tflops(torch.bfloat16)
    out["tf32_tflops"] = matmul_tflops(torch.float32, tf32=True)
    out["fp32_mm_tflops"] = matmul_tflops(torch.float32, tf32=False)
    out["fp32_fma_tflops"] = fma_tflops(torch.float32)
    out["fp16_fma_tflops"] = fma_tflops(torch.float16)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", default=None, help="write the numbers to this file")
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        print("ceilings: no CUDA device")
        return 2
    res = measure()
    print(f"# measured ceilings: {res['device']}, torch {res['torch']}")
    for k, v in res.items():
        if isinstance(v, float):
            print(f"{k:16s} {v:10.1f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
