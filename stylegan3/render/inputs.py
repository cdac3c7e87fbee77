"""The one place a request becomes network inputs: z, labels, ws, the input transform and noise arguments.

ws = mapping of the seed-plane latent (truncation, style mix), replaced by the request's explicit latent
while it applies, plus every direction move. The GUI's thread, a child process, a server, `render`, `video`,
comparison panes and analysis jobs all take their ws and transform from here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from stylegan3 import families
from stylegan3.documents.request import ExplicitLatent, Latent, LatentMove, RenderRequest, Transform, Truncation
from stylegan3.networks import transform as transforms
from stylegan3.networks.latents import blend_seeds, class_vector, z_from_seed


def request_z(latent: Latent, z_dim: int) -> np.ndarray:
    """[1, z_dim] float32: an exact seed's z at integer positions, the bilinear seed-plane blend in between."""
    if float(latent.x).is_integer() and latent.y == 0:
        return np.asarray(z_from_seed(int(latent.x), z_dim), dtype=np.float32).reshape(1, z_dim)
    return np.asarray(blend_seeds(latent.x, latent.y, z_dim), dtype=np.float32).reshape(1, z_dim)


def request_c(G: torch.nn.Module, latent: Latent, device: torch.device) -> torch.Tensor:
    """One-hot label for conditional nets (the index wraps around c_dim), [1, 0] for unconditional ones."""
    return class_vector(G.c_dim, int(latent.class_idx) % G.c_dim if G.c_dim else None, device)


def mix_indices(request: RenderRequest, num_ws: int) -> tuple[int, ...]:
    return tuple(sorted({int(i) for i in request.mix.ws if 0 <= int(i) < num_ws}))


def request_ws(G: torch.nn.Module, request: RenderRequest, device: torch.device) -> torch.Tensor:
    """The ws [1, num_ws, w_dim] to synthesize: mapped (or explicit) latent, then the direction moves."""
    ws = explicit_ws(request.explicit, request.latent, int(G.num_ws), int(G.w_dim), device)
    if ws is None:
        ws = mapped_ws(G, request, device)
    return apply_moves(ws, request.moves)


def explicit_ws(explicit: ExplicitLatent, latent: Latent, num_ws: int, w_dim: int,
                device: torch.device) -> torch.Tensor | None:
    """The explicit latent as [1, num_ws, w_dim] float32 (W is repeated), or None where it does not apply:
    none set, the seed-plane position moved since, or a shape of another network (a state left over)."""
    if not explicit.applies_to(latent):
        return None
    arr = np.asarray(explicit.w, dtype=np.float32)
    if arr.shape[-1] != w_dim or arr.shape[0] not in (1, num_ws):
        return None
    arr = np.repeat(arr, num_ws, axis=0) if arr.shape[0] != num_ws else arr
    return torch.from_numpy(arr.reshape(1, num_ws, w_dim)).to(device)


def apply_moves(ws: torch.Tensor, moves: tuple[LatentMove, ...]) -> torch.Tensor:
    """ws with every move added (a new tensor); moves of another w size are skipped (a state left over)."""
    usable = [m for m in moves if len(m.vector) == ws.shape[-1]]
    if not usable:
        return ws
    out = ws.clone()
    num_ws = ws.shape[1]
    for move in usable:
        layers = list(range(num_ws)) if move.ws is None else [i for i in move.ws if 0 <= i < num_ws]
        step = np.asarray(move.vector, dtype=np.float32) * float(move.strength)
        out[:, layers] += torch.from_numpy(step).to(device=ws.device, dtype=ws.dtype)
    return out


def explicit_latent(ws: np.ndarray | torch.Tensor, latent: Latent, label: str = "") -> ExplicitLatent:
    """An explicit latent from W `[w_dim]` / `[1, w_dim]` or W+ `[1, num_ws, w_dim]`, pinned to `latent`'s
    seed-plane position. Rows are float32 values written as floats, so the request carries the exact bits."""
    arr = ws.detach().to("cpu", torch.float32).numpy() if isinstance(ws, torch.Tensor) else np.asarray(ws)
    arr = np.asarray(arr, dtype=np.float32)
    arr = arr.reshape(-1, arr.shape[-1])
    rows = tuple(map(tuple, arr.astype(np.float64).tolist()))
    return ExplicitLatent(rows, str(label), (float(latent.x), float(latent.y)))


def mapped_ws(G: torch.nn.Module, request: RenderRequest, device: torch.device) -> torch.Tensor:
    """Mapping output [1, num_ws, w_dim] for the request's latent, truncation and style mix."""
    c = request_c(G, request.latent, device)
    z = torch.from_numpy(request_z(request.latent, G.z_dim)).to(device)
    kwargs = dict(truncation_psi=float(request.truncation.psi), truncation_cutoff=request.truncation.cutoff)
    ws = G.mapping(z, c, **kwargs)
    # Style mixing swaps rows of W; a family without W (ProGAN: its one row is the input z) has nothing to mix.
    mix = mix_indices(request, G.num_ws) if families.capabilities(G).w_space else ()
    if mix:
        z_mix = np.asarray(z_from_seed(int(request.mix.seed), G.z_dim), dtype=np.float32).reshape(1, -1)
        ws_mix = G.mapping(torch.from_numpy(z_mix).to(device), c, **kwargs)
        ws = ws.clone()
        ws[:, list(mix)] = ws_mix[:, list(mix)]
    return ws


def seeds_ws(G: torch.nn.Module, seeds, truncation: Truncation = Truncation(), class_idx: int | None = None,
             device: torch.device | str | None = None) -> torch.Tensor:
    """Mapped ws `[len(seeds), num_ws, w_dim]` of plain seeds in one batch: the keyframes of videos, traces
    and timelines, with z drawn exactly as for a request at those seeds. `class_idx` None = zero labels."""
    from stylegan3.networks.device import device_of

    device = device_of(G) if device is None else torch.device(device)
    z_dim = int(G.z_dim)
    zs = [request_z(Latent(float(int(s))), z_dim) for s in seeds] if z_dim else [np.zeros([len(seeds), 0])]
    z = torch.from_numpy(np.concatenate(zs, axis=0)).to(device=device, dtype=torch.float32)
    c = class_vector(int(G.c_dim), class_idx, device, len(seeds))
    return G.mapping(z, c, truncation_psi=float(truncation.psi), truncation_cutoff=truncation.cutoff)


def request_transform(request: RenderRequest) -> np.ndarray:
    """The user's image transform M (3x3, official viewer convention)."""
    return transforms.make_transform(tuple(request.transform.translate), float(request.transform.rotate))


def input_transform(request: RenderRequest | Transform) -> np.ndarray:
    """What the synthesis input takes: inverse(M) (it moves the sampling grid, not the image). Also for one
    step of a transform path (a video frame), given as a `Transform`."""
    t = request.transform if isinstance(request, RenderRequest) else request
    return transforms.input_transform(tuple(t.translate), float(t.rotate))


def noise_kwargs(
    G: torch.nn.Module, request: RenderRequest, device: torch.device, seeded_noise: bool
) -> dict[str, Any]:
    """Synthesis keyword arguments for noise and precision; seeded random noise where the family supports it."""
    kwargs: dict[str, Any] = dict(noise_mode=request.noise.mode, force_fp32=bool(request.synthesis.force_fp32))
    if request.noise.mode == "random" and seeded_noise:
        # A generator of our own, not the process-wide RNG that other render threads and jobs draw from too.
        gen = torch.Generator(device=device)
        gen.manual_seed(int(request.noise.seed))
        kwargs["noise_generator"] = gen
    return kwargs
