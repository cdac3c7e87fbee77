"""Headless image generation: the one code path the CLI, tests and the app's renderer share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from stylegan3.latents import class_vector, z_from_seed
from stylegan3.transform import has_input_transform, input_transform


@dataclass
class GenerateOptions:
    psi: float = 1.0
    cutoff: int | None = None
    class_idx: int | None = None
    noise_mode: str = "const"
    translate: tuple[float, float] = (0.0, 0.0)
    rotate: float = 0.0
    force_fp32: bool = False


def device_of(G: torch.nn.Module) -> torch.device:
    """Where a network's tensors live (CPU for a module without any)."""
    for tensor in (*G.parameters(), *G.buffers()):
        return tensor.device
    return torch.device("cpu")


@torch.no_grad()
def generate(
    G: torch.nn.Module,
    z: np.ndarray | torch.Tensor,
    options: GenerateOptions,
    edit_ws: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Image [N, C, H, W] float32 for latents z [N, z_dim] under `options` (the network is not modified).

    `edit_ws` changes the mapped ws before synthesis (e.g. moves along semantic directions)."""
    device = device_of(G)
    z = torch.as_tensor(z, dtype=torch.float32, device=device)
    c = class_vector(G.c_dim, options.class_idx, device, n=z.shape[0])
    extra = {}
    if has_input_transform(G):
        m = input_transform(options.translate, options.rotate)
        extra["transform"] = torch.from_numpy(m).to(device=device, dtype=torch.float32)
    ws = G.mapping(z, c, truncation_psi=options.psi, truncation_cutoff=options.cutoff)
    if edit_ws is not None:
        ws = edit_ws(ws)
    return G.synthesis(ws, noise_mode=options.noise_mode, force_fp32=options.force_fp32, **extra)


def generate_seed(
    G: torch.nn.Module,
    seed: int,
    options: GenerateOptions,
    edit_ws: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Image for one seed, with z drawn as the official tools draw it."""
    return generate(G, z_from_seed(seed, G.z_dim), options, edit_ws)
