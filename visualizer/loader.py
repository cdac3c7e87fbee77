"""The window's network loader: the backend loads, the window keeps a status line and the newest result.

The network module lives in the backend (`ThreadBackend` in this process, a child process, or a server); what
comes back here is its `stylegan3.networks.info.NetworkInfo` (layer table, capabilities), which is all a
panel ever reads. Only the newest load request counts: a network picked while another is still loading makes
the older result be dropped when it arrives. Refusals and load errors become one line for the window.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from stylegan3.documents.request import NetworkRef
from stylegan3.networks.info import NetworkInfo
from stylegan3.service.backend import RenderBackend


@dataclass
class LoadStatus:
    source: str = ""
    message: str = ""
    fraction: float | None = None  # progress 0..1 when known
    busy: bool = False
    error: str | None = None


@dataclass
class LoadedNetwork:
    load_id: int
    source: str
    info: NetworkInfo
    seconds: float
    ops: str = ""  # where and with which op implementation it renders, for the Performance panel


def error_line(exc: BaseException, doing: str = "working") -> str:
    """One line for the window: our own errors as they are, out of memory with what to change, anything else
    with its type."""
    from stylegan3.errors import SG3Error
    from stylegan3.render.memory import is_out_of_memory, out_of_memory_message, release_cached_memory

    cause = exc.__cause__ if exc.__cause__ is not None and is_out_of_memory(exc.__cause__) else exc
    if is_out_of_memory(cause):  # a thread backend's load error carries the original one as its cause
        release_cached_memory()
        return out_of_memory_message(cause, doing)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, SG3Error):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class NetworkLoader:
    """Loads on a background thread through `backend.load`; `poll()` hands the finished newest load once."""

    def __init__(self, backend: RenderBackend) -> None:
        self.backend = backend
        self._lock = threading.Lock()
        self._latest_id = 0
        self._done: LoadedNetwork | None = None
        self.status = LoadStatus()
        self._threads: list[threading.Thread] = []

    def load(self, source: str) -> int:
        """Start loading `source` in the background; returns the load id."""
        source = str(source).strip()
        with self._lock:
            self._latest_id += 1
            load_id = self._latest_id
            self.status = LoadStatus(source=source, message=f"loading {source} on {self.backend.transport} ...",
                                     busy=True)
        t = threading.Thread(target=self._work, args=(load_id, source), name="sg3-load", daemon=True)
        self._threads = [th for th in self._threads if th.is_alive()] + [t]
        t.start()
        return load_id

    def poll(self) -> LoadedNetwork | None:
        with self._lock:
            done, self._done = self._done, None
        return done

    @property
    def latest_id(self) -> int:
        """Id of the newest load request (what `status` describes)."""
        return self._latest_id

    @property
    def busy(self) -> bool:
        return self.status.busy

    def wait(self, timeout: float = 60.0) -> bool:
        """Block until the loads started so far finish (tests and CLI only)."""
        end = time.monotonic() + timeout
        for t in list(self._threads):
            t.join(max(0.0, end - time.monotonic()))
        return not self.busy

    def _work(self, load_id: int, source: str) -> None:
        t0 = time.perf_counter()
        try:
            info = self.backend.load(NetworkRef(source))
        except Exception as exc:  # noqa: BLE001 - a refusal, a broken file or a lost server is a message
            line = error_line(exc, "loading the network")
            with self._lock:
                if load_id == self._latest_id:
                    self.status = LoadStatus(source=source, message=f"failed: {line}", error=line)
            return
        ops = f"rendered by {self.backend.transport} on {info.device} ({info.impl} ops)"
        loaded = LoadedNetwork(load_id, source, info, time.perf_counter() - t0, ops)
        with self._lock:
            if load_id != self._latest_id:
                return  # a newer request superseded this one
            self._done = loaded
            self.status = LoadStatus(source=source, message=f"loaded {source} in {loaded.seconds:.1f} s")
