"""The render worker: one background thread, latest request wins, stale results are dropped.

The GUI thread only ever calls `submit` (never blocks: it overwrites the single pending slot) and `poll`
(returns a finished result at most once). While the worker is busy the GUI keeps showing the last good image;
requests made meanwhile collapse into the newest one, so a fast slider drag costs one render, not hundreds.
Each render is `visualizer.renderer.timed_render`: the request through `stylegan3.render.pipeline`,
the same code a child process or a remote server runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import torch

from sg3_explorer.visualizer.renderer import RenderResult, timed_render
from stylegan3.documents.request import RenderRequest
from stylegan3.service.priority import lower_thread_priority

# (G, request, should_stop) -> result; should_stop() turns True when the result can no longer be used. The
# request is the window's or a comparison pane's.
RenderFn = Callable[[torch.nn.Module, RenderRequest, Callable[[], bool]], RenderResult]


class AsyncRenderer:
    def __init__(self, render_fn: RenderFn = timed_render) -> None:
        self._render_fn = render_fn
        self._cond = threading.Condition()
        self._G: torch.nn.Module | None = None
        self._network_id = 0
        self._pending: tuple[int, int, RenderRequest] | None = None
        self._last_key: tuple[int, RenderRequest] | None = None
        self._next_id = 0
        self._result: RenderResult | None = None
        self._delivered_id = -1
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="sg3-render", daemon=True)
        self._thread.start()

    # -- GUI thread -------------------------------------------------------------------------------------------
    def set_network(self, G: torch.nn.Module | None, network_id: int) -> None:
        """Switch networks; results of the previous one are dropped from now on."""
        with self._cond:
            self._G = G
            self._network_id = network_id
            self._pending = None
            self._last_key = None

    @property
    def network_id(self) -> int:
        return self._network_id

    def submit(self, request: RenderRequest, force: bool = False) -> bool:
        """Ask for `request` (immutable: no snapshot needed). Returns False when it equals the last request."""
        with self._cond:
            if self._G is None:
                return False
            key = (self._network_id, request)
            if not force and self._last_key is not None and self._last_key == key:
                return False
            self._last_key = key
            self._next_id += 1
            self._pending = (self._next_id, self._network_id, request)
            self._cond.notify()
            return True

    def poll(self) -> RenderResult | None:
        """The newest finished result for the current network, once; None when there is nothing new."""
        with self._cond:
            res = self._result
            if res is None or res.request_id <= self._delivered_id or res.network_id != self._network_id:
                return None
            self._delivered_id = res.request_id
            return res

    @property
    def busy(self) -> bool:
        """True while a request is queued or rendering."""
        with self._cond:
            return self._busy or self._pending is not None

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until no work is left (tests and the CLI only; the GUI never calls this)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._busy and self._pending is None, timeout)

    def close(self) -> None:
        """Stop the worker; a render in progress is cancelled at its next layer."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=10)

    # -- worker thread ----------------------------------------------------------------------------------------
    def _stop_check(self, network_id: int) -> Callable[[], bool]:
        return lambda: self._closed or self._network_id != network_id

    def _run(self) -> None:
        lower_thread_priority()
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or self._pending is not None)
                if self._closed:
                    return
                request_id, network_id, request = self._pending
                self._pending = None
                G = self._G
                self._busy = True
            result = self._render_fn(G, request, self._stop_check(network_id))
            result.request_id, result.network_id = request_id, network_id
            with self._cond:
                self._busy = False
                # Stale results (older network) are dropped; a newer pending request will replace this one.
                if network_id == self._network_id and not result.cancelled:
                    self._result = result
                self._cond.notify_all()
