"""`sg3-explorer sticking`: texture-sticking score and average-of-nearby-latents figure per network."""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from stylegan3.cli.args import add_device_argument, add_record_argument
from stylegan3.documents.request import NOISE_MODES
from stylegan3.errors import SG3Error


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sticking",
        help="texture-sticking score and average image per network",
        description="Average K images rendered from small random perturbations of one latent (StyleGAN3 paper, "
        "Figure 1). Details that stay sharp in the average are stuck to pixel coordinates. The score is the "
        "estimated fraction of fine-detail energy that does not move (0 = all details move with the content, "
        "1 = all stuck). Without --network the embedded demo net is used.",
    )
    p.add_argument("--network", action="append", metavar="SRC", help="path, URL, catalog name or 'demo' (repeat)")
    p.add_argument("--samples", type=int, default=64, metavar="K", help="perturbed renders to average (64)")
    p.add_argument("--seed", type=int, default=0, help="seed of the central latent (0)")
    p.add_argument("--sigma", type=float, default=0.5, help="perturbation size, in units of the latent's std (0.5)")
    p.add_argument("--space", choices=["z", "w"], default="z", help="perturb z (default) or w")
    p.add_argument("--psi", type=float, default=1.0, help="truncation psi (1 = none)")
    p.add_argument("--hp-cutoff", type=float, default=0.25, metavar="F",
                   help="fine detail = frequencies above F * Nyquist (0.25)")
    p.add_argument("--noise-seed", type=int, default=0, help="seed of the perturbations (0)")
    p.add_argument("--noise-mode", choices=NOISE_MODES, default="const",
                   help="noise inputs (const: the network's fixed noise buffers, themselves pixel-locked)")
    p.add_argument("--trace-frames", type=int, default=0, metavar="T",
                   help="also record the middle pixel row over T frames walking in W from --seed to --seed + 1 "
                   "and print its verticality (trace view, added to the figure)")
    p.add_argument("--batch", type=int, default=8, help="renders per batch (8)")
    p.add_argument("--size", type=int, default=None, metavar="PX", help="image size in the figure")
    add_device_argument(p)
    p.add_argument("--out", default=None, metavar="FIG.png", help="write the figure here")
    add_record_argument(p, "network", "network hash, score, settings, version, time")
    from stylegan3.cli.remote import add_connect_arguments

    add_connect_arguments(p, frames=False)
    p.set_defaults(func=run)


def _upscale(img: torch.Tensor, size: int) -> torch.Tensor:
    """Nearest-neighbour when enlarging: interpolation would blur exactly the detail the figure is about."""
    from stylegan3.explore.video import resize_images

    if size > img.shape[-1]:
        return F.interpolate(img.to(torch.float32), size=(size, size), mode="nearest")
    return resize_images(img, size)


def _trace_panel(trace: torch.Tensor, size: int) -> np.ndarray:
    """Trace `[T, C, W]` as a `size` x `size` picture: x across (nearest), time down (stretched)."""
    from stylegan3.metrics.trace import trace_to_uint8

    img = torch.from_numpy(trace_to_uint8(trace)).permute(2, 0, 1)[None].float()
    img = F.interpolate(img, size=(size, size), mode="nearest")
    return img[0].permute(1, 2, 0).to(torch.uint8).numpy()


def sticking_figure(rows: list[tuple[str, object]], size: int | None = None,
                    traces: list[tuple[torch.Tensor, float]] | None = None) -> np.ndarray:
    """One row per network: single frame | average [| trace], labelled with the scores. uint8 `[H, W, 3]`."""
    from stylegan3.explore.video import draw_label
    from stylegan3.render.images import to_rgb_uint8

    if not rows:
        raise SG3Error("nothing to draw")
    size = int(size or min(512, max(256, *(r.average.shape[-1] for _, r in rows))))
    first = rows[0][1]
    cols = 3 if traces else 2
    header = f"one frame | mean of {first.samples} nearby (sigma {first.sigma:g})" + (" | row trace" if traces else "")
    parts = [draw_label(cols * size, header)]
    for i, (label, res) in enumerate(rows):
        pair = torch.stack([res.single, res.average])
        imgs = to_rgb_uint8(_upscale(pair, size)).numpy()
        panels = [imgs[0], imgs[1]]
        text = f"{label}  sticking {res.score:.3f}"
        if traces:
            panels.append(_trace_panel(traces[i][0], size))
            text += f"  verticality {traces[i][1]:.3f}"
        parts.append(draw_label(cols * size, text))
        parts.append(np.concatenate(panels, axis=1))
    return np.concatenate(parts, axis=0)


def _trace_for(G: torch.nn.Module, seed: int, frames: int, args: argparse.Namespace) -> tuple[torch.Tensor, float]:
    from stylegan3.explore.interpolation import interpolate_keys, seed_ws
    from stylegan3.metrics.trace import record_trace, verticality

    keys = seed_ws(G, [seed, (seed + 1) % 2**32], psi=args.psi)
    ws = interpolate_keys(keys, frames - 1, kind="linear")
    trace = record_trace(G, ws, noise_mode=args.noise_mode, batch_size=args.batch)
    return trace, verticality(trace, args.hp_cutoff)


def _record(args: argparse.Namespace, label: str, sha: str, res, seconds: float, where: str,
            processes: int = 1) -> None:
    """One run record per network (`stylegan3.runs.runlog`), the same fields local and remote."""
    from stylegan3.runs.runlog import append_run_record, run_record

    settings = {"seed": args.seed, "sigma": args.sigma, "space": args.space, "psi": args.psi,
                "hp_cutoff": args.hp_cutoff, "noise_seed": args.noise_seed, "noise_mode": args.noise_mode,
                "device": where}
    results = {"score": res.score, "ratio": res.ratio, "detail_energy": res.detail_energy}
    append_run_record(args.record, run_record("sticking", label, sha, args.samples, settings, results, seconds,
                                              processes))


def _line(label: str, res) -> str:
    return (f"{label}: sticking {res.score:.4f} (fine-detail energy per frame {res.detail_energy:.3g}, "
            f"kept by the average: {res.ratio:.4f})")


def _run_remote(args: argparse.Namespace) -> int:
    """`--connect`: each network's average is computed on the server; the figure is drawn here."""
    from stylegan3.cli.progress import RunProgress
    from stylegan3.cli.remote import connect, remote_sticking

    if args.trace_frames:
        raise SG3Error("--trace-frames runs locally only (not with --connect)")
    rows = []
    backend = connect(args)
    try:
        for source in args.network or ["demo"]:
            t0 = time.perf_counter()
            with RunProgress(args.samples, source, "img", True, first_round=args.batch) as bar:
                label, res, sha = remote_sticking(args, backend, source, bar)
            rows.append((label, res))
            print(_line(label, res))
            if args.record:
                _record(args, label, sha, res, time.perf_counter() - t0, f"remote {args.connect}")
    finally:
        backend.close()
    if args.out is not None:
        from PIL import Image

        Image.fromarray(sticking_figure(rows, args.size)).save(args.out)
        print(f"wrote {args.out}")
    return 0


def run(args: argparse.Namespace) -> int:
    from stylegan3.cli.args import load_networks, pick_device
    from stylegan3.explore.interpolation import make_c, seed_zs
    from stylegan3.explore.video import network_label
    from stylegan3.metrics.sticking import sticking_view

    if args.trace_frames and args.trace_frames < 2:
        raise SG3Error("--trace-frames must be at least 2 (or 0 for no trace)")
    if args.samples < 2:
        raise SG3Error("--samples must be at least 2")
    if not args.sigma > 0:
        raise SG3Error("--sigma must be positive")
    from pathlib import Path

    if args.out is not None and not Path(args.out).parent.is_dir():
        raise SG3Error(f"output folder {Path(args.out).parent} does not exist")
    if args.record and not Path(args.record).parent.is_dir():
        raise SG3Error(f"folder of {args.record} does not exist")
    from stylegan3.cli.progress import RunProgress
    from stylegan3.runs import distributed

    if args.connect:
        return _run_remote(args)
    with distributed.session(pick_device(args.device)) as (ctx, device):
        nets = load_networks(args.network, device)
        rows, traces = [], []
        for name, G in nets:
            label = network_label(name, G)
            t0 = time.perf_counter()
            z = torch.from_numpy(seed_zs([args.seed], int(G.z_dim))).to(device=device, dtype=torch.float32)
            with RunProgress(args.samples, name, "img", ctx.is_main, processes=ctx.world_size,
                             first_round=args.batch * ctx.world_size) as bar:
                res = sticking_view(
                    G, z, samples=args.samples, sigma=args.sigma, space=args.space, psi=args.psi,
                    c=make_c(G, 1, None, device), hp_cutoff=args.hp_cutoff, batch_size=args.batch,
                    seed=args.noise_seed, noise_mode=args.noise_mode, progress=bar, context=ctx,
                )
            if res is None:  # torchrun: this rank rendered its share of the batches; rank 0 reports
                continue
            rows.append((label, res))
            if args.record:
                from stylegan3.runs.runlog import network_fingerprint

                _record(args, label, network_fingerprint(G), res, time.perf_counter() - t0, device.type,
                        ctx.world_size)
            line = _line(label, res)
            if args.trace_frames:
                traces.append(_trace_for(G, args.seed, args.trace_frames, args))
                line += f", trace verticality {traces[-1][1]:.4f}"
            print(line)
    if not ctx.is_main:
        return 0
    if args.out is not None:
        from PIL import Image

        Image.fromarray(sticking_figure(rows, args.size, traces or None)).save(args.out)
        print(f"wrote {args.out}")
    return 0
