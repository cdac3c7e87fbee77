"""The web server without a browser: frames are the pipeline's pixels, the token and the Origin check hold,
a closed tab frees its channel, the page needs nothing from outside the package, the command's errors are one
line."""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support.nets import save_tiny, tiny_net

pytest.importorskip("aiohttp")
import aiohttp  # noqa: E402

from sg3_explorer.web.server import STATIC, BackgroundServer, WebConfig, WebServer  # noqa: E402
from stylegan3.documents.request import NetworkRef, RenderRequest, to_dict  # noqa: E402
from stylegan3.service.policy import AllowList  # noqa: E402


@pytest.fixture(scope="module")
def net(tmp_path_factory) -> Path:
    return save_tiny(tmp_path_factory.mktemp("nets") / "tiny.safetensors", "SG3-T", res=16)


@pytest.fixture()
def served(net):
    server = BackgroundServer(
        WebServer(
            WebConfig(port=0, allow=AllowList.parse([str(net.parent)]), token="s3cret-token", networks=[str(net)])
        )
    )
    yield server
    server.close()


def ws_url(server: BackgroundServer) -> str:
    return server.url.replace("http://", "ws://").replace("/?", "/ws?")


async def _render(url: str, request: RenderRequest, fmt: str = "png", headers=None) -> tuple[dict, bytes]:
    async with aiohttp.ClientSession() as session, session.ws_connect(url, headers=headers) as ws:
        await ws.send_str(json.dumps({"op": "render", "id": 9, "request": to_dict(request), "format": fmt}))
        header = json.loads((await ws.receive()).data)
        payload = (await ws.receive()).data
        return header, payload


def test_png_frame_is_the_pipelines_pixels(served, net):
    from stylegan3.networks.info import describe
    from stylegan3.render.pipeline import render_request

    request = RenderRequest(network=NetworkRef(str(net))).with_seed(3).edit("transform", translate=(0.1, -0.05))
    header, payload = asyncio.run(_render(ws_url(served), request))
    assert header["op"] == "frame" and header["id"] == 9 and header["view"] == "a"
    assert (header["width"], header["height"], header["bytes"]) == (16, 16, len(payload))
    shown = np.asarray(Image.open(io.BytesIO(payload)).convert("RGB"))
    G = tiny_net("SG3-T", res=16)
    expected = render_request(G, request.replace(network=NetworkRef(str(net.resolve()))), describe(G, str(net))).image
    assert np.array_equal(shown, expected)
    assert served.server.last_request == request


def test_token_is_required_for_the_page_and_the_socket(served, net):
    base = served.url.split("/?")[0]

    async def statuses() -> list[int]:
        async with aiohttp.ClientSession() as session:
            out = []
            for path in ("/", "/?token=wrong", "/?token=s3cret-token", "/static/app.js"):
                async with session.get(base + path) as reply:
                    out.append(reply.status)
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                await session.ws_connect(base.replace("http", "ws") + "/ws?token=wrong")
            out.append(err.value.status)
            return out

    assert asyncio.run(statuses()) == [403, 403, 200, 200, 403]


def test_socket_from_another_origin_is_refused(served, net):
    request = RenderRequest(network=NetworkRef(str(net)))
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        asyncio.run(_render(ws_url(served), request, headers={"Origin": "http://evil.example"}))
    assert err.value.status == 403
    own = "http://" + served.url.split("/")[2]
    header, _ = asyncio.run(_render(ws_url(served), request, headers={"Origin": own}))
    assert header["op"] == "frame"


def test_without_a_token_only_loopback_names_are_served(net):
    # DNS rebinding: a page at evil.example whose name resolves to 127.0.0.1 sends Host and Origin evil.example
    server = BackgroundServer(WebServer(WebConfig(port=0, allow=AllowList.parse([str(net.parent)]), token=None)))
    try:
        port = server.url.split("/")[2].rsplit(":", 1)[1]
        base = f"http://127.0.0.1:{port}"

        async def statuses() -> list[int]:
            async with aiohttp.ClientSession() as session:
                out = []
                for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"evil.example:{port}"):
                    async with session.get(base + "/", headers={"Host": host}) as reply:
                        out.append(reply.status)
                evil = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
                with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                    await session.ws_connect(base.replace("http", "ws") + "/ws", headers=evil)
                out.append(err.value.status)
                return out

        assert asyncio.run(statuses()) == [200, 200, 403, 403]
    finally:
        server.close()


def test_a_closed_tab_frees_its_channels(served, net):
    channels = served.server.channels
    before = len(channels._channels)  # noqa: SLF001 - what the server holds per tab

    async def open_render_close() -> int:
        async with aiohttp.ClientSession() as session, session.ws_connect(ws_url(served)) as ws:
            request = RenderRequest(network=NetworkRef(str(net)))
            await ws.send_str(json.dumps({"op": "render", "id": 1, "request": to_dict(request)}))
            await ws.send_str(json.dumps({"op": "ping", "id": 2}))
            while True:  # the pong says the tab is set up
                msg = await ws.receive(timeout=60)
                if msg.type == aiohttp.WSMsgType.TEXT and json.loads(msg.data)["op"] == "pong":
                    break
            return len(channels._channels)  # noqa: SLF001

    during = asyncio.run(open_render_close())
    assert during == before + 2  # the main view and the compared view
    for _ in range(200):  # the server notices the closed socket on its own loop
        if len(channels._channels) == before and not served.server.tabs:  # noqa: SLF001
            break
        time.sleep(0.05)
    assert len(channels._channels) == before and not served.server.tabs  # noqa: SLF001


def test_the_page_needs_nothing_from_outside_the_package():
    files = sorted(p.name for p in STATIC.iterdir())
    assert files == ["app.js", "index.html", "style.css"]
    for path in STATIC.iterdir():
        text = path.read_text()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), path.name
        assert "https://" not in text and "http://" not in text, path.name


def test_web_command_errors_are_one_line(capsys, tmp_path):
    from sg3_explorer.visualizer.cli import main

    assert main(["web", "--allow", str(tmp_path / "missing"), "--listen", "127.0.0.1:0"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --allow") and "missing" in err[0]
    assert main(["web", "--listen", "nohost:notaport"]) == 1
    assert capsys.readouterr().err.startswith("error: ")
    assert main(["web", str(tmp_path / "nope.pkl")]) == 1
    assert (
        capsys.readouterr().err.strip() == f"error: {tmp_path / 'nope.pkl'}: no such network file, URL or catalog name"
    )


def test_analyses_run_beside_renders_and_a_burst_is_bounded(served, net):
    from sg3_explorer.web.tab import MAX_SLOW_WAITING

    request = to_dict(RenderRequest(network=NetworkRef(str(net))))

    async def burst() -> tuple[list[str], list[str]]:
        async with aiohttp.ClientSession() as session, session.ws_connect(ws_url(served)) as ws:
            for k in range(MAX_SLOW_WAITING + 2):
                await ws.send_str(json.dumps({"op": "sticking", "id": 100 + k, "request": request}))
            await ws.send_str(json.dumps({"op": "render", "id": 1, "request": request}))
            ops, errors = [], []
            while ops.count("sticking") + len(errors) < MAX_SLOW_WAITING + 2 or "frame" not in ops:
                msg = await ws.receive(timeout=120)
                if msg.type == aiohttp.WSMsgType.BINARY:
                    continue
                reply = json.loads(msg.data)
                ops.append(reply["op"])
                if reply["op"] == "error":
                    errors.append(reply["error"])
            return ops, errors

    ops, errors = asyncio.run(burst())
    assert ops.count("sticking") >= MAX_SLOW_WAITING - 1 and errors  # the rest refused, not queued
    assert all("already waiting" in e for e in errors)
    assert ops.index("frame") < len(ops) - 1  # the render was answered before the last analysis finished


def test_the_server_needs_no_gui_library():
    """A GPU server without a screen installs `.[web]`, not `.[gui]`: serving imports no imgui, GLFW or OpenGL."""
    import subprocess
    import sys

    code = (
        "import sys, sg3_explorer.web.server, sg3_explorer.web.notebook\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('imgui_bundle', 'glfw', 'OpenGL')))"
    )
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"
