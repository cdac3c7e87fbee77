"""Request -> image for the window's own render thread, the CLI and the tests: the request pipeline, nothing else.

Every frame is `stylegan3.render.pipeline` applied to the window's request, the very code a child process or a
remote server runs, so `render_image(G, request)` is the headless reference the GUI tests compare screenshots
against and no panel has to be built first for it to match the screen.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from stylegan3.documents.request import RenderRequest
from stylegan3.networks.device import device_of
from stylegan3.networks.info import NetworkInfo, describe
from stylegan3.ops import backend
from stylegan3.render import pipeline
from stylegan3.render.cancel import RenderCancelled, cancellable  # noqa: F401 - re-exported
from stylegan3.render.inputs import request_ws
from stylegan3.render.pipeline import FrameStats, to_host  # noqa: F401 - to_host re-exported


def choose_device(cpu: bool = False, device: str | None = None) -> torch.device:
    """`device` when given (cpu, cuda, cuda:N, mps), else the GPU when there is one (unless `cpu`), else the CPU."""
    from stylegan3.loading.build import resolve_device

    return resolve_device("cpu" if cpu else device)


def prepare_network(G: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Inference setup: eval mode, no grads, on `device`."""
    G = G.eval().requires_grad_(False)
    return G.to(device)


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


@dataclass
class RenderResult:
    """One finished render. `image` is host memory (HxWx3 uint8) ready for the texture upload; `extras` holds
    what the stages reported (`stats_extras`) and, from a backend, the transport numbers."""

    image: np.ndarray | None
    request: RenderRequest  # what was submitted: the window's request, or a pane's
    request_id: int = 0
    network_id: int = 0
    render_ms: float = 0.0
    device: str = "cpu"
    impl: str = "ref"
    error: str | None = None
    extras: dict = field(default_factory=dict)
    cancelled: bool = False


def stats_extras(stats: FrameStats) -> dict:
    """FrameStats in the `extras` shape the panels read (layer shape / stats / error, residual PSNR, graphs)."""
    out: dict = {}
    if stats.layer_shape is not None:
        out["layer_shape"] = tuple(stats.layer_shape)
    if stats.layer_stats is not None:
        out["layer_stats"] = {part: {"mean": m.mean, "std": m.std, "max": m.max}
                              for part, m in (("all", stats.layer_stats.all), ("selected", stats.layer_stats.selected))}
    if stats.layer_error is not None:
        out["layer_error"] = stats.layer_error
    if stats.residual_exact:
        out["residual_psnr"] = math.inf
    elif stats.residual_psnr_db is not None:
        out["residual_psnr"] = stats.residual_psnr_db
    if stats.graph or stats.graph_reason is not None:  # only CUDA renders try graphs
        out["graph"] = stats.graph
        out["graph_reason"] = stats.graph_reason
    return out


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
    if out.cancelled:
        return RenderResult(image=None, request=request, device=str(device), cancelled=True)
    impl = backend.active_impl(device) + ("+graph" if out.stats.graph else "")
    return RenderResult(image=out.image, request=request, render_ms=out.render_ms, device=str(device), impl=impl,
                        error=out.error, extras=stats_extras(out.stats))
