"""Latent codes from seeds, as the official tools draw them, so seed N shows the same image everywhere."""

from __future__ import annotations

import math

import numpy as np
import torch

from stylegan3.errors import SG3Error


def z_from_seed(seed: int, z_dim: int) -> np.ndarray:
    """[1, z_dim] float64 normal sample: `np.random.RandomState(seed).randn(1, z_dim)`."""
    return np.random.RandomState(int(seed) % (1 << 32)).randn(1, z_dim)


def blend_seeds(x: float, y: float, z_dim: int) -> np.ndarray:
    """z at a fractional point of the 2-D seed plane (see `seed_at`).

    The four integer neighbours are blended with bilinear weights, as the official viewer's latent
    drag does, so dragging moves continuously from one seed's image to the next.
    """
    x0, y0 = math.floor(x), math.floor(y)
    fx, fy = x - x0, y - y0
    z = np.zeros([1, z_dim])
    for dx, dy, weight in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        if weight > 0:
            z += z_from_seed(seed_at(x0 + dx, y0 + dy), z_dim) * weight
    return z


def seed_at(ix: int, iy: int) -> int:
    """Integer seed of a point of the seed plane; the x axis is the plain seed number."""
    return (ix + iy * 1000) & ((1 << 32) - 1)


def class_vector(
    c_dim: int, label: int | None, device: torch.device | str = "cpu", n: int = 1
) -> torch.Tensor:
    """Labels [n, c_dim]: one-hot `label`, or zeros when no label is given (and for unconditional nets)."""
    c = torch.zeros([n, c_dim], device=device)
    if label is not None:
        if c_dim == 0:
            raise SG3Error("a class label was given but the network is unconditional")
        if not 0 <= label < c_dim:
            raise SG3Error(f"class {label} out of range (the network has {c_dim} classes: 0..{c_dim - 1})")
        c[:, label] = 1
    return c
