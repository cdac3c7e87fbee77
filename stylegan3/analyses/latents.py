"""The latent a request shows (`ws`), as an analysis: the window needs it to save a bookmark's W+, to start a
user direction or to seed a projection, and the network that maps seed -> w lives in the backend.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from stylegan3.documents.request import RenderRequest
from stylegan3.networks.info import NetworkInfo


@dataclass(frozen=True)
class WsParams:
    pass


@torch.no_grad()
def ws(G: torch.nn.Module, request: RenderRequest, info: NetworkInfo, progress, *,
       params: WsParams = WsParams()) -> dict[str, np.ndarray]:  # noqa: B008 - frozen, never mutated
    """{"ws": float32 [1, num_ws, w_dim]}: mapped (or explicit) latent plus the direction moves, exactly what
    the pipeline synthesizes (`stylegan3.render.inputs.request_ws`)."""
    from stylegan3.networks.device import device_of
    from stylegan3.render.inputs import request_ws

    progress(0, 1)
    out = request_ws(G, request, device_of(G)).detach().to("cpu", torch.float32).numpy()
    progress(1, 1)
    return {"ws": np.ascontiguousarray(out)}
