"""`sg3-explorer video --session FILE`: a keyframe timeline exported to mp4, frame k at time k / fps."""

from __future__ import annotations

import argparse

from stylegan3.errors import SG3Error


def run_session(args: argparse.Namespace) -> int:
    """Load the timeline, the network (`--network`, else the one the timeline names, else the demo) and write."""
    import stylegan3
    from stylegan3.cli.args import pick_device
    from stylegan3.documents.timeline import load_timeline, timeline_network
    from stylegan3.explore.video import write_video
    from stylegan3.render.timeline import iter_timeline_frames, resolve_timeline

    if args.fps is not None and not args.fps > 0:
        raise SG3Error("--fps must be positive")
    if args.frames is not None and args.frames < 1:
        raise SG3Error("--frames must be at least 1")
    if args.network and len(args.network) > 1:
        raise SG3Error("--session renders one network: give --network once")
    # The network first: a version-1 timeline's moves on named ws ranges convert with its number of ws.
    source = args.network[0] if args.network else (timeline_network(args.session) or "demo")
    device = pick_device(args.device)
    G = stylegan3.load_network(source, device=device).eval().requires_grad_(False)
    timeline = load_timeline(args.session, num_ws=int(G.num_ws), network=source)
    timeline.check()
    fps = float(timeline.fps if args.fps is None else args.fps)
    resolved = resolve_timeline(G, timeline)
    total = int(args.frames or timeline.num_frames(fps))
    frames = iter_timeline_frames(G, resolved, fps=fps, frames=total)
    count = write_video(frames, args.out, fps=fps, total=total, bitrate=args.bitrate)
    print(f"wrote {args.out}: {count} frames at {fps:g} fps ({count / fps:.2f} s) from {len(timeline.keyframes)} "
          f"keyframes, {timeline.interp}{', loop' if timeline.loop else ''}")
    return 0
