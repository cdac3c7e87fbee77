"""The web server: our page, its static files and one WebSocket per tab, over one render backend.

Why aiohttp and a page of our own (docs/WEB.md has the comparison): one well-kept dependency that does HTTP
and WebSockets, frames sent as the bytes the browser decodes (PNG or JPEG), no framework between the
`RenderRequest` and the page. Safety as `sg3-explorer serve`: loopback by default, a token for any other
address (in the URL the command prints, as Jupyter does; the page passes it on to its socket), `--allow`
for what may be loaded, bounded messages, and the socket's Origin must be the page's own host.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from sg3_explorer.visualizer.backend_renderer import FrameChannels
from sg3_explorer.web.catalog import offered_networks
from sg3_explorer.web.tab import MAX_MESSAGE_BYTES, Tab
from stylegan3.documents.request import RenderRequest
from stylegan3.service.backend import RenderBackend
from stylegan3.service.policy import AllowList

log = logging.getLogger("sg3_explorer.web")

STATIC = Path(__file__).resolve().parent / "static"
DEFAULT_PORT = 8765
SOCKET_LIMIT = 4 * MAX_MESSAGE_BYTES  # larger than this closes the socket (1009); up to it: an error reply
CSP = (
    "default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; style-src 'self'; "
    "script-src 'self'; frame-ancestors *"
)


LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})  # what a tokenless server answers to


@dataclass
class WebConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    allow: AllowList = field(default_factory=AllowList)
    token: str | None = None
    networks: list[str] = field(default_factory=list)  # offered first in the picker; the first is opened
    device: str | None = None
    origins: tuple[str, ...] = ()  # host suffixes of a trusted proxy whose pages may open the socket (Colab)


class WebServer:
    """Serves the page to any number of tabs; each tab is a `Tab` with its own frame channel on `backend`."""

    def __init__(self, config: WebConfig, backend: RenderBackend | None = None) -> None:
        if backend is None:
            from stylegan3.service.thread_backend import ThreadBackend

            backend = ThreadBackend(config.device)
        self.config = config
        self.allow = config.allow
        self.backend = backend
        self.channels = FrameChannels(backend)
        self.networks = offered_networks(config.allow, config.networks)
        self.tabs: set[Tab] = set()
        self.last_request: RenderRequest | None = None  # the newest main-view request of any tab
        self._stop = threading.Event()
        self._runner: web.AppRunner | None = None
        self.port = config.port
        self._frames = threading.Thread(target=self._frame_loop, name="sg3-web-frames", daemon=True)
        self._frames.start()

    # --- the app
    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_MESSAGE_BYTES)
        app.router.add_get("/", self._index)
        app.router.add_get("/ws", self._socket)
        app.router.add_static("/static/", STATIC, show_index=False, follow_symlinks=False)
        app.on_response_prepare.append(_headers)
        return app

    async def _index(self, request: web.Request) -> web.StreamResponse:
        self._check_token(request)
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        self._check_token(request)
        self._check_origin(request)
        # no permessage-deflate: frames are PNG / JPEG already, and deflating raw frames costs more than it saves
        ws = web.WebSocketResponse(max_msg_size=SOCKET_LIMIT, heartbeat=30.0, compress=False)
        await ws.prepare(request)
        peer = request.remote or "?"
        tab = Tab(self, ws, peer)
        self.tabs.add(tab)
        log.info("web: tab opened from %s (%d open)", peer, len(self.tabs))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await tab.handle(msg.data)
                elif msg.type == WSMsgType.BINARY:
                    await tab.send_json(
                        {"op": "error", "id": None, "error": "binary messages are not accepted (send JSON text)"}
                    )
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.tabs.discard(tab)
            tab.close()
            log.info("web: tab closed from %s (%d open)", peer, len(self.tabs))
        return ws

    def _check_token(self, request: web.Request) -> None:
        token = self.config.token
        if token is None:
            self._check_loopback_host(request)
            return
        given = request.query.get("token", "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise web.HTTPForbidden(text="wrong or missing token: open the URL that sg3-explorer web printed\n")

    def _check_loopback_host(self, request: web.Request) -> None:
        """Without a token (loopback only) the request must name this machine by a loopback name: a foreign page
        whose own host name resolves to 127.0.0.1 (DNS rebinding) would otherwise pass the Origin check, which
        compares the page's host with the requested one, and both are then the attacker's name."""
        host = (urlsplit("//" + request.host).hostname or "").lower()
        if host not in LOOPBACK_NAMES and not any(host.endswith(suffix) for suffix in self.config.origins):
            log.warning("web: refused a request for host %s", request.host[:200])
            raise web.HTTPForbidden(text="this server answers to localhost / 127.0.0.1 only (or use a token)\n")

    def _check_origin(self, request: web.Request) -> None:
        """A page of another site must not drive this server through the visitor's browser (the token stops
        it too, but loopback serves without one): the socket's Origin must name this very host and port."""
        origin = request.headers.get("Origin")
        if origin is None:
            return  # not a browser (scripts, notebooks' kernels): nothing a foreign page can forge
        parts = urlsplit(origin)
        host = (parts.hostname or "").lower()
        proxied = any(host.endswith(suffix) for suffix in self.config.origins)
        if parts.scheme not in ("http", "https") or (parts.netloc.lower() != request.host.lower() and not proxied):
            log.warning("web: refused a socket from origin %s (host %s)", origin[:200], request.host)
            raise web.HTTPForbidden(text="cross-origin WebSocket refused\n")

    # --- frames: one thread routes the backend's frames to the tabs' event loop
    def _frame_loop(self) -> None:
        while not self._stop.is_set():
            self.channels.wait(0.02)
            for tab in list(self.tabs):
                for channel in tab.channels.values():
                    res = channel.poll()
                    if res is not None:
                        tab.loop.call_soon_threadsafe(tab.frame_ready, res)

    # --- running it
    async def start(self) -> str:
        """Start listening; the page's URL (with the token when there is one)."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        sockets = site._server.sockets if site._server is not None else []  # noqa: SLF001 - the bound port
        if sockets:
            self.port = sockets[0].getsockname()[1]
        return self.url()

    def url(self, host: str | None = None) -> str:
        host = host or self.config.host
        if host in ("0.0.0.0", "::", ""):  # every interface: name the machine, as Jupyter does
            host = socket.gethostname() or "127.0.0.1"
        shown = f"[{host}]" if ":" in host else host
        query = f"/?token={self.config.token}" if self.config.token else "/"
        return f"http://{shown}:{self.port}{query}"

    async def stop(self) -> None:
        self._stop.set()
        for tab in list(self.tabs):
            await tab.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
        self.backend.close()


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")


def serve_forever(server: WebServer, on_url=None) -> None:
    """Run the server on this thread until interrupted."""

    async def main() -> None:
        url = await server.start()
        if on_url is not None:
            on_url(url)
        try:
            await asyncio.Event().wait()
        finally:
            await server.stop()

    asyncio.run(main())


class BackgroundServer:
    """The server on a thread of its own (notebooks, tests): `url` once started, `close()` to stop it."""

    def __init__(self, server: WebServer, timeout: float = 30.0) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._error: BaseException | None = None
        self.url = ""
        self._thread = threading.Thread(target=self._run, name="sg3-web", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise RuntimeError("the web server did not start")
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.url = self.loop.run_until_complete(self.server.start())
        except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
            self._error = exc
            self._started.set()
            return
        self._started.set()
        self.loop.run_forever()

    def close(self) -> None:
        if self.loop.is_running():
            asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(timeout=30)
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
