"""Low-pass filter design for StyleGAN3 layers (Kaiser-windowed sinc, or jinc for radial filters).

Loaded networks carry their filters as buffers; this is only needed to build a network from scratch
(demo nets, tests), and must give the same taps so our nets behave like trained ones.
"""

from __future__ import annotations

import numpy as np
import scipy.signal
import scipy.special
import torch


def design_lowpass_filter(
    numtaps: int, cutoff: float, width: float, fs: float, radial: bool = False
) -> torch.Tensor | None:
    """Separable 1-D Kaiser low-pass taps, a 2-D radially symmetric one, or None for identity."""
    if numtaps < 1:
        raise ValueError("numtaps must be >= 1")
    if numtaps == 1:
        return None
    if not radial:
        taps = scipy.signal.firwin(numtaps=numtaps, cutoff=cutoff, width=width, fs=fs)
        return torch.as_tensor(taps, dtype=torch.float32)
    # Radial: the 2-D ideal disc low-pass is a jinc, J1(2*pi*fc*r) / (pi*r), windowed by a 2-D Kaiser.
    coords = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(coords, coords))
    taps = scipy.special.j1(2 * cutoff * (np.pi * r)) / (np.pi * r)
    beta = scipy.signal.kaiser_beta(scipy.signal.kaiser_atten(numtaps, width / (fs / 2)))
    window = np.kaiser(numtaps, beta)
    taps *= np.outer(window, window)
    taps /= np.sum(taps)
    return torch.as_tensor(taps, dtype=torch.float32)
