"""`render --session F`: the image a saved session shows (and, with --bookmarks, each bookmark's)."""

from __future__ import annotations

import argparse
import re

from stylegan3.errors import SG3Error


def add_session_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--session", default=None, metavar="F.sg3session.json",
                        help="render what this session file shows (its network and view) instead of --seeds")
    parser.add_argument("--bookmarks", action="store_true", help="with --session: also one PNG per bookmark")


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:60] or "bookmark"


def run_session(args: argparse.Namespace) -> int:
    from stylegan3.cli.cmd_render import image_suffix, save_image
    from stylegan3.documents.session import load_session, session_stem
    from stylegan3.service.backend import BackendError

    session = load_session(args.session)
    if args.connect:
        from stylegan3.cli.remote import connect

        backend = connect(args)
    else:
        from stylegan3.service.thread_backend import ThreadBackend

        backend = ThreadBackend(args.device)
    stem, suffix = session_stem(args.session), image_suffix(args)
    jobs = [(f"{stem}{suffix}", session.request)]
    if args.bookmarks:
        jobs += [(f"{stem}-{i:02d}-{_slug(b.name)}{suffix}", b.request) for i, b in enumerate(session.bookmarks)]
    try:
        args.outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SG3Error(f"{args.outdir}: cannot create output folder ({exc.strerror})") from None
    try:
        for name, request in jobs:
            try:
                backend.load(request.network)
                result = backend.render(request, timeout=600)
            except BackendError as exc:
                raise SG3Error(str(exc)) from None
            if result.error:
                raise SG3Error(f"{name}: {result.error}")
            path = args.outdir / name
            save_image(path, result.image, args)
            print(path)
    finally:
        backend.close()
    return 0
