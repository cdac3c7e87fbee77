"""What every panel is: a collapsible section of the left column that edits the app's RenderState.

A panel draws with imgui and reads/writes `app.state`; anything it displays that takes computation comes from
a headless function (library or `visualizer/`), so tests can check the numbers without a window. `self.app` is
a `widgets.context.PanelContext` (the App implements it; tests pass a small fake): a panel sees the network's
`NetworkInfo` and results and hands work that needs the module to the context as a job, never the App itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sg3_explorer.widgets.context import PanelContext


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

    def visible(self) -> bool:
        """False hides the section (e.g. SG3-only panels while an SG2 net is loaded)."""
        return True

    def update(self, dt: float) -> None:
        """Per-frame logic that must run even when the section is collapsed (animations)."""

    def draw(self) -> None:
        raise NotImplementedError

    def on_network(self) -> None:
        """Called after a new network has been loaded (clamp state to its dimensions)."""

    def close(self) -> None:
        """Called once when the window closes: stop threads, free GL objects."""

    @property
    def animating(self) -> bool:
        """True while the panel changes the state by itself (keeps the GUI from idling)."""
        return False
