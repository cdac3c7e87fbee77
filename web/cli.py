"""`sg3-explorer web [NETWORK ...]`: the explorer as a page served from the GPU machine (docs/WEB.md)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

TOKEN_ENV = "SG3_EXPLORER_TOKEN"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "web", help="serve the explorer as a web page (127.0.0.1:8765 by default; open it through an SSH tunnel)"
    )
    p.add_argument(
        "networks",
        nargs="*",
        metavar="NETWORK",
        help="networks to offer first (path, URL or catalog name; default: the demo networks). Each is "
        "allowed as if given to --allow",
    )
    p.add_argument(
        "--listen",
        default="127.0.0.1:8765",
        metavar="HOST:PORT",
        help="address to bind (default 127.0.0.1:8765). Any other address needs a token, generated and "
        "printed in the page's URL unless --token or $SG3_EXPLORER_TOKEN",
    )
    p.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="DIR_OR_PREFIX",
        help="a folder, file, http(s) URL prefix or catalog name ('catalog' = all) pages may load; "
        "repeat for more. Demo networks are always allowed; anything else is refused and logged",
    )
    p.add_argument("--token", default=None, help="require this token from pages (also on 127.0.0.1)")
    from stylegan3.cli.args import add_device_argument

    add_device_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from stylegan3.cli.args import pick_device
    from stylegan3.errors import SG3Error
    from stylegan3.loading.load import is_demo_source
    from stylegan3.service.policy import AllowList
    from stylegan3.service.protocol import is_loopback, parse_address
    from stylegan3.service.server import new_token

    try:
        from sg3_explorer.web.server import WebConfig, WebServer, serve_forever
    except ImportError as exc:
        raise SG3Error(f"the web page needs the 'web' extra (pip install 'sg3-explorer[web]'): {exc}") from None
    host, port = parse_address(args.listen)
    for name in args.networks:
        if not _is_source(name):
            raise SG3Error(f"{name}: no such network file, URL or catalog name")
    allow = AllowList.parse([*args.allow, *(n for n in args.networks if not is_demo_source(n))])
    token = args.token or os.environ.get(TOKEN_ENV) or None
    generated = token is None and not is_loopback(host)
    if generated:
        token = new_token()
    device = str(pick_device(args.device))
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    server = WebServer(WebConfig(host, port, allow, token, list(args.networks), device))

    def announce(url: str) -> None:
        print(f"sg3-explorer web: serving on {host}:{server.port} (renders on {device})", flush=True)
        print(f"  allowed: {allow.describe()}", flush=True)
        if generated:
            print("  token: generated (in the URL below)", flush=True)
        print(f"  open: {url}", flush=True)
        if is_loopback(host):
            print(
                f"  from another machine: ssh -N -L {server.port}:127.0.0.1:{server.port} THIS_HOST, then open "
                "the URL above there",
                flush=True,
            )

    try:
        serve_forever(server, announce)
    except OSError as exc:
        raise SG3Error(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    except KeyboardInterrupt:
        print("sg3-explorer web: stopped", file=sys.stderr)
    return 0


def _is_source(name: str) -> bool:
    """A demo name, an http(s) URL, a catalog name or an existing file (what `--allow` can admit)."""
    from pathlib import Path

    from stylegan3.loading import catalog
    from stylegan3.loading.load import is_demo_source

    if is_demo_source(name) or name.lower().startswith(("http://", "https://")) or catalog.lookup(name):
        return True
    return Path(name).expanduser().is_file()
