"""`--connect HOST:PORT` for the commands: render on an `sg3-explorer serve` instead of in this process."""

from __future__ import annotations

import argparse
import os

from stylegan3.errors import SG3Error


def add_connect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--connect", default=None, metavar="HOST:PORT",
                        help="render on an `sg3-explorer serve` (e.g. through an SSH tunnel) instead of here")
    parser.add_argument("--token", default=None,
                        help="the server's token (printed by `serve`; default $SG3_EXPLORER_TOKEN)")
    parser.add_argument("--frame-format", choices=["raw", "png", "jpeg"], default="raw",
                        help="how frames travel (--connect): raw or png are lossless (default raw)")
    parser.add_argument("--jpeg-quality", type=int, default=90, help="JPEG quality 1..100 (default 90)")


def connect(args: argparse.Namespace, timeout: float = 15.0):
    """A ready RemoteBackend for `--connect`, or a one-line error."""
    from stylegan3.service.client import RemoteBackend
    from stylegan3.service.codec import FrameCodecError

    token = args.token or os.environ.get("SG3_EXPLORER_TOKEN") or None
    try:
        backend = RemoteBackend(args.connect, token=token, frame_format=args.frame_format,
                                quality=args.jpeg_quality)
    except FrameCodecError:
        raise
    if not backend.wait_ready(timeout):
        status = backend.status()
        backend.close()
        if status.state == "refused":
            raise SG3Error(status.message)
        raise SG3Error(f"cannot reach {args.connect} ({status.message or 'no answer'}; is `sg3-explorer serve` "
                       "running there, or the SSH tunnel open?)")
    return backend


def run_render(args: argparse.Namespace) -> int:
    """`render --connect`: the same requests as a local render (`cmd_render.seed_requests`), the same PNG bytes."""
    from stylegan3.cli.cmd_render import direction_moves, make_outdir, save_frame, seed_requests
    from stylegan3.request import NetworkRef
    from stylegan3.service.backend import BackendError

    backend = connect(args)
    try:
        try:
            info = backend.load(NetworkRef(args.network))
        except BackendError as exc:
            raise SG3Error(str(exc)) from None
        requests = seed_requests(args, info, direction_moves(args.direction, info))
        make_outdir(args.outdir)
        for seed, request in requests:
            try:
                result = backend.render(request, timeout=600)
            except BackendError as exc:
                raise SG3Error(str(exc)) from None
            save_frame(args.outdir, seed, result.image, result.error)
    finally:
        backend.close()
    return 0
