"""The headless reference of what the window shows: `stylegan3.render.pipeline` on a `RenderRequest` with a
module in hand (the window itself never holds one: its frames come from a `RenderBackend` that runs this same
pipeline). Tests compare screenshots with `render_image(G, request)`; no panel has to be built for it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np
import torch

from sg3_explorer.visualizer.backend_renderer import RenderResult, stats_extras
from stylegan3.documents.request import RenderRequest
from stylegan3.networks.device import device_of
from stylegan3.networks.info import NetworkInfo, describe
from stylegan3.ops import backend
from stylegan3.render import pipeline
from stylegan3.render.inputs import request_ws

_INFO: weakref.WeakKeyDictionary[torch.nn.Module, tuple[str, NetworkInfo]] = weakref.WeakKeyDictionary()


def network_info(G: torch.nn.Module) -> NetworkInfo:
    """The NetworkInfo the pipeline needs (layer table, capabilities), computed once per network and device."""
    device = str(device_of(G))
    cached = _INFO.get(G)
    if cached is None or cached[0] != device:
        cached = _INFO[G] = (device, describe(G, "", device=device))
    return cached[1]


def view_ws(G: torch.nn.Module, request: RenderRequest) -> torch.Tensor:
    """The ws `[1, num_ws, w_dim]` the app synthesizes for `request` (mapping, mixing, explicit latent, moves)."""
    with torch.no_grad():
        return request_ws(G, request, device_of(G))


def to_uint8_hwc(img: torch.Tensor) -> torch.Tensor:
    """[1, C, H, W] in about [-1, 1] -> [H, W, 3] uint8 on the same device (the official conversion)."""
    from stylegan3.render.images import to_rgb_uint8

    return to_rgb_uint8(img[:1])[0]


def render_tensor(G: torch.nn.Module, request: RenderRequest, stats: dict | None = None) -> torch.Tensor:
    """The shown image as [H, W, 3] uint8 on G's device (every stage the request asks for applied)."""
    return pipeline.render_tensor(G, request, network_info(G), device_of(G), {} if stats is None else stats)


def render_image(G: torch.nn.Module, request: RenderRequest) -> np.ndarray:
    """Headless render: HxWx3 uint8 numpy, exactly what the app puts on screen for `request`."""
    return render_tensor(G, request).cpu().numpy()


def timed_render(
    G: torch.nn.Module, request: RenderRequest, should_stop: Callable[[], bool] | None = None
) -> RenderResult:
    """Render the window's request (or a comparison pane's) with timing and device info; errors become a
    message instead of an exception. The result's `request` is what was asked for."""
    device = device_of(G)
    out = pipeline.render_request(G, request, network_info(G), should_stop)
    impl = backend.active_impl(device) + ("+graph" if out.stats.graph else "")
    return RenderResult(image=out.image, request=request, render_ms=out.render_ms, device=str(device), impl=impl,
                        error=out.error, extras=stats_extras(out.stats))
