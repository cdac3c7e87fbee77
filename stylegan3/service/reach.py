"""A fast answer to "is anything listening at HOST:PORT?" before waiting on the render service's hello.

zmq connects lazily and retries for ever, so a client of a port where nothing listens learns it only when its
hello times out. One plain TCP connect (refused at once on loopback, a bounded wait elsewhere) turns the common
mistakes, a server not started or a tunnel not open, into one line within a second or two.
"""

from __future__ import annotations

import socket

from stylegan3.errors import SG3Error
from stylegan3.service import protocol

PROBE_TIMEOUT_S = 2.0
HINT = "is `sg3-explorer serve` running there, or the SSH tunnel open?"


def unreachable_line(address: str, reason: str) -> str:
    """The one line every client shows when the server cannot be reached."""
    return f"cannot reach {address} ({reason}; {HINT})"


def reach_problem(address: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """Why nothing can be reached at `address` (one line), or None when a TCP connection opens (or the address
    is not TCP, e.g. ipc://, which the probe does not check)."""
    if address.startswith("ipc://"):
        return None
    try:
        host, port = protocol.parse_address(address.removeprefix("tcp://"))
    except SG3Error as exc:
        return str(exc)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except socket.gaierror:
        return unreachable_line(address, f"unknown host {host}")
    except ConnectionRefusedError:
        return unreachable_line(address, "connection refused")
    except TimeoutError:
        return unreachable_line(address, f"no answer within {timeout:g} s")
    except OSError as exc:
        return unreachable_line(address, exc.strerror or type(exc).__name__)
