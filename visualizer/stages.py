"""Post-synthesis stages of the analysis panels: layer view, FFT view and untransform (no GUI code).

The renderer calls `analysis_stage` after synthesis (see `visualizer.renderer.register_stage`); it reads only
the RenderState, so the headless `render_state` shows exactly what the app shows and tests can check every
pixel. Settings without a RenderState field live in `state.extras` under the keys listed in `DEFAULTS`.

Layer view mapping (documented, tests rely on it). For the captured layer output `t` ([1, C, H, W]):
  1. channels: `state.channel = None` takes the first three channels as R, G, B (fewer than three: the
     missing ones are zero, a single channel is shown grey); `state.channel = k` shows channel k in grey;
  2. normalise (extras "layer_normalize"): divide by the largest |value| of the shown channels;
  3. brightness (extras "layer_gain_db"): multiply by 10 ** (dB / 20);
  4. the usual image conversion, pixel = clamp(x * 127.5 + 128, 0, 255) truncated to uint8.
`state.layer_name = "output"` treats the generated image itself as the layer (to see its spectrum);
`None` leaves the image alone.

FFT view (`state.fft` with a layer chosen): the windowed power spectrum of the layer (mean over all its
channels; only channel k when `state.channel = k`) in dB relative to its peak, mapped linearly from -range dB
(black) to 0 dB (white), enlarged by an integer factor (nearest) to at least `FFT_MIN_SIZE` pixels, with
circles of radius cutoff (green), stopband (yellow) and Nyquist (red) drawn on it (dashed where two coincide),
so energy beyond the layer's band limit is visible.

Untransform (`state.untransform` on an SG3 net): the output rendered with the input transform is warped back
by the inverse transform with windowed-sinc resampling (`stylegan3.analysis.resample.untransform_image`); a
perfectly equivariant net then shows a still image. The "difference" view renders the untransformed image too
and shows (warped back - plain) amplified by "diff_gain_db"; both report the PSNR of the residual.
"""

from __future__ import annotations

import torch

from stylegan3.analysis.resample import untransform_image
from stylegan3.layers import LayerInfo, list_layers
from stylegan3.render.views import (  # noqa: F401 - the view math lives in the library; re-exported for the panels
    FFT_MIN_SIZE,
    MARK_COLOURS,
    fft_image,
    layer_marks,
    layer_stats,
    layer_view,
    mark_radius_px,
    residual_psnr,
    select_channels,
    spectrum_db,
)
from stylegan3.transform import has_input_transform

OUTPUT = "output"  # pseudo layer name: the generated image
WINDOWS = ("kaiser", "hann", "none")
UNTRANSFORM_VIEWS = ("warped", "difference")
DEFAULTS = {
    "layer_normalize": False,
    "layer_gain_db": 0.0,
    "fft_range_db": 80.0,
    "fft_window": "kaiser",
    "untransform_view": "warped",
    "diff_gain_db": 20.0,
}


def setting(state, key: str):
    """An analysis setting from `state.extras`, or its default."""
    return state.extras.get(key, DEFAULTS[key])


# -- layer view ----------------------------------------------------------------------------------------------


# -- FFT view ------------------------------------------------------------------------------------------------


def layer_info(G: torch.nn.Module, name: str) -> LayerInfo | None:
    """The LayerInfo of `name`; for "output" the image with the last layer's band limits."""
    layers = list_layers(G)
    if name != OUTPUT:
        return next((info for info in layers if info.name == name), None)
    res = int(G.img_resolution)
    last = layers[-1] if layers else None
    cutoff = last.cutoff if last is not None and last.cutoff is not None else None
    stop = last.stopband if last is not None and last.stopband is not None else None
    return LayerInfo(OUTPUT, res, res, int(G.img_channels), "float32", float(res), cutoff, stop)


# -- untransform ---------------------------------------------------------------------------------------------

def is_transformed(state) -> bool:
    return bool(state.translate[0] or state.translate[1] or state.rotate)


def untransform_step(G: torch.nn.Module, state, ws: torch.Tensor, img: torch.Tensor, extras: dict) -> torch.Tensor:
    """Warp the output back by the inverse input transform (and optionally show the residual)."""
    if not state.untransform or not has_input_transform(G):
        return img
    if not is_transformed(state):
        warped, mask = img.float(), torch.ones_like(img, dtype=torch.float32)
    else:
        warped, mask = untransform_image(img.float(), tuple(state.translate), float(state.rotate))
    warped = warped * mask  # pixels whose kernel reached outside the rendered frame are unknown: grey
    view = setting(state, "untransform_view")
    if view == "difference":
        from visualizer.renderer import synthesize

        plain = synthesize(G, state.copy(translate=(0.0, 0.0), rotate=0.0), ws).float()
        extras["residual_psnr"] = residual_psnr(warped, plain, mask)
        gain = 10.0 ** (float(setting(state, "diff_gain_db")) / 20.0)
        return (warped - plain) * mask * gain
    return warped


# -- the stage -----------------------------------------------------------------------------------------------

def layer_step(G: torch.nn.Module, state, img: torch.Tensor, extras: dict) -> torch.Tensor:
    """Replace the image by the chosen layer's view or FFT view, and report the layer's statistics."""
    name = state.layer_name
    if not name:
        extras.pop("layer", None)
        return img
    t = img if name == OUTPUT else extras.pop("layer", None)
    if t is None:
        extras["layer_error"] = f"this network has no layer {name!r}"
        return img
    channel = state.channel
    if channel is not None and not 0 <= channel < t.shape[1]:
        extras["layer_error"] = f"channel {channel} out of range (layer has {t.shape[1]})"
        channel = None
    extras["layer_shape"] = tuple(int(v) for v in t.shape[1:])
    extras["layer_stats"] = layer_stats(t, channel)
    if state.fft:
        info = layer_info(G, name)
        rate = info.sampling_rate if info is not None and info.sampling_rate else float(t.shape[-1])
        source = t[:1].float() if channel is None else select_channels(t, channel)
        return fft_image(source, rate, layer_marks(info), str(setting(state, "fft_window")),
                         float(setting(state, "fft_range_db")))
    return layer_view(t, channel, bool(setting(state, "layer_normalize")), float(setting(state, "layer_gain_db")))


def analysis_stage(G: torch.nn.Module, state, ws: torch.Tensor, img: torch.Tensor, extras: dict) -> torch.Tensor:
    """Untransform first (it acts on the output image), then the layer / FFT view."""
    if state.layer_name in (None, OUTPUT):
        img = untransform_step(G, state, ws, img, extras)
    return layer_step(G, state, img, extras)


def install() -> None:
    """Register the analysis stage with the renderer (idempotent; the panels call it when created)."""
    from visualizer.renderer import register_stage

    register_stage(analysis_stage)
