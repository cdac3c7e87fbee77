"""`sg3-explorer video --session FILE`: a keyframe timeline exported to mp4, frame k at time k / fps."""

from __future__ import annotations

import argparse

from stylegan3.errors import SG3Error


def run_session(args: argparse.Namespace) -> int:
    """Load the timeline and the network (`--network`, else the one the timeline names, else the demo) on a
    backend (this process's thread, or the server of `--connect`), and write the frames it renders: the
    `timeline_frames` analysis either way, so the two files hold the same frames."""
    from stylegan3.cli.args import pick_device
    from stylegan3.cli.remote import connect
    from stylegan3.documents.request import NetworkRef, RenderRequest
    from stylegan3.documents.timeline import NeedsNetwork, load_timeline, timeline_network
    from stylegan3.explore.video import write_video
    from stylegan3.service import analyses
    from stylegan3.service.thread_backend import ThreadBackend

    if args.fps is not None and not args.fps > 0:
        raise SG3Error("--fps must be positive")
    if args.frames is not None and args.frames < 1:
        raise SG3Error("--frames must be at least 1")
    if args.network and len(args.network) > 1:
        raise SG3Error("--session renders one network: give --network once")
    source = args.network[0] if args.network else (timeline_network(args.session) or "demo")
    try:  # every problem of the file is reported before anything is loaded
        timeline = load_timeline(args.session, network=source)
    except NeedsNetwork:  # a version-1 file's moves on named ws ranges convert with the network's number of ws
        timeline = None
    backend = connect(args) if args.connect else ThreadBackend(pick_device(args.device))
    try:
        info = backend.load(NetworkRef(source))
        if timeline is None:
            timeline = load_timeline(args.session, num_ws=info.num_ws, network=source)
        timeline.check()
        fps = float(timeline.fps if args.fps is None else args.fps)
        total = int(args.frames or timeline.num_frames(fps))
        frames = analyses.timeline_frames(backend, timeline, fps, total, base=RenderRequest(network=NetworkRef(source)),
                                          frame_format="png" if args.connect else "raw")
        count = write_video(frames, args.out, fps=fps, total=total, bitrate=args.bitrate)
    finally:
        backend.close()
    print(f"wrote {args.out}: {count} frames at {fps:g} fps ({count / fps:.2f} s) from {len(timeline.keyframes)} "
          f"keyframes, {timeline.interp}{', loop' if timeline.loop else ''}")
    return 0
