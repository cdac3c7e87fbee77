"""The loader for a renderer elsewhere (`gui --connect`, `gui --renderer child`): the backend loads the network.

What comes back is a `LoadedNetwork` whose `G` is None and whose `info` is the `stylegan3.networks.info.NetworkInfo`
the renderer sent (layer table, capabilities): panels only ever see that info, and jobs that need the module
run on the backend or say why they cannot.
"""

from __future__ import annotations

import time

from sg3_explorer.visualizer.network_loader import LoadedNetwork, LoaderBase, error_line
from stylegan3.documents.request import NetworkRef
from stylegan3.service.backend import RenderBackend


class RemoteNetworkLoader(LoaderBase):
    def __init__(self, backend: RenderBackend) -> None:
        super().__init__()
        self.backend = backend

    def _loading_message(self, source: str) -> str:
        return f"loading {source} on {self.backend.transport} ..."

    def _work(self, load_id: int, source: str) -> None:
        t0 = time.perf_counter()
        try:
            info = self.backend.load(NetworkRef(source))
        except Exception as exc:  # noqa: BLE001 - a refusal or a lost server is a message, never a crash
            self._fail(load_id, error_line(exc))
            return
        ops = f"rendered by {self.backend.transport} on {info.device} ({info.impl} ops)"
        self._finish(LoadedNetwork(load_id, source, None, info, time.perf_counter() - t0, ops))
