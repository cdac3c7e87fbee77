"""`sg3-explorer video`: synchronized interpolation videos of one or more networks, side by side."""

from __future__ import annotations

import argparse
from pathlib import Path

from stylegan3.cli.args import add_device_argument, load_networks, pick_device
from stylegan3.documents.request import NOISE_MODES
from stylegan3.errors import SG3Error


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "video",
        help="write a seed-interpolation video, one pane per network",
        description="Interpolate in W between seeds and write an mp4 with one labelled pane per network, "
        "all panes in sync (each network gets z from the same seeds at its own z_dim). "
        "Without --network the embedded demo net is used. Writes .mp4 (needs imageio + imageio-ffmpeg) or .gif.",
    )
    p.add_argument("--network", action="append", metavar="SRC", help="path, URL, catalog name or 'demo' (repeat)")
    p.add_argument("--seeds", default="0-7", help="seed list, e.g. 0-7 or 1,5,9 (default: 0-7)")
    p.add_argument("--frames-per-seed", type=int, default=60, metavar="N", help="frames between keyframes (60)")
    p.add_argument("--loop", action="store_true", help="return to the first seed at the end (seamless loop)")
    p.add_argument("--grid", default="1x1", metavar="WxH", help="walks per pane; seeds are split evenly (1x1)")
    p.add_argument("--interp", choices=["cubic", "linear"], default="cubic", help="path between keyframes")
    p.add_argument("--translate-path", metavar="PATH",
                   help="animate the SG3 input transform: circle:R, sway:X,Y, pan:X,Y, spin:TURNS, joined by '+'")
    p.add_argument("--psi", type=float, default=1.0, help="truncation psi (1 = none)")
    p.add_argument("--trunc-cutoff", type=int, default=None, metavar="N", help="truncate only the first N ws")
    p.add_argument("--class", dest="class_idx", type=int, default=None, help="class index for conditional nets")
    p.add_argument("--noise-mode", choices=NOISE_MODES, default="const")
    p.add_argument("--size", type=int, default=None, metavar="PX",
                   help="pane cell size in pixels (default: the largest network's resolution)")
    p.add_argument("--fps", type=float, default=None, help="frames per second (30, or the session's)")
    p.add_argument("--bitrate", default="10M", help="H.264 bitrate (10M)")
    p.add_argument("--batch", type=int, default=4, help="frames rendered at once per network (4)")
    add_device_argument(p)
    p.add_argument("--out", required=True, metavar="FILE.mp4", help="output video: .mp4 (H.264) or .gif")
    p.add_argument("--session", metavar="FILE.json",
                   help="render a keyframe timeline (or the timeline of a session file) instead of a seed walk")
    p.add_argument("--frames", type=int, default=None, metavar="N", help="with --session: exactly N frames")
    from stylegan3.cli.remote import add_connect_arguments

    add_connect_arguments(p, frames=False)
    p.set_defaults(func=run)


def _run_remote(args: argparse.Namespace, spec, total: int) -> int:
    """`--connect`: every pane renders on the server (`stylegan3.analyses.walk`); labels, layout and the mp4
    are made here, frame for frame what a local run writes."""
    from stylegan3.cli.progress import RunProgress
    from stylegan3.cli.remote import connect
    from stylegan3.explore.video import write_video
    from stylegan3.loading.load import network_name
    from stylegan3.service import analyses

    sources = args.network or ["demo"]
    backend = connect(args)
    try:
        frames = analyses.video_frames(backend, [(network_name(s), s) for s in sources], spec)
        with RunProgress(total, Path(args.out).name, "frames", first_round=args.batch) as bar:
            count = write_video(frames, args.out, fps=args.fps, total=total, bitrate=args.bitrate, progress=False,
                                on_frame=bar)
    finally:
        backend.close()
    print(f"wrote {args.out}: {count} frames, {count / args.fps:.1f} s, {len(sources)} pane(s)")
    return 0


def run(args: argparse.Namespace) -> int:
    from stylegan3.explore.interpolation import parse_grid, parse_seeds, parse_transform_path
    from stylegan3.explore.video import VideoSpec, check_video_path, iter_video_frames, video_frame_count, write_video

    check_video_path(args.out)  # suffix, folder and encoder: before any loading or rendering
    if args.session:
        from stylegan3.cli.session_video import run_session

        return run_session(args)
    args.fps = 30.0 if args.fps is None else args.fps
    if args.fps <= 0:
        raise SG3Error("--fps must be positive")
    if args.translate_path:
        parse_transform_path(args.translate_path)  # fail on a typo before loading anything
    spec = VideoSpec(
        seeds=parse_seeds(args.seeds),
        frames_per_seed=args.frames_per_seed,
        loop=args.loop,
        grid=parse_grid(args.grid),
        kind=args.interp,
        psi=args.psi,
        cutoff=args.trunc_cutoff,
        class_idx=args.class_idx,
        noise_mode=args.noise_mode,
        translate_path=args.translate_path,
        pane_size=args.size,
        batch_size=args.batch,
    )
    total = video_frame_count(spec)  # seeds vs grid: fail before the (slow) loading
    from stylegan3.cli.progress import RunProgress
    from stylegan3.runs import distributed

    if args.connect:
        return _run_remote(args, spec, total)

    with distributed.session(pick_device(args.device)) as (ctx, device):
        nets = load_networks(args.network, device)
        frames = iter_video_frames(nets, spec, device, context=ctx)
        if not ctx.is_main:  # torchrun: render this rank's share; rank 0 encodes
            for _ in frames:
                pass
            return 0
        per_round = (1 if args.translate_path else args.batch) * ctx.world_size
        with RunProgress(total, Path(args.out).name, "frames", processes=ctx.world_size, first_round=per_round) as bar:
            count = write_video(frames, args.out, fps=args.fps, total=total, bitrate=args.bitrate, progress=False,
                                on_frame=bar)
    print(f"wrote {args.out}: {count} frames, {count / args.fps:.1f} s, {len(nets)} pane(s)")
    return 0
