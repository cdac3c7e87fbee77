"""The render state's explicit latent and direction moves (visualizer.explore), headless."""

from __future__ import annotations

import numpy as np
import torch

from sg3_explorer.visualizer.explore import clear_latent, latent_of, set_latent, set_moves
from sg3_explorer.visualizer.renderer import render_image
from stylegan3.documents.request import Latent, RenderRequest
from stylegan3.explore.directions import DirectionMove, apply_moves, pca_directions
from stylegan3.explore.interpolation import seed_ws
from stylegan3.render.images import to_numpy_rgb
from tests.support.toy_generators import tiny_network


def _image(G, ws):
    with torch.no_grad():
        return to_numpy_rgb(G.synthesis(ws, noise_mode="const"))


def test_explicit_latent_and_moves_are_what_the_app_renders():
    G = tiny_network("sg3")
    state = RenderRequest(latent=Latent(2.0))
    ws = seed_ws(G, [9])
    set_latent(state, ws, "test")
    assert state == state.copy() and state != RenderRequest(latent=Latent(2.0))
    np.testing.assert_array_equal(render_image(G, state), _image(G, ws))
    d = pca_directions(G, samples=300)
    moves = (DirectionMove(1, 2.0, (0, 1)),)
    set_moves(state, d, moves)
    np.testing.assert_array_equal(render_image(G, state), _image(G, apply_moves(ws, d, moves)))
    # Both travel in the request by value: its JSON rendered elsewhere (no direction file) gives the same bits.
    from sg3_explorer.visualizer.renderer import network_info
    from sg3_explorer.visualizer.request_adapter import request_from_state, state_from_request
    from stylegan3.documents.request import from_json, to_json
    from stylegan3.render.pipeline import render_request

    request = from_json(to_json(request_from_state(state)))
    assert request.explicit.label == "test" and len(request.moves) == 1 and request.moves[0].ws == (0, 1)
    np.testing.assert_array_equal(render_request(G, request, network_info(G)).image, render_image(G, state))
    assert state_from_request(request) == state
    # Another seed leaves the explicit latent (the moves stay), clearing it gives the plain seed back.
    state.x = 3.0
    assert latent_of(state) is None
    np.testing.assert_array_equal(render_image(G, state), _image(G, apply_moves(seed_ws(G, [3]), d, moves)))
    set_moves(state, None, ())
    clear_latent(state)
    assert state == RenderRequest(latent=Latent(3.0))
    # A latent of the wrong shape (another network's) is ignored rather than crashing the render.
    set_latent(state, np.zeros([1, 3, 5]))
    np.testing.assert_array_equal(render_image(G, state), _image(G, seed_ws(G, [3])))
