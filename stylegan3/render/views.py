"""Pure image math of the post-synthesis views: layer view, statistics, FFT view with band-limit rings.

Tensors in, tensors out, no knowledge of requests or networks, so the pipeline (`stylegan3.render.pipeline`),
the app and the tests share one definition of every pixel. The settings are the request's `LayerView`,
`FFTView` and `Untransform` sections (`stylegan3.documents.request`).

Layer view mapping (documented, tests rely on it). For the captured layer output `t` ([1, C, H, W]):
  1. channels: `LayerView.channel = None` takes the first three channels as R, G, B (fewer than three: the
     missing ones are zero, a single channel is shown grey); `channel = k` shows channel k in grey;
  2. normalise (`LayerView.normalize`): divide by the largest |value| of the shown channels;
  3. brightness (`LayerView.gain_db`): multiply by 10 ** (dB / 20);
  4. the usual image conversion, pixel = clamp(x * 127.5 + 128, 0, 255) truncated to uint8.
`LayerView.layer = "output"` treats the generated image itself as the layer (to see its spectrum); `None`
leaves the image alone.

FFT view (`FFTView.enabled` with a layer chosen): the windowed power spectrum of the layer (mean over all its
channels; only channel k when `channel = k`) in dB relative to its peak, mapped linearly from -range dB (black)
to 0 dB (white), enlarged by an integer factor (nearest) to at least `FFT_MIN_SIZE` pixels, with circles of
radius cutoff (green), stopband (yellow) and Nyquist (red) drawn on it (dashed where two coincide), so energy
beyond the layer's band limit is visible.

Untransform (`Untransform.enabled` on an SG3 net): the output rendered with the input transform is warped back
by the inverse transform with windowed-sinc resampling (`stylegan3.metrics.resample.untransform_image`); a
perfectly equivariant net then shows a still image. The "difference" view renders the untransformed image too
and shows (warped back - plain) amplified by `Untransform.diff_gain_db`; both report the PSNR of the residual.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from stylegan3.metrics.spectra import power_spectrum, to_db
from stylegan3.networks.layers import LayerInfo

FFT_MIN_SIZE = 256
MARK_COLOURS = {  # in the image's [-1, 1] space
    "cutoff": (-1.0, 1.0, -1.0),
    "stopband": (1.0, 1.0, -1.0),
    "nyquist": (1.0, -1.0, -1.0),
}


# -- layer view ----------------------------------------------------------------------------------------------

def select_channels(t: torch.Tensor, channel: int | None) -> torch.Tensor:
    """[1, C, H, W] -> the shown channels: [1, 3, H, W] for RGB mode, [1, 1, H, W] for one channel."""
    t = t[:1].float()
    c = t.shape[1]
    if channel is not None:
        k = int(channel)
        if not 0 <= k < c:
            raise ValueError(f"channel {k} out of range (layer has {c})")
        return t[:, k : k + 1]
    if c == 1:
        return t
    rgb = t[:, :3]
    if c == 2:
        rgb = torch.cat([rgb, torch.zeros_like(rgb[:, :1])], dim=1)
    return rgb


def layer_view(t: torch.Tensor, channel: int | None, normalize: bool = False, gain_db: float = 0.0) -> torch.Tensor:
    """The layer as an image in the renderer's [-1, 1] convention (steps 1-3 of the module doc)."""
    x = select_channels(t, channel)
    if normalize:
        x = x / x.abs().max().clamp(1e-8, 1e8)
    return x * (10.0 ** (float(gain_db) / 20.0))


def _moments(x: torch.Tensor) -> dict[str, float]:
    x = x.double()
    return {"mean": float(x.mean()), "std": float(x.std()) if x.numel() > 1 else 0.0, "max": float(x.abs().max())}


def layer_stats(t: torch.Tensor, channel: int | None) -> dict[str, dict[str, float]]:
    """Mean, std and max |value| over all channels and over the shown ones (the panel's statistics)."""
    c = t.shape[1]
    sel = t[:1, channel : channel + 1] if channel is not None else t[:1, : min(3, c)]
    return {"all": _moments(t[:1]), "selected": _moments(sel)}


# -- FFT view ------------------------------------------------------------------------------------------------

def spectrum_db(x: torch.Tensor, sampling_rate: float, window: str = "kaiser") -> tuple[np.ndarray, np.ndarray]:
    """(power in dB re. peak [H, W] with zero frequency at index n // 2, frequency axis in cycles per unit)."""
    power = power_spectrum(x, window=window)
    n = power.shape[-1]
    freqs = np.fft.fftshift(np.fft.fftfreq(n, d=1.0 / float(sampling_rate)))
    return to_db(power), freqs


def mark_radius_px(freq: float, n: int, sampling_rate: float, scale: int) -> float:
    """Radius, in pixels of the enlarged FFT image, of the circle |f| = freq."""
    return float(freq) * n / float(sampling_rate) * scale


def fft_image(
    x: torch.Tensor,
    sampling_rate: float,
    marks: dict[str, float] | None = None,
    window: str = "kaiser",
    range_db: float = 80.0,
    min_size: int = FFT_MIN_SIZE,
) -> torch.Tensor:
    """The FFT view of the shown channels `x` ([1, C, H, W], square) as a [1, 3, S, S] image in [-1, 1]."""
    db, _ = spectrum_db(x, sampling_rate, window)
    n = db.shape[-1]
    level = np.clip((db + float(range_db)) / max(float(range_db), 1e-6), 0.0, 1.0)
    scale = max(1, math.ceil(min_size / n))
    grey = np.kron(level, np.ones((scale, scale))) * 2 - 1
    img = np.repeat(grey[None], 3, axis=0)
    size = n * scale
    # pixel centres relative to the zero-frequency bin's centre
    centre = (n // 2 + 0.5) * scale
    coords = np.arange(size) + 0.5 - centre
    r = np.hypot(coords[None, :], coords[:, None])
    # a mark on the same circle as one drawn before (e.g. stopband = Nyquist) is dashed over it: both show
    dashes = (np.floor((np.arctan2(coords[:, None], coords[None, :]) / (2 * np.pi) + 0.5) * 48) % 2) == 0
    drawn: list[float] = []
    for name, freq in (marks or {}).items():
        if name not in MARK_COLOURS or freq is None:
            continue
        radius = mark_radius_px(freq, n, sampling_rate, scale)
        ring = np.abs(r - radius) < 0.75
        if any(abs(radius - other) < 1.5 for other in drawn):
            ring &= dashes
        drawn.append(radius)
        for ch in range(3):
            img[ch][ring] = MARK_COLOURS[name][ch]
    return torch.from_numpy(img.astype(np.float32))[None].to(x.device)


def layer_marks(info: LayerInfo | None) -> dict[str, float]:
    """Cutoff / stopband / Nyquist of a layer (whichever it has), in cycles per unit."""
    if info is None:
        return {}
    marks = {"cutoff": info.cutoff, "stopband": info.stopband, "nyquist": info.nyquist}
    return {k: float(v) for k, v in marks.items() if v is not None}



def residual_psnr(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> float:
    """PSNR (dB, peak-to-peak 2) of a - b over the mask; infinite when they agree exactly."""
    cnt = float(mask.sum())
    if cnt <= 0:
        return math.nan
    mse = float(((a.double() - b.double()).square() * mask).sum()) / cnt
    return math.inf if mse <= 0 else 20 * math.log10(2) - 10 * math.log10(mse)
