"""The viewer in a notebook: `show("net.pkl")` serves the page from the kernel and puts it in the output cell.

Why an iframe to a server in the kernel rather than a widget library: the page is the very one `sg3-explorer
web` serves (one UI to keep), the frames travel as PNG / JPEG bytes over a WebSocket instead of through the
notebook's comm channel, and it needs nothing but IPython. The returned `Viewer` gives the notebook what the
person found by hand: `viewer.request` is the `RenderRequest` the page shows now.

Colab: the kernel's port is reached through Colab's own proxy (`google.colab.output.serve_kernel_port_as_iframe`),
whose pages come from another origin, so the Origin check there accepts Colab's proxy host (not tested here:
there is no Colab in CI).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from stylegan3.documents.request import NetworkRef, RenderRequest

COLAB_ORIGINS = (".googleusercontent.com", ".colab.dev")


@dataclass
class Viewer:
    """A running viewer: its `url`, the request it shows (`request`), `close()` to stop its server."""

    url: str
    _background: object = field(repr=False)
    _first: RenderRequest = field(repr=False, default_factory=RenderRequest)

    @property
    def request(self) -> RenderRequest:
        """What the page shows now (the newest request it sent), or the first network's default view."""
        last = self._background.server.last_request
        return last if last is not None else self._first

    @property
    def port(self) -> int:
        return self._background.server.port

    def close(self) -> None:
        self._background.close()

    def _repr_html_(self) -> str:
        return iframe_html(self.url)


def iframe_html(url: str, height: int = 760) -> str:
    return (
        f'<iframe src="{url}" width="100%" height="{int(height)}" style="border:1px solid #323744;'
        'border-radius:6px" allow="clipboard-write"></iframe>'
    )


def show(
    *networks: str, allow: tuple[str, ...] = (), height: int = 760, device: str | None = None, display: bool = True
) -> Viewer:
    """Start a viewer for `networks` (paths, URLs, catalog names or demo names; the demo net when none) on a
    free loopback port with a fresh token, display it in the cell, and return its `Viewer`."""
    from sg3_explorer.web.server import BackgroundServer, WebConfig, WebServer
    from stylegan3.cli.args import pick_device
    from stylegan3.service.policy import AllowList
    from stylegan3.service.server import new_token

    names = list(networks) or ["demo-sg3-t"]
    allowed = AllowList.parse([*allow, *(n for n in names if not n.startswith("demo"))])
    colab = "google.colab" in sys.modules
    config = WebConfig(
        "127.0.0.1", 0, allowed, new_token(), names, str(pick_device(device)), origins=COLAB_ORIGINS if colab else ()
    )
    background = BackgroundServer(WebServer(config))
    viewer = Viewer(background.server.url(), background, RenderRequest(network=NetworkRef(names[0])))
    if display:
        _display(viewer, height, colab)
    return viewer


def _display(viewer: Viewer, height: int, colab: bool) -> None:
    if colab:  # the browser cannot reach the kernel's 127.0.0.1; Colab proxies the port
        from google.colab import output  # type: ignore[import-not-found]

        output.serve_kernel_port_as_iframe(
            viewer.port, path=viewer.url.split(str(viewer.port), 1)[1], height=str(height)
        )
        return
    from IPython.display import HTML, display

    display(HTML(iframe_html(viewer.url, height)))
