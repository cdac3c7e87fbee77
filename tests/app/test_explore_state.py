"""The window request's explicit latent and direction moves (visualizer.explore), headless."""

from __future__ import annotations

import numpy as np
import torch

from sg3_explorer.visualizer.explore import latent_label, latent_of, with_latent, with_moves, without_latent
from sg3_explorer.visualizer.renderer import render_image
from stylegan3.documents.request import ExplicitLatent, Latent, RenderRequest
from stylegan3.explore.directions import DirectionMove, apply_moves, pca_directions
from stylegan3.explore.interpolation import seed_ws
from stylegan3.render.images import to_numpy_rgb
from tests.support.nets import SMALL_16PX, tiny_net


def _image(G, ws):
    with torch.no_grad():
        return to_numpy_rgb(G.synthesis(ws, noise_mode="const"))


def test_explicit_latent_and_moves_are_what_the_app_renders():
    G = tiny_net("sg3", **SMALL_16PX)
    plain = RenderRequest(latent=Latent(2.0))
    ws = seed_ws(G, [9])
    request = with_latent(plain, ws, "test")
    assert request != plain and plain.explicit == ExplicitLatent()  # frozen: an edited copy, the original kept
    assert latent_label(request) == "test" and np.array_equal(latent_of(request), ws.numpy())
    np.testing.assert_array_equal(render_image(G, request), _image(G, ws))
    d = pca_directions(G, samples=300)
    moves = (DirectionMove(1, 2.0, (0, 1)),)
    request = with_moves(request, d, moves)
    np.testing.assert_array_equal(render_image(G, request), _image(G, apply_moves(ws, d, moves)))
    # Both travel in the request by value: its JSON rendered elsewhere (no direction file) gives the same bits.
    from sg3_explorer.visualizer.renderer import network_info
    from stylegan3.documents.request import from_json, to_json
    from stylegan3.render.pipeline import render_request

    sent = from_json(to_json(request.for_frame()))
    assert sent == request and sent.explicit.label == "test" and len(sent.moves) == 1 and sent.moves[0].ws == (0, 1)
    np.testing.assert_array_equal(render_request(G, sent, network_info(G)).image, render_image(G, request))
    # Another seed leaves the explicit latent (the moves stay), clearing it gives the plain seed back.
    elsewhere = request.edit("latent", x=3.0)
    assert latent_of(elsewhere) is None and latent_label(elsewhere) == ""
    np.testing.assert_array_equal(render_image(G, elsewhere), _image(G, apply_moves(seed_ws(G, [3]), d, moves)))
    # ... and is not sent with its frames (~200 KiB of JSON per frame for a W+ latent), but the window keeps it:
    # back at its position, it shows again.
    assert elsewhere.for_frame().explicit == ExplicitLatent() and elsewhere.explicit == request.explicit
    assert elsewhere.edit("latent", x=2.0).for_frame() == request
    cleared = without_latent(with_moves(elsewhere, None, ()))
    assert cleared == RenderRequest(latent=Latent(3.0))
    # A latent of the wrong shape (another network's) is ignored rather than crashing the render.
    wrong = with_latent(cleared, np.zeros([1, 3, 5]))
    np.testing.assert_array_equal(render_image(G, wrong), _image(G, seed_ws(G, [3])))
