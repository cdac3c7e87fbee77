"""`sg3-explorer project`: find the latent of your own image (W or W+), write it, its image and optionally a video."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stylegan3.cli.args import add_device_argument, add_network_argument
from stylegan3.errors import SG3Error


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "project",
        help="project an image into the network's latent space (W or W+)",
        description="Optimize a latent so that the network draws the target image (centre-cropped and resized "
        "to the network's resolution). Writes projected_w.npz (the ws, usable as a keyframe), projected.png, "
        "target.png and with --video projection.mp4 (target | reconstruction at every step).",
    )
    add_network_argument(p)
    p.add_argument("--target", type=Path, required=True, metavar="IMAGE", help="PNG / JPEG / ... to project")
    p.add_argument("--steps", type=int, default=300, help="optimizer steps (300)")
    p.add_argument("--space", choices=["w", "w+"], default="w+", help="one w for all layers, or one per ws (w+)")
    p.add_argument("--loss", choices=["auto", "offline", "lpips"], default="auto",
                   help="auto: LPIPS when installed and its weights are cached, else the offline loss; lpips: "
                   "download its weights once if needed; offline: multi-scale pixel + gradient, no download")
    p.add_argument("--lr", type=float, default=0.05, help="Adam learning rate (0.05)")
    p.add_argument("--seed", type=int, default=0, help="seed of the w samples whose mean is the start (0)")
    p.add_argument("--outdir", type=Path, required=True, help="output folder (created if needed)")
    p.add_argument("--video", action="store_true", help="also write the optimization as projection.mp4")
    p.add_argument("--fps", type=float, default=30.0, help="frames per second of --video (30)")
    add_device_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from PIL import Image
    from tqdm import tqdm

    import stylegan3
    from stylegan3.cli.args import pick_device
    from stylegan3.explore.directions import network_fingerprint
    from stylegan3.explore.projection import load_target, make_loss, project, psnr, save_projection
    from stylegan3.render.images import to_numpy_rgb

    if not 1 <= args.steps <= 100_000:
        raise SG3Error("--steps must be between 1 and 100000")
    if not args.fps > 0:
        raise SG3Error("--fps must be positive")
    if args.video:
        try:
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            raise SG3Error("--video needs imageio and imageio-ffmpeg: pip install 'sg3-explorer[video]'") from None
    device = pick_device(args.device)
    G = stylegan3.load_network(args.network, device=device).eval().requires_grad_(False)
    target = load_target(args.target, int(G.img_resolution), int(G.img_channels))  # a bad image fails here
    loss, note = make_loss(args.loss, device)
    if note:
        print(f"note: {note}", file=sys.stderr)
    print(f"loss: {loss.description}; space {args.space.upper()}, {args.steps} steps")
    try:
        args.outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SG3Error(f"{args.outdir}: cannot create output folder ({exc.strerror})") from None
    target_rgb = to_numpy_rgb(target)
    Image.fromarray(target_rgb).save(args.outdir / "target.png")

    steps = project(G, target, steps=args.steps, space=args.space, loss=loss, lr=args.lr, seed=args.seed)
    last = None
    bar = tqdm(total=args.steps, unit="step", desc="projecting")

    def tracked():
        nonlocal last
        for step in steps:
            last = step
            bar.update(step.step - bar.n)
            bar.set_postfix(loss=f"{step.loss:.4g}")
            yield step

    try:
        if args.video:
            from stylegan3.explore.video import _pad_to_block, write_video

            frames = (_pad_to_block(np.concatenate([target_rgb, to_numpy_rgb(s.image)], axis=1)) for s in tracked())
            write_video(frames, args.outdir / "projection.mp4", fps=args.fps, total=args.steps + 1, progress=False)
        else:
            for _ in tracked():
                pass
    finally:
        bar.close()
    quality = psnr(last.image, target.to(last.image.device))
    Image.fromarray(to_numpy_rgb(last.image)).save(args.outdir / "projected.png")
    save_projection(args.outdir / "projected_w.npz", last, {
        "space": args.space, "loss_kind": loss.name, "target": str(args.target), "network": network_fingerprint(G),
        "network_source": str(args.network), "psnr_db": quality, "lr": args.lr, "seed": args.seed,
    })  # fmt: skip
    written = ["projected_w.npz", "projected.png", "target.png"] + (["projection.mp4"] if args.video else [])
    print(f"wrote {', '.join(str(args.outdir / n) for n in written)}; final loss {last.loss:.4g}, "
          f"PSNR {quality:.1f} dB")
    return 0
