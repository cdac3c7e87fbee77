"""Trace view: one row of pixels recorded over the frames of an animation, stacked into a space-time image.

Time runs down, x runs across. A detail that moves with the content draws a slanted or curved stroke
(its x changes over time); a detail stuck to the pixel grid keeps its x and draws a vertical line. This
is the 1-D cousin of the sticking average and is how the StyleGAN3 paper's videos make sticking visible
in a still image.

Verticality (same idea as the sticking score, along time instead of over samples): high-pass each row in
x (above `cutoff` * Nyquist), then

    ratio = E(mean over time of the rows) / mean over time of E(row)
    verticality = (ratio - 1/T) / (1 - 1/T), clipped to [0, 1]

Vertical lines survive the time average, slanted ones cancel, so this estimates the fraction of fine
detail along the row that does not move: ~0 for details that travel, ~1 for details glued in place.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from stylegan3.errors import SG3Error
from stylegan3.networks.transform import input_transform
from stylegan3.render.images import to_numpy_rgb

__all__ = ["row_highpass_energy", "verticality", "record_trace", "trace_to_uint8"]

ProgressFn = Callable[[int, int], None]


def row_highpass_energy(rows: torch.Tensor, cutoff: float = 0.25) -> torch.Tensor:
    """Energy above `cutoff` * Nyquist of rows `[T, C, W]` -> `[T]` (per pixel, summed over channels)."""
    if rows.ndim != 3:
        raise ValueError(f"expected rows [T, C, W], got shape {tuple(rows.shape)}")
    x = rows.to(torch.float32)
    w = x.shape[-1]
    spec = torch.fft.rfft(x, norm="ortho")
    power = spec.real**2 + spec.imag**2
    freq = torch.fft.rfftfreq(w, device=x.device) * 2
    weight = torch.where(freq > cutoff, 2.0, 0.0)  # positive frequencies stand for their mirror too
    if w % 2 == 0:
        weight[-1] = weight[-1] / 2  # ... except Nyquist, which has none
    return (power * weight).sum(dim=(1, 2)) / w


def verticality(trace: torch.Tensor, cutoff: float = 0.25) -> float:
    """Fraction of fine detail in a trace `[T, C, W]` that keeps its x over time, 0..1 (module docstring)."""
    t = trace.shape[0]
    if t < 2:
        raise SG3Error("a trace needs at least 2 frames")
    per_row = float(row_highpass_energy(trace, cutoff).mean())
    of_mean = float(row_highpass_energy(trace.mean(dim=0, keepdim=True), cutoff)[0])
    ratio = of_mean / max(per_row, 1e-30)
    return float(np.clip((ratio - 1.0 / t) / (1.0 - 1.0 / t), 0.0, 1.0))


@torch.no_grad()
def record_trace(
    G: torch.nn.Module,
    ws: torch.Tensor,
    row: int | None = None,
    *,
    noise_mode: str = "const",
    transforms: np.ndarray | None = None,
    batch_size: int = 8,
    progress: ProgressFn | None = None,
) -> torch.Tensor:
    """Render frames `ws` `[T, num_ws, w_dim]` and keep pixel row `row` of each -> trace `[T, C, W]`.

    `row` defaults to the middle row. `transforms` (`[T, 3]` of translate x, y and rotate turns, see
    `stylegan3.explore.interpolation.transform_path`) moves an SG3 network's input per frame; it is passed to
    synthesis per sample, so the network is not modified and frames still render in batches.
    """
    if ws.ndim != 3:
        raise SG3Error(f"expected ws [frames, num_ws, w_dim], got shape {tuple(ws.shape)}")
    res = int(G.img_resolution)
    row = res // 2 if row is None else int(row)
    if not 0 <= row < res:
        raise SG3Error(f"row {row} outside the image (0 .. {res - 1})")
    frames = ws.shape[0]
    matrices = None
    if transforms is not None:
        if len(transforms) != frames:
            raise SG3Error(f"{len(transforms)} transforms for {frames} frames")
        from stylegan3.networks.transform import has_input_transform

        if not has_input_transform(G):
            raise SG3Error("this network has no input transform (StyleGAN2): translation and rotation need StyleGAN3")
        matrices = torch.from_numpy(np.stack([input_transform((float(t[0]), float(t[1])), float(t[2]))
                                              for t in transforms])).to(device=ws.device, dtype=torch.float32)
    rows = []
    for start in range(0, frames, batch_size):
        extra = {} if matrices is None else {"transform": matrices[start : start + batch_size]}
        img = G.synthesis(ws[start : start + batch_size], noise_mode=noise_mode, force_fp32=True, **extra)
        rows.append(img[:, :, row, :].to(torch.float32).cpu())
        if progress is not None:
            progress(min(start + batch_size, frames), frames)
    return torch.cat(rows, dim=0)


def trace_to_uint8(trace: torch.Tensor) -> np.ndarray:
    """Trace `[T, C, W]` in ~[-1, 1] -> RGB image `[T, W, 3]` uint8 (time down, x across), converted like a frame."""
    return to_numpy_rgb(trace.permute(1, 0, 2)[None])
