"""The window's renderer: frames of a `RenderBackend` (thread, child process or server), for several views.

The main view and each comparison pane are a `FrameChannel` of one `FrameChannels` over the backend: each
channel keeps its own newest request (latest wins per view) and gets back only its own frames. The channels
take turns on the backend, one request in flight at a time, so a backend with a single result mailbox serves
them all over one connection, and the backend's own "latest wins" never drops another view's frame.

`BackendRenderer` is the main view's channel: each submit sends the window's `RenderRequest` with the network
section of the network shown, each frame comes back as a `RenderResult` with the transport's
numbers (bytes per frame, encode / decode / round-trip time) in `extras` for the Performance panel.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from stylegan3.documents.request import NetworkRef, RenderRequest
from stylegan3.render.pipeline import FrameStats
from stylegan3.service.backend import FrameResult, RenderBackend


@dataclass
class RenderResult:
    """One finished frame of the main view: `image` HxWx3 uint8 for the texture, `request` what was submitted,
    `extras` what the stages reported (`stats_extras`) and the transport numbers."""

    image: np.ndarray | None
    request: RenderRequest  # what was submitted: the window's request, or a pane's
    request_id: int = 0
    network_id: int = 0
    render_ms: float = 0.0
    device: str = "cpu"
    impl: str = "ref"
    error: str | None = None
    extras: dict = field(default_factory=dict)


def stats_extras(stats: FrameStats) -> dict:
    """FrameStats in the `extras` shape the panels read (layer shape / stats / error, residual PSNR, graphs)."""
    out: dict = {}
    if stats.layer_shape is not None:
        out["layer_shape"] = tuple(stats.layer_shape)
    if stats.layer_stats is not None:
        out["layer_stats"] = {part: {"mean": m.mean, "std": m.std, "max": m.max}
                              for part, m in (("all", stats.layer_stats.all), ("selected", stats.layer_stats.selected))}
    if stats.layer_error is not None:
        out["layer_error"] = stats.layer_error
    if stats.residual_exact:
        out["residual_psnr"] = math.inf
    elif stats.residual_psnr_db is not None:
        out["residual_psnr"] = stats.residual_psnr_db
    if stats.graph or stats.graph_reason is not None:  # only CUDA renders try graphs
        out["graph"] = stats.graph
        out["graph_reason"] = stats.graph_reason
    return out


def transport_extras(res: FrameResult) -> dict:
    return {"transport": res.transport, "frame_format": res.frame_format, "frame_bytes": res.frame_bytes,
            "encode_ms": res.encode_ms, "decode_ms": res.decode_ms, "round_trip_ms": res.round_trip_ms}


class FrameChannel:
    """One view's requests and frames on the shared backend (submit latest-wins, poll its newest frame once)."""

    def __init__(self, hub: FrameChannels) -> None:
        self._hub = hub
        self.pending: RenderRequest | None = None
        self.in_flight = False
        self.result: FrameResult | None = None

    def submit(self, request: RenderRequest) -> None:
        with self._hub.lock:
            self.pending = request
        self._hub.pump()

    def poll(self) -> FrameResult | None:
        self._hub.pump()
        with self._hub.lock:
            res, self.result = self.result, None
        return res

    def drop(self) -> None:
        """Forget the waiting request and any frame not yet polled (the view changed network or closed)."""
        with self._hub.lock:
            self.pending, self.result = None, None

    @property
    def busy(self) -> bool:
        return self.pending is not None or self.in_flight

    def close(self) -> None:
        self.drop()
        self._hub.remove(self)


class FrameChannels:
    """Several views take turns on one backend: at most one request in flight, the next channel with a waiting
    request goes next (round robin, so a busy pane never starves the main view)."""

    def __init__(self, backend: RenderBackend) -> None:
        self.backend = backend
        self.lock = threading.RLock()
        self._channels: list[FrameChannel] = []
        self._flight: tuple[int, FrameChannel] | None = None  # (request id, its channel)
        self._turn = 0

    def channel(self) -> FrameChannel:
        ch = FrameChannel(self)
        with self.lock:
            self._channels.append(ch)
        return ch

    def remove(self, ch: FrameChannel) -> None:
        with self.lock:
            if ch in self._channels:
                self._channels.remove(ch)

    def release(self, ch: FrameChannel) -> None:
        """Remove a view that is gone for good (a closed browser tab) and stop its frame if it is the one being
        rendered, so the next view's request goes at once (only for backends whose `cancel` touches renders
        alone, as the thread backend's does)."""
        ch.drop()
        with self.lock:
            self.remove(ch)
            if self._flight is not None and self._flight[1] is ch:
                self.backend.cancel()
                self._flight = None
        self.pump()

    def pump(self) -> None:
        """Route a finished frame to its channel and send the next waiting request (never blocks)."""
        self._route(self.backend.poll())

    def wait(self, timeout: float) -> None:
        """As `pump`, but first wait up to `timeout` s for a frame (a server's frame thread, instead of polling;
        the lock is not held while waiting, so views keep submitting)."""
        self._route(self.backend.wait_result(timeout))

    def _route(self, res: FrameResult | None) -> None:
        with self.lock:
            if res is not None and self._flight is not None and res.request_id == self._flight[0]:
                ch = self._flight[1]
                ch.in_flight = False
                if ch in self._channels:
                    ch.result = res
                self._flight = None
            if self._flight is not None or not self._channels:
                return
            n = len(self._channels)
            for k in range(n):
                ch = self._channels[(self._turn + k) % n]
                if ch.pending is not None:
                    request, ch.pending = ch.pending, None
                    ch.in_flight = True
                    self._flight = (self.backend.submit(request), ch)
                    self._turn = (self._turn + k + 1) % n
                    return


class BackendRenderer:
    """The main view: the window's `RenderRequest` in, `RenderResult`s out, frames of the current network only."""

    def __init__(self, channels: FrameChannels, device: str = "cpu") -> None:
        self.channels = channels
        self.backend = channels.backend
        self.device = device
        self._channel = channels.channel()
        self._network: NetworkRef | None = None
        self._network_id = 0
        self._last_key: tuple | None = None
        self._sent: dict[int, tuple[RenderRequest, int, RenderRequest]] = {}  # id(sent) -> what it showed

    def set_network(self, network: NetworkRef | str | None, network_id: int) -> None:
        self._network = NetworkRef(network) if isinstance(network, str) else network
        self._network_id = network_id
        self._last_key = None
        self._channel.drop()

    @property
    def network_id(self) -> int:
        return self._network_id

    def submit(self, request: RenderRequest, force: bool = False) -> bool:
        if self._network is None:
            return False
        key = (self._network_id, request)
        if not force and self._last_key == key:
            return False
        self._last_key = key
        sent = request.replace(network=self._network)
        self._sent[id(sent)] = (sent, self._network_id, request)  # the request is kept: its id stays unique
        for old in list(self._sent)[:-64]:  # bounded: frames of these will never come
            del self._sent[old]
        self._channel.submit(sent)
        return True

    def poll(self) -> RenderResult | None:
        res = self._channel.poll()
        if res is None:
            return None
        sent = self._sent.pop(id(res.request), None)
        if sent is None or sent[0] is not res.request or sent[1] != self._network_id:
            return None  # a frame of the previous network
        _, network_id, request = sent
        extras = stats_extras(res.stats)
        extras.update(transport_extras(res))
        impl = "+graph" if res.stats.graph else ""
        return RenderResult(image=res.image, request=request, request_id=res.request_id, network_id=network_id,
                            render_ms=res.render_ms, device=self.device, impl=f"{res.transport}{impl}",
                            error=res.error, extras=extras)

    @property
    def busy(self) -> bool:
        """True while this view's request waits or renders (a finished frame waiting for poll() is not work)."""
        self.channels.pump()
        return self._channel.busy or self.backend.status().state == "restarting"

    def wait_idle(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.busy:
                return True
            time.sleep(0.01)
        return False
