"""`Explorer`: the headless session the window shows: its backend, network loads, frames, jobs and panels.

Everything that needs the network goes through one `stylegan3.service.RenderBackend`: a `ThreadBackend` in this
process by default, a `ChildProcessBackend` (`--renderer child`) or a `RemoteBackend` (`--connect`). The
network module lives only there; this side holds its `NetworkInfo`, the `RenderRequest` shown (`request`), the newest
frame, and runs panels' `NetworkJob`s against the backend. It is the `widgets.context.PanelContext` every panel
is given, less the window's parts (`visualizer.app.App` adds drawing, capture and the imgui runner), so a test
can drive it without a window.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sg3_explorer.visualizer.backend_renderer import BackendRenderer, FrameChannels, RenderResult
from sg3_explorer.visualizer.capture import capture_name, save_png
from sg3_explorer.visualizer.connection import Connection
from sg3_explorer.visualizer.jobs import JobSlot
from sg3_explorer.visualizer.loader import LoadedNetwork, LoadStatus, NetworkLoader
from sg3_explorer.visualizer.network_jobs import NetworkJob
from sg3_explorer.visualizer.perf import TimeHistory
from sg3_explorer.visualizer.settings import Settings, clamp_ui_scale, load_settings
from stylegan3.documents.request import NetworkRef, RenderRequest
from stylegan3.errors import SG3Error
from stylegan3.service.backend import RenderBackend

if TYPE_CHECKING:
    import torch

    from stylegan3.documents.session import Session
    from stylegan3.networks.info import NetworkInfo


@dataclass
class AppConfig:
    networks: list[str] = field(default_factory=list)
    screenshot: Path | None = None  # save the first frame showing a generated image there, then exit
    cpu: bool = False
    device: str | None = None  # cpu, cuda, cuda:N, mps (None: the GPU when there is one)
    window_size: tuple[int, int] | None = None
    persist_settings: bool = True
    timeout_s: float = 120.0  # screenshot mode gives up after this long
    report_image_rect: bool = False  # screenshot mode prints where the image sits (`--debug`; tests read it)
    request: RenderRequest | None = None  # what to show first (`gui --seed/--psi`); the network section is ignored
    session: Path | None = None  # a *.sg3session.json to open at start (its network, view and bookmarks)
    connect: str | None = None  # HOST:PORT of an `sg3-explorer serve`: render there (`gui --connect`)
    token: str | None = None
    frame_format: str = "raw"
    jpeg_quality: int = 90
    renderer: str = "thread"  # 'thread' (in this process) or 'child' (a child process that may crash and restart)
    ui_scale: float | None = None  # `gui --ui-scale`: text and controls times the monitor's scale (kept in settings)


def choose_device(cpu: bool = False, device: str | None = None) -> torch.device:
    """`device` when given (cpu, cuda, cuda:N, mps), else the GPU when there is one (unless `cpu`), else the CPU."""
    from stylegan3.loading.build import resolve_device

    return resolve_device("cpu" if cpu else device)


def open_backend(config: AppConfig, device: torch.device) -> RenderBackend:
    """The renderer the config asks for: a server (`connect`), a child process, or a thread of this process."""
    if config.connect:
        from stylegan3.service.client import RemoteBackend

        return RemoteBackend(config.connect, token=config.token, frame_format=config.frame_format,
                             quality=config.jpeg_quality)
    if config.renderer == "child":
        from stylegan3.service.child import ChildProcessBackend

        return ChildProcessBackend(device=str(device))
    from stylegan3.service.thread_backend import ThreadBackend

    return ThreadBackend(device)


def _noop(_done: int, _total: int) -> None:
    pass


class Explorer:
    """The session: backend, loads, frames, jobs, panels (`PanelContext` less drawing and capture)."""

    def __init__(self, config: AppConfig | None = None, backend: RenderBackend | None = None) -> None:
        self.config = config or AppConfig()
        self.settings: Settings = load_settings() if self.config.persist_settings else Settings()
        if self.config.ui_scale is not None:
            self.settings.ui_scale = clamp_ui_scale(self.config.ui_scale)
        request = self.config.request or RenderRequest()
        # What is shown: panels edit its frozen sections (`request.edit`); the renderer gets its `for_frame()`.
        # Its network section is not read: `current_request()` names the loaded network.
        self.request: RenderRequest = request.edit(
            "synthesis", force_fp32=request.synthesis.force_fp32 or self.settings.force_fp32,
            cuda_graphs=request.synthesis.cuda_graphs and self.settings.cuda_graphs)
        self.device = choose_device(self.config.cpu, self.config.device)
        # only the connect case needs no local device; a test may hand in its own backend (a fake loader)
        self.backend = backend if backend is not None else open_backend(self.config, self.device)
        # with --connect, nothing is sent before the server answered (a few seconds at most, then one line)
        self.connection: Connection | None = None
        self._load_after_connect: str | None = None
        if self.config.connect:
            self.connection = Connection(self.backend, self.config.connect)
        self.frames = FrameChannels(self.backend)
        self.loader = NetworkLoader(self.backend)
        self.renderer = BackendRenderer(self.frames, device=self.device_description)
        self.network: LoadedNetwork | None = None
        self.last_image: np.ndarray | None = None
        self.last_result: RenderResult | None = None
        self.shown_request: RenderRequest | None = None  # the request the on-screen image was rendered from
        self.render_error: str | None = None
        self.render_times = TimeHistory()
        self.capture_message = ""
        self.panel_errors: dict[str, str] = {}
        self._pending_drops: list[str] = []
        from sg3_explorer.widgets import create_widgets

        self.widgets = create_widgets(self)
        for source in reversed(self.config.networks):
            self.settings.add_recent(source)
        self.load_network(self.config.networks[0] if self.config.networks else "demo")
        if self.config.session is not None:
            from sg3_explorer.visualizer.session_io import open_app_session

            open_app_session(self, self.config.session)  # a bad file raises SessionError: one line, no window

    # -- what panels see ------------------------------------------------------------------------------------
    def load_network(self, source: str) -> None:
        """Load in the background; with --connect, once the server has answered (the newest source wins)."""
        if self.connection is not None and not self.connection.connected:
            self._load_after_connect = str(source)
            return
        self.loader.load(source)

    @property
    def info(self) -> NetworkInfo | None:
        return self.network.info if self.network is not None else None

    @property
    def source(self) -> str | None:
        return self.network.source if self.network is not None else None

    @property
    def device_description(self) -> str:
        return self.config.connect or str(self.device)

    @property
    def command_line_networks(self) -> list[str]:
        return list(self.config.networks)

    @property
    def load_status(self) -> LoadStatus:
        return self.loader.status

    @property
    def load_id(self) -> int:
        return self.loader.latest_id

    def start_job(self, slot: JobSlot, job: NetworkJob) -> bool:
        """Run `job` on the backend from a job thread; False with `slot.error` when nothing is loaded."""
        if self.network is None:
            slot.error = f"{job.label}: no network loaded"
            return False
        if slot.busy:
            return False
        backend = self.backend
        return slot.start(lambda progress: job.run(backend, progress), job.label)

    def compute(self, job: NetworkJob) -> Any:
        """A quick job (a few mapping passes) on the backend, waited for here."""
        if self.network is None:
            raise SG3Error(f"{job.label}: no network loaded")
        return job.run(self.backend, _noop)

    def widget(self, module_name: str):
        """The panel instance from `widgets.<module_name>`, or None."""
        for w in self.widgets:
            if w.key == module_name:
                return w
        return None

    def panel_error(self, key: str) -> str | None:
        return self.panel_errors.get(key)

    def clear_panel_error(self, key: str) -> None:
        self.panel_errors.pop(key, None)

    def current_request(self) -> RenderRequest:
        from sg3_explorer.visualizer.session_io import current_source

        return self.request.replace(network=NetworkRef(current_source(self))).for_frame()

    def apply_request(self, request: RenderRequest) -> None:
        from sg3_explorer.visualizer.session_io import apply_request

        apply_request(self, request)

    def save_session(self, path: str | Path) -> Path:
        from sg3_explorer.visualizer.session_io import save_app_session

        return save_app_session(self, path)

    def open_session(self, path: str | Path) -> Session:
        from sg3_explorer.visualizer.session_io import open_app_session

        return open_app_session(self, path)

    def ops_description(self) -> str:
        """Where frames are rendered and with which op implementation."""
        return self.network.ops if self.network is not None else "(known once a network is loaded)"

    def save_image(self) -> Path | None:
        """Save the generated image (network resolution, not the zoomed view)."""
        if self.last_image is None:
            self.capture_message = "nothing to save yet"
            return None
        try:
            path = save_png(self.last_image, self.settings.capture_dir,
                            capture_name("image", self.shown_request, self.source or ""))
        except OSError as exc:
            self.capture_message = f"could not save: {exc}"
            return None
        self.capture_message = f"saved {path}"
        return path

    def handle_drop(self, paths: list[str]) -> None:
        """Files dropped onto the window: a picture is projected, anything else loads as a network."""
        projection = self.widget("projection")
        if paths and projection is not None:
            from sg3_explorer.widgets.projection import is_image_path

            if is_image_path(paths[0]):
                projection.start(paths[0])
                return
        if paths:
            self._pending_drops.append(paths[0])

    # -- per frame -------------------------------------------------------------------------------------------
    def poll(self) -> None:
        """Take a finished load, submit the current request (a no-op when unchanged), take a finished frame."""
        if self.connection is not None and self.connection.just_connected() and self._load_after_connect:
            source, self._load_after_connect = self._load_after_connect, None
            self.loader.load(source)
        loaded = self.loader.poll()
        if loaded is not None:
            self._on_network_loaded(loaded)
        if self._pending_drops:
            self.load_network(self._pending_drops.pop())
            self._pending_drops.clear()
        self.renderer.submit(self.request.for_frame())
        result = self.renderer.poll()
        if result is not None:
            self.render_times.add(result.render_ms)
            self.last_result = result
            if result.error:
                self.render_error = result.error  # the last good image stays on screen
            elif result.image is not None:
                self.render_error = None
                self.last_image = result.image
                self.shown_request = result.request
                self._show_image(result.image)

    def _show_image(self, image: np.ndarray) -> None:
        """A new frame arrived (the window uploads it)."""

    def _on_network_loaded(self, loaded: LoadedNetwork) -> None:
        self.network = loaded
        self.shown_request = None  # the old network's image stays up, but it no longer shows the current request
        self.settings.add_recent(loaded.source)
        self.renderer.set_network(loaded.source, loaded.load_id)
        for w in self.widgets:
            self.call_guarded(w, w.on_network)

    def call_guarded(self, w, fn) -> None:
        """Per-frame panel logic outside drawing: a failure turns the panel off with its message shown."""
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - one broken panel must not take the app down
            if w.key not in self.panel_errors:
                print(f"error in panel {w.title}: {type(exc).__name__}: {exc}", file=sys.stderr)
            self.panel_errors[w.key] = f"{type(exc).__name__}: {exc}"

    def close(self) -> None:
        """Close the panels (their jobs), then the backend (a child renderer stops with it)."""
        for w in self.widgets:
            try:
                w.close()
            except Exception as exc:  # noqa: BLE001 - one panel's cleanup must not stop the others
                print(f"error closing panel {w.title}: {type(exc).__name__}: {exc}", file=sys.stderr)
        self.backend.close()
