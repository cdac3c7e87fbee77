"""`RemoteBackend`: the client side of the render service (a server on a GPU machine, or our child process).

An I/O thread owns the DEALER socket (zmq sockets are not shared between threads); callers hand it work
through a lock-guarded inproc socket and read results from a one-slot mailbox, so `submit` and `poll` never
block the GUI. One render is in flight at a time and the newest waiting request replaces older ones (latest
wins); while it waits, the thread pings, and a server that stops answering is reported ("no answer from
HOST:PORT for 3 s") and reconnected, the unfinished request sent again.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections import deque
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

import zmq

from stylegan3.documents import jsoncodec
from stylegan3.documents.request import NetworkRef, RenderRequest, to_dict
from stylegan3.networks.info import NetworkInfo
from stylegan3.render.pipeline import FrameStats
from stylegan3.service import codec, protocol
from stylegan3.service.arrays import ArrayError, unpack
from stylegan3.service.at_exit import close_at_exit
from stylegan3.service.backend import BackendError, BackendStatus, FrameResult, ResultSlot, SlotBackend, as_ref

PING_EVERY_S = 0.5
DEAD_AFTER_S = 3.0
PROBE_TIMEOUT_S = 3.0


def probe(address: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """Why nothing can be reached at `address` (a refused TCP connection, an unknown host, silence), or None.

    ZeroMQ connects lazily and queues messages for a peer that may appear later, so a client of a port where
    nothing listens would only learn it from a missing answer. One plain TCP connection tells at once; callers
    (the `--connect` commands, the window before and on each retry) ask this first so a wrong port or a closed
    tunnel is one clear line within `timeout` seconds. `ipc://` addresses and a reachable port give None (the
    server's hello is then awaited as usual)."""
    if address.startswith("ipc://"):
        return None
    if address.startswith("tcp://"):
        address = address[len("tcp://"):]
    host, port = protocol.parse_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except ConnectionRefusedError:
        return f"nothing listens on {host}:{port} (connection refused)"
    except socket.gaierror:
        return f"unknown host {host!r}"
    except TimeoutError:
        return f"no answer from {host}:{port} within {timeout:g} s"
    except OSError as exc:
        return f"cannot connect to {host}:{port} ({exc.strerror or exc})"


@dataclass
class _Analysis:
    """One analyze call: what to send, and what came back so far (filled by the I/O thread)."""

    name: str
    request: RenderRequest
    params: dict
    attachment: bytes | None
    future: Future = field(default_factory=Future)
    progress: list = field(default_factory=lambda: [0, 0])  # [done, total], the latest report
    partials: deque = field(default_factory=deque)  # (seq, data) received, not yet handed to the caller
    arrived: threading.Event = field(default_factory=threading.Event)  # set by the I/O thread on news


class RemoteBackend(SlotBackend):
    _can_restart = False  # the child backend restarts its peer; a remote server can only be reconnected to

    def __init__(self, address: str, token: str | None = None, frame_format: str = "raw", quality: int = 90,
                 dead_after: float = DEAD_AFTER_S, transport: str | None = None) -> None:
        codec.check_format(frame_format, quality)
        self.frame_format, self.quality = frame_format, int(quality)
        self.token = token
        self.dead_after = float(dead_after)
        self._endpoint = self._endpoint_for(address)
        self.transport = transport or self._endpoint
        self._ctx = zmq.Context()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._pending: tuple[int, RenderRequest, float] | None = None
        self._loads: dict[int, tuple[NetworkRef, Future]] = {}
        self._analyses: dict[int, _Analysis] = {}  # to send
        self._cancel_ids: list[int] = []  # analyses abandoned by their caller, to cancel on the server
        self._acks: list[tuple[int, int]] = []  # (analysis id, seq) of partial results handed to their caller
        self._cancel = False
        self._slot = ResultSlot()
        self._state = "disconnected"
        self._message: str | None = None
        self._restarts = 0
        self._closed = False
        self.server_info: dict | None = None
        self._wake_addr = f"inproc://sg3-client-{id(self)}"
        self._wake_rx = self._ctx.socket(zmq.PULL)
        self._wake_rx.bind(self._wake_addr)
        self._wake_tx = self._ctx.socket(zmq.PUSH)
        self._wake_tx.connect(self._wake_addr)
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._io_loop, name="sg3-remote", daemon=True)
        self._thread.start()
        close_at_exit(self)  # the I/O thread leaves its sockets before the interpreter (and zmq) tear down

    @staticmethod
    def _endpoint_for(address: str) -> str:
        if address.startswith(("tcp://", "ipc://")):
            return address
        host, port = protocol.parse_address(address)
        return protocol.endpoint(host, port)

    # -- caller threads ---------------------------------------------------------------------------------------
    def _wake(self) -> None:
        with self._lock:
            if not self._closed:
                try:
                    self._wake_tx.send(b"", zmq.NOBLOCK)
                except zmq.Again:  # the pipe is full of earlier wakes: the I/O thread sees this work with theirs
                    pass  # (raised into the window as the raw "Again: Resource temporarily unavailable")

    def load(self, network: NetworkRef | str, timeout: float | None = 120.0) -> NetworkInfo:
        ref = as_ref(network)
        fut: Future = Future()
        with self._lock:
            self._loads[next(self._ids)] = (ref, fut)
        self._wake()
        try:
            return fut.result(timeout)
        except FutureTimeout:
            raise BackendError(f"{ref.source}: no answer from the renderer ({self.transport}) "
                               f"within {timeout:g} s") from None

    def analyze(self, name: str, request: RenderRequest, progress=None, timeout: float = 3600.0,
                params: dict | None = None, *, on_partial=None, attachment: bytes | None = None):
        """Run an analysis next to the network (`stylegan3.analyses`) with `params` (a plain dict) and an
        optional `attachment` (bytes, e.g. a target image), blocking this (job) thread; `progress(done, total)`
        is called here as the server reports, and `on_partial(data)` with each streamed partial result, in
        order, all before the result returns. When either raises (a job's cancel), the server is told to stop
        that analysis at its next report and the exception propagates. Refusals (bad params, unknown analysis,
        failures) raise BackendError."""
        if attachment is not None and len(attachment) > protocol.MAX_ATTACHMENT_BYTES:
            raise BackendError(f"{name}: attachment of {len(attachment)} bytes is too large "
                               f"(limit {protocol.MAX_ATTACHMENT_BYTES})")
        entry = _Analysis(name, request, dict(params or {}), None if attachment is None else bytes(attachment))
        fut = entry.future
        with self._lock:
            aid = next(self._ids)
            self._analyses[aid] = entry
        self._wake()
        deadline = time.monotonic() + timeout
        reported = None
        while True:
            entry.arrived.wait(0.05)
            entry.arrived.clear()
            finished = fut.done()  # its partials were queued before it was set: all are handed over below
            try:
                self._hand_partials(aid, entry, on_partial)
                if not finished:
                    done, total = entry.progress
                    if progress is not None and total and (done, total) != reported:
                        reported = (done, total)  # only news: a progress bar redraws on every call
                        progress(done, total)
                    if time.monotonic() > deadline:
                        raise BackendError(f"{name}: no result from {self.transport} within {timeout:g} s")
            except BaseException:
                self._cancel_analysis(aid)
                raise
            if finished:
                return fut.result()

    def _hand_partials(self, aid: int, entry: _Analysis, on_partial) -> None:
        """Give the caller the partial results received so far (on its thread) and acknowledge them."""
        last = None
        while entry.partials:
            seq, data = entry.partials.popleft()
            if on_partial is not None:
                on_partial(data)
            last = seq
        if last is not None:
            with self._lock:
                self._acks.append((aid, last))
            self._wake()

    def _cancel_analysis(self, aid: int) -> None:
        with self._lock:
            if self._analyses.pop(aid, None) is None:
                self._cancel_ids.append(aid)  # already sent: ask the server to stop it
        self._wake()

    def submit(self, request: RenderRequest) -> int:
        with self._lock:
            rid = next(self._ids)
            self._pending = (rid, request, time.perf_counter())
            self._cancel = False
        self._wake()
        return rid

    def cancel(self) -> None:
        with self._lock:
            self._pending = None
            self._cancel = True
        self._wake()

    def status(self) -> BackendStatus:
        with self._lock:
            state = self._state
            if state == "ready" and (self._pending is not None or self._in_flight_any()):
                state = "busy"
            return BackendStatus(state, self._message, self._restarts, self.transport)

    def wait_ready(self, timeout: float = 30.0) -> bool:
        """True once the server said hello; False when it refused us, or did not answer for `dead_after`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._state in ("ready", "refused", "closed") or self._restarts:
                return self._state == "ready"
            time.sleep(0.02)
        return False

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._wake_tx.send(b"", zmq.NOBLOCK)
            except zmq.Again:
                pass  # wakes already queued; the I/O thread sees `_closed` at the next one
        self._thread.join(timeout=10)
        self._wake_tx.close(0)
        self._ctx.term()
        self._on_closed()

    # -- hooks for the child-process backend ------------------------------------------------------------------
    def _peer_problem(self) -> str | None:
        """A reason the peer is known dead without waiting for the timeout (a child process exited)."""
        return None

    def _restart_peer(self) -> None:
        """Bring the peer back (the child backend starts a new process); remote servers reconnect only."""

    def _on_closed(self) -> None:
        pass

    # -- I/O thread -------------------------------------------------------------------------------------------
    def _in_flight_any(self) -> bool:
        return getattr(self, "_flight", None) is not None or bool(getattr(self, "_load_flight", None))

    def _set_state(self, state: str, message: str | None = None, keep_message: bool = False) -> None:
        with self._lock:
            self._state = state
            if not keep_message:
                self._message = message

    def _new_socket(self):
        sock = self._ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, protocol.MAX_REPLY_MESSAGE)
        sock.setsockopt(zmq.RECONNECT_IVL, 100)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
        if self._endpoint.startswith("tcp://["):
            sock.setsockopt(zmq.IPV6, 1)
        sock.connect(self._endpoint)
        return sock

    def _io_loop(self) -> None:
        self._flight: tuple[int, RenderRequest, float] | None = None  # the render sent and not answered
        self._load_flight: dict[int, tuple[NetworkRef, Future]] = {}
        self._analysis_flight: dict[int, list] = {}
        sock = self._new_socket()
        hello_id = self._send_hello(sock)
        last_heard = last_ping = time.monotonic()
        waiting_since: float | None = time.monotonic()  # something is unanswered since then
        poller = zmq.Poller()
        poller.register(self._wake_rx, zmq.POLLIN)
        poller.register(sock, zmq.POLLIN)
        try:
            while True:
                events = dict(poller.poll(50))
                if self._wake_rx in events:
                    while True:
                        try:
                            self._wake_rx.recv(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                if self._closed:
                    return
                now = time.monotonic()
                if sock in events:
                    while True:
                        try:
                            frames = sock.recv_multipart(zmq.NOBLOCK, copy=False)
                        except zmq.Again:
                            break
                        last_heard = now
                        hello_id = self._on_reply(frames, hello_id)
                problem = self._peer_problem()
                waiting = (hello_id is not None or self._flight is not None or bool(self._load_flight)
                           or bool(self._analysis_flight))
                if not waiting:
                    waiting_since = None
                elif waiting_since is None:
                    waiting_since, last_heard = now, now
                if problem is None and waiting and now - max(last_heard, waiting_since or now) > self.dead_after:
                    problem = f"no answer from {self.transport} for {self.dead_after:g} s"
                if problem is not None:
                    self._set_state("restarting" if self._can_restart else "disconnected", problem)
                    poller.unregister(sock)
                    sock.close(0)
                    self._restart_peer()
                    with self._lock:
                        self._restarts += 1
                        if self._flight is not None and self._pending is None:
                            self._pending = self._flight  # send the unfinished request again
                        self._loads.update(self._load_flight)
                        self._analyses.update(self._analysis_flight)
                    self._flight, self._load_flight, self._analysis_flight = None, {}, {}
                    sock = self._new_socket()
                    poller.register(sock, zmq.POLLIN)
                    hello_id = self._send_hello(sock)
                    last_heard = waiting_since = time.monotonic()
                    continue
                if hello_id is None:
                    self._send_work(sock)
                if waiting and now - last_ping > PING_EVERY_S:
                    sock.send(protocol.encode_request("ping", next(self._ids), self.token))
                    last_ping = now
        finally:
            sock.close(0)
            self._wake_rx.close(0)
            self._fail_loads(BackendError("the renderer connection was closed"))
            self._set_state("closed", keep_message=True)

    def _send_hello(self, sock) -> int:
        hid = next(self._ids)
        sock.send(protocol.encode_request("hello", hid, self.token))
        return hid

    def _send_work(self, sock) -> None:
        with self._lock:
            cancel, self._cancel = self._cancel, False
            loads, self._loads = self._loads, {}
            analyses, self._analyses = self._analyses, {}
            cancel_ids, self._cancel_ids = self._cancel_ids, []
            acks, self._acks = self._acks, []
            pending = self._pending if self._flight is None else None
            if pending is not None:
                self._pending = None
        if cancel:
            sock.send(protocol.encode_request("cancel", next(self._ids), self.token))
            self._flight = None
        for aid in cancel_ids:
            entry = self._analysis_flight.pop(aid, None)
            if entry is not None:
                sock.send(protocol.encode_request("cancel", next(self._ids), self.token, of=aid))
                if not entry.future.done():
                    entry.future.set_exception(BackendError(f"{entry.name}: cancelled"))
        for aid, seq in acks:
            if aid in self._analysis_flight:
                sock.send(protocol.encode_request("ack", next(self._ids), self.token, of=aid, seq=seq))
        for lid, (ref, fut) in loads.items():
            self._load_flight[lid] = (ref, fut)
            sock.send(protocol.encode_request("load", lid, self.token, network=jsoncodec.to_plain(ref)))
        for aid, entry in analyses.items():
            self._analysis_flight[aid] = entry
            body = dict(name=entry.name, request=to_dict(entry.request), params=entry.params)
            if entry.attachment is None:
                sock.send(protocol.encode_request("analyze", aid, self.token, **body))
            else:
                sock.send_multipart([protocol.encode_request("analyze", aid, self.token, **body,
                                                             attachment=len(entry.attachment)), entry.attachment])
        if pending is not None:
            rid, request, _ = pending
            self._flight = pending
            sock.send(protocol.encode_request("render", rid, self.token, request=to_dict(request),
                                              format=self.frame_format, quality=self.quality))

    def _on_reply(self, frames: list, hello_id: int | None) -> int | None:
        try:
            header, payload = protocol.parse_reply([f.buffer for f in frames])
        except protocol.ProtocolError as exc:
            self._set_state(self._state, f"bad reply from {self.transport}: {exc}")
            return hello_id
        msg_id = header.get("id")
        if msg_id == hello_id:
            if header["ok"]:
                self.server_info = header
                self._set_state("ready", keep_message=True)
            else:
                self._set_state("refused", f"{self.transport}: {header.get('error')}")
                self._fail_loads(BackendError(f"{self.transport}: {header.get('error')}"))
            return None
        if msg_id in self._analysis_flight:
            entry = self._analysis_flight[msg_id]
            if header["ok"] and "partial" in header:
                try:
                    entry.partials.append((int(header.get("seq", 0)), unpack(header["partial"], payload)))
                except (ArrayError, TypeError, ValueError) as exc:
                    del self._analysis_flight[msg_id]
                    entry.future.set_exception(BackendError(f"bad partial result from {self.transport}: {exc}"))
            elif header["ok"] and "progress" in header:
                p = header["progress"]
                if isinstance(p, list) and len(p) == 2 and all(isinstance(v, int) for v in p):
                    entry.progress = p
            else:
                del self._analysis_flight[msg_id]
                if header["ok"]:
                    try:
                        entry.future.set_result(unpack(header.get("result"), payload))
                    except ArrayError as exc:
                        entry.future.set_exception(BackendError(f"bad result from {self.transport}: {exc}"))
                else:
                    entry.future.set_exception(BackendError(str(header.get("error"))))
            entry.arrived.set()
            return hello_id
        if msg_id in self._load_flight:
            _, fut = self._load_flight.pop(msg_id)
            if header["ok"]:
                try:
                    fut.set_result(NetworkInfo.from_dict(header.get("info")))
                except Exception as exc:  # noqa: BLE001 - a malformed info is the server's fault, shown
                    fut.set_exception(BackendError(f"bad network info from {self.transport}: {exc}"))
            else:
                fut.set_exception(BackendError(str(header.get("error"))))
            return hello_id
        flight = self._flight
        if flight is not None and msg_id == flight[0]:
            self._flight = None
            if header["ok"] or header.get("code") != "cancelled":
                self._slot.put(self._result(flight, header, payload))
        elif not header["ok"] and header.get("code") in ("auth", "bad-request", "too-large"):
            self._set_state(self._state, f"{self.transport}: {header.get('error')}", keep_message=False)
        return hello_id

    def _result(self, flight, header: dict, payload) -> FrameResult:
        rid, request, t_submit = flight
        res = FrameResult(rid, request, None, transport=self.transport, frame_format=self.frame_format)
        if not header["ok"]:
            res.error = str(header.get("error"))
        else:
            try:
                res.image, res.decode_ms = codec.decode(payload or b"", str(header.get("format")),
                                                        tuple(header.get("shape") or (0, 0, 0)))
                stats = header.get("stats")
                res.stats = jsoncodec.from_plain(FrameStats, stats) if stats is not None else FrameStats()
                res.render_ms = float(header.get("render_ms", 0.0))
                res.encode_ms = float(header.get("encode_ms", 0.0))
                res.frame_bytes = len(payload or b"")
            except Exception as exc:  # noqa: BLE001 - a bad frame is reported, never raised into the GUI
                res.image, res.error = None, f"bad frame from {self.transport}: {exc}"
        res.round_trip_ms = (time.perf_counter() - t_submit) * 1000.0
        return res

    def _fail_loads(self, exc: BaseException) -> None:
        with self._lock:
            loads, self._loads = dict(self._loads), {}
        loads.update(getattr(self, "_load_flight", {}) or {})
        self._load_flight = {}
        for _, fut in loads.values():
            if not fut.done():
                fut.set_exception(exc)
        with self._lock:
            analyses, self._analyses = dict(self._analyses), {}
        analyses.update(getattr(self, "_analysis_flight", {}) or {})
        self._analysis_flight = {}
        for entry in analyses.values():
            if not entry.future.done():
                entry.future.set_exception(exc)
