"""One browser tab: its WebSocket's messages and its own frame channel on the server's render backend.

Why a channel per tab: several tabs (or people) share one GPU, and each must get its own newest frame
(latest wins per tab), never another tab's. Every message is checked before anything runs; a bad one is
answered with `{"op": "error", "id", "error"}` and the tab (and the server) carries on.

Messages from the page (JSON text, one object each):
  hello                                  -> hello {networks, formats, limits}
  load   {id, source}                    -> info {id, source, info (NetworkInfo as JSON)}
  render {id, view, request, format, quality}
                                         -> frame {id, view, format, width, height, bytes, render_ms, encode_ms,
                                            round_trip_ms, stats}, then the image as one binary message; `view`
                                            is "a" (default) or "b" (the compared network), each latest-wins
  spectrum {id, request}                 -> spectrum {id, layer, freqs, db, marks} (radial, the shown layer)
  sticking {id, view, request}           -> sticking {id, view, score, ratio, samples, width, height}, then the
                                            average of the perturbed renders as PNG (stuck detail stays sharp)
  export_session {id, request, bookmarks} -> session_text {id, text}
  import_session {id, text}              -> session {id, request, bookmarks}
  ping {id}                              -> pong {id}
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

from stylegan3.documents.request import NetworkRef, RenderRequest, RequestError, from_dict, to_dict
from stylegan3.errors import SG3Error

if TYPE_CHECKING:
    from sg3_explorer.web.server import WebServer

log = logging.getLogger("sg3_explorer.web")

VIEWS = ("a", "b")  # the main view and the network it is compared with, side by side
# PNG (lossless, small) and JPEG (quality 1..100) the browser decodes itself; raw RGB (lossless, no encoder:
# fastest where the link is fast, e.g. loopback) the page puts into a canvas
FORMATS = ("png", "jpeg", "raw")
MAX_MESSAGE_BYTES = 768 * 1024  # the render service's request bound: a W+ latent of a 1024^2 net is ~200 KiB
MAX_ID = 2**53 - 1  # a JavaScript number stays exact up to here
SPECTRUM_SAMPLES = 1
STICKING_SAMPLES = 8  # the comparison panel's default: K perturbed renders averaged


class MessageError(SG3Error):
    """A message the tab cannot act on; the text goes back to the page."""


def _msg_id(msg: dict) -> int | None:
    value = msg.get("id")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise MessageError("'id' must be a whole number from 0 to 2^53-1")
    return value


def parse_message(text: str | bytes) -> dict:
    """The message as a dict with a known `op`, or MessageError saying what is wrong with it."""
    if len(text) > MAX_MESSAGE_BYTES:
        raise MessageError(f"message of {len(text)} bytes is too large (limit {MAX_MESSAGE_BYTES})")
    try:
        msg = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MessageError(f"not JSON ({exc})") from None
    if not isinstance(msg, dict):
        raise MessageError("expected a JSON object")
    if msg.get("op") not in OPS:
        raise MessageError(f"unknown op {str(msg.get('op'))[:40]!r} (expected one of {', '.join(OPS)})")
    _msg_id(msg)
    return msg


OPS = ("hello", "load", "render", "spectrum", "sticking", "export_session", "import_session", "ping")
SLOW_OPS = ("load", "spectrum", "sticking")  # they wait for the backend: tasks, so renders are not held up
MAX_SLOW_WAITING = 4


class Tab:
    """The server side of one page: sends its requests down its channel, its frames back up its socket."""

    def __init__(self, server: WebServer, ws: Any, peer: str) -> None:
        self.server = server
        self.ws = ws
        self.peer = peer
        self.loop = asyncio.get_running_loop()
        self.channels = {view: server.channels.channel() for view in VIEWS}
        self._sent: dict[int, tuple[RenderRequest, int | None, str, int, str]] = {}  # id(request) -> what it was
        self._send_lock = asyncio.Lock()  # a frame's header and its bytes go out together
        self._slow_lock = asyncio.Lock()  # one load or analysis of this tab at a time, in arrival order
        self._slow_waiting = 0
        self._tasks: set[asyncio.Task] = set()
        self.closed = False

    # --- from the page
    async def handle(self, text: str | bytes) -> None:
        """Answer one message. Loads and analyses run as tasks of their own (one at a time per tab, at most
        `MAX_SLOW_WAITING` queued), so the tab's render requests keep flowing while a spectrum is computed."""
        msg_id = None
        try:
            msg = parse_message(text)
            msg_id = _msg_id(msg)
            if msg["op"] in SLOW_OPS:
                if self._slow_waiting >= MAX_SLOW_WAITING:
                    raise MessageError(
                        f"{msg['op']}: {MAX_SLOW_WAITING} loads or analyses of this tab are already "
                        "waiting; try again when they are done"
                    )
                self._slow_waiting += 1
                task = self.loop.create_task(self._slow(msg, msg_id))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                return
        except (MessageError, SG3Error) as exc:
            await self.send_json({"op": "error", "id": msg_id, "error": _one_line(exc)})
            return
        await self._run(msg, msg_id)

    async def _slow(self, msg: dict, msg_id: int | None) -> None:
        try:
            async with self._slow_lock:
                await self._run(msg, msg_id)
        finally:
            self._slow_waiting -= 1

    async def _run(self, msg: dict, msg_id: int | None) -> None:
        try:
            await getattr(self, "_op_" + msg["op"])(msg, msg_id)
        except (MessageError, SG3Error) as exc:
            await self.send_json({"op": "error", "id": msg_id, "error": _one_line(exc)})
        except Exception as exc:  # noqa: BLE001 - a page never sees a traceback; the server carries on
            log.exception("web: message from %s failed", self.peer)
            await self.send_json({"op": "error", "id": msg_id, "error": f"{type(exc).__name__}: {_one_line(exc)}"})

    async def _op_hello(self, msg: dict, msg_id: int | None) -> None:
        await self.send_json(
            {
                "op": "hello",
                "id": msg_id,
                "networks": self.server.networks,
                "formats": FORMATS,
                "limits": {"message_bytes": MAX_MESSAGE_BYTES},
                "allowed": self.server.allow.describe(),
                "request": to_dict(RenderRequest()),
            }
        )

    async def _op_ping(self, msg: dict, msg_id: int | None) -> None:
        await self.send_json({"op": "pong", "id": msg_id})

    async def _op_load(self, msg: dict, msg_id: int | None) -> None:
        source = msg.get("source")
        if not isinstance(source, str) or not source.strip():
            raise MessageError("load: 'source' must be a network name, path or URL")
        ref = self._allowed(NetworkRef(source.strip()))
        info = await self.loop.run_in_executor(None, self.server.backend.load, ref)
        await self.send_json({"op": "info", "id": msg_id, "source": source, "info": info.to_dict()})

    async def _op_render(self, msg: dict, msg_id: int | None) -> None:
        request = self._request(msg)
        view = msg.get("view", "a")
        if view not in VIEWS:
            raise MessageError('render: \'view\' must be "a" or "b"')
        fmt = msg.get("format", "png")
        quality = msg.get("quality", 90)
        if fmt not in FORMATS:
            raise MessageError(f"render: unknown format {str(fmt)[:20]!r} (expected png, jpeg or raw)")
        if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
            raise MessageError("render: 'quality' must be a whole number from 1 to 100")
        sent = request.replace(network=self._allowed(request.network))
        self._sent[id(sent)] = (sent, msg_id, fmt, quality, view)  # the request is kept: its id stays unique
        for old in list(self._sent)[:-64]:  # frames of these will never come (latest wins)
            del self._sent[old]
        self.channels[view].submit(sent)
        if view == "a":
            self.server.last_request = request  # as the page named its network (a notebook's handle reads it)

    async def _op_spectrum(self, msg: dict, msg_id: int | None) -> None:
        from stylegan3.metrics.spectra import radial_average, to_db
        from stylegan3.service.analyses import spectra

        request = self._request(msg)
        request = request.replace(network=self._allowed(request.network))
        info = await self.loop.run_in_executor(None, self.server.backend.load, request.network)
        layer = request.layer.layer
        if layer is None or layer not in info.layer_names:
            layer = info.layer_names[-1]
        seed = request.latent.seed
        result = await self.loop.run_in_executor(
            None,
            lambda: spectra(
                self.server.backend, request, [layer], SPECTRUM_SAMPLES, seed=seed, psi=request.truncation.psi
            ),
        )
        spectrum = result[layer]
        freqs, power = radial_average(spectrum.power, spectrum.freqs)
        db = to_db(power)
        await self.send_json(
            {
                "op": "spectrum",
                "id": msg_id,
                "layer": layer,
                "freqs": [round(float(f), 5) for f in freqs],
                "db": [round(float(v), 3) for v in db],
                "sampling_rate": float(spectrum.sampling_rate),
                "marks": {k: float(v) for k, v in spectrum.marks.items()},
            }
        )

    async def _op_sticking(self, msg: dict, msg_id: int | None) -> None:
        import torch

        from stylegan3.render.images import to_numpy_rgb
        from stylegan3.service.analyses import sticking
        from stylegan3.service.codec import encode

        view = msg.get("view", "a")
        if view not in VIEWS:
            raise MessageError('sticking: \'view\' must be "a" or "b"')
        request = self._request(msg)
        request = request.replace(network=self._allowed(request.network))
        await self.loop.run_in_executor(None, self.server.backend.load, request.network)
        result = await self.loop.run_in_executor(
            None, lambda: sticking(self.server.backend, request, samples=STICKING_SAMPLES)
        )
        image = to_numpy_rgb(torch.as_tensor(result.average)[None])
        payload, _ = await self.loop.run_in_executor(None, encode, image, "png", 90)
        header = {
            "op": "sticking",
            "id": msg_id,
            "view": view,
            "score": result.score,
            "ratio": result.ratio,
            "samples": result.samples,
            "width": int(image.shape[1]),
            "height": int(image.shape[0]),
            "format": "png",
        }
        async with self._send_lock:
            if not self.closed:
                try:
                    await self.ws.send_str(json.dumps(header))
                    await self.ws.send_bytes(bytes(payload))
                except (ConnectionError, RuntimeError):
                    self.closed = True

    async def _op_export_session(self, msg: dict, msg_id: int | None) -> None:
        from stylegan3.documents.bookmarks import Bookmark
        from stylegan3.documents.session import Session, to_text

        request = self._request(msg)
        marks = msg.get("bookmarks", [])
        if not isinstance(marks, list):
            raise MessageError("export_session: 'bookmarks' must be a list")
        bookmarks = []
        for k, mark in enumerate(marks):
            if not isinstance(mark, dict) or not isinstance(mark.get("name"), str):
                raise MessageError(f"export_session: bookmark {k} needs a 'name' and a 'request'")
            bookmarks.append(Bookmark(mark["name"], self._request(mark, f"bookmarks[{k}].request")))
        text = to_text(Session(request=request, bookmarks=tuple(bookmarks)))
        await self.send_json({"op": "session_text", "id": msg_id, "text": text})

    async def _op_import_session(self, msg: dict, msg_id: int | None) -> None:
        from stylegan3.documents.session import from_data

        text = msg.get("text")
        if not isinstance(text, str):
            raise MessageError("import_session: 'text' must be the session file's text")
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise MessageError(f"import_session: not a session file ({exc})") from None
        session = from_data(data, "session")
        await self.send_json(
            {
                "op": "session",
                "id": msg_id,
                "request": to_dict(session.request),
                "bookmarks": [{"name": b.name, "request": to_dict(b.request)} for b in session.bookmarks],
            }
        )

    def _request(self, msg: dict, field: str = "request") -> RenderRequest:
        data = msg.get("request")
        if not isinstance(data, dict):
            raise MessageError(f"'{field}' must be a RenderRequest (a JSON object)")
        try:
            return from_dict(data)
        except RequestError as exc:
            raise MessageError(str(exc)) from None

    def _allowed(self, ref: NetworkRef) -> NetworkRef:
        from stylegan3.service.policy import SourceRefused

        try:
            return NetworkRef(self.server.allow.check(ref.source), ref.key)
        except SourceRefused as exc:
            log.warning("web: refused %s for %s", ref.source[:200], self.peer)
            raise MessageError(f"refused: {exc}") from None

    # --- to the page
    def frame_ready(self, res) -> None:
        """Called on the event loop for each frame of this tab's channel."""
        if not self.closed:
            self.loop.create_task(self._send_frame(res))

    async def _send_frame(self, res) -> None:
        from stylegan3.service.codec import encode

        sent = self._sent.pop(id(res.request), None)
        if sent is None or sent[0] is not res.request:
            return
        _, msg_id, fmt, quality, view = sent
        if res.error or res.image is None:
            await self.send_json({"op": "error", "id": msg_id, "view": view, "error": res.error or "no image"})
            return
        payload, encode_ms = await self.loop.run_in_executor(None, encode, res.image, fmt, quality)
        h, w = res.image.shape[:2]
        header = {
            "op": "frame",
            "id": msg_id,
            "view": view,
            "format": fmt,
            "width": w,
            "height": h,
            "bytes": len(payload),
            "render_ms": round(res.render_ms, 3),
            "encode_ms": round(encode_ms, 3),
            "round_trip_ms": round(res.round_trip_ms, 3),
            "stats": _stats(res.stats),
        }
        async with self._send_lock:
            if self.closed:
                return
            try:
                await self.ws.send_str(json.dumps(header))
                await self.ws.send_bytes(bytes(payload))
            except (ConnectionError, RuntimeError):
                self.closed = True

    async def send_json(self, data: dict) -> None:
        async with self._send_lock:
            if self.closed:
                return
            try:
                await self.ws.send_str(json.dumps(data, allow_nan=False, default=str))
            except (ConnectionError, RuntimeError):
                self.closed = True

    def close(self) -> None:
        """The tab is gone: its waiting request is dropped and its running frame stopped."""
        self.closed = True
        for task in list(self._tasks):  # work already handed to a thread finishes there; its answer is dropped
            task.cancel()
        for channel in self.channels.values():
            self.server.channels.release(channel)
        self._sent.clear()


def _stats(stats) -> dict:
    from sg3_explorer.visualizer.backend_renderer import stats_extras

    out = stats_extras(stats)
    psnr = out.get("residual_psnr")
    if psnr is not None and psnr == float("inf"):
        out["residual_psnr"] = "exact"
    return out


def _one_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:500]
