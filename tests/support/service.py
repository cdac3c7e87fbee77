"""A render server on a loopback port and hostile raw clients for the service tests (their networks come from
tests/support/nets.py)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading

import zmq


@contextlib.contextmanager
def running_server(allow: list[str], token: str | None = None, host: str = "127.0.0.1", port: int = 0):
    """A RenderServer on `port` (default: a free loopback port), served by a thread; stopped (and joined) on exit."""
    from stylegan3.service.policy import AllowList
    from stylegan3.service.server import RenderServer

    server = RenderServer(host, port, AllowList.parse(allow), token=token, device="cpu")
    thread = threading.Thread(target=server.serve_forever, name="test-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(timeout=15)
        assert not thread.is_alive(), "server thread did not stop"


def free_port() -> int:
    """A loopback TCP port nobody listens on (for a server a test starts in another process)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def silent_listener(port: int = 0):
    """A TCP port that accepts connections and never answers (a firewall's tarpit, some other service): the
    port number; closed on exit."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(16)
        yield s.getsockname()[1]


class HostileClient:
    """Raw zmq and TCP clients that misbehave (bypassing our client's checks), to show what the server answers them;
    each call returns that answer (or None)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.host, self.port = address.removeprefix("tcp://").rsplit(":", 1)
        self.ctx = zmq.Context()

    def zmq_send(self, *frames: bytes, wait: float = 5.0) -> dict | None:
        sock = self.ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.address)
        try:
            sock.send_multipart(list(frames))
            if sock.poll(int(wait * 1000)):
                return json.loads(sock.recv_multipart()[0])
            return None
        finally:
            sock.close(0)

    def tcp_send(self, data: bytes) -> bytes:
        with socket.create_connection((self.host, int(self.port)), timeout=5) as s:
            s.sendall(data)
            s.settimeout(2)
            got = b""
            try:
                while len(got) < 4096:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
            except (TimeoutError, ConnectionResetError):
                pass
            return got

    def close(self) -> None:
        self.ctx.term()
