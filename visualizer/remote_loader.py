"""`NetworkLoader`'s interface for a renderer elsewhere: the backend loads the network, the app gets its info.

With `gui --connect` the network lives on the server; what comes back is a `LoadedNetwork` whose `G` is None
and whose `net_info` is the full `stylegan3.netinfo.NetworkInfo` (layer table, capabilities), so panels that
need the module itself hide, and the others work from the info.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from stylegan3.netinfo import NetworkInfo as FullInfo
from stylegan3.request import NetworkRef
from stylegan3.service.backend import RenderBackend
from visualizer.network_info import NetworkInfo
from visualizer.network_loader import LoadedNetwork, LoadStatus, error_line


@dataclass
class RemoteLoadedNetwork(LoadedNetwork):
    net_info: FullInfo | None = None


def panel_info(info: FullInfo) -> NetworkInfo:
    return NetworkInfo(source=info.source, kind=info.kind, resolution=info.resolution,
                       img_channels=info.img_channels, z_dim=info.z_dim, w_dim=info.w_dim, c_dim=info.c_dim,
                       num_ws=info.num_ws, num_params=info.num_params, fp16_layers=info.fp16_layers,
                       num_layers=len(info.layers))


class RemoteNetworkLoader:
    def __init__(self, backend: RenderBackend) -> None:
        self.backend = backend
        self._lock = threading.Lock()
        self._latest_id = 0
        self._done: RemoteLoadedNetwork | None = None
        self.status = LoadStatus()
        self._threads: list[threading.Thread] = []

    def load(self, source: str) -> int:
        source = str(source).strip()
        with self._lock:
            self._latest_id += 1
            load_id = self._latest_id
            self.status = LoadStatus(source=source, message=f"loading {source} on {self.backend.transport} ...",
                                     busy=True)
        t = threading.Thread(target=self._work, args=(load_id, source), name="sg3-load", daemon=True)
        self._threads = [th for th in self._threads if th.is_alive()] + [t]
        t.start()
        return load_id

    def poll(self) -> RemoteLoadedNetwork | None:
        with self._lock:
            done, self._done = self._done, None
        return done

    @property
    def latest_id(self) -> int:
        return self._latest_id

    @property
    def busy(self) -> bool:
        return self.status.busy

    def wait(self, timeout: float = 60.0) -> bool:
        end = time.monotonic() + timeout
        for t in list(self._threads):
            t.join(max(0.0, end - time.monotonic()))
        return not self.busy

    def _work(self, load_id: int, source: str) -> None:
        t0 = time.perf_counter()
        try:
            info = self.backend.load(NetworkRef(source))
        except Exception as exc:  # noqa: BLE001 - a refusal or a lost server is a message, never a crash
            with self._lock:
                if load_id == self._latest_id:
                    self.status = LoadStatus(source=source, busy=False, error=error_line(exc),
                                             message=f"failed: {error_line(exc)}")
            return
        seconds = time.perf_counter() - t0
        ops = f"rendered by {self.backend.transport} on {info.device} ({info.impl} ops)"
        with self._lock:
            if load_id != self._latest_id:
                return
            self._done = RemoteLoadedNetwork(load_id, source, None, panel_info(info), seconds, ops, net_info=info)
            self.status = LoadStatus(source=source, message=f"loaded {source} in {seconds:.1f} s", busy=False)
