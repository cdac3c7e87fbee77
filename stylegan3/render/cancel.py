"""Cutting an unwanted CPU render short at the next layer (network switched, newer request, app closing)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch


class RenderCancelled(Exception):
    """Raised inside synthesis when the render is no longer wanted."""


@contextlib.contextmanager
def cancellable(G: torch.nn.Module, device: torch.device, should_stop: Callable[[], bool] | None) -> Iterator[None]:
    """Check `should_stop` before every mapping/synthesis layer (CPU only: on a GPU a render takes
    milliseconds, and hooks would rule out CUDA graphs)."""
    if should_stop is None or device.type == "cuda":
        yield
        return

    def check(_module, _inputs):
        if should_stop():
            raise RenderCancelled()

    layers = [m for part in (getattr(G, "mapping", None), getattr(G, "synthesis", None)) if part is not None
              for m in part.children()]
    handles = [m.register_forward_pre_hook(check) for m in layers]
    try:
        yield
    finally:
        for h in handles:
            h.remove()
