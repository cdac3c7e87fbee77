"""`sg3-explorer render`: one PNG per seed, headless."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from PIL import Image

from stylegan3.cli.args import add_device_argument, add_network_argument, parse_pair, parse_seeds, pick_device
from stylegan3.cli.remote import add_connect_arguments, run_render
from stylegan3.cli.session_render import add_session_arguments, run_session
from stylegan3.documents.request import NOISE_MODES
from stylegan3.errors import SG3Error


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("render", help="render images for a list of seeds into PNG files")
    add_network_argument(p)
    p.add_argument("--seeds", type=parse_seeds, default=[0], help="seeds, e.g. 0-3,7 (default: 0)")
    p.add_argument("--class", dest="class_idx", type=int, default=None, help="class label for conditional nets")
    p.add_argument("--psi", type=float, default=1.0, help="truncation psi (default: 1)")
    p.add_argument("--cutoff", type=int, default=None,
                   help="truncate only the first N ws (default: all; StyleGAN v1: the network's own, TF's 8)")
    p.add_argument("--noise-mode", choices=NOISE_MODES, default="const", help="SG2 / StyleGAN noise inputs")
    p.add_argument("--translate", type=parse_pair, default=(0.0, 0.0), metavar="X,Y", help="SG3 input translation")
    p.add_argument("--rotate", type=float, default=0.0, metavar="TURNS", help="SG3 input rotation in turns")
    p.add_argument("--force-fp32", action="store_true", help="no fp16 even where the network allows it")
    p.add_argument("--direction", action="append", default=[], metavar="FILE.npz:K=SIGMAS[@RANGE]",
                   help="move along direction K of a direction file by SIGMAS standard deviations, on the ws "
                   "RANGE (all, coarse, middle, fine, or e.g. 0-3; default all); repeatable")
    p.add_argument("--force", action="store_true", help="apply --direction files made for another network")
    p.add_argument("--outdir", type=Path, required=True,
                   help="output folder (created if needed); files are named seedNNNN.png, plus every option that "
                   "changes the image (e.g. seed0005-psi0.7-t0.25,0.png); .jpg with --connect --frame-format jpeg")
    add_device_argument(p)
    add_connect_arguments(p)
    add_session_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.direction and args.session:
        raise SG3Error("--direction renders the --seeds (not with --session)")
    if args.session:
        return run_session(args)
    if args.connect:
        return run_render(args)
    import stylegan3
    from stylegan3.explore.directions import network_fingerprint
    from stylegan3.networks.info import describe
    from stylegan3.render.pipeline import render_request

    G = stylegan3.load_network(args.network, device=pick_device(args.device))
    info = describe(G, args.network)
    fingerprint = network_fingerprint(G) if args.direction else None
    requests = seed_requests(args, info, direction_moves(args.direction, info, fingerprint, args.force))
    make_outdir(args.outdir)
    for seed, request in requests:
        out = render_request(G, request, info)
        save_frame(args, seed, out.image, out.error)
    return 0


def seed_requests(args: argparse.Namespace, info, moves: tuple = ()) -> list:
    """One `RenderRequest` per `--seeds` entry (what a local and a `--connect` render both send to the pipeline);
    the class and transform options are checked against the network first."""
    from stylegan3.documents.request import Latent, NetworkRef, Noise, RenderRequest, Synthesis, Transform, Truncation

    if info.c_dim and args.class_idx is None:
        raise SG3Error(f"{args.network}: conditional network ({info.c_dim} classes): pass --class N")
    if args.class_idx is not None and not info.c_dim:
        raise SG3Error("a class label was given but the network is unconditional")
    if args.class_idx is not None and not 0 <= args.class_idx < info.c_dim:
        raise SG3Error(f"class {args.class_idx} out of range (the network has {info.c_dim} classes: "
                       f"0..{info.c_dim - 1})")
    if (args.translate != (0.0, 0.0) or args.rotate) and not info.capabilities.input_transform:
        print("warning: --translate/--rotate ignored: StyleGAN2 has no input transform", file=sys.stderr)
    base = RenderRequest(
        network=NetworkRef(args.network),
        truncation=Truncation(args.psi, args.cutoff),
        noise=Noise(args.noise_mode),
        transform=Transform(tuple(args.translate), args.rotate),
        synthesis=Synthesis(force_fp32=args.force_fp32, cuda_graphs=False),
        moves=tuple(moves),
    )
    return [(seed, base.replace(latent=Latent(float(seed), 0.0, args.class_idx or 0))) for seed in args.seeds]


def make_outdir(outdir: Path) -> None:
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SG3Error(f"{outdir}: cannot create output folder ({exc.strerror})") from None


def frame_name(args: argparse.Namespace, seed: int) -> str:
    """`seed0005.png` for a plain render; every option that changes the image is added to the name
    (`seed0005-psi0.7-t0.25,0-dirs3+2.5@coarse.png`), so renders with other settings into the same folder never
    overwrite each other. Frames that came over `--connect` as JPEG are written as such: `.jpg`."""
    from stylegan3.explore.directions import parse_direction_spec

    parts = [f"seed{seed:04d}"]
    if args.class_idx is not None:
        parts.append(f"class{args.class_idx}")
    if args.psi != 1.0:
        parts.append(f"psi{args.psi:g}")
    if args.cutoff is not None:
        parts.append(f"cutoff{args.cutoff}")
    if args.noise_mode != "const":
        parts.append(f"noise-{args.noise_mode}")
    if tuple(args.translate) != (0.0, 0.0):
        parts.append(f"t{args.translate[0]:g},{args.translate[1]:g}")
    if args.rotate:
        parts.append(f"r{args.rotate:g}")
    for spec in args.direction:
        path, index, amount, layers = parse_direction_spec(spec)
        parts.append(f"{_slug(Path(path).stem)}{index}{amount:+g}" + ("" if layers == "all" else f"@{_slug(layers)}"))
    if args.force_fp32:
        parts.append("fp32")
    return "-".join(parts) + image_suffix(args)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.,_]+", "_", text).strip("_") or "d"


def image_suffix(args: argparse.Namespace) -> str:
    """`.jpg` where the frames came over `--connect` as JPEG (the pixels are JPEG's: a `.png` would hide that),
    else `.png`."""
    return ".jpg" if getattr(args, "connect", None) and getattr(args, "frame_format", "raw") == "jpeg" else ".png"


def save_image(path: Path, image, args: argparse.Namespace) -> None:
    """Write `image` in the format its name says (`image_suffix`): PNG, or JPEG at `--jpeg-quality`."""
    if path.suffix == ".jpg":
        Image.fromarray(image).save(path, format="JPEG", quality=int(getattr(args, "jpeg_quality", 90)))
    else:
        Image.fromarray(image).save(path, format="PNG")


def save_frame(args: argparse.Namespace, seed: int, image, error: str | None) -> None:
    if error:
        raise SG3Error(f"seed {seed}: {error}")
    path = args.outdir / frame_name(args, seed)
    save_image(path, image, args)
    print(path)


def direction_moves(specs: list[str], info, fingerprint: str | None = None, force: bool = False) -> tuple:
    """The `--direction` moves as the request carries them (unit vector by value, so `--connect` needs no file
    on the server); every file and index is checked up front, and a file made for another network (its
    `fingerprint` differs) is refused unless `force`."""
    from stylegan3.explore.directions import (
        DirectionMove,
        DirectionsMismatch,
        check_network,
        load_directions,
        parse_direction_spec,
        request_moves,
        ws_range,
    )

    files: dict[str, object] = {}
    moves: list = []
    for spec in specs:
        path, index, amount, layers = parse_direction_spec(spec)
        if path not in files:
            files[path] = load_directions(path)
            try:
                forced = check_network(files[path], path, info.w_dim, fingerprint, force)
            except DirectionsMismatch as exc:
                raise SG3Error(f"{exc} (--force applies it anyway)") from None
            if forced:
                print(f"warning: {forced} (applied: --force)", file=sys.stderr)
        d = files[path]
        if index >= len(d):
            raise SG3Error(f"{path}: direction {index} out of range (the file has {len(d)}: 0..{len(d) - 1})")
        moves += request_moves(d, [DirectionMove(index, amount, ws_range(layers, int(info.num_ws)))])
    return tuple(moves)
