"""Per-op benchmark: reference vs our CUDA kernels at the layer shapes of the 1024x1024 networks.

Where the synthesis benchmark says *whether* we are fast, this says *which op* costs what and which
filtered_lrelu kernel wins: the generic fused kernel, the register-blocked one (the default where it
applies) and the blocked one with large tiles (shared memory beyond 48 KiB, opt-in). Each row also
gives the multiply-adds per second the fastest variant reached, to set against the FMA ceiling.

    PYTHONPATH=. python3 -m benchmarks.bench_ops            # GPU
    PYTHONPATH=. python3 -m benchmarks.bench_ops --tiny     # CPU smoke test (reference only)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from benchmarks.bench_synthesis import Timer


@dataclass(frozen=True)
class FlreluShape:
    """One filtered_lrelu call of a real layer: SG3-T/R at 1024 (channels, input size, up, taps, 2-D down)."""

    label: str
    channels: int
    size: int  # input (conv output) size
    up: int
    fu_taps: int
    radial: bool  # SG3-R: 2-D 12x12 down filter
    padding: tuple[int, int, int, int]

    def macs(self) -> float:
        """Multiply-adds of the polyphase computation as the floor counts them (stylegan3/perf/floor.py, no halos)."""
        from stylegan3.ops.filtered_lrelu import output_size
        from stylegan3.perf.floor import down_stage_macs, up_stage_macs

        out, _ = output_size((self.size, self.size), torch.empty(self.fu_taps), torch.empty(12), self.up, 2,
                             self.padding)
        mid = (out - 1) * 2 + 12
        up = up_stage_macs((mid, mid), (self.padding[0], self.padding[2]), self.fu_taps, self.up)["sep"]
        down = down_stage_macs((mid, mid), (out, out), 12)["2d" if self.radial else "sep"]
        return self.channels * (up + down)


# Taken from the official FFHQ configs (see benchmarks/floor.py --layers): the largest layers dominate.
FLRELU_SHAPES = [
    FlreluShape("SG3-T L6_148", 512, 150, 2, 12, False, (9, 8, 9, 8)),
    FlreluShape("SG3-T L9_532", 128, 278, 4, 24, False, (-6, -9, -6, -9)),
    FlreluShape("SG3-T L10_1044", 81, 534, 4, 24, False, (-6, -9, -6, -9)),
    FlreluShape("SG3-T L11_1044", 51, 1046, 2, 12, False, (9, 8, 9, 8)),
    FlreluShape("SG3-R L10_1044", 161, 532, 4, 24, True, (-2, -5, -2, -5)),
    FlreluShape("SG3-R L11_1044", 102, 1044, 2, 12, True, (11, 10, 11, 10)),
]
TINY_SHAPES = [FlreluShape("tiny", 2, 20, 2, 12, False, (11, 10, 11, 10))]


def lowpass(taps: int) -> torch.Tensor:
    """A normalised windowed-sinc low-pass (shape only matters for timing; values are realistic)."""
    n = np.arange(taps) - (taps - 1) / 2
    f = np.sinc(n / 2) * np.kaiser(taps, 4.0)
    return torch.tensor(f / f.sum(), dtype=torch.float32)


def radial(taps: int) -> torch.Tensor:
    f = lowpass(taps)
    return torch.outer(f, f) + 1e-3 * torch.randn(taps, taps)  # not separable, like SG3-R's jinc filters


def format_rows(head: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [head, ["-" * w for w in widths], *rows]
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default=None)
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--iters", type=int, default=None)
    p.add_argument("--big-smem-kib", type=int, default=160, help="shared-memory budget of the large-tile column")
    args = p.parse_args(argv)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    on_gpu = device.type == "cuda"
    timer = Timer(device, 5 if on_gpu else 1, args.iters or (30 if on_gpu else 2))

    from stylegan3.ops import backend, bias_act, filtered_lrelu, upfirdn2d

    ext = None
    if on_gpu:
        import sg3_explorer.ops.cuda as cuda_ops

        ext = cuda_ops.kernels()
        if ext is None:
            print(f"CUDA kernels unavailable: {cuda_ops.unavailable_reason()}")
    dtypes = [torch.float16, torch.float32] if on_gpu else [torch.float32]
    shapes = TINY_SHAPES if args.tiny else FLRELU_SHAPES
    rows: list[list[str]] = []

    def timed(fn: Callable[[], object], impl: str, mode: int = 0, smem: int = 48 * 1024) -> float | None:
        backend.force_impl(impl)
        try:
            if ext is not None:
                ext.set_filtered_lrelu_mode(mode)
                ext.set_filtered_lrelu_smem_bytes(smem)
            with torch.inference_mode():
                return timer(fn)
        except torch.cuda.OutOfMemoryError:
            return None
        finally:
            backend.force_impl(None)
            if ext is not None:
                ext.set_filtered_lrelu_mode(0)
                ext.set_filtered_lrelu_smem_bytes(48 * 1024)

    def fmt(t: float | None) -> str:
        return f"{t:.3f}" if t is not None else "-"

    for dtype in dtypes:
        for s in shapes:
            x = torch.randn([1, s.channels, s.size, s.size], device=device, dtype=dtype)
            b = torch.randn([s.channels], device=device, dtype=dtype)
            fu = lowpass(s.fu_taps).to(device)
            fd = (radial(12) if s.radial else lowpass(12)).to(device)

            def call(x=x, b=b, fu=fu, fd=fd, s=s) -> torch.Tensor:
                return filtered_lrelu(x, fu, fd, b, up=s.up, down=2, padding=s.padding, clamp=256.0)

            times = {"ref": timed(call, "ref")}
            note = ""
            if ext is not None:
                times["generic"] = timed(call, "cuda", mode=1)
                times["blocked"] = timed(call, "cuda", mode=0)
                times["big"] = timed(call, "cuda", mode=0, smem=args.big_smem_kib * 1024)
                plan_args = (s.size, s.size, s.up, 2, s.fu_taps, s.fu_taps, True, 12, 12, not s.radial, *s.padding)
                plan = ext.filtered_lrelu_plan(*plan_args)
                ext.set_filtered_lrelu_smem_bytes(args.big_smem_kib * 1024)
                big = ext.filtered_lrelu_plan(*plan_args)
                ext.set_filtered_lrelu_smem_bytes(48 * 1024)
                kind = "blocked" if plan[3] == 1 else "generic"
                note = f"{kind} tile {plan[0]}x{plan[1]}, big {big[0]}x{big[1]} ({big[2] // 1024} KiB)"
            best = min((t for k, t in times.items() if k != "ref" and t is not None), default=times["ref"])
            rate = f"{s.macs() / (best * 1e-3) / 1e12:.1f}" if best else "-"
            speed = f"{times['ref'] / best:.1f}x" if times["ref"] and best and ext is not None else ""
            rows.append(
                [
                    s.label,
                    str(dtype).replace("torch.", ""),
                    f"{s.channels}x{s.size}^2 up{s.up}{' 2-D' if s.radial else ''}",
                ]
                + [fmt(times.get(k)) for k in ("ref", "generic", "blocked", "big")]
                + [f"{s.macs() / 1e9:.2f}", rate, speed, note]
            )
    head = [
        "filtered_lrelu",
        "dtype",
        "shape",
        "ref ms",
        "generic ms",
        "blocked ms",
        "big-tile ms",
        "GMAC",
        "best TMAC/s",
        "vs ref",
        "plan",
    ]
    label = torch.cuda.get_device_name(device) if on_gpu else "CPU"
    print(f"# op benchmark on {label}, torch {torch.__version__} (median ms)")
    print(format_rows(head, rows))

    other: list[list[str]] = []
    for dtype in dtypes:
        for ch, size in [(2, 20)] if args.tiny else [(64, 532), (32, 1044)]:
            x = torch.randn([1, ch, size, size], device=device, dtype=dtype)
            f4 = lowpass(4).to(device)
            b = torch.randn([ch], device=device, dtype=dtype)
            for name, fn in (
                ("upfirdn2d up2 4tap", lambda x=x, f4=f4: upfirdn2d(x, f4, up=2, padding=[2, 1, 2, 1], gain=4)),
                ("bias_act lrelu clamp", lambda x=x, b=b: bias_act(x, b, act="lrelu", clamp=256.0)),
            ):
                t_ref = timed(fn, "ref")
                t_cuda = timed(fn, "cuda") if ext is not None else None
                speed = f"{t_ref / t_cuda:.1f}x" if t_ref and t_cuda else ""
                other.append([name, str(dtype).replace("torch.", ""), f"{ch}x{size}^2", fmt(t_ref), fmt(t_cuda), speed])
    print()
    print(format_rows(["op", "dtype", "shape", "ref ms", "cuda ms", "vs ref"], other))
    return 0


if __name__ == "__main__":
    sys.exit(main())
