"""`RenderServer`: the renderer on the GPU machine (and in the child process), speaking `protocol` over pyzmq.

Two threads: the I/O thread owns the ROUTER socket, validates every message and answers hello / ping /
cancel / refusals at once (so a slow render never makes a client think the server died, and a hostile
client never waits in line); the render thread owns the networks (`NetworkOwner`), takes the newest render
request of each client in turn (latest wins per client), encodes the frame and hands the reply back through
an inproc socket. Nothing a client sends can stop the loop: every failure becomes an error reply.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import zmq

from stylegan3.documents import jsoncodec
from stylegan3.documents.request import NetworkRef, RenderRequest
from stylegan3.service import codec, protocol
from stylegan3.service.at_exit import close_at_exit
from stylegan3.service.owner import Loader, NetworkOwner, default_loader
from stylegan3.service.policy import AllowList, SourceRefused
from stylegan3.service.protocol import Message, ProtocolError, error_reply, reply

log = logging.getLogger("sg3.serve")
ACK_TIMEOUT_S = 60.0  # a streamed analysis whose client stops acknowledging is abandoned after this
HANDSHAKE_MS = 5000  # a connection that does not complete the ZMTP greeting in time is dropped


def new_token() -> str:
    return secrets.token_urlsafe(24)


@dataclass
class _Job:
    kind: str  # 'load' | 'render' | 'analyze'
    ident: bytes
    msg_id: int
    ref: NetworkRef
    request: RenderRequest | None = None
    fmt: str = "raw"
    quality: int = 90
    analysis: str = ""
    params: object = None  # the analysis's parsed params (`stylegan3.analyses`)
    attachment: bytes | None = None  # sent beside the params (a projection's target)
    sent: int = 0  # partial results sent (streamed analyses)
    acked: int = 0  # ... and acknowledged by the client
    cancelled: bool = False
    t_received: float = field(default_factory=time.perf_counter)


class RenderServer:
    def __init__(self, host: str = "127.0.0.1", port: int = protocol.DEFAULT_PORT, allow: AllowList | None = None,
                 token: str | None = None, device: str | None = None, loader: Loader = default_loader,
                 exit_on_fatal: bool = False) -> None:
        self.allow = allow or AllowList()
        self.token = token
        self.exit_on_fatal = exit_on_fatal
        self.owner = NetworkOwner(device, loader)
        self._ctx = zmq.Context()
        self._router = self._ctx.socket(zmq.ROUTER)
        self._router.setsockopt(zmq.LINGER, 0)
        self._router.setsockopt(zmq.MAXMSGSIZE, protocol.MAX_SOCKET_MESSAGE)
        self._router.setsockopt(zmq.HANDSHAKE_IVL, HANDSHAKE_MS)
        if ":" in host:
            self._router.setsockopt(zmq.IPV6, 1)
        if port == 0:
            port = self._router.bind_to_random_port(protocol.endpoint(host, 0).rsplit(":", 1)[0])
        else:
            self._router.bind(protocol.endpoint(host, port))
        self.host, self.port = host, port
        self._inbox_addr = f"inproc://sg3-render-{id(self)}"
        self._inbox = self._ctx.socket(zmq.PAIR)
        self._inbox.bind(self._inbox_addr)
        self._cond = threading.Condition()
        self._jobs: OrderedDict[tuple, _Job] = OrderedDict()
        self._running: _Job | None = None
        self._between: _Job | None = None  # a render served between two steps of the running analysis
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None
        self._serving: threading.Thread | None = None  # the thread in serve_forever
        self.served = 0  # frames sent (tests, logs)
        self.refused = 0  # messages refused (auth, policy, malformed)

    @property
    def address(self) -> str:
        return protocol.endpoint(self.host, self.port)

    # -- I/O thread -------------------------------------------------------------------------------------------
    def serve_forever(self) -> None:
        """Serve until `stop()` (from any thread) or KeyboardInterrupt."""
        self._serving = threading.current_thread()
        close_at_exit(self)  # a job still computing when Python exits would crash the process on its way out
        self._worker = threading.Thread(target=self._render_loop, name="sg3-serve-render", daemon=True)
        self._worker.start()
        poller = zmq.Poller()
        poller.register(self._router, zmq.POLLIN)
        poller.register(self._inbox, zmq.POLLIN)
        try:
            while not self._stopping.is_set():
                events = dict(poller.poll(100))
                if self._inbox in events:
                    while True:
                        try:
                            frames = self._inbox.recv_multipart(zmq.NOBLOCK, copy=False)
                        except zmq.Again:
                            break
                        self._router.send_multipart(frames, copy=False)
                if self._router in events:
                    for _ in range(64):  # bounded burst, then look at the render thread's replies again
                        try:
                            frames = self._router.recv_multipart(zmq.NOBLOCK, copy=False)
                        except zmq.Again:
                            break
                        self._handle(frames)
        finally:
            self._shutdown()

    def stop(self) -> None:
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()

    def close(self) -> None:
        """Stop serving and wait until the serving thread has shut down (its render worker joined). Idempotent;
        called at exit too, when the server runs on a thread of its own (tests, an embedding app)."""
        self.stop()
        serving = self._serving
        if serving is not None and serving is not threading.current_thread():
            serving.join(timeout=15)

    def _shutdown(self) -> None:
        self.stop()
        if self._worker is not None:
            self._worker.join(timeout=10)
        self._router.close(0)
        self._inbox.close(0)
        self._ctx.term()
        self.owner.close()

    def _send(self, ident: bytes, *frames) -> None:
        try:
            self._router.send_multipart([ident, *frames], copy=False)
        except zmq.ZMQError as exc:  # the peer is gone: nothing to tell it
            log.debug("reply not sent: %s", exc)

    def _handle(self, frames: list) -> None:
        ident = frames[0].bytes
        parts = frames[1:]
        try:
            peer = parts[0].get("Peer-Address") if parts else "?"
        except zmq.ZMQError:
            peer = "?"
        msg_id = None
        try:
            msg = protocol.parse_request([p.bytes for p in parts])
            msg_id = msg.id
            self._check_token(msg, peer)
            self._dispatch(ident, msg, peer)
        except ProtocolError as exc:
            self.refused += 1
            level = logging.WARNING if exc.code in ("auth", "refused") else logging.INFO
            log.log(level, "refused message from %s: %s", peer, exc)
            self._send(ident, error_reply(exc.msg_id if exc.msg_id is not None else msg_id, exc.code, str(exc)))
        except Exception as exc:  # noqa: BLE001 - the loop must outlive any bug a message could trigger
            log.exception("internal error handling a message from %s", peer)
            self._send(ident, error_reply(msg_id, "internal", f"server error: {type(exc).__name__}: {exc}"))

    def _check_token(self, msg: Message, peer: str) -> None:
        if self.token is None:
            return
        if not hmac.compare_digest((msg.token or "").encode(), self.token.encode()):
            raise ProtocolError("wrong or missing token (sg3-explorer serve prints it at start; pass --token)",
                                "auth", msg.id)

    def _allowed(self, ref: NetworkRef, msg: Message, peer: str) -> NetworkRef:
        try:
            return NetworkRef(self.allow.check(ref.source), ref.key)
        except SourceRefused as exc:
            raise ProtocolError(f"refused: {exc}", "refused", msg.id) from None

    def _dispatch(self, ident: bytes, msg: Message, peer: str) -> None:
        if msg.op == "hello":
            self._send(ident, reply(msg.id, server="sg3-explorer", protocol=protocol.PROTOCOL_VERSION,
                                    device=str(self.owner.device), formats=list(codec.FORMATS),
                                    analyses=_analysis_names(), auth=self.token is not None))
        elif msg.op == "ping":
            self._send(ident, reply(msg.id, pong=True))
        elif msg.op == "cancel":
            only = msg.body.get("of")  # one analysis of this client; without it, everything of this client
            if only is not None and (isinstance(only, bool) or not isinstance(only, int)):
                raise ProtocolError("'of' must be the integer id of an analyze request", msg_id=msg.id)
            with self._cond:
                for key in [k for k in self._jobs if k[0] == ident and k[1] in ("render", "analyze")
                            and (only is None or (k[1] == "analyze" and k[2] == only))]:
                    del self._jobs[key]
                for running in (self._running, self._between):
                    if running is not None and running.ident == ident and (only is None or running.msg_id == only):
                        running.cancelled = True
            self._send(ident, reply(msg.id, cancelled=True))
        elif msg.op == "ack":
            of, seq = msg.body.get("of"), msg.body.get("seq")
            if any(isinstance(v, bool) or not isinstance(v, int) for v in (of, seq)):
                raise ProtocolError("'of' and 'seq' must be integers", msg_id=msg.id)
            with self._cond:
                running = self._running
                if running is not None and running.ident == ident and running.msg_id == of:
                    running.acked = max(running.acked, min(seq, running.sent))
                    self._cond.notify_all()
        elif msg.op == "load":
            ref = self._allowed(protocol.network_of(msg), msg, peer)
            self._queue(_Job("load", ident, msg.id, ref), (ident, "load", msg.id))
        elif msg.op == "analyze":
            from stylegan3 import analyses as analysis

            name = msg.body.get("name")
            try:  # bad params are refused here, at once, before the job takes the renderer's time
                params = analysis.parse(name, msg.body.get("params"))
                analysis.check_attachment(name, msg.attachment)
            except analysis.ParamsError as exc:
                raise ProtocolError(str(exc), msg_id=msg.id) from None
            request, _, _ = protocol.render_args(msg)
            ref = self._allowed(request.network, msg, peer)
            self._queue(_Job("analyze", ident, msg.id, ref, request, analysis=name, params=params,
                             attachment=msg.attachment),
                        (ident, "analyze", msg.id))
        elif msg.op == "render":
            request, fmt, quality = protocol.render_args(msg)
            ref = self._allowed(request.network, msg, peer)
            self._queue(_Job("render", ident, msg.id, ref, request, fmt, quality), (ident, "render"))

    def _queue(self, job: _Job, key: tuple) -> None:
        with self._cond:
            self._jobs[key] = job  # latest wins: an older render request of this client is replaced, its turn kept
            running = self._running
            if running is not None and running.ident == job.ident and job.kind == "render" \
                    and running.kind == "render" and running.ref != job.ref:
                running.cancelled = True  # that client switched networks: its old frame is useless
            self._cond.notify_all()

    # -- render thread ----------------------------------------------------------------------------------------
    def _render_loop(self) -> None:
        out = self._ctx.socket(zmq.PAIR)
        out.connect(self._inbox_addr)
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._stopping.is_set() or bool(self._jobs))
                    if self._stopping.is_set():
                        return
                    _, job = self._jobs.popitem(last=False)
                    self._running = job
                self._serve(job, out, "_running")
        finally:
            out.close(0)

    def _serve(self, job: _Job, out, slot: str) -> None:
        """Run one job and send its reply (an error reply when it raised: the server lives on); `slot` names
        the attribute that marks the job in progress, cleared before the reply goes out. On a CUDA error the
        process exits (after the reply) so that a fresh renderer can take over."""
        try:
            frames, fatal = self._run_job(job, out)
        except Exception as exc:  # noqa: BLE001 - shown to that client; the server lives on
            log.exception("%s failed", job.kind)
            frames, fatal = [error_reply(job.msg_id, "internal", f"server error: {exc}")], False
        finally:
            with self._cond:
                setattr(self, slot, None)
        out.send_multipart([job.ident, *frames], copy=False)
        if fatal and self.exit_on_fatal:
            log.error("CUDA error: the renderer process exits so that a fresh one can start")
            time.sleep(0.2)  # let the I/O thread deliver the reply
            os._exit(3)

    def _run_analysis(self, job: _Job, out) -> list:
        return _run_analysis_impl(self, job, out)

    def _renders_between(self, out) -> None:
        """Serve the render (and load) requests waiting now (one render per client at most: latest wins)
        between two progress reports of a long analysis, so its client's view and other clients keep getting
        frames, and can switch networks, while spectra of a thousand latents run. Safe because an analysis
        reports progress between whole steps, when no hook of its own is on the network (and it keeps its
        own reference to it, whatever the owner's LRU drops); bounded to the requests present on entry, so
        it cannot starve."""
        with self._cond:
            keys = [k for k, j in self._jobs.items() if j.kind in ("render", "load")]
        for key in keys:
            with self._cond:
                job = self._jobs.pop(key, None)
                if job is None or self._stopping.is_set():
                    continue
                self._between = job
            self._serve(job, out, "_between")

    def _run_job(self, job: _Job, out) -> tuple[list, bool]:
        if job.kind == "analyze":
            return self._run_analysis(job, out), False
        if job.kind == "load":
            try:
                info = self.owner.load(job.ref)
            except Exception as exc:  # noqa: BLE001 - a load problem is the client's message
                return [error_reply(job.msg_id, "load", _one_line(exc))], False
            return [reply(job.msg_id, info=info.to_dict())], False
        request = job.request.replace(network=job.ref)
        try:
            result = self.owner.render(request, lambda: job.cancelled or self._stopping.is_set())
        except Exception as exc:  # noqa: BLE001 - load failures of a render request
            return [error_reply(job.msg_id, "load", _one_line(exc))], False
        if result.cancelled:
            return [error_reply(job.msg_id, "cancelled", "render cancelled")], False
        try:
            stats = jsoncodec.to_plain(result.stats)
        except jsoncodec.CodecError:
            stats = None
        if result.error is not None:
            return [error_reply(job.msg_id, "render", result.error)], result.fatal
        payload, encode_ms = codec.encode(result.image, job.fmt, job.quality)
        self.served += 1
        header = reply(job.msg_id, format=job.fmt, shape=list(result.image.shape), stats=stats,
                       render_ms=result.render_ms, encode_ms=encode_ms,
                       server_ms=(time.perf_counter() - job.t_received) * 1000.0)
        return [header, payload], False


def _analysis_names() -> list[str]:
    from stylegan3.analyses import ANALYSES

    return list(ANALYSES)


def _run_analysis_impl(server: RenderServer, job: _Job, out) -> list:
    from stylegan3 import analyses as analysis
    from stylegan3.service.arrays import ArrayError, pack

    last = [0.0]

    def progress(done: int, total: int) -> None:
        if server._stopping.is_set() or job.cancelled:
            raise _Abandoned()
        now = time.monotonic()
        if now - last[0] > 0.1 or done >= total:  # bounded: at most ten progress replies a second
            last[0] = now
            out.send_multipart([job.ident, reply(job.msg_id, progress=[int(done), int(total)])])
        if done < total:
            server._renders_between(out)

    def emit(data) -> None:
        """Send one partial result, then wait (serving renders, watching for a cancel) while the client has
        more than `STREAM_WINDOW` of them unacknowledged."""
        plain, payload = pack(data)
        job.sent += 1
        header = reply(job.msg_id, partial=plain, seq=job.sent)
        out.send_multipart([job.ident, header] if payload is None else [job.ident, header, payload])
        acked, since = job.acked, time.monotonic()
        while True:
            with server._cond:
                if server._stopping.is_set() or job.cancelled:
                    raise _Abandoned()
                if job.sent - job.acked <= protocol.STREAM_WINDOW:
                    return
                if job.acked != acked:
                    acked, since = job.acked, time.monotonic()
                elif time.monotonic() - since > ACK_TIMEOUT_S:  # the client is gone: free the renderer
                    raise _Abandoned()
                server._cond.wait(0.05)
            server._renders_between(out)

    try:
        G, info = server.owner.network(job.ref)
        result = analysis.run(job.analysis, G, job.request.replace(network=job.ref), info, progress, job.params,
                              emit=emit, attachment=job.attachment)
        plain, payload = pack(result)
    except _Abandoned:
        return [error_reply(job.msg_id, "cancelled", "analysis cancelled")]
    except ArrayError as exc:
        return [error_reply(job.msg_id, "too-large", _one_line(exc))]
    except Exception as exc:  # noqa: BLE001 - the client's message
        return [error_reply(job.msg_id, "analysis", _one_line(exc))]
    header = reply(job.msg_id, result=plain)
    return [header] if payload is None else [header, payload]


class _Abandoned(Exception):
    pass



def _one_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
