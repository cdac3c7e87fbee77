"""`PanelContext`: everything a panel may know about and ask of the app, and nothing else.

The network lives in the window's `RenderBackend` (a thread of this process, a child process or a server); a
panel sees its `NetworkInfo` and frames, and hands work that needs the module to `start_job` / `compute` as
a `NetworkJob` (`visualizer.network_jobs`: typed calls of the backend's analyses). That is why every panel works
the same in each place the network may live, and why a test can drive a panel with a small fake context and
no window. Window settings (fps limit, vsync) are plain `settings` fields the window applies.

`visualizer.app.App` (over `visualizer.explorer.Explorer`) implements this protocol; nothing here imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch

    from sg3_explorer.visualizer.backend_renderer import FrameChannels, RenderResult
    from sg3_explorer.visualizer.jobs import JobSlot
    from sg3_explorer.visualizer.loader import LoadStatus
    from sg3_explorer.visualizer.network_jobs import NetworkJob
    from sg3_explorer.visualizer.perf import TimeHistory
    from sg3_explorer.visualizer.settings import Settings
    from sg3_explorer.widgets.base import Widget
    from stylegan3.documents.request import RenderRequest
    from stylegan3.documents.session import Session
    from stylegan3.networks.info import NetworkInfo


class PanelWindow(Protocol):
    """A floating window a panel draws (the app guards it like a panel: a failure shows, the app stays up)."""

    key: str
    title: str

    def draw(self) -> None: ...


class PanelContext(Protocol):
    # -- what is shown ----------------------------------------------------------------------------------------
    request: RenderRequest  # what is shown: panels put back edited copies (frozen); the renderer draws it
    settings: Settings  # persisted between runs (capture folder, recent networks, fps limit, ...)

    @property
    def info(self) -> NetworkInfo | None:
        """The loaded network (sizes, layer table, capabilities); None before the first load finished."""

    @property
    def source(self) -> str | None:
        """Path, URL or catalog name of the loaded network; None before the first load finished."""

    @property
    def last_result(self) -> RenderResult | None:
        """The newest finished frame (its request, statistics, transport numbers)."""

    @property
    def device(self) -> torch.device:
        """The device this process renders and runs jobs on (for defaults such as sample counts)."""

    @property
    def device_description(self) -> str:
        """Where frames are rendered, in words ("cpu", "cuda:0", or the server's address)."""

    @property
    def command_line_networks(self) -> list[str]:
        """The networks given at start (`gui A B C`: the comparison panel opens B and C as panes)."""

    # -- networks ---------------------------------------------------------------------------------------------
    def load_network(self, source: str) -> None:
        """Start loading `source` in the background (panels follow through `on_network`)."""

    @property
    def load_status(self) -> LoadStatus:
        """The newest load request: source, progress message, busy, error."""

    @property
    def load_id(self) -> int:
        """Id of the newest load request (changes with every request, loaded or not)."""

    @property
    def frames(self) -> FrameChannels:
        """The backend's frame channels: a view of its own (a comparison pane) renders on `frames.channel()`
        and loads its network with `frames.backend.load`."""

    # -- work that needs the network ---------------------------------------------------------------------------
    def start_job(self, slot: JobSlot, job: NetworkJob) -> bool:
        """Run `job` in the background on the backend; False (and `slot.error` says why) when nothing is
        loaded or another job of the slot runs."""

    def compute(self, job: NetworkJob) -> Any:
        """Run a quick `job` (mapping a few latents) now and return its result; raises `SG3Error` with the
        reason when it fails."""

    # -- the rest of the app -------------------------------------------------------------------------------------
    def widget(self, module_name: str) -> Widget | None:
        """Another panel (`widgets.<module_name>`), for the few cross-panel actions (bookmarks, moves)."""

    def draw_guarded(self, window: PanelWindow) -> None:
        """Draw a panel's floating window; an exception there turns it off with its message."""

    def panel_error(self, key: str) -> str | None:
        """Why the panel or window `key` was turned off, or None."""

    def clear_panel_error(self, key: str) -> None:
        """Retry a failed panel or window."""

    def current_request(self) -> RenderRequest:
        """The request on screen as sent: its network section names the loaded network, the explicit latent only
        while it applies (what a bookmark, a session file or a job of the view's latent takes)."""

    def apply_request(self, request: RenderRequest) -> None:
        """Show `request` (loads its network when that is another one)."""

    def save_session(self, path: str | Path) -> Path:
        """Write the session file (request, panel settings, bookmarks); returns the path written."""

    def open_session(self, path: str | Path) -> Session:
        """Open a session file; raises SG3Error with the reason when it cannot."""

    # -- capture and performance -------------------------------------------------------------------------------
    capture_message: str

    def save_image(self) -> Path | None: ...

    def request_window_capture(self, save: bool = True) -> None: ...

    @property
    def gui_times(self) -> TimeHistory: ...

    @property
    def gui_build_times(self) -> TimeHistory: ...

    @property
    def render_times(self) -> TimeHistory: ...

    def ops_description(self) -> str: ...


__all__ = ["PanelContext", "PanelWindow"]
