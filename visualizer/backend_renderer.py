"""The app's renderer interface (`AsyncRenderer`'s: set_network, submit, poll, busy, close) over any
`RenderBackend`, so the window renders in a thread, a child process or on a server without knowing which.

Each submit sends the window's `RenderRequest` with the network section of the network shown,
and each `FrameResult` comes back as the `RenderResult` the panels already read, with the transport's
numbers (bytes per frame, encode / decode / round-trip time) in `extras` for the Performance panel.
"""

from __future__ import annotations

import threading
import time

from sg3_explorer.visualizer.renderer import RenderResult, stats_extras
from stylegan3.documents.request import NetworkRef, RenderRequest
from stylegan3.service.backend import FrameResult, RenderBackend


def transport_extras(res: FrameResult) -> dict:
    return {"transport": res.transport, "frame_format": res.frame_format, "frame_bytes": res.frame_bytes,
            "encode_ms": res.encode_ms, "decode_ms": res.decode_ms, "round_trip_ms": res.round_trip_ms}


class BackendRenderer:
    def __init__(self, backend: RenderBackend, device: str = "remote") -> None:
        self.backend = backend
        self.device = device
        self._lock = threading.Lock()
        self._network: NetworkRef | None = None
        self._network_id = 0
        self._last_key: tuple | None = None
        self._sent: dict[int, tuple[int, RenderRequest]] = {}  # backend id -> (network id, request submitted)

    def set_network(self, network: NetworkRef | str | None, network_id: int) -> None:
        with self._lock:
            self._network = NetworkRef(network) if isinstance(network, str) else network
            self._network_id = network_id
            self._last_key = None

    @property
    def network_id(self) -> int:
        return self._network_id

    def submit(self, request: RenderRequest, force: bool = False) -> bool:
        with self._lock:
            if self._network is None:
                return False
            key = (self._network_id, request)
            if not force and self._last_key == key:
                return False
            self._last_key = key
            rid = self.backend.submit(request.replace(network=self._network))
            self._sent[rid] = key
            for old in [k for k in self._sent if k < rid - 64]:  # bounded: results of these will never come
                del self._sent[old]
            return True

    def poll(self) -> RenderResult | None:
        res = self.backend.poll()
        if res is None:
            return None
        with self._lock:
            sent = self._sent.pop(res.request_id, None)
            if sent is None or sent[0] != self._network_id:
                return None  # a frame of the previous network
            network_id, request = sent
        extras = stats_extras(res.stats)
        extras.update(transport_extras(res))
        impl = "+graph" if res.stats.graph else ""
        return RenderResult(image=res.image, request=request, request_id=res.request_id, network_id=network_id,
                            render_ms=res.render_ms, device=self.device, impl=f"{res.transport}{impl}",
                            error=res.error, extras=extras)

    @property
    def busy(self) -> bool:
        """True while a request is queued or rendering (a finished frame waiting for poll() is not work)."""
        return self.backend.status().state in ("busy", "restarting")

    def wait_idle(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.busy:
                return True
            time.sleep(0.01)
        return False

    def status(self):
        return self.backend.status()

    def close(self) -> None:
        self.backend.close()
