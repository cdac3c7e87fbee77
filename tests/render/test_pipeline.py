"""The request pipeline (stylegan3.render) draws exactly what the app's renderer draws for the same request."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sg3_explorer.visualizer.renderer import render_image
from stylegan3.documents.request import (
    FFTView,
    Latent,
    LayerView,
    Noise,
    RenderRequest,
    StyleMix,
    Transform,
    Truncation,
    Untransform,
    from_json,
    to_json,
)
from stylegan3.networks.info import NetworkInfo, describe
from stylegan3.render.pipeline import build_pipeline, fft_stage, layer_view_stage, render_request, untransform_stage
from tests.support.nets import KINDS, tiny_net

STATES = {
    "plain": RenderRequest(latent=Latent(3)),
    "moved": RenderRequest(latent=Latent(1), truncation=Truncation(0.7), transform=Transform((0.25, -0.125), 0.05)),
    "blend-mix": RenderRequest(latent=Latent(2.5, y=0.25), mix=StyleMix(seed=4, ws=(1, 2))),
    "random-noise": RenderRequest(latent=Latent(1), noise=Noise(mode="random", seed=5)),
    "untransform": RenderRequest(latent=Latent(1), transform=Transform((0.1, 0.05), 0.02),
                                 untransform=Untransform(True)),
    "difference": RenderRequest(latent=Latent(1), transform=Transform((0.1, 0.0)),
                                untransform=Untransform(True, "difference", 12.0)),
    "fft-output": RenderRequest(latent=Latent(2), layer=LayerView("output"), fft=FFTView(True, "hann")),
    "bad-layer": RenderRequest(latent=Latent(2), layer=LayerView(layer="nope")),
}


def _layer_request(G, fft: bool) -> RenderRequest:
    name = describe(G, "t").layers[2].name
    return RenderRequest(latent=Latent(1), transform=Transform((0.2, 0.1)), fft=FFTView(fft, range_db=60.0),
                         layer=LayerView(name, channel=1 if fft else None, normalize=True, gain_db=6.0))


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_pipeline_pixels_equal_the_app_renderer(kind):
    G = tiny_net(kind, res=16)
    info = describe(G, kind)
    from sg3_explorer.visualizer.explore import with_latent, with_moves
    from stylegan3.documents.request import NetworkRef
    from stylegan3.explore.directions import DirectionMove, Directions

    states = dict(STATES, layer=_layer_request(G, False), fft=_layer_request(G, True))
    projected = RenderRequest(latent=Latent(4), truncation=Truncation(0.5))
    projected = with_latent(projected, torch.randn(1, G.num_ws, G.w_dim, generator=torch.Generator().manual_seed(1)),
                            "p")
    vecs = np.eye(2, G.w_dim, dtype=np.float32)
    projected = with_moves(projected, Directions(vecs, np.array([2.0, 1.0]), np.zeros(G.w_dim), kind="pca"),
                           (DirectionMove(0, 1.5, (0, 1)), DirectionMove(1, -3.0, None)))
    states["explicit-moves"] = projected
    states["explicit-left"] = projected.edit("latent", x=5.0)  # another seed: the explicit latent no longer applies
    for label, state in states.items():
        sent = state.for_frame().replace(network=NetworkRef(kind))
        request = from_json(to_json(sent))  # as a child / server receives it
        out = render_request(G, request, info)
        assert out.error is None, (label, out.error)
        expect = render_image(G, state)
        assert out.image.shape == expect.shape and out.image.dtype == np.uint8
        assert np.array_equal(out.image, expect), f"{kind} {label}: {np.abs(out.image.astype(int) - expect).max()}"
    # the layer view reported what it showed
    out = render_request(G, states["layer"], info)
    assert out.stats.layer_shape is not None and out.stats.layer_shape[0] == info.layers[2].channels
    assert out.stats.layer_stats.all.std > 0
    assert render_request(G, STATES["bad-layer"], info).stats.layer_error == (
        "this network has no layer 'nope'")


def test_pipeline_is_an_explicit_list_built_from_the_request():
    G = tiny_net("SG3-T")
    sg3, sg2 = describe(G, "a"), describe(tiny_net("SG2"), "b")
    r = RenderRequest()
    assert build_pipeline(r, sg3) == ()
    moved = r.replace(untransform=Untransform(True), transform=Transform((0.1, 0.0)))
    assert build_pipeline(moved, sg3) == (untransform_stage,)
    assert build_pipeline(moved, sg2) == ()  # StyleGAN2 cannot be untransformed
    layer = moved.replace(layer=LayerView("output"), fft=FFTView(True))
    assert build_pipeline(layer, sg3) == (untransform_stage, fft_stage)
    assert build_pipeline(layer.replace(layer=LayerView(sg3.layers[1].name)), sg3) == (fft_stage,)
    assert build_pipeline(r.replace(layer=LayerView("L1")), sg3) == (layer_view_stage,)


def test_difference_view_reports_the_residual_psnr():
    G = tiny_net("SG3-T")
    info = describe(G, "a")
    r = RenderRequest(transform=Transform((0.1, 0.0), 0.1), untransform=Untransform(True, "difference"))
    out = render_request(G, r, info)
    assert out.stats.residual_psnr_db is not None and 0 < out.stats.residual_psnr_db < 100
    assert not out.stats.residual_exact and int(np.abs(out.image.astype(int) - 128).max()) > 0
    identity = render_request(G, r.replace(transform=Transform()), info)
    assert identity.stats.residual_exact and identity.stats.residual_psnr_db is None
    assert int(np.abs(identity.image.astype(int) - 128).max()) == 0  # no residual at all: flat grey


def test_info_json_round_trip():
    info = describe(tiny_net("SG3-R"), "x")
    assert NetworkInfo.from_dict(info.to_dict()) == info
    assert info.kind == "SG3-R" and info.capabilities.input_transform and info.layers[0].name == "input"


def test_a_failing_render_is_a_message():
    G = tiny_net("SG2")
    info = describe(G, "a")
    G.synthesis.forward = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom"))
    out = render_request(G, RenderRequest(), info)
    assert out.image is None and out.error == "render failed: RuntimeError: boom" and not out.fatal
    torch.manual_seed(0)


def test_failures_are_classified_for_the_child_process():
    """Out of memory is a message (the renderer frees its cache and goes on); other CUDA errors poison the
    process, so a child renderer exits and is restarted."""
    from stylegan3.render.pipeline import describe_failure

    msg, fatal = describe_failure(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert msg.startswith("out of GPU memory while rendering (tried to allocate 2") and not fatal
    msg, fatal = describe_failure(RuntimeError("CUDA error: an illegal memory access was encountered"))
    assert fatal and msg == "render failed: RuntimeError: CUDA error: an illegal memory access was encountered"
    assert describe_failure(ValueError("bad channel")) == ("render failed: ValueError: bad channel", False)
