"""`sg3-explorer timeline new`: write a starting timeline file (keys at seeds) for `video --session`.

Why a command: a timeline written from nothing has to get the file form right before it shows anything;
a file written by the program is right by construction, and editing one (durations, psi, a translate) is
what docs/TIMELINES.md describes. The file is the canonical form `save_timeline` writes (what the Timeline
panel saves too), not the seed shorthand, so every field a user may want to change is there to see.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from stylegan3.cli.args import parse_seeds
from stylegan3.documents.request import NOISE_MODES
from stylegan3.errors import SG3Error


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "timeline",
        help="write a starting keyframe timeline for `video --session`",
        description="Timeline files (see docs/TIMELINES.md). `timeline new` writes one with a key "
        "per seed; render it with `sg3-explorer video --session FILE --out clip.mp4`.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    new = actions.add_parser("new", help="a timeline with one keyframe per seed")
    new.add_argument(
        "--network",
        default="demo",
        metavar="SRC",
        help="the network the keys name: path, URL, catalog name or 'demo' (default demo)",
    )
    new.add_argument("--seeds", type=parse_seeds, default=[0, 1, 2], help="one keyframe per seed (default 0-2)")
    new.add_argument(
        "--duration", type=float, default=2.0, metavar="SECONDS", help="seconds from each key to the next (default 2)"
    )
    new.add_argument("--psi", type=float, default=1.0, help="truncation psi of every key (default 1)")
    new.add_argument("--fps", type=float, default=30.0, help="frames per second of the video (default 30)")
    new.add_argument(
        "--interp", choices=["cubic", "linear", "spherical"], default="cubic", help="path between keys (default cubic)"
    )
    new.add_argument("--loop", action="store_true", help="return to the first key at the end")
    new.add_argument("--noise-mode", choices=NOISE_MODES, default="const", help="SG2 / StyleGAN noise inputs")
    new.add_argument("--out", type=Path, required=True, metavar="FILE.json", help="where to write the timeline")
    new.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    new.set_defaults(func=run_new)
    p.set_defaults(func=_no_action)


def _no_action(args: argparse.Namespace) -> int:
    raise SG3Error("timeline: say what to do: `sg3-explorer timeline new --seeds 0,5,9 --out t.json`")


def check_network_source(source: str) -> None:
    """Refuse a source that cannot name a network (no file, URL, catalog or demo name) before writing a file
    that names it: the mistake would otherwise show only when the video is made."""
    from stylegan3.loading.catalog import hint_for, resolve
    from stylegan3.loading.load import is_demo_source

    if is_demo_source(source) or resolve(source) is not None or Path(source).expanduser().is_file():
        return
    raise SG3Error(f"{source}: no such network file{hint_for(source)}")


def run_new(args: argparse.Namespace) -> int:
    from stylegan3.documents.timeline import Keyframe, Timeline, save_timeline

    out: Path = args.out
    if out.exists() and not args.force:
        raise SG3Error(f"{out}: already exists (use --force to overwrite)")
    if not out.parent.is_dir():
        raise SG3Error(f"{out}: folder {out.parent} does not exist")
    check_network_source(args.network)
    keys = [Keyframe.of_seed(seed, psi=args.psi, duration=args.duration, network=args.network) for seed in args.seeds]
    timeline = Timeline(
        keys, interp=args.interp, loop=args.loop, fps=args.fps, noise_mode=args.noise_mode, network=args.network
    )
    timeline.check()  # a zero duration or fps is refused here, not when the video is made
    save_timeline(out, timeline)
    print(
        f"wrote {out}: {len(keys)} keyframes, {timeline.total:g} s at {timeline.fps:g} fps "
        f"({timeline.num_frames()} frames); make the video with: sg3-explorer video --session {out} --out clip.mp4"
    )
    return 0
