"""In-process backend: one worker thread owns the network (today's renderer behaviour, behind the interface)."""

from __future__ import annotations

import threading
import time

import torch

from stylegan3.documents.request import NetworkRef, RenderRequest
from stylegan3.networks.info import NetworkInfo
from stylegan3.service.at_exit import close_at_exit
from stylegan3.service.backend import BackendError, BackendStatus, FrameResult, ResultSlot, SlotBackend, as_ref
from stylegan3.service.owner import Loader, NetworkOwner, default_loader


class ThreadBackend(SlotBackend):
    transport = "thread"

    def __init__(self, device: str | torch.device | None = None, loader: Loader = default_loader) -> None:
        self._owner = NetworkOwner(device, loader)
        self._cond = threading.Condition()
        self._pending: tuple[int, RenderRequest, float] | None = None
        self._running: tuple[int, RenderRequest] | None = None
        self._next_id = 0
        self._cancel_below = 0  # requests with a smaller id are no longer wanted
        self._closed = False
        self._slot = ResultSlot()
        self._net_lock = threading.Lock()  # one user of the networks at a time: a render or an analysis
        self._thread = threading.Thread(target=self._run, name="sg3-render", daemon=True)
        self._thread.start()
        close_at_exit(self)  # a frame still rendering when Python exits would crash the process on its way out

    def load(self, network: NetworkRef | str, timeout: float | None = None) -> NetworkInfo:
        try:
            return self._owner.load(as_ref(network))
        except BackendError:
            raise
        except Exception as exc:  # noqa: BLE001 - a load error is a message for people
            raise BackendError((str(exc).strip().splitlines() or [type(exc).__name__])[0]) from exc

    def analyze(self, name: str, request: RenderRequest, progress=None, timeout: float = 3600.0,
                params: dict | None = None, *, on_partial=None, attachment: bytes | None = None):
        """The same call as `RemoteBackend.analyze`, run on this (job) thread next to the worker's network,
        taking turns with its renders. The result (and each partial result, handed to `on_partial` as it is
        made) goes through the wire format's pack / unpack, so it has the same types (arrays copied, numpy
        scalars plain) as a remote one, and an attachment is held to the same limit. `timeout` is unused (the
        caller's thread does the work; cancel through `progress` or `on_partial` raising)."""
        from stylegan3 import analyses as analysis
        from stylegan3.service.arrays import pack, unpack
        from stylegan3.service.protocol import MAX_ATTACHMENT_BYTES

        try:
            parsed = analysis.parse(name, params)
            analysis.check_attachment(name, attachment)
            if attachment is not None and len(attachment) > MAX_ATTACHMENT_BYTES:
                raise analysis.ParamsError(f"{name}: attachment of {len(attachment)} bytes is too large "
                                           f"(limit {MAX_ATTACHMENT_BYTES})")
        except analysis.ParamsError as exc:
            raise BackendError(str(exc)) from None
        raised: list[BaseException] = []

        holding = [False]

        def report(done: int, total: int) -> None:
            if self._closed:  # stop between two steps: `close` waits for the network lock
                raise BackendError("the render backend was closed")
            if holding[0]:
                self._let_render_in()
            if progress is not None:
                try:
                    progress(done, total)
                except BaseException as exc:
                    raised.append(exc)
                    raise

        def emit(data) -> None:
            if holding[0]:
                self._let_render_in()
            if on_partial is not None:
                part = unpack(*pack(data))
                try:
                    on_partial(part)
                except BaseException as exc:
                    raised.append(exc)
                    raise

        try:
            while not self._net_lock.acquire(timeout=0.05):  # a render is running: wait, still cancellable
                report(0, 1)
            holding[0] = True
            try:
                G, info = self._owner.network(as_ref(request.network))
                result = analysis.run(name, G, request, info, report, parsed, emit=emit, attachment=attachment)
            finally:
                holding[0] = False
                self._net_lock.release()
            return unpack(*pack(result))
        except BaseException as exc:
            if raised and exc is raised[-1]:
                raise
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            raise BackendError((str(exc).strip().splitlines() or [type(exc).__name__])[0]) from exc

    def _let_render_in(self) -> None:
        """Between two steps of an analysis (the caller holds the network lock): when a frame is waiting,
        hand the lock to the worker until that frame is rendered, so the view keeps up during a long job.
        (Waiting only until the worker took the request is not enough: a lock is not fair, and this thread
        could take it back first and keep it for the rest of the analysis.)"""
        with self._cond:  # waiting, or taken by the worker that now waits for the lock
            if (self._pending is None and self._running is None) or self._closed:
                return
        self._net_lock.release()
        try:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or (self._pending is None and self._running is None),
                                    timeout=60.0)
        finally:
            self._net_lock.acquire()

    def submit(self, request: RenderRequest) -> int:
        with self._cond:
            self._next_id += 1
            self._pending = (self._next_id, request, time.perf_counter())
            self._cond.notify_all()
            return self._next_id

    def cancel(self) -> None:
        with self._cond:
            self._pending = None
            self._cancel_below = self._next_id + 1

    def status(self) -> BackendStatus:
        with self._cond:
            state = "closed" if self._closed else "busy" if (self._pending or self._running) else "ready"
        return BackendStatus(state, transport=self.transport)

    def close(self) -> None:
        """Stop the worker (a frame in flight stops at its next stage) and any analysis running on a caller's
        thread (at its next progress report), then free the networks. Idempotent; called at exit too."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=10)
        if self._net_lock.acquire(timeout=10):  # held by an analysis until its next step sees `_closed`
            self._net_lock.release()
        self._owner.close()

    def _should_stop(self, rid: int, request: RenderRequest):
        def stop() -> bool:
            pending = self._pending
            return (self._closed or rid < self._cancel_below
                    or (pending is not None and pending[1].network != request.network))
        return stop

    def _run(self) -> None:
        from stylegan3.service.priority import lower_thread_priority

        lower_thread_priority()
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or self._pending is not None)
                if self._closed:
                    return
                rid, request, t_submit = self._pending
                self._pending = None
                self._running = (rid, request)
            try:
                with self._net_lock:
                    out = self._owner.render(request, self._should_stop(rid, request))
                res = FrameResult(rid, request, out.image, out.stats, out.render_ms, out.error)
                cancelled = out.cancelled
            except Exception as exc:  # noqa: BLE001 - a load failure is shown, the worker lives on
                res = FrameResult(rid, request, None, error=(str(exc).strip().splitlines() or ["error"])[0])
                cancelled = False
            res.round_trip_ms = (time.perf_counter() - t_submit) * 1000.0
            with self._cond:
                self._running = None
                if not cancelled and rid >= self._cancel_below:
                    self._slot.put(res)
                self._cond.notify_all()
