"""Exploration benchmark: projection time per optimizer step, per-frame timeline export, PCA of W.

Runs on the embedded demo networks (256 px, untrained; timing does not depend on the weights) on the device
chosen (the CPU by default). "projection step" is one forward + backward through synthesis and the loss
(the offline loss; LPIPS when installed and `--loss lpips`); "export frame" is `iter_timeline_frames` (W
interpolation, synthesis, uint8 conversion) without the encoder, and "export + encode" includes H.264 through
imageio-ffmpeg. Times are medians of the measured repetitions after one warm-up.

    PYTHONPATH=. python3 -m benchmarks.bench_explore                    # demo SG3-T and SG2 on the CPU
    PYTHONPATH=. python3 -m benchmarks.bench_explore --nets demo --steps 5 --frames 5
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch


def _median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000.0


def bench_projection(G, steps: int, space: str, loss_kind: str, device) -> float:
    from stylegan3.explore.interpolation import seed_ws
    from stylegan3.explore.projection import make_loss, project

    with torch.no_grad():
        target = G.synthesis(seed_ws(G, [1], device=device), noise_mode="const", force_fp32=True)
    loss, _ = make_loss(loss_kind, device)
    times, last = [], time.perf_counter()
    for step in project(G, target, steps=steps + 1, space=space, loss=loss, init_samples=1000):
        now = time.perf_counter()
        if 1 <= step.step <= steps:  # step 0 includes the start-up (w sampling); the final yield is forward only
            times.append(now - last)
        last = now
    return _median_ms(times)


def bench_export(G, frames: int, encode: bool) -> float:
    from stylegan3.documents.timeline import Keyframe, Timeline
    from stylegan3.render.timeline import iter_timeline_frames, resolve_timeline

    tl = Timeline([Keyframe.of_seed(0, duration=1.0), Keyframe.of_seed(1, translate=(0.1, 0.0), duration=1.0)],
                  fps=float(frames), loop=True)
    r = resolve_timeline(G, tl)
    it = iter_timeline_frames(G, r, frames=frames + 1)
    if encode:
        from stylegan3.explore.video import write_video

        with tempfile.TemporaryDirectory() as tmp:
            next(it)  # warm-up
            t0 = time.perf_counter()
            write_video(it, Path(tmp) / "bench.mp4", fps=30, progress=False)
            return (time.perf_counter() - t0) / frames * 1000.0
    next(it)
    times, last = [], time.perf_counter()
    for _ in it:
        now = time.perf_counter()
        times.append(now - last)
        last = now
    return _median_ms(times)


def bench_pca(G, samples: int) -> float:
    from stylegan3.explore.directions import pca_directions

    t0 = time.perf_counter()
    pca_directions(G, samples=samples)
    return (time.perf_counter() - t0) * 1000.0


def main(argv: list[str] | None = None) -> int:
    from stylegan3 import load_network
    from stylegan3.loading.build import resolve_device

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nets", default="demo,demo-sg2", help="comma-separated network sources (demo,demo-sg2)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=10, help="timed projection steps (10)")
    p.add_argument("--frames", type=int, default=10, help="timed export frames (10)")
    p.add_argument("--samples", type=int, default=20000, help="w samples of the timed PCA (20000)")
    p.add_argument("--loss", default="offline", choices=["offline", "lpips", "auto"])
    args = p.parse_args(argv)
    device = resolve_device(args.device)
    rows = []
    for source in args.nets.split(","):
        G = load_network(source.strip(), device=device).eval().requires_grad_(False)
        name = f"{source} ({G.img_resolution}px)"
        rows.append((name, "projection step, W+", bench_projection(G, args.steps, "w+", args.loss, device)))
        rows.append((name, "projection step, W", bench_projection(G, args.steps, "w", args.loss, device)))
        rows.append((name, "export frame (render)", bench_export(G, args.frames, encode=False)))
        try:
            rows.append((name, "export frame + H.264", bench_export(G, args.frames, encode=True)))
        except Exception as exc:  # noqa: BLE001 - no ffmpeg: report the render-only row
            rows.append((name, f"export + H.264 unavailable: {exc}", float("nan")))
        rows.append((name, f"PCA of {args.samples} w (total)", bench_pca(G, args.samples)))
    print(f"device: {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, loss {args.loss}")
    width = max(len(r[0]) for r in rows)
    what = max(len(r[1]) for r in rows)
    print(f"{'network':<{width}}  {'what':<{what}}  {'ms':>10}")
    for name, label, ms in rows:
        print(f"{name:<{width}}  {label:<{what}}  {ms:>10.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
