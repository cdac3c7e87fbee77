"""`NetworkOwner`: the only holder of network modules in a renderer (thread, child process or server).

Networks are loaded once per (source, key) and kept in a small LRU (the main view and four comparison panes), so
switching back and forth does not reload them; everything outside gets `NetworkInfo` and frames.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

import torch

from stylegan3.documents.request import NetworkRef, RenderRequest
from stylegan3.networks.info import NetworkInfo, describe
from stylegan3.render.pipeline import RenderOutput, render_request

Loader = Callable[[NetworkRef, torch.device], torch.nn.Module]


def default_loader(ref: NetworkRef, device: torch.device) -> torch.nn.Module:
    from stylegan3 import load_network

    return load_network(ref.source, key=ref.key, device=device).eval().requires_grad_(False)


class NetworkOwner:
    def __init__(self, device: str | torch.device | None = None, loader: Loader = default_loader,
                 keep: int = 5) -> None:
        from stylegan3.loading.build import resolve_device

        self.device = resolve_device(device)
        self._loader = loader
        self._keep = max(1, keep)
        self._nets: OrderedDict[NetworkRef, tuple[torch.nn.Module, NetworkInfo]] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, ref: NetworkRef) -> NetworkInfo:
        return self._get(ref)[1]

    def network(self, ref: NetworkRef) -> tuple[torch.nn.Module, NetworkInfo]:
        """The module and its info, for analyses that run next to it (the owner keeps it)."""
        return self._get(ref)

    def _get(self, ref: NetworkRef) -> tuple[torch.nn.Module, NetworkInfo]:
        with self._lock:
            hit = self._nets.get(ref)
            if hit is not None:
                self._nets.move_to_end(ref)
                return hit
        G = self._loader(ref, self.device)
        entry = (G, describe(G, ref.source))
        with self._lock:
            self._nets[ref] = entry
            self._nets.move_to_end(ref)
            while len(self._nets) > self._keep:
                self._nets.popitem(last=False)
        return entry

    def render(self, request: RenderRequest, should_stop: Callable[[], bool] | None = None) -> RenderOutput:
        """Render (loading the request's network first if needed); load errors raise, render errors are a message."""
        G, info = self._get(request.network)
        return render_request(G, request, info, should_stop)

    def close(self) -> None:
        with self._lock:
            self._nets.clear()
