"""The app's command line: the library's commands plus `gui [NETWORK ...]`, the default.

The `sg3-explorer` console script starts here, not in `stylegan3.cli`, so that the library never imports GUI
code: `python -m stylegan3` offers every headless command, the window is the app's own addition (a bare
`sg3-explorer`, `sg3-explorer NET.pkl` and `sg3-explorer --screenshot F` all mean `gui`).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("gui", help="open the interactive visualizer window (default command)")
    p.add_argument("networks", nargs="*", metavar="NETWORK",
                   help="path, URL or catalog name to open (default: the built-in demo network)")
    p.add_argument("--screenshot", type=Path, metavar="FILE",
                   help="render until the first image is on screen, save a screenshot of the window, exit")
    p.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS",
                   help="with --screenshot: give up (exit 1) if no image is on screen after this long")
    p.add_argument("--seed", type=int, default=None, help="initial seed")
    p.add_argument("--psi", type=float, default=None, help="initial truncation psi")
    p.add_argument("--cpu", action="store_true", help="render on the CPU even when a GPU is present (= --device cpu)")
    from stylegan3.cli.args import add_device_argument

    add_device_argument(p)
    p.add_argument("--size", type=_size, default=None, metavar="WxH", help="window size in pixels")
    p.add_argument("--ui-scale", type=_ui_scale, default=None, metavar="X",
                   help="size of text and controls, times the monitor's own scale (0.5 to 3; kept in the settings; "
                   "also View > UI scale)")
    p.add_argument("--no-settings", action="store_true", help="neither read nor write the settings file")
    from stylegan3.cli.remote import add_connect_arguments

    add_connect_arguments(p)
    p.add_argument("--renderer", choices=["thread", "child"], default="thread",
                   help="render in this process (default) or in a child process: a renderer crash, CUDA error "
                   "or out-of-memory kill is reported and the renderer restarts, the window stays")
    p.add_argument("--session", type=Path, default=None, metavar="F.sg3session.json",
                   help="open a saved session: its network, view, panel settings and bookmarks")
    p.set_defaults(func=run)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH, got {text!r}") from None
    if not (200 <= w <= 16384 and 200 <= h <= 16384):
        raise argparse.ArgumentTypeError(f"window size out of range: {text}")
    return w, h


def _ui_scale(text: str) -> float:
    from sg3_explorer.visualizer.settings import UI_SCALE_RANGE

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not UI_SCALE_RANGE[0] <= value <= UI_SCALE_RANGE[1]:
        raise argparse.ArgumentTypeError(f"UI scale {text} is outside {UI_SCALE_RANGE[0]:g} to {UI_SCALE_RANGE[1]:g}")
    return value


def run(args: argparse.Namespace) -> int:
    from stylegan3.cli.args import pick_device
    from stylegan3.documents.request import RenderRequest
    from stylegan3.errors import SG3Error

    if args.cpu and args.device not in (None, "cpu"):
        raise SG3Error(f"--cpu and --device {args.device} contradict each other")
    device = pick_device("cpu" if args.cpu else args.device)  # a bad device: one line, before any window
    try:
        from sg3_explorer.visualizer.app import App, AppConfig, display_problem
    except ImportError as exc:
        raise SG3Error(f"the GUI needs the 'gui' extra (pip install 'sg3-explorer[gui]'): {exc}") from None
    problem = display_problem()
    if problem:
        raise SG3Error(f"{problem} (on a machine without a screen, run it under Xvfb: xvfb-run sg3-explorer ...)")
    request = RenderRequest()
    if args.seed is not None:
        request = request.with_seed(args.seed)
    if args.psi is not None:
        request = request.edit("truncation", psi=float(args.psi))
    config = AppConfig(
        networks=list(args.networks), screenshot=args.screenshot, cpu=args.cpu, device=str(device),
        window_size=args.size, ui_scale=args.ui_scale,
        persist_settings=not args.no_settings, request=request, timeout_s=args.timeout,
        report_image_rect=bool(getattr(args, "debug", False)), session=args.session,
        connect=args.connect, token=args.token or os.environ.get("SG3_EXPLORER_TOKEN") or None,
        frame_format=args.frame_format, jpeg_quality=args.jpeg_quality, renderer=args.renderer,
    )
    app = App(config)
    code = app.run()
    if args.screenshot is not None:
        if code == 0:
            print(f"screenshot saved to {args.screenshot}")
        else:
            connection = app.connection.state if app.connection is not None else None
            problem = (connection.message if connection is not None and connection.state == "failed" else None) \
                or app.loader.status.error or app.render_error or "no image was rendered in time"
            print(f"error: {problem} (screenshot of the window saved to {args.screenshot})", file=sys.stderr)
    if any(t.is_alive() for t in threading.enumerate() if t.name in ("sg3-load", "sg3-render")):
        # A network still loading (a download, a big pickle) cannot be interrupted; torch threads torn down
        # at interpreter exit would abort the process, so leave at once: settings and files are written.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


APP_COMMAND_MODULES = [__name__, "sg3_explorer.web.cli"]  # the window first in --help: what most users start


def build_parser():
    from stylegan3.cli.main import build_parser as library_parser

    return library_parser(extra_modules=APP_COMMAND_MODULES)


def main(argv: list[str] | None = None) -> int:
    from stylegan3.cli.main import main as library_main

    return library_main(argv, extra_modules=APP_COMMAND_MODULES, default_command="gui")


if __name__ == "__main__":
    sys.exit(main())
