"""The render state's share of the exploration panels: an explicit latent and moves along directions.

`RenderState` must stay comparable with `==` and cheap to copy, so arrays enter `state.extras` wrapped in a
`Frozen` value: compared by identity token, never mutated. The ws stage below (registered with the renderer)
reads two keys:
- `"latent"`: `Frozen((ws [1, num_ws, w_dim], x, y))` replaces the seed's ws (a projection result, a timeline
  position, a bookmark) while the seed-plane position is still the `(x, y)` it was set at: moving to another
  seed (arrow keys, the Latent panel) leaves the explicit latent. psi and style mixing do not apply to it.
- `"directions"` + `"direction_moves"`: `Frozen(Directions)` and a tuple of `DirectionMove`, added on top.

`render_state(G, state)` therefore stays the headless reference of what the app shows.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import torch

from visualizer.renderer import register_ws_stage
from visualizer.state import RenderState

LATENT = "latent"
LATENT_LABEL = "latent_label"
DIRECTIONS = "directions"
MOVES = "direction_moves"

_tokens = itertools.count(1)


class Frozen:
    """An immutable payload with identity equality, so states holding it compare and copy cheaply."""

    __slots__ = ("value", "token")

    def __init__(self, value: Any) -> None:
        self.value = value
        self.token = next(_tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Frozen) and other.token == self.token

    def __hash__(self) -> int:
        return hash(self.token)

    def __repr__(self) -> str:
        return f"Frozen#{self.token}"


def set_latent(state: RenderState, ws: np.ndarray | torch.Tensor, label: str = "") -> None:
    """Show an explicit latent `[1, num_ws, w_dim]` (or `[num_ws, w_dim]`) instead of the seed's."""
    arr = ws.detach().cpu().numpy() if isinstance(ws, torch.Tensor) else np.asarray(ws)
    arr = np.ascontiguousarray(arr.reshape((1,) + arr.shape[-2:]), dtype=np.float32)
    arr.setflags(write=False)
    state.extras[LATENT] = Frozen((arr, float(state.x), float(state.y)))
    state.extras[LATENT_LABEL] = label


def clear_latent(state: RenderState) -> None:
    state.extras.pop(LATENT, None)
    state.extras.pop(LATENT_LABEL, None)


def latent_of(state: RenderState) -> np.ndarray | None:
    """The explicit latent in force (None when there is none, or the seed was changed since it was set)."""
    ref = state.extras.get(LATENT)
    if not isinstance(ref, Frozen):
        return None
    arr, x, y = ref.value
    return arr if (float(state.x), float(state.y)) == (x, y) else None


def set_moves(state: RenderState, directions: Frozen | None, moves: tuple) -> None:
    """Directions (wrapped) and the moves along them; no moves (or no directions) removes both keys."""
    if directions is None or not moves:
        state.extras.pop(DIRECTIONS, None)
        state.extras.pop(MOVES, None)
        return
    state.extras[DIRECTIONS] = directions
    state.extras[MOVES] = tuple(moves)


def explore_ws(G: Any, state: RenderState, ws: torch.Tensor) -> torch.Tensor:
    """The ws stage: explicit latent first, then direction moves (a projected face can be moved too)."""
    from stylegan3.directions import apply_moves

    latent = latent_of(state)
    if latent is not None and tuple(latent.shape[1:]) == tuple(ws.shape[1:]):
        ws = torch.from_numpy(latent.copy()).to(device=ws.device, dtype=ws.dtype)
    ref, moves = state.extras.get(DIRECTIONS), state.extras.get(MOVES)
    if isinstance(ref, Frozen) and moves and ref.value.w_dim == ws.shape[-1]:
        ws = apply_moves(ws, ref.value, [m for m in moves if 0 <= m.index < len(ref.value)])
    return ws


@torch.no_grad()
def state_ws(G: Any, state: RenderState) -> torch.Tensor:
    """The ws `[1, num_ws, w_dim]` the app synthesizes for `state` (mapping, mixing, every ws stage)."""
    from visualizer.renderer import compute_ws

    return compute_ws(G, state)


register_ws_stage(explore_ws)
