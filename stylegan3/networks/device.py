"""Where a network lives: the one helper every renderer, job and command asks.

(Headless generation for a seed and options went: `render`, `video`, the GUI and the service all build a
`stylegan3.documents.request.RenderRequest` and render it with `stylegan3.render.pipeline`.)
"""

from __future__ import annotations

import torch


def device_of(G: torch.nn.Module) -> torch.device:
    """Where a network's tensors live (CPU for a module without any)."""
    for tensor in (*G.parameters(), *G.buffers()):
        return tensor.device
    return torch.device("cpu")
