"""The StyleGAN3 input transform, in the official viewer's convention.

The user moves the image by `translate` (in units of the image size: 1.0 = one image width) and
rotates it by `rotate` turns. The synthesis input stores the *inverse* of that image transform,
because it transforms the sampling grid of the Fourier features rather than the image.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch

from stylegan3.errors import SG3Error


def make_transform(translate: tuple[float, float] = (0.0, 0.0), rotate: float = 0.0) -> np.ndarray:
    """M = [[cos a, sin a, x], [-sin a, cos a, y], [0, 0, 1]] with a = rotate * 2 * pi."""
    a = float(rotate) * 2 * np.pi
    x, y = (float(v) for v in translate)
    return np.array([[np.cos(a), np.sin(a), x], [-np.sin(a), np.cos(a), y], [0.0, 0.0, 1.0]])


def input_transform(translate: tuple[float, float] = (0.0, 0.0), rotate: float = 0.0) -> np.ndarray:
    """inverse(M): what the synthesis input takes (`G.synthesis(ws, transform=...)`)."""
    return np.linalg.inv(make_transform(translate, rotate))


def has_input_transform(G: torch.nn.Module) -> bool:
    """Only StyleGAN3 nets have a continuous input that can be translated and rotated."""
    return hasattr(getattr(G, "synthesis", None), "input") and hasattr(G.synthesis.input, "transform")


def set_input_transform(G: torch.nn.Module, translate: tuple[float, float] = (0.0, 0.0), rotate: float = 0.0) -> bool:
    """Set the network's default transform to inverse(M) (code written for the official networks does this);
    False (and nothing done) for StyleGAN2. Our renderers pass `transform=` to synthesis instead."""
    if not has_input_transform(G):
        return False
    G.synthesis.input.set_transform(input_transform(translate, rotate))
    return True


@contextlib.contextmanager
def preserved_input_transform(G: torch.nn.Module) -> Iterator[None]:
    """Let code move the input transform, then put the user's transform back, even when interrupted.

    The buffer is shared by every user of the network (the GUI's current view included).
    """
    if not has_input_transform(G):
        raise SG3Error("this network has no input transform (StyleGAN2): translation and rotation need StyleGAN3")
    buf = G.synthesis.input.transform
    saved = buf.detach().clone()
    try:
        yield
    finally:
        G.synthesis.input.set_transform(saved)
