"""Request -> image: synthesis, then an explicit ordered list of post-synthesis stages built from the request.

`build_pipeline(request, info)` says which stages run, in order, from the request alone (no registry filled
by panel constructors as a side effect), so every backend and the headless tests compute the same frame.
Order: untransform (acts on the output image) -> layer view or FFT view (replaces the image).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from stylegan3.documents.request import OUTPUT_LAYER, RenderRequest
from stylegan3.networks.cancel import RenderCancelled, ShouldStop
from stylegan3.networks.info import NetworkInfo
from stylegan3.networks.layers import LayerInfo
from stylegan3.render import views
from stylegan3.render.images import to_rgb_uint8
from stylegan3.render.inputs import input_transform, noise_kwargs, request_ws


@dataclass(frozen=True)
class Moments:
    mean: float
    std: float
    max: float


@dataclass(frozen=True)
class LayerStats:
    all: Moments
    selected: Moments


@dataclass(frozen=True)
class FrameStats:
    """What the stages report next to the image (typed: it travels as JSON from a server)."""

    layer_shape: tuple[int, ...] | None = None
    layer_stats: LayerStats | None = None
    layer_error: str | None = None
    residual_psnr_db: float | None = None  # difference view; None with residual_exact when the two agree
    residual_exact: bool = False
    graph: bool = False  # synthesis replayed from a CUDA graph
    graph_reason: str | None = None  # why it ran eagerly (CUDA only)


@dataclass
class Frame:
    """The working state of one render as it passes through the stages."""

    request: RenderRequest
    info: NetworkInfo
    ws: torch.Tensor
    image: torch.Tensor
    synthesize: Callable[[np.ndarray | None], torch.Tensor]  # re-run synthesis with another input transform
    layer: torch.Tensor | None = None
    stats: dict = field(default_factory=dict)


Stage = Callable[[Frame], None]


def output_layer_info(info: NetworkInfo) -> LayerInfo:
    """The image as a layer: its resolution as sampling rate, the last layer's band limits."""
    last = info.layers[-1] if info.layers else None
    res = info.resolution
    return LayerInfo(OUTPUT_LAYER, res, res, info.img_channels, "float32", float(res),
                     last.cutoff if last is not None else None, last.stopband if last is not None else None)


def layer_info(info: NetworkInfo, name: str | None) -> LayerInfo | None:
    """The table row of the layer a request shows: "output" is the image (`output_layer_info`); None when the
    network has no such layer."""
    return output_layer_info(info) if name == OUTPUT_LAYER else info.layer(name) if name else None


def untransform_stage(frame: Frame) -> None:
    """Warp the output back by the inverse input transform; the difference view shows (warped - plain)."""
    from stylegan3.metrics.resample import untransform_image

    req = frame.request
    img = frame.image
    if req.transform.is_identity:
        warped, mask = img.float(), torch.ones_like(img, dtype=torch.float32)
    else:
        warped, mask = untransform_image(img.float(), tuple(req.transform.translate), float(req.transform.rotate))
    warped = warped * mask  # pixels whose kernel reached outside the rendered frame are unknown: grey
    if req.untransform.view == "difference":
        plain = frame.synthesize(None).float()
        psnr = views.residual_psnr(warped, plain, mask)
        frame.stats["residual_exact"] = psnr == math.inf
        frame.stats["residual_psnr_db"] = None if not math.isfinite(psnr) else psnr
        gain = 10.0 ** (float(req.untransform.diff_gain_db) / 20.0)
        frame.image = (warped - plain) * mask * gain
    else:
        frame.image = warped


def _shown_layer(frame: Frame) -> tuple[torch.Tensor, int | None] | None:
    name = frame.request.layer.layer
    t = frame.image if name == OUTPUT_LAYER else frame.layer
    if t is None:
        frame.stats["layer_error"] = f"this network has no layer {name!r}"
        return None
    channel = frame.request.layer.channel
    if channel is not None and not 0 <= channel < t.shape[1]:
        frame.stats["layer_error"] = f"channel {channel} out of range (layer has {t.shape[1]})"
        channel = None
    frame.stats["layer_shape"] = tuple(int(v) for v in t.shape[1:])
    raw = views.layer_stats(t, channel)
    frame.stats["layer_stats"] = LayerStats(Moments(**raw["all"]), Moments(**raw["selected"]))
    return t, channel


def layer_view_stage(frame: Frame) -> None:
    shown = _shown_layer(frame)
    if shown is not None:
        t, channel = shown
        lv = frame.request.layer
        frame.image = views.layer_view(t, channel, bool(lv.normalize), float(lv.gain_db))


def fft_stage(frame: Frame) -> None:
    shown = _shown_layer(frame)
    if shown is None:
        return
    t, channel = shown
    name = frame.request.layer.layer
    info = layer_info(frame.info, name)
    rate = info.sampling_rate if info is not None and info.sampling_rate else float(t.shape[-1])
    source = t[:1].float() if channel is None else views.select_channels(t, channel)
    fft = frame.request.fft
    frame.image = views.fft_image(source, rate, views.layer_marks(info), str(fft.window), float(fft.range_db))


def build_pipeline(request: RenderRequest, info: NetworkInfo) -> tuple[Stage, ...]:
    """The stages this request needs, in order."""
    stages: list[Stage] = []
    layer = request.layer.layer
    if request.untransform.enabled and info.capabilities.input_transform and layer in (None, OUTPUT_LAYER):
        stages.append(untransform_stage)
    if layer:
        stages.append(fft_stage if request.fft.enabled else layer_view_stage)
    return tuple(stages)


def synthesize(G: torch.nn.Module, request: RenderRequest, info: NetworkInfo, ws: torch.Tensor,
               transform: np.ndarray | None, stats: dict | None = None, *, capture: Sequence[str] | None = None,
               should_stop: ShouldStop | None = None) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One synthesis pass with the given inverse input transform (None = identity), graphs where possible.

    The transform, the layers to capture and the cancel check are arguments of synthesis (the first two a
    static input and static outputs of the CUDA graph, like ws): the network is never written or hooked, so
    other users of the same module see no change. With `capture` the result is (image, {name: layer})."""
    extra: dict = {}
    if info.capabilities.input_transform:
        extra["transform"] = torch.from_numpy(np.eye(3) if transform is None else np.asarray(transform)).to(
            device=ws.device, dtype=torch.float32)
    if capture is not None:
        extra["capture"] = capture
    kwargs = noise_kwargs(G, request, ws.device, info.capabilities.seeded_noise)
    if should_stop is not None and info.family == "other":  # a module of another kind takes no should_stop
        if should_stop():
            raise RenderCancelled()
        should_stop = None
    if request.synthesis.cuda_graphs and ws.is_cuda:
        from stylegan3.render.graphs import synthesize as graph_synthesize

        out, reason = graph_synthesize(G, ws, should_stop=should_stop, **extra, **kwargs)
        if stats is not None:
            stats["graph"], stats["graph_reason"] = reason is None, reason
        return out
    if should_stop is not None:
        extra["should_stop"] = should_stop
    return G.synthesis(ws, **extra, **kwargs)


@dataclass
class RenderOutput:
    """One finished render: host pixels (HxWx3 uint8) or an error, with what the stages reported."""

    image: np.ndarray | None
    stats: FrameStats = field(default_factory=FrameStats)
    render_ms: float = 0.0
    error: str | None = None
    cancelled: bool = False
    fatal: bool = False  # the device is in a state only a fresh process recovers from (CUDA error)


def to_host(pixels: torch.Tensor) -> np.ndarray:
    """The one device->host copy of a frame's uint8 pixels (shared memory on the CPU).

    On CUDA the copy goes into page-locked memory from torch's caching host allocator: a DMA straight
    into the array the texture upload (or the encoder) reads, instead of a pageable copy staged through a
    driver buffer. Each frame gets its own block (the allocator recycles it once the array is gone), so a
    frame the GUI still shows is never overwritten by the next one.
    """
    if not pixels.is_cuda:
        return pixels.numpy()
    host = torch.empty(pixels.shape, dtype=pixels.dtype, pin_memory=True)
    host.copy_(pixels, non_blocking=True)
    torch.cuda.current_stream(pixels.device).synchronize()
    return host.numpy()


@torch.no_grad()
def render_tensor(G: torch.nn.Module, request: RenderRequest, info: NetworkInfo, device: torch.device,
                  stats: dict, should_stop: ShouldStop | None = None) -> torch.Tensor:
    """The shown frame as [H, W, 3] uint8 on the device; `RenderCancelled` once `should_stop()` says so.

    `should_stop` is asked before the mapping (a few small layers: not worth asking inside) and then between
    synthesis layers; the shown layer comes back from synthesis as a captured output."""
    if should_stop is not None and should_stop():
        raise RenderCancelled()
    ws = request_ws(G, request, device)
    transform = input_transform(request) if info.capabilities.input_transform else None
    name = request.layer.layer
    layer = None
    if name and name != OUTPUT_LAYER and name in info.layer_names:
        img, layers = synthesize(G, request, info, ws, transform, stats, capture=(name,), should_stop=should_stop)
        layer = layers[name]
    else:
        img = synthesize(G, request, info, ws, transform, stats, should_stop=should_stop)

    def again(t: np.ndarray | None) -> torch.Tensor:
        return synthesize(G, request, info, ws, t, should_stop=should_stop)

    frame = Frame(request, info, ws, img, again, layer, stats)
    for stage in build_pipeline(request, info):
        stage(frame)
    return to_rgb_uint8(frame.image[:1])[0]


def describe_failure(exc: BaseException) -> tuple[str, bool]:
    """(one-line message, fatal): out-of-memory is recoverable, other CUDA errors poison the process."""
    from stylegan3.render.memory import is_out_of_memory, out_of_memory_message

    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    if is_out_of_memory(exc) or "out of memory" in text.lower():
        return out_of_memory_message(exc, "rendering"), False
    cuda_error = type(exc).__name__ == "AcceleratorError" or "CUDA error" in text or "device-side assert" in text
    return f"render failed: {type(exc).__name__}: {text}", cuda_error


def render_request(G: torch.nn.Module, request: RenderRequest, info: NetworkInfo,
                   should_stop: ShouldStop | None = None) -> RenderOutput:
    """Render with timing; errors become a message (and `fatal` for a broken CUDA context), never a raise.
    `should_stop` (asked between layers, never stored on the network) turns a stale render into `cancelled`."""
    from stylegan3.networks.device import device_of

    device = device_of(G)
    stats: dict = {}
    t0 = time.perf_counter()
    try:
        pixels = render_tensor(G, request, info, device, stats, should_stop)
        image = to_host(pixels)
    except RenderCancelled:
        return RenderOutput(image=None, cancelled=True)
    except Exception as exc:  # noqa: BLE001 - a bad request must give a message, never kill the renderer
        from stylegan3.render.memory import release_cached_memory

        message, fatal = describe_failure(exc)
        if not fatal:
            release_cached_memory()
        return RenderOutput(image=None, error=message, fatal=fatal, stats=FrameStats(**stats))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    ms = (time.perf_counter() - t0) * 1000.0
    return RenderOutput(image=image, stats=FrameStats(**stats), render_ms=ms)
