"""The window's link to an `sg3-explorer serve` (`gui --connect`): connecting, connected, or failed, and retry.

The window opens at once and says it is connecting; a background thread checks that something listens at the
address (`stylegan3.service.client.probe`, a refused port fails in milliseconds) and waits a few seconds for the
server's hello. Only then does the window send its network load, so a wrong port or a closed tunnel is one
visible line with a Retry button within seconds, never a load that waits two minutes for an answer.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from stylegan3.cli.remote import _START_HINT  # the `--connect` commands' words, so the window says the same
from stylegan3.service.backend import RenderBackend
from stylegan3.service.client import probe

CONNECT_TIMEOUT_S = 5.0


def unreachable_line(address: str, reason: str) -> str:
    """The line `render --connect` and the other commands print (less `error: `), for the window's banner."""
    return f"cannot reach {address}: {reason}; {_START_HINT}"


@dataclass(frozen=True)
class ConnectionState:
    state: str  # "connecting", "connected" or "failed"
    message: str


class Connection:
    """Whether the window's remote backend answers; `retry()` asks again (the backend reconnects by itself, so
    a server started after a failure is found by the next attempt)."""

    def __init__(self, backend: RenderBackend, address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        self.backend = backend
        self.address = address
        self.timeout_s = float(timeout_s)
        self._lock = threading.Lock()
        self._attempt = 0
        self._state = ConnectionState("connecting", f"connecting to {address} ...")
        self._announce = False
        self._listening = False  # the last attempt found something listening at the address
        self._start()

    @property
    def state(self) -> ConnectionState:
        with self._lock:
            return self._state

    @property
    def connected(self) -> bool:
        return self.state.state == "connected"

    @property
    def failed(self) -> bool:
        return self.state.state == "failed"

    def retry(self) -> None:
        """Try again (the Retry button); a no-op while an attempt runs or once connected."""
        if self.state.state == "failed":
            self._start()

    def just_connected(self) -> bool:
        """True once, on the first poll after an attempt succeeded (the window then sends its load). A server
        that answered only after the attempt gave up (something listened, its hello was slow) counts too: the
        backend kept trying. After a refused port the user starts the server and presses Retry."""
        late = self._listening and self.failed and self.backend.status().state in ("ready", "busy")
        with self._lock:
            if late and self._state.state == "failed":
                self._state = ConnectionState("connected", f"connected to {self.address}")
                self._announce = True
            news, self._announce = self._announce, False
        return news

    def _start(self) -> None:
        with self._lock:
            self._attempt += 1
            attempt = self._attempt
            self._state = ConnectionState("connecting", f"connecting to {self.address} ...")
        threading.Thread(target=self._work, args=(attempt,), name="sg3-connect", daemon=True).start()

    def _work(self, attempt: int) -> None:
        state = self._attempt_once()
        with self._lock:
            if attempt == self._attempt:
                self._state = state
                self._announce = state.state == "connected"

    def _attempt_once(self) -> ConnectionState:
        problem = probe(self.address, timeout=min(2.0, self.timeout_s))
        self._listening = problem is None
        if problem is not None:
            return ConnectionState("failed", unreachable_line(self.address, problem))
        deadline = time.monotonic() + self.timeout_s
        while True:  # the backend's own reconnect cycle may restart its socket meanwhile: ask until the deadline
            remaining = deadline - time.monotonic()
            wait_ready = getattr(self.backend, "wait_ready", None)
            if wait_ready is None or wait_ready(max(0.05, remaining)):
                return ConnectionState("connected", f"connected to {self.address}")
            status = self.backend.status()
            if status.state in ("refused", "closed"):
                return ConnectionState("failed", status.message or f"{self.address} refused the connection")
            if time.monotonic() >= deadline:
                reason = status.message or f"no answer within {self.timeout_s:g} s"
                return ConnectionState("failed", unreachable_line(self.address, reason))
            time.sleep(0.05)
