"""What every panel is: a collapsible section of the left column that edits the app's RenderRequest.

A panel draws with imgui and edits `app.request`, the request on screen, whose sections are frozen: it puts
back an edited copy (`self.edit("truncation", psi=0.7)`), only when imgui reports a change, so that a value
round-tripped through a float32 widget does not count as an edit every frame. Anything it displays that
takes computation comes from a headless function (library or `visualizer/`), so tests can check the numbers
without a window. `self.app` is a `widgets.context.PanelContext` (the App implements it; tests pass a small
fake): a panel sees the network's `NetworkInfo` and results and hands work that needs the module to the
context as a job, never the App itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sg3_explorer.widgets.context import PanelContext
    from stylegan3.documents.request import RenderRequest


class Widget:
    """Base of the panels. Subclasses set `title` and implement `draw`; `update` runs every frame."""

    title: str = ""
    default_open: bool = True

    def __init__(self, app: PanelContext) -> None:
        self.app = app

    @property
    def key(self) -> str:
        """Settings key for the open/closed state."""
        return type(self).__module__.rsplit(".", 1)[-1]

    @property
    def request(self) -> RenderRequest:
        """What is on screen (read); change it with `edit`."""
        return self.app.request

    def edit(self, section: str, **fields) -> None:
        """Change fields of one section of the request on screen, e.g. `self.edit("latent", x=3.0)`."""
        self.app.request = self.app.request.edit(section, **fields)

    def visible(self) -> bool:
        """False hides the section (e.g. SG3-only panels while an SG2 net is loaded)."""
        return True

    def update(self, dt: float) -> None:
        """Per-frame logic that must run even when the section is collapsed (animations)."""

    def draw(self) -> None:
        raise NotImplementedError

    def on_network(self) -> None:
        """Called after a new network has been loaded (clamp the request to its dimensions)."""

    def close(self) -> None:
        """Called once when the window closes: stop threads, free GL objects."""

    @property
    def animating(self) -> bool:
        """True while the panel changes the request by itself (keeps the GUI from idling)."""
        return False
