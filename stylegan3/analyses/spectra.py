"""The Spectra panel's averaged spectra as an analysis that runs next to the network.

Same numbers as `sg3-explorer spectra` run locally, because both call `stylegan3.metrics.spectra.network_spectrum`
with the same arguments; the power arrays travel as binary (`stylegan3.service.arrays`), so they arrive bit for
bit.

`paper_spectrum` is the paper's estimator of the output image (`stylegan3.metrics.paper_spectrum`, registered as
the analysis 'paper_spectrum'), for `spectra --paper --connect`: it returns the non-negative-x half of the
mean spectrum (the rest follows by symmetry), so a 1024-pixel network's spectrum at --interp 4 fits one reply;
the client restores the plane with `full_spectrum`, the same step a local run ends with, so the bits match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from stylegan3.analyses.params import check_range
from stylegan3.documents.request import NoiseMode, RenderRequest, Window
from stylegan3.networks.info import NetworkInfo

MAX_SAMPLES = 4096
MAX_LAYERS = 4
MAX_PAPER_SAMPLES = 200_000  # the paper averages 70,000 images (FFHQ's size)


@dataclass(frozen=True)
class SpectraParams:
    """Which layers ('output' = the image), how many latents (seeds seed .. seed + N - 1), psi, window.
    `seed` / `psi` None take the request's seed and truncation (the GUI's "the seeds shown in the app")."""

    layers: tuple[str, ...] = ("output",)
    samples: int = 1
    seed: int | None = None
    psi: float | None = None
    window: Window = "kaiser"
    beta: float = 8.0

    def __post_init__(self) -> None:
        if not 1 <= len(self.layers) <= MAX_LAYERS:
            raise ValueError(f"layers: 1..{MAX_LAYERS} names, got {len(self.layers)}")
        check_range("samples", self.samples, 1, MAX_SAMPLES)
        if self.seed is not None:
            check_range("seed", self.seed, 0, 2**32 - 1)
        if self.psi is not None:
            check_range("psi", self.psi, -4.0, 4.0)
        check_range("beta", self.beta, 0.0, 100.0)


def spectrum_to_plain(spec) -> dict[str, Any]:
    return {"power": spec.power, "freqs": spec.freqs, "sampling_rate": float(spec.sampling_rate),
            "label": spec.label, "num_samples": int(spec.num_samples),
            "marks": {k: float(v) for k, v in spec.marks.items()}}


def spectrum_from_plain(data: dict[str, Any]):
    """A `Spectrum` from what `spectra` returned (after `arrays.unpack`)."""
    from stylegan3.metrics.spectra import Spectrum

    return Spectrum(np.asarray(data["power"]), np.asarray(data["freqs"]), float(data["sampling_rate"]),
                    str(data["label"]), int(data["num_samples"]), {k: float(v) for k, v in data["marks"].items()})


@torch.no_grad()
def spectra(G: torch.nn.Module, request: RenderRequest, info: NetworkInfo, progress, *,
            params: SpectraParams) -> dict[str, dict[str, Any]]:
    """{layer: spectrum as plain data} for the layers of `params`; progress counts latents over all layers."""
    from stylegan3.errors import SG3Error
    from stylegan3.metrics.spectra import network_spectrum

    known = ("output", *info.layer_names)
    for name in params.layers:
        if info.layers and name not in known:
            raise SG3Error(f"no layer {name!r}; this network has: {', '.join(known)}")
    seed = request.latent.seed if params.seed is None else params.seed
    psi = float(request.truncation.psi) if params.psi is None else params.psi
    n = params.samples
    total = n * len(params.layers)
    progress(0, total)
    out = {}
    for i, name in enumerate(params.layers):
        def step(done: int, _total: int, base: int = i * n) -> None:
            progress(base + done, total)

        spec = network_spectrum(G, name, num_samples=n, seed=seed, truncation_psi=psi, window=params.window,
                                beta=params.beta, progress=step)
        out[name] = spectrum_to_plain(spec)
    return out


@dataclass(frozen=True)
class PaperSpectrumParams:
    """The paper's estimator (`stylegan3.metrics.paper_spectrum.network_paper_spectrum`): images of seeds
    seed .. seed + samples - 1, whitened by the dataset's `mean` / `std` (uint8 units), Kaiser `beta`, `interp`."""

    samples: int = 1
    seed: int = 0
    mean: float = 127.5
    std: float = 64.0
    beta: float = 8.0
    interp: int = 4
    psi: float = 1.0
    noise_mode: NoiseMode = "const"

    def __post_init__(self) -> None:
        check_range("samples", self.samples, 1, MAX_PAPER_SAMPLES)
        check_range("seed", self.seed, 0, 2**32 - 1)
        check_range("mean", self.mean, -1e6, 1e6)
        check_range("std", self.std, 1e-6, 1e6)
        check_range("beta", self.beta, 0.0, 100.0)
        check_range("interp", self.interp, 1, 16)
        check_range("psi", self.psi, -4.0, 4.0)


@torch.no_grad()
def paper_spectrum(G: torch.nn.Module, request: RenderRequest, info: NetworkInfo, progress, *,
                   params: PaperSpectrumParams) -> dict[str, Any]:
    """{'half': mean spectrum's columns 0 .. S // 2 (float64), 'image_size', 'num_images'}; progress counts images."""
    from stylegan3.errors import SG3Error
    from stylegan3.metrics.paper_spectrum import network_paper_spectrum
    from stylegan3.service.arrays import MAX_RESULT_BYTES

    size = int(G.img_resolution) * params.interp
    if size * (size // 2 + 1) * 8 > MAX_RESULT_BYTES:
        raise SG3Error(f"a {size}x{size} spectrum does not fit one reply: use a smaller interp")
    progress(0, params.samples)
    spec = network_paper_spectrum(G, params.samples, params.mean, params.std, params.seed, params.beta,
                                  params.interp, params.noise_mode, params.psi, progress)
    return {"half": np.ascontiguousarray(spec.spectrum[:, : size // 2 + 1]), "image_size": spec.image_size,
            "num_images": spec.num_images}


def paper_spectrum_from_plain(data: dict[str, Any], label: str = ""):
    """The `PaperSpectrum` of what `paper_spectrum` returned (after `arrays.unpack`)."""
    from stylegan3.metrics.paper_spectrum import PaperSpectrum, full_spectrum

    return PaperSpectrum(full_spectrum(np.asarray(data["half"])), int(data["image_size"]), int(data["num_images"]),
                         label)
