"""`sg3-explorer drag`: drag handle points of a seed's image onto targets (the DragGAN method), write the result.

The optimization is the backend's `drag` analysis, here (a thread backend on `--device`) or on a server
(`--connect`): every step streams back to the progress bar and the tracked path, and the files are the same
either way: drag.png (the result), drag_start.png (the image dragged), drag_w.npz (the ws, the projection
file's format: a keyframe or `--latent` anywhere a projection is taken) and drag_path.json (the tracked
handle positions and losses of every step).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from stylegan3.cli.args import add_device_argument, add_network_argument
from stylegan3.errors import SG3Error


def parse_point(text: str) -> tuple[float, float, float, float]:
    """'X,Y:TX,TY' -> (x, y, tx, ty): a handle and its target in image pixels (argparse type)."""
    try:
        handle, target = text.split(":")
        x, y = (float(v) for v in handle.split(","))
        tx, ty = (float(v) for v in target.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a point pair 'X,Y:TX,TY' (pixels), got {text!r}") from None
    return x, y, tx, ty


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "drag",
        help="drag points of a generated image onto targets (DragGAN)",
        description="Move handle points of the seed's image onto target points by optimizing the first ws of "
        "W+ (motion supervision on the network's features, point tracking by nearest feature; docs/DRAG.md). "
        "Writes drag.png, drag_start.png, drag_w.npz (the ws, projection format) and drag_path.json (the "
        "tracked points of every step).",
    )
    add_network_argument(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the image to edit (0)")
    p.add_argument("--psi", type=float, default=1.0, help="truncation psi of the start (1)")
    p.add_argument(
        "--point",
        type=parse_point,
        action="append",
        required=True,
        metavar="X,Y:TX,TY",
        help="a handle at pixel X,Y and its target TX,TY (repeat for several pairs)",
    )
    p.add_argument(
        "--mask",
        type=Path,
        default=None,
        metavar="M.png",
        help="image of the network's size: white where the image may change (default: everywhere)",
    )
    p.add_argument("--steps", type=int, default=200, help="at most this many steps (200); ends when all arrive")
    p.add_argument("--lr", type=float, default=0.002, help="Adam learning rate (0.002)")
    p.add_argument("--layers", type=int, default=6, help="how many leading ws are optimized (6, as DragGAN)")
    p.add_argument("--mask-weight", type=float, default=10.0, help="weight of keeping the unmasked part (10)")
    p.add_argument("--outdir", type=Path, required=True, help="output folder (created if needed)")
    add_device_argument(p)
    from stylegan3.cli.remote import add_connect_arguments

    add_connect_arguments(p, frames=False)
    p.set_defaults(func=run)


def load_mask(path: Path, resolution: int):
    """The mask image as an `[R, R]` 0 / 1 array (any mode; nonzero grey = may change); one-line errors."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            grey = np.asarray(img.convert("L"))
    except FileNotFoundError:
        raise SG3Error(f"{path}: no such mask file") from None
    except (OSError, UnidentifiedImageError) as exc:
        raise SG3Error(f"{path}: not a readable image ({type(exc).__name__})") from None
    if grey.shape != (resolution, resolution):
        raise SG3Error(
            f"{path}: mask of {grey.shape[1]}x{grey.shape[0]} pixels, the network draws {resolution}x{resolution}"
        )
    mask = (grey > 127).astype(np.float32)
    if not mask.any():
        raise SG3Error(f"{path}: the mask is black everywhere (white marks where the image may change)")
    return mask


def run(args: argparse.Namespace) -> int:
    from PIL import Image
    from tqdm import tqdm

    from stylegan3.cli.remote import analyze, load, open_backend
    from stylegan3.documents.request import Latent, NetworkRef, RenderRequest, Truncation
    from stylegan3.explore.drag import check_points
    from stylegan3.explore.projection import ProjectionStep, save_projection
    from stylegan3.render.images import to_numpy_rgb
    from stylegan3.service import analyses

    if not 1 <= args.steps <= 100_000:
        raise SG3Error("--steps must be between 1 and 100000")
    if not 0 < args.lr <= 10:
        raise SG3Error("--lr must be in (0, 10]")
    if not 1 <= args.layers <= 10_000:
        raise SG3Error("--layers must be at least 1")
    if not 0 <= args.mask_weight <= 1e6:
        raise SG3Error("--mask-weight must be in 0..1e6")
    if not 0 <= args.seed < 2**32:
        raise SG3Error("--seed must be in 0..4294967295")
    request = RenderRequest(
        network=NetworkRef(args.network), latent=Latent(float(args.seed)), truncation=Truncation(float(args.psi), None)
    )
    with open_backend(args) as backend:
        info = load(backend, args.network)
        res = int(info.resolution)
        points = [tuple(p) for p in args.point]
        check_points([p[:2] for p in points], [p[2:] for p in points], res)
        mask = load_mask(args.mask, res) if args.mask is not None else None
        try:
            args.outdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SG3Error(f"{args.outdir}: cannot create output folder ({exc.strerror})") from None
        path: list[dict] = []
        bar = tqdm(total=args.steps, unit="step", desc="dragging")

        def on_step(step) -> None:
            if step.step == 0:
                Image.fromarray(to_numpy_rgb(step.image)).save(args.outdir / "drag_start.png")
            path.append(
                {"step": step.step, "points": [list(p) for p in step.points], "loss": step.loss, "motion": step.motion}
            )
            bar.update(step.step - bar.n)
            bar.set_postfix(loss=f"{step.motion:.4g}")

        try:
            result = analyze(
                lambda: analyses.run_drag(
                    backend,
                    request,
                    points,
                    mask,
                    args.steps,
                    on_step,
                    lr=args.lr,
                    layers=args.layers,
                    mask_weight=args.mask_weight,
                )
            )
        finally:
            bar.close()
    last = result.step
    Image.fromarray(to_numpy_rgb(last.image)).save(args.outdir / "drag.png")
    meta = {
        "kind": "drag",
        "network": result.network,
        "network_source": str(args.network),
        "seed": args.seed,
        "psi": args.psi,
        "points": [list(p) for p in points],
        "final_points": [list(p) for p in last.points],
        "reached": last.reached,
        "lr": args.lr,
        "layers": args.layers,
        "mask": str(args.mask or ""),
    }
    save_projection(
        args.outdir / "drag_w.npz", ProjectionStep(last.step, last.steps, last.loss, last.ws, last.image), meta
    )
    doc = {
        "format": "sg3-explorer drag path",
        "version": 1,
        "targets": [list(p[2:]) for p in points],
        "handles": [list(p[:2]) for p in points],
        "steps": path,
    }
    try:
        (args.outdir / "drag_path.json").write_text(json.dumps(doc) + "\n")
    except OSError as exc:
        raise SG3Error(f"{args.outdir / 'drag_path.json'}: cannot write ({exc.strerror})") from None
    state = "every handle reached its target" if last.reached else "not every handle reached its target"
    where = ", ".join(f"({x}, {y})" for x, y in last.points)
    print(f"{state} after {last.step} steps (handles now at {where}; motion loss {last.motion:.4g})")
    names = ("drag.png", "drag_start.png", "drag_w.npz", "drag_path.json")
    print(f"wrote {', '.join(str(args.outdir / n) for n in names)}")
    return 0
