"""`sg3-explorer render`: one PNG per seed, headless."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

from stylegan3.cli.args import add_device_argument, add_network_argument, parse_pair, parse_seeds, pick_device
from stylegan3.cli.remote import add_connect_arguments, run_render
from stylegan3.cli.session_render import add_session_arguments, run_session
from stylegan3.errors import SG3Error


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("render", help="render images for a list of seeds into PNG files")
    add_network_argument(p)
    p.add_argument("--seeds", type=parse_seeds, default=[0], help="seeds, e.g. 0-3,7 (default: 0)")
    p.add_argument("--class", dest="class_idx", type=int, default=None, help="class label for conditional nets")
    p.add_argument("--psi", type=float, default=1.0, help="truncation psi (default: 1)")
    p.add_argument("--cutoff", type=int, default=None, help="truncate only the first N ws (default: all)")
    p.add_argument("--noise-mode", choices=["const", "random", "none"], default="const", help="SG2 noise inputs")
    p.add_argument("--translate", type=parse_pair, default=(0.0, 0.0), metavar="X,Y", help="SG3 input translation")
    p.add_argument("--rotate", type=float, default=0.0, metavar="TURNS", help="SG3 input rotation in turns")
    p.add_argument("--force-fp32", action="store_true", help="no fp16 even where the network allows it")
    p.add_argument("--direction", action="append", default=[], metavar="FILE.npz:K=SIGMAS[@RANGE]",
                   help="move along direction K of a direction file by SIGMAS standard deviations, on the ws "
                   "RANGE (all, coarse, middle, fine, or e.g. 0-3; default all); repeatable")
    p.add_argument("--outdir", type=Path, required=True, help="output folder (created if needed)")
    add_device_argument(p)
    add_connect_arguments(p)
    add_session_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.direction and (args.session or args.connect):
        raise SG3Error("--direction renders locally only (not with --session or --connect)")
    if args.session:
        return run_session(args)
    if args.connect:
        return run_render(args)
    import stylegan3
    from stylegan3.generate import GenerateOptions, generate_seed
    from stylegan3.imageutil import to_numpy_rgb
    from stylegan3.transform import has_input_transform

    G = stylegan3.load_network(args.network, device=pick_device(args.device))
    if G.c_dim and args.class_idx is None:
        raise SG3Error(f"{args.network}: conditional network ({G.c_dim} classes): pass --class N")
    if (args.translate != (0.0, 0.0) or args.rotate) and not has_input_transform(G):
        print("warning: --translate/--rotate ignored: StyleGAN2 has no input transform", file=sys.stderr)
    options = GenerateOptions(
        psi=args.psi,
        cutoff=args.cutoff,
        class_idx=args.class_idx,
        noise_mode=args.noise_mode,
        translate=args.translate,
        rotate=args.rotate,
        force_fp32=args.force_fp32,
    )
    try:
        args.outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SG3Error(f"{args.outdir}: cannot create output folder ({exc.strerror})") from None
    edit_ws = direction_edit(G, args.direction)
    for seed in args.seeds:
        img = generate_seed(G, seed, options, edit_ws)
        path = args.outdir / f"seed{seed:04d}.png"
        Image.fromarray(to_numpy_rgb(img)).save(path)
        print(path)
    return 0


def direction_edit(G, specs: list[str]):
    """The `--direction` moves as a ws edit (None without any); every file and index is checked up front."""
    from stylegan3.directions import (
        DirectionMove,
        apply_moves,
        load_directions,
        network_fingerprint,
        parse_direction_spec,
        ws_range,
    )

    if not specs:
        return None
    files: dict[str, object] = {}
    moves: list[tuple[object, DirectionMove]] = []
    for spec in specs:
        path, index, amount, layers = parse_direction_spec(spec)
        if path not in files:
            files[path] = load_directions(path)
            d = files[path]
            if d.w_dim != G.w_dim:
                raise SG3Error(f"{path}: directions are {d.w_dim}-dimensional but the network's w has {G.w_dim}")
            if d.network and d.network != network_fingerprint(G):
                print(f"warning: {path} was made for another network ({d.network})", file=sys.stderr)
        d = files[path]
        if index >= len(d):
            raise SG3Error(f"{path}: direction {index} out of range (the file has {len(d)}: 0..{len(d) - 1})")
        moves.append((d, DirectionMove(index, amount, ws_range(layers, int(G.num_ws)))))

    def edit(ws):
        for d, move in moves:
            ws = apply_moves(ws, d, [move])
        return ws

    return edit
