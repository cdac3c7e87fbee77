"""The app's renderer interface over a backend: same pixels and panel statistics as the in-process renderer."""

from __future__ import annotations

import time

import numpy as np

from sg3_explorer.visualizer.backend_renderer import BackendRenderer, FrameChannels
from sg3_explorer.visualizer.renderer import timed_render
from stylegan3.documents.request import Latent, LayerView, RenderRequest, Transform, Untransform
from stylegan3.loading.native import save_native
from stylegan3.service.thread_backend import ThreadBackend
from tests.support.nets import tiny_net


def _wait(r: BackendRenderer, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        res = r.poll()
        if res is not None:
            return res
        time.sleep(0.01)
    raise AssertionError("no result")


def test_backend_renderer_matches_the_app_renderer(tmp_path):
    G = tiny_net("SG3-T", res=16)
    path = save_native(G, tmp_path / "n.safetensors")
    r = BackendRenderer(FrameChannels(ThreadBackend("cpu")), device="cpu")
    try:
        assert not r.submit(RenderRequest())  # no network yet
        r.set_network(str(path), 1)
        request = RenderRequest(latent=Latent(2), transform=Transform(translate=(0.1, 0.0)),
                                untransform=Untransform(enabled=True, view="difference"))
        assert r.submit(request) and not r.submit(request)  # unchanged: nothing to do
        res = _wait(r)
        want = timed_render(G, request)
        assert res.error is None and np.array_equal(res.image, want.image) and res.request == request
        assert res.extras["residual_psnr"] == want.extras["residual_psnr"]
        assert res.extras["transport"] == "thread" and res.extras["round_trip_ms"] >= res.render_ms
        layer = RenderRequest(latent=Latent(2), layer=LayerView(layer=G.synthesis.layer_names[1]))
        r.submit(layer)
        res = _wait(r)
        want = timed_render(G, layer)
        assert np.array_equal(res.image, want.image)
        assert res.extras["layer_stats"] == want.extras["layer_stats"]
        assert res.extras["layer_shape"] == want.extras["layer_shape"]
        r.submit(RenderRequest(latent=Latent(5)))
        r.set_network(str(path), 2)  # a frame still coming for network 1 is dropped
        assert r.wait_idle(60)
        assert r.poll() is None
    finally:
        r.backend.close()
