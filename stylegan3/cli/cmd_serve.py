"""`sg3-explorer serve`: the render service on the GPU machine, for `gui --connect` / `render --connect`."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from stylegan3.cli.args import add_device_argument
from stylegan3.errors import SG3Error

TOKEN_ENV = "SG3_EXPLORER_TOKEN"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="render for remote clients (gui/render --connect); 127.0.0.1 by default")
    p.add_argument("--listen", default="127.0.0.1:5557", metavar="HOST:PORT",
                   help="address to bind (default 127.0.0.1:5557; reach it through an SSH tunnel). Any other "
                   "address needs a token, generated and printed at start unless --token or $SG3_EXPLORER_TOKEN")
    p.add_argument("--allow", action="append", default=[], metavar="DIR_OR_PREFIX",
                   help="a folder, file, http(s) URL prefix or catalog name ('catalog' = all) clients may load; "
                   "repeat for more. Demo networks are always allowed; anything else is refused and logged")
    p.add_argument("--token", default=None, help="require this token from clients (also on 127.0.0.1)")
    add_device_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from stylegan3.service.policy import AllowList
    from stylegan3.service.protocol import endpoint, is_loopback, parse_address
    from stylegan3.service.server import RenderServer, new_token

    host, port = parse_address(args.listen)
    allow = AllowList.parse(args.allow)
    token = args.token or os.environ.get(TOKEN_ENV) or None
    generated = False
    if token is None and not is_loopback(host):
        token, generated = new_token(), True
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    try:
        server = RenderServer(host, port, allow, token=token, device=args.device)
    except Exception as exc:
        if type(exc).__name__ == "ZMQError":
            raise SG3Error(f"cannot listen on {endpoint(host, port)}: {exc}") from None
        raise
    print(f"sg3-explorer serve: listening on {server.address} (renders on {server.owner.device})", flush=True)
    print(f"  allowed: {allow.describe()}", flush=True)
    if token is not None:
        print(f"  token{' (generated)' if generated else ''}: {token}", flush=True)
    hint = f" --token {token}" if token is not None else ""
    hosts = client_hosts(host)
    print(f"  connect: sg3-explorer gui --connect {_shown(hosts[0])}:{server.port}{hint} NETWORK", flush=True)
    if hosts != [host]:  # a wildcard bind: no client can connect to 0.0.0.0 itself
        others = ", ".join(_shown(h) for h in hosts[1:]) or "none found (`hostname -I` or `ip addr` lists them)"
        print(f"  (clients use this machine's name or an address they can reach: {others})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("sg3-explorer serve: stopped", file=sys.stderr)
    return 0


def _shown(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def client_hosts(host: str) -> list[str]:
    """Hosts a client can give `--connect` for a server bound to `host`: `host` itself, unless it is a wildcard
    (0.0.0.0 or ::, every interface), which is no address to connect to; then this machine's name followed by
    its non-loopback addresses of that family."""
    import ipaddress
    import socket

    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return [host]
    if not ip.is_unspecified:
        return [host]
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    name = socket.gethostname()
    found: set[str] = set()
    try:
        found.update(str(info[4][0]) for info in socket.getaddrinfo(name, None, family))
    except OSError:
        pass
    try:  # the address of the default route: a UDP "connect" only picks the interface, it sends nothing
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect(("2001:db8::1" if family == socket.AF_INET6 else "192.0.2.1", 9))
            found.add(str(probe.getsockname()[0]))
    except OSError:
        pass
    usable = []
    for text in found:
        try:
            address = ipaddress.ip_address(text.split("%")[0])
        except ValueError:
            continue
        if not (address.is_loopback or address.is_unspecified or address.is_link_local):
            usable.append(str(address))
    return [name, *sorted(usable, key=ipaddress.ip_address)]
