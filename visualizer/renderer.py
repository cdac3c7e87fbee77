"""State -> image, with no GUI code: the same functions serve the worker thread, the CLI and the tests.

`render_state(G, state)` is the headless reference the GUI tests compare screenshots against, so the app shows
exactly what the library computes. Image stages registered with `register_stage` (layer views, untransform,
spectra; added by the analysis panels) run after synthesis and may replace the image.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from stylegan3.generate import device_of
from stylegan3.ops import backend
from stylegan3.render.cancel import RenderCancelled, cancellable  # noqa: F401 - re-exported
from visualizer.state import RenderState, ws_selection

# A stage gets (G, state, ws, image [1, C, H, W] float) and returns the image to show next (or the same one),
# optionally filling `extras` (e.g. layer statistics) for its panel.
ImageStage = Callable[[Any, RenderState, torch.Tensor, torch.Tensor, dict], torch.Tensor]
_STAGES: list[ImageStage] = []


def register_stage(stage: ImageStage) -> None:
    """Add a post-synthesis stage (idempotent). Extension point for the layer / equivariance panels."""
    if stage not in _STAGES:
        _STAGES.append(stage)


# A ws stage gets (G, state, ws [1, num_ws, w_dim]) after mapping and style mixing and returns the ws to
# synthesize (e.g. a projected latent instead, or moved along semantic directions).
WsStage = Callable[[Any, RenderState, torch.Tensor], torch.Tensor]
_WS_STAGES: list[WsStage] = []


def register_ws_stage(stage: WsStage) -> None:
    """Add a latent stage (idempotent). Extension point for the directions / projection / timeline panels."""
    if stage not in _WS_STAGES:
        _WS_STAGES.append(stage)


def choose_device(cpu: bool = False, device: str | None = None) -> torch.device:
    """`device` when given (cpu, cuda, cuda:N, mps), else the GPU when there is one (unless `cpu`), else the CPU."""
    from stylegan3.loading.build import resolve_device

    return resolve_device("cpu" if cpu else device)


def prepare_network(G: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Inference setup: eval mode, no grads, on `device`."""
    G = G.eval().requires_grad_(False)
    return G.to(device)


def seed_plane_z(x: float, y: float, z_dim: int) -> np.ndarray:
    """z for a position in the seed plane: exact seeds at integers, bilinear blend in between."""
    from stylegan3.latents import blend_seeds, z_from_seed

    if float(x).is_integer() and float(y).is_integer() and y == 0:
        return np.asarray(z_from_seed(int(x), z_dim), dtype=np.float32).reshape(1, z_dim)
    return np.asarray(blend_seeds(x, y, z_dim), dtype=np.float32).reshape(1, z_dim)


def class_vector(G: torch.nn.Module, class_idx: int, device: torch.device) -> torch.Tensor:
    """One-hot label for conditional nets (the GUI's class index wraps around), an empty [1, 0] tensor otherwise."""
    from stylegan3.latents import class_vector as one_hot

    return one_hot(G.c_dim, int(class_idx) % G.c_dim if G.c_dim else None, device)


def compute_ws(G: torch.nn.Module, state: RenderState) -> torch.Tensor:
    """Mapping output [1, num_ws, w_dim] for the state's latent, truncation and style mix."""
    from stylegan3.latents import z_from_seed

    device = device_of(G)
    c = class_vector(G, state.class_idx, device)
    z = torch.from_numpy(seed_plane_z(state.x, state.y, G.z_dim)).to(device)
    kwargs = dict(truncation_psi=float(state.psi), truncation_cutoff=state.cutoff)
    ws = G.mapping(z, c, **kwargs)
    mix = ws_selection(state.mix_ws, G.num_ws)
    if mix:
        z_mix = torch.from_numpy(np.asarray(z_from_seed(int(state.mix_seed), G.z_dim), dtype=np.float32))
        ws_mix = G.mapping(z_mix.reshape(1, -1).to(device), c, **kwargs)
        ws = ws.clone()
        ws[:, list(mix)] = ws_mix[:, list(mix)]
    for stage in list(_WS_STAGES):
        ws = stage(G, state, ws)
    return ws


def transform_kwargs(G: torch.nn.Module, state: RenderState) -> dict[str, Any]:
    """`{"transform": inverse(M)}` for synthesis of an SG3 net (nothing for SG2): passed as an argument, so
    the network shared with panes and jobs is never changed by this view."""
    from stylegan3 import families
    from stylegan3.transform import input_transform

    if not families.capabilities(G).input_transform:
        return {}
    m = input_transform(tuple(state.translate), float(state.rotate))
    return {"transform": torch.from_numpy(m).to(device=device_of(G), dtype=torch.float32)}


def synthesize(
    G: torch.nn.Module, state: RenderState, ws: torch.Tensor, extras: dict | None = None
) -> torch.Tensor:
    """Synthesis image [1, C, H, W] float; random noise is reproducible through `noise_seed`.

    On CUDA the pass is replayed from a captured CUDA graph when it can be (`stylegan3.graphs`);
    `extras["graph"]` then says True, or `extras["graph_reason"]` says why it ran eagerly.
    """
    from stylegan3 import families

    kwargs: dict[str, Any] = dict(noise_mode=state.noise_mode, force_fp32=bool(state.force_fp32))
    kwargs.update(transform_kwargs(G, state))
    if state.noise_mode == "random" and families.capabilities(G).seeded_noise:
        # A generator of our own, not the process-wide RNG that other render threads and jobs draw from too.
        gen = torch.Generator(device=device_of(G))
        gen.manual_seed(int(state.noise_seed))
        kwargs["noise_generator"] = gen
    if state.cuda_graphs and ws.is_cuda:
        from stylegan3.graphs import synthesize as graph_synthesize

        img, reason = graph_synthesize(G, ws, **kwargs)
        if extras is not None:
            extras["graph"] = reason is None
            extras["graph_reason"] = reason
        return img
    return G.synthesis(ws, **kwargs)


def to_uint8_hwc(img: torch.Tensor) -> torch.Tensor:
    """[1, C, H, W] in about [-1, 1] -> [H, W, 3] uint8 on the same device (the official conversion)."""
    from stylegan3.imageutil import to_rgb_uint8

    return to_rgb_uint8(img[:1])[0]


def to_host(pixels: torch.Tensor) -> np.ndarray:
    """The one device->host copy of a frame's uint8 pixels (shared memory on the CPU).

    On CUDA the copy goes into page-locked memory from torch's caching host allocator: a DMA straight
    into the array the texture upload reads, instead of a pageable copy staged through a driver buffer.
    Each frame gets its own block (the allocator recycles it once the array is gone), so a frame the
    GUI still shows is never overwritten by the next one.
    """
    if not pixels.is_cuda:
        return pixels.numpy()
    host = torch.empty(pixels.shape, dtype=pixels.dtype, pin_memory=True)
    host.copy_(pixels, non_blocking=True)
    torch.cuda.current_stream(pixels.device).synchronize()
    return host.numpy()


@dataclass
class RenderResult:
    """One finished render. `image` is host memory (HxWx3 uint8) ready for the texture upload."""

    image: np.ndarray | None
    state: RenderState
    request_id: int = 0
    network_id: int = 0
    render_ms: float = 0.0
    device: str = "cpu"
    impl: str = "ref"
    error: str | None = None
    extras: dict = field(default_factory=dict)
    cancelled: bool = False


@contextlib.contextmanager
def capture_layer(G: torch.nn.Module, name: str | None, extras: dict):
    """While active, keep the output of synthesis layer `name` in `extras["layer"]` (for the layer view stage).

    Taken from the one synthesis pass that makes the image, so showing a layer costs no second render. An
    unknown name (a state left over from another network) captures nothing; the stage then says so.
    """
    from stylegan3.layers import layer_outputs

    if name:
        try:
            G.synthesis.get_submodule(name)
        except AttributeError:
            name = None
    with layer_outputs(G, [name] if name else []) as captured:
        try:
            yield
        finally:
            if name in captured:
                extras["layer"] = captured[name]


@torch.no_grad()
def render_tensor(G: torch.nn.Module, state: RenderState, extras: dict | None = None) -> torch.Tensor:
    """The shown image as [H, W, 3] uint8 on G's device (stages applied)."""
    extras = {} if extras is None else extras
    ws = compute_ws(G, state)
    with capture_layer(G, state.layer_name, extras):
        img = synthesize(G, state, ws, extras)
    for stage in list(_STAGES):
        img = stage(G, state, ws, img, extras)
    return to_uint8_hwc(img)


def render_state(G: torch.nn.Module, state: RenderState) -> np.ndarray:
    """Headless render: HxWx3 uint8 numpy, exactly what the app puts on screen for `state`."""
    return render_tensor(G, state).cpu().numpy()


def timed_render(
    G: torch.nn.Module, state: RenderState, should_stop: Callable[[], bool] | None = None
) -> RenderResult:
    """Render with timing and device info; errors become a message instead of an exception."""
    device = device_of(G)
    t0 = time.perf_counter()
    extras: dict = {}
    try:
        with cancellable(G, device, should_stop):
            out = render_tensor(G, state, extras)
        image = to_host(out)
        error = None
    except RenderCancelled:
        return RenderResult(image=None, state=state, device=str(device), cancelled=True)
    except Exception as exc:  # noqa: BLE001 - a bad state must show a message, never kill the worker
        from stylegan3.memory import is_out_of_memory, out_of_memory_message, release_cached_memory

        if is_out_of_memory(exc):
            release_cached_memory()
            image, error = None, out_of_memory_message(exc, "rendering")
        else:
            image, error = None, f"render failed: {type(exc).__name__}: {exc}"
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    ms = (time.perf_counter() - t0) * 1000.0
    impl = backend.active_impl(device) + ("+graph" if extras.get("graph") else "")
    return RenderResult(
        image=image, state=state, render_ms=ms, device=str(device), impl=impl, error=error, extras=extras
    )
