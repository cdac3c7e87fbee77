"""Layer view, FFT view and untransform: the panels' names and defaults, and the documented pixel mapping.

The stages themselves run in the request pipeline (`stylegan3.render.pipeline.build_pipeline`, math in
`stylegan3.render.views`), which every renderer uses; the settings are typed `RenderState` fields that
`request_from_state` copies into the request's `LayerView` / `FFTView` / `Untransform` sections.

Layer view mapping (documented, tests rely on it). For the captured layer output `t` ([1, C, H, W]):
  1. channels: `state.channel = None` takes the first three channels as R, G, B (fewer than three: the
     missing ones are zero, a single channel is shown grey); `state.channel = k` shows channel k in grey;
  2. normalise (`state.layer_normalize`): divide by the largest |value| of the shown channels;
  3. brightness (`state.layer_gain_db`): multiply by 10 ** (dB / 20);
  4. the usual image conversion, pixel = clamp(x * 127.5 + 128, 0, 255) truncated to uint8.
`state.layer_name = "output"` treats the generated image itself as the layer (to see its spectrum);
`None` leaves the image alone.

FFT view (`state.fft` with a layer chosen): the windowed power spectrum of the layer (mean over all its
channels; only channel k when `state.channel = k`) in dB relative to its peak, mapped linearly from -range dB
(black) to 0 dB (white), enlarged by an integer factor (nearest) to at least `FFT_MIN_SIZE` pixels, with
circles of radius cutoff (green), stopband (yellow) and Nyquist (red) drawn on it (dashed where two coincide),
so energy beyond the layer's band limit is visible.

Untransform (`state.untransform` on an SG3 net): the output rendered with the input transform is warped back
by the inverse transform with windowed-sinc resampling (`stylegan3.metrics.resample.untransform_image`); a
perfectly equivariant net then shows a still image. The "difference" view renders the untransformed image too
and shows (warped back - plain) amplified by `state.diff_gain_db`; both report the PSNR of the residual.
"""

from __future__ import annotations

import torch

from sg3_explorer.visualizer.state import RenderState
from stylegan3.networks.layers import LayerInfo
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

OUTPUT = "output"  # pseudo layer name: the generated image
WINDOWS = ("kaiser", "hann", "none")
UNTRANSFORM_VIEWS = ("warped", "difference")
# The view settings' RenderState defaults (the panels' "reset" buttons), read from the dataclass itself.
DEFAULTS = {name: RenderState.__dataclass_fields__[name].default
            for name in ("layer_normalize", "layer_gain_db", "fft_range_db", "fft_window", "untransform_view",
                         "diff_gain_db")}


def layer_info(G: torch.nn.Module, name: str) -> LayerInfo | None:
    """The LayerInfo of `name` from the network's layer table; for "output" the image with the last layer's
    band limits (the same rows the pipeline's FFT view reads)."""
    from sg3_explorer.visualizer.renderer import network_info
    from stylegan3.render.pipeline import output_layer_info

    info = network_info(G)
    return output_layer_info(info) if name == OUTPUT else info.layer(name)
