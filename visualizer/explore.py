"""The exploration panels' share of the render state: an explicit latent and moves along directions.

Both are request sections (`stylegan3.documents.request.ExplicitLatent`, `LatentMove`), stored on the state as they
will travel, so `render_state(G, state)` (= the request pipeline) stays the headless reference of what the app
shows, and a remote renderer draws the same frame without a direction file:
- the explicit latent (a projection result, a timeline position, a bookmark) replaces the seed's ws while the
  seed-plane position is still the one it was set at: moving to another seed (arrow keys, the Latent panel)
  leaves it. psi and style mixing do not apply to it;
- direction moves (unit vector by value, strength in W units, ws range) are added on top of either.
"""

from __future__ import annotations

import numpy as np
import torch

from sg3_explorer.visualizer.renderer import state_ws  # noqa: F401 - the panels' entry point for "the ws on screen"
from sg3_explorer.visualizer.state import RenderState
from stylegan3.documents.request import ExplicitLatent, Latent


def set_latent(state: RenderState, ws: np.ndarray | torch.Tensor, label: str = "") -> None:
    """Show an explicit latent W+ `[1, num_ws, w_dim]` / `[num_ws, w_dim]` (or W) instead of the seed's."""
    from stylegan3.render.inputs import explicit_latent

    state.explicit = explicit_latent(ws, Latent(float(state.x), float(state.y)), label)


def clear_latent(state: RenderState) -> None:
    state.explicit = ExplicitLatent()


def latent_of(state: RenderState) -> np.ndarray | None:
    """The explicit latent in force as float32 `[1, rows, w_dim]` (None when there is none, or the seed was
    changed since it was set)."""
    ex = state.explicit
    if not ex.applies_to(Latent(float(state.x), float(state.y))):
        return None
    return np.asarray(ex.w, dtype=np.float32)[None]


def latent_label(state: RenderState) -> str:
    return state.explicit.label if latent_of(state) is not None else ""


def set_moves(state: RenderState, directions, moves) -> None:
    """Moves (`stylegan3.explore.directions.DirectionMove`) along `directions`, as the request carries them; no moves
    (or no directions) removes them."""
    from stylegan3.explore.directions import request_moves

    state.moves = () if directions is None or not moves else request_moves(directions, moves)
