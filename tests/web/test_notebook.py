"""`show()` in a real Jupyter kernel (nbclient + ipykernel): the cell shows the viewer's iframe, and the
handle's `.request` is what the page sent last."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from tests.support.nets import save_tiny

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _cell(source: str):
    import nbformat

    return nbformat.v4.new_code_cell(source)


def test_show_in_a_kernel_gives_the_url_and_the_request(tmp_path):
    pytest.importorskip("aiohttp")
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    import aiohttp

    net = save_tiny(tmp_path / "tiny.safetensors", "SG3-T", res=16)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell(
            f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
            f"from sg3_explorer.notebook import show\nviewer = show({str(net)!r}, device='cpu')\n"
            "print('URL', viewer.url)"
        ),
        _cell("print('REQUEST', viewer.request.network.source, viewer.request.latent.x)"),
    ]
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}})
    with client.setup_kernel():
        client.execute_cell(nb.cells[0], 0)
        outputs = nb.cells[0].outputs
        html = next(o["data"]["text/html"] for o in outputs if o.get("output_type") == "display_data")
        text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
        url = re.search(r"URL (\S+)", text).group(1)
        assert f'src="{url}"' in html and "<iframe" in html
        assert re.match(r"http://127\.0\.0\.1:\d+/\?token=\S{20,}$", url)  # loopback, with a token

        async def page_renders_seed_5() -> str:
            async with aiohttp.ClientSession() as session:
                ws_url = url.replace("http://", "ws://").replace("/?", "/ws?")
                async with session.ws_connect(ws_url) as ws:
                    from stylegan3.documents.request import NetworkRef, RenderRequest, to_dict

                    request = RenderRequest(network=NetworkRef(str(net))).with_seed(5)
                    await ws.send_str(json.dumps({"op": "render", "id": 1, "request": to_dict(request)}))
                    return json.loads((await ws.receive()).data)["op"]

        assert asyncio.run(page_renders_seed_5()) == "frame"
        client.execute_cell(nb.cells[1], 1)
        text = "".join(o.get("text", "") for o in nb.cells[1].outputs)
        assert f"REQUEST {net} 5.0" in text
