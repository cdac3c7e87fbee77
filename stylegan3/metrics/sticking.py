"""Texture sticking: the average of images rendered from nearby latents, and a score for it.

The StyleGAN3 paper (Figure 1) shows texture sticking by averaging many images generated from small
random perturbations of one latent. The content moves a little between those images. Where fine detail
moves with the content (an equivariant generator), the details land on different pixels and average
out into blur; where fine detail is glued to the pixel grid (StyleGAN2's positional leaks), it sits on
the same pixels in every image and stays sharp in the average.

Sticking score (what `sticking_score` computes and why):

    E(x)  = energy of x above `cutoff` * Nyquist (radial frequency), summed over channels
    ratio = E(mean_k x_k) / mean_k E(x_k)                 in [0, 1]
    score = (ratio - 1/K) / (1 - 1/K)                     clipped to [0, 1]

Split each image's fine detail into a part m that is the same in every image (stuck to the pixels) and
a part that varies. If the varying parts were independent across the K images, the average keeps all of
|m|^2 but only 1/K of the varying energy, so ratio = c + (1 - c) / K with c = |m|^2 / E[|x|^2], the
fraction of fine-detail energy that stays put. The score solves for c: it is the estimated *fraction of
high-frequency energy fixed to pixel coordinates*, near 0 for a generator whose details travel with its
content and near 1 for one whose details never move, and (unlike the raw ratio) it does not drift with
K. It only means something if the perturbation actually moves the content by more than the detail size:
with `sigma` too small nothing moves and every network looks stuck. The high-pass is taken in the
Fourier domain so that the cutoff is resolution-independent (a fraction of Nyquist).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from stylegan3.errors import SG3Error
from stylegan3.runs.distributed import SINGLE, Context, map_ordered

__all__ = [
    "highpass_energy",
    "sticking_ratio_to_score",
    "sticking_score",
    "StickingResult",
    "perturbed_latents",
    "sticking_view",
]

ProgressFn = Callable[[int, int], None]


def _highpass_mask(h: int, w: int, cutoff: float, device: torch.device) -> torch.Tensor:
    fy = torch.fft.fftfreq(h, device=device).abs()[:, None] * 2  # in units of Nyquist (0.5 cycles/px -> 1)
    fx = torch.fft.rfftfreq(w, device=device)[None, :] * 2
    return ((fy**2 + fx**2).sqrt() > cutoff).to(torch.float32)


def highpass_energy(images: torch.Tensor, cutoff: float = 0.25) -> torch.Tensor:
    """Energy above `cutoff` (fraction of Nyquist, radial) of each image `[N, C, H, W]` -> `[N]`.

    Normalised per pixel (Parseval), so images of different sizes compare; summed over channels.
    """
    if images.ndim != 4:
        raise ValueError(f"expected images [N, C, H, W], got shape {tuple(images.shape)}")
    if not 0.0 <= cutoff < 1.5:
        raise SG3Error(f"high-pass cutoff {cutoff} outside [0, 1.5) (fraction of Nyquist)")
    x = images.to(torch.float32)
    h, w = x.shape[-2:]
    spec = torch.fft.rfft2(x, norm="ortho")
    power = spec.real**2 + spec.imag**2
    # rfft2 stores the non-negative x-frequencies only: every column except DC (and Nyquist for even w)
    # stands for itself and its mirror image, so it counts twice.
    weight = torch.full((w // 2 + 1,), 2.0, device=x.device)
    weight[0] = 1.0
    if w % 2 == 0:
        weight[-1] = 1.0
    mask = _highpass_mask(h, w, cutoff, x.device) * weight[None, :]
    return (power * mask).sum(dim=(1, 2, 3)) / (h * w)


def sticking_ratio_to_score(ratio: float, k: int) -> float:
    """Turn `E(mean) / mean E` of K images into the stuck-energy fraction (see the module docstring)."""
    if k < 2:
        raise SG3Error("the sticking score needs at least 2 samples")
    return float(np.clip((ratio - 1.0 / k) / (1.0 - 1.0 / k), 0.0, 1.0))


def sticking_score(images: torch.Tensor, cutoff: float = 0.25) -> float:
    """Sticking score of a stack of images `[K, C, H, W]` rendered from nearby latents (pure function)."""
    mean_single = float(highpass_energy(images, cutoff).mean())
    of_mean = float(highpass_energy(images.mean(dim=0, keepdim=True), cutoff)[0])
    return sticking_ratio_to_score(of_mean / max(mean_single, 1e-30), images.shape[0])


@dataclass
class StickingResult:
    """What `sticking_view` computes; images are float32 `[C, H, W]` in the generator's range (~[-1, 1])."""

    average: torch.Tensor  # mean of the K perturbed renders: sharp detail here = stuck detail
    single: torch.Tensor  # the unperturbed render, for comparison
    score: float  # estimated fraction of fine-detail energy fixed to the pixel grid, 0..1
    ratio: float  # raw E(average) / mean E(single frame)
    detail_energy: float  # mean E(single frame): how much fine detail there is to stick at all
    samples: int
    sigma: float
    cutoff: float


def perturbed_latents(z: torch.Tensor, samples: int, sigma: float, seed: int = 0) -> torch.Tensor:
    """`samples` latents `z + sigma * n`, n standard normal from a fixed generator (reproducible)."""
    if samples < 2:
        raise SG3Error(f"need at least 2 samples for a sticking average, got {samples}")
    if not sigma > 0:
        raise SG3Error(f"perturbation size must be positive, got {sigma}")
    gen = torch.Generator().manual_seed(int(seed))
    noise = torch.randn([samples, *z.shape[1:]], generator=gen, dtype=torch.float32)
    return z.to(torch.float32) + sigma * noise.to(z.device)


@torch.no_grad()
def sticking_view(
    G: torch.nn.Module,
    z: torch.Tensor,
    samples: int = 64,
    sigma: float = 0.2,
    *,
    space: str = "z",
    psi: float = 1.0,
    cutoff_layers: int | None = None,
    c: torch.Tensor | None = None,
    noise_mode: str = "const",
    transform: tuple[float, float, float] | None = None,
    hp_cutoff: float = 0.25,
    batch_size: int = 8,
    seed: int = 0,
    progress: ProgressFn | None = None,
    context: Context = SINGLE,
) -> StickingResult | None:
    """Render K images around latent `z` `[1, z_dim]`, average them and score the sticking.

    `space='z'` perturbs z before the mapping network (the paper's "nearby latents"); `space='w'`
    perturbs the mapped w (all layers alike), useful when the mapping saturates. `transform`
    (translate x, y, rotate turns) renders an SG3 net's moved view without modifying the network. Renders run in batches
    of `batch_size`; only running sums are kept, so memory does not grow with `samples`.
    `progress(done, total)` is called after every batch; it may raise to abandon the computation (the
    GUI's cancel), nothing is left half-changed. With a ``context`` of several processes (every rank
    calls this) the batches are spread over the ranks and summed in batch order on rank 0, which gets the
    result (the others None): the same bits as one process.
    """
    if space not in ("z", "w"):
        raise SG3Error(f"perturbation space must be 'z' or 'w', got {space!r}")
    if batch_size < 1:
        raise SG3Error("batch size must be >= 1")
    device = z.device
    if c is None:
        c = torch.zeros([1, int(G.c_dim)], device=device)

    extra = {}
    if transform is not None:  # (translate x, y, rotate turns) of an SG3 net, passed to synthesis
        from stylegan3.networks.transform import input_transform

        m = input_transform((float(transform[0]), float(transform[1])), float(transform[2]))
        extra["transform"] = torch.from_numpy(m).to(device=device, dtype=torch.float32)

    def render(ws: torch.Tensor) -> torch.Tensor:
        return G.synthesis(ws, noise_mode=noise_mode, force_fp32=True, **extra).to(torch.float32)

    def mapping(zz: torch.Tensor) -> torch.Tensor:
        return G.mapping(zz, c.expand(zz.shape[0], -1), truncation_psi=psi, truncation_cutoff=cutoff_layers)

    w0 = mapping(z[:1].to(torch.float32))
    single = render(w0)[0]
    base = z[:1] if space == "z" else w0[:, :1, :].reshape(1, -1)
    lat = perturbed_latents(base, samples, sigma, seed)

    def one(start: int) -> tuple[torch.Tensor, float]:
        chunk = lat[start : start + batch_size]
        if space == "z":
            ws = mapping(chunk)
        else:
            ws = w0 + (chunk - base)[:, None, :]  # same offset on every layer keeps the style coherent
        imgs = render(ws)
        return imgs.sum(dim=0).cpu(), float(highpass_energy(imgs, hp_cutoff).sum())

    total = None
    energy_sum = 0.0
    for results in map_ordered(one, range(0, samples, batch_size), context):
        for start, (part, energy) in results or ():  # batch order: the sums' bits do not depend on the split
            energy_sum += energy
            total = part if total is None else total + part
            if progress is not None:
                progress(min(start + batch_size, samples), samples)
    if not context.is_main:
        return None
    average = total / samples
    mean_single = energy_sum / samples
    ratio = float(highpass_energy(average[None], hp_cutoff)[0]) / max(mean_single, 1e-30)
    return StickingResult(
        average=average.cpu(),
        single=single.cpu(),
        score=sticking_ratio_to_score(ratio, samples),
        ratio=ratio,
        detail_energy=mean_single,
        samples=samples,
        sigma=float(sigma),
        cutoff=float(hp_cutoff),
    )
