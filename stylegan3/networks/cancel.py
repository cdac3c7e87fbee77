"""Stopping a synthesis pass between layers: the `should_stop` argument of mapping and synthesis.

Why an argument and not hooks on the module: the network is shared by the render thread, comparison panes and
analysis jobs, and a hook put there by one user fires in every other user's pass (or forces private copies of
the weights and locks). A callable passed with the call belongs to that call alone; it is asked once before
each layer (one Python call, no device sync), so a stale CPU render stops within one layer's time.
"""

from __future__ import annotations

from collections.abc import Callable

ShouldStop = Callable[[], bool]


class RenderCancelled(Exception):
    """Raised inside mapping or synthesis when the caller's `should_stop()` says the result is no longer wanted."""


__all__ = ["RenderCancelled", "ShouldStop"]
