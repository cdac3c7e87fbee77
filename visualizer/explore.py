"""The exploration panels' share of the window's request: an explicit latent and moves along directions.

Both are request sections (`stylegan3.documents.request.ExplicitLatent`, `LatentMove`), kept in the window's
request as they travel, so `render_image(G, request)` (= the request pipeline) stays the headless reference of
what the app shows, and a remote renderer draws the same frame without a direction file:
- the explicit latent (a projection result, a timeline position, a bookmark) replaces the seed's ws while the
  seed-plane position is still the one it was set at: moving to another seed (arrow keys, the Latent panel)
  leaves it. psi and style mixing do not apply to it;
- direction moves (unit vector by value, strength in W units, ws range) are added on top of either.
Requests are frozen: each function returns the edited copy for the panel to put back.
"""

from __future__ import annotations

import numpy as np
import torch

from stylegan3.documents.request import ExplicitLatent, RenderRequest


def with_latent(request: RenderRequest, ws: np.ndarray | torch.Tensor, label: str = "") -> RenderRequest:
    """Show an explicit latent W+ `[1, num_ws, w_dim]` / `[num_ws, w_dim]` (or W) instead of the seed's."""
    from stylegan3.render.inputs import explicit_latent

    return request.replace(explicit=explicit_latent(ws, request.latent, label))


def without_latent(request: RenderRequest) -> RenderRequest:
    return request.replace(explicit=ExplicitLatent())


def latent_of(request: RenderRequest) -> np.ndarray | None:
    """The explicit latent in force as float32 `[1, rows, w_dim]` (None when there is none, or the seed was
    changed since it was set)."""
    if not request.explicit.applies_to(request.latent):
        return None
    return np.asarray(request.explicit.w, dtype=np.float32)[None]


def latent_label(request: RenderRequest) -> str:
    return request.explicit.label if request.explicit.applies_to(request.latent) else ""


def with_moves(request: RenderRequest, directions, moves) -> RenderRequest:
    """Moves (`stylegan3.explore.directions.DirectionMove`) along `directions`, as the request carries them; no
    moves (or no directions) removes them."""
    from stylegan3.explore.directions import request_moves

    return request.replace(moves=() if directions is None or not moves else request_moves(directions, moves))
