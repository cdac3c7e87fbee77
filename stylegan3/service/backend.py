"""The backend interface every renderer location implements, and what it hands back."""

from __future__ import annotations

import abc
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from stylegan3.documents.request import NetworkRef, RenderRequest
from stylegan3.errors import SG3Error
from stylegan3.networks.info import NetworkInfo
from stylegan3.render.pipeline import FrameStats


class BackendError(SG3Error):
    """The renderer could not do what was asked (refused source, lost connection, load failure)."""


@dataclass
class FrameResult:
    """One finished frame (or its error), with where and how it travelled, for the Performance panel."""

    request_id: int
    request: RenderRequest
    image: np.ndarray | None  # HxWx3 uint8
    stats: FrameStats = field(default_factory=FrameStats)
    render_ms: float = 0.0
    error: str | None = None
    transport: str = "thread"  # 'thread', 'child', or the server address
    frame_format: str = "raw"  # how the pixels travelled: 'raw', 'png', 'jpeg'
    frame_bytes: int = 0  # payload size on the wire (0 in process)
    encode_ms: float = 0.0  # server side: pixels -> payload
    decode_ms: float = 0.0  # client side: payload -> pixels
    round_trip_ms: float = 0.0  # submit -> result available


@dataclass(frozen=True)
class BackendStatus:
    state: str  # 'ready' | 'busy' | 'restarting' | 'disconnected' | 'closed'
    message: str | None = None  # the last problem, for people ("renderer process died (SIGKILL); restarted")
    restarts: int = 0
    transport: str = "thread"


class RenderBackend(abc.ABC):
    """load -> NetworkInfo; submit (latest wins) -> id; poll -> newest result once; cancel; close."""

    transport = "thread"

    @abc.abstractmethod
    def load(self, network: NetworkRef | str, timeout: float | None = None) -> NetworkInfo:
        """Load (or find loaded) a network; blocks. Refusals and load errors raise BackendError."""

    @abc.abstractmethod
    def submit(self, request: RenderRequest) -> int:
        """Ask for a frame; never blocks. A request still waiting is replaced (latest wins)."""

    @abc.abstractmethod
    def poll(self) -> FrameResult | None:
        """The newest finished result, once; None when there is nothing new."""

    @abc.abstractmethod
    def cancel(self) -> None:
        """Drop the waiting request and stop the running one at its next layer where possible."""

    @abc.abstractmethod
    def status(self) -> BackendStatus: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    def render(self, request: RenderRequest, timeout: float = 120.0) -> FrameResult:
        """Submit and wait for that request's result (CLI, tests, benchmarks; the GUI polls instead)."""
        rid = self.submit(request)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            res = self.wait_result(min(0.05, max(0.0, deadline - time.monotonic())))
            if res is not None and res.request_id >= rid:
                return res
        raise BackendError(f"no frame from the renderer ({self.transport}) within {timeout:g} s")

    def wait_result(self, timeout: float) -> FrameResult | None:
        """poll() with a short wait; backends with an event to wait on override this."""
        res = self.poll()
        if res is None:
            time.sleep(timeout)
        return res

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def as_ref(network: NetworkRef | str) -> NetworkRef:
    return network if isinstance(network, NetworkRef) else NetworkRef(str(network))


class ResultSlot:
    """The one-result mailbox of a backend: newest wins, delivered once, waitable."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._result: FrameResult | None = None
        self._delivered = -1

    def put(self, result: FrameResult) -> None:
        with self._cond:
            if self._result is None or result.request_id >= self._result.request_id:
                self._result = result
            self._cond.notify_all()

    def poll(self) -> FrameResult | None:
        with self._cond:
            res = self._result
            if res is None or res.request_id <= self._delivered:
                return None
            self._delivered = res.request_id
            return res

    def wait(self, timeout: float) -> FrameResult | None:
        with self._cond:
            self._cond.wait_for(lambda: self._result is not None and self._result.request_id > self._delivered,
                                timeout)
        return self.poll()


class SlotBackend(RenderBackend):
    """A backend whose worker puts finished frames into `self._slot` (a ResultSlot made in `__init__`).

    The thread and the remote backend both deliver that way, so poll and wait are the slot's, written once.
    """

    _slot: ResultSlot

    def poll(self) -> FrameResult | None:
        return self._slot.poll()

    def wait_result(self, timeout: float) -> FrameResult | None:
        return self._slot.wait(timeout)
