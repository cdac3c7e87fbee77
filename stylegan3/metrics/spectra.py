"""Power spectra of generator layers, outputs and real images, and the marks a plot of them needs.

The alias-free design promises that each layer holds no energy above its stopband (cutoff plus
transition half-width); aliasing shows up as energy beyond it, or as a texture the spectrum of the
training images does not have. These functions compute the mean 2-D power spectrum (window applied
first so the image border does not smear energy over all frequencies), its radial average and its 0-
and 45-degree slices.

Frequencies are in cycles per *unit* of the network's coordinate frame: a layer sampled at
``sampling_rate`` samples per unit (SG3's ``out_sampling_rate``; for an image it is its width, so the
unit is the image) has its Nyquist frequency at ``sampling_rate / 2``. SG3 layers' ``out_cutoff`` and
``out_half_width`` are in the same units, so they can be drawn straight onto the axis.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch

from stylegan3.documents.request import WINDOWS
from stylegan3.errors import SG3Error
from stylegan3.runs.distributed import SINGLE, Context, map_ordered

__all__ = [
    "Spectrum",
    "window_2d",
    "power_spectrum",
    "spectrum_frequencies",
    "to_db",
    "radial_average",
    "spectrum_slice",
    "layer_marks",
    "accumulate_spectrum",
    "network_spectrum",
]

ProgressFn = Callable[[int, int], None]


def window_2d(
    kind: str, height: int, width: int, beta: float = 8.0, device: torch.device | str | None = None
) -> torch.Tensor:
    """Separable 2-D window ``[H, W]``: 'kaiser' (shape set by ``beta``), 'hann' or 'none' (box).

    A larger Kaiser beta trades resolution for less leakage: with the dynamic range of a GAN layer
    (100+ dB) leakage from the strong low frequencies would otherwise hide the aliasing we look for.
    """
    if kind == "none":
        return torch.ones(height, width, device=device)
    if kind == "kaiser":
        wy = torch.kaiser_window(height, periodic=False, beta=beta, device=device)
        wx = torch.kaiser_window(width, periodic=False, beta=beta, device=device)
    elif kind == "hann":
        wy = torch.hann_window(height, periodic=False, device=device)
        wx = torch.hann_window(width, periodic=False, device=device)
    else:
        raise SG3Error(f"unknown window {kind!r}; choose from {', '.join(WINDOWS)}")
    return wy[:, None] * wx[None, :]


def power_spectrum(
    x: torch.Tensor, window: str = "kaiser", beta: float = 8.0, remove_mean: bool = True
) -> torch.Tensor:
    """Mean power spectrum over batch and channels, zero frequency at the centre (``[H, W]``, float64).

    ``x`` is ``[N, C, H, W]`` or ``[C, H, W]``. Each channel's mean is removed first (its DC would
    otherwise dominate every display); the window is normalised so white noise of variance s^2 gives
    a flat spectrum of level s^2 whatever the window.
    """
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"expected [N, C, H, W] or [C, H, W], got shape {tuple(x.shape)}")
    x = x.detach().to(torch.float64)
    if remove_mean:
        x = x - x.mean(dim=(2, 3), keepdim=True)
    w = window_2d(window, x.shape[2], x.shape[3], beta, device=x.device).to(torch.float64)
    spec = torch.fft.fft2(x * w)
    power = spec.real.square() + spec.imag.square()
    power = power.mean(dim=(0, 1)) / w.square().sum()
    return torch.fft.fftshift(power)


def spectrum_frequencies(n: int, sampling_rate: float = 1.0) -> np.ndarray:
    """Centred frequency axis matching :func:`power_spectrum` (cycles per unit; Nyquist = rate / 2)."""
    return np.fft.fftshift(np.fft.fftfreq(n, d=1.0 / sampling_rate))


def to_db(power: np.ndarray | torch.Tensor, ref: float | None = None, floor_db: float = -150.0) -> np.ndarray:
    """``10 log10(power / ref)`` (ref defaults to the peak), clipped at ``floor_db`` so zeros stay finite."""
    p = np.asarray(power.cpu() if isinstance(power, torch.Tensor) else power, dtype=np.float64)
    ref = float(p.max()) if ref is None else float(ref)
    if ref <= 0:
        return np.full(p.shape, floor_db)
    with np.errstate(divide="ignore"):
        return np.maximum(10 * np.log10(p / ref), floor_db)


def radial_average(power: np.ndarray, freqs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean power on rings of one frequency step, out to the corner: ``(radius, mean power)``.

    Assumes a square spectrum (same axis both ways).
    """
    p = np.asarray(power, dtype=np.float64)
    step = float(freqs[1] - freqs[0])
    r = np.hypot(freqs[None, :], freqs[:, None])
    ring = np.rint(r / step).astype(np.int64)
    total = np.bincount(ring.ravel(), weights=p.ravel())
    count = np.bincount(ring.ravel())
    keep = count > 0
    return np.nonzero(keep)[0] * step, total[keep] / count[keep]


def spectrum_slice(power: np.ndarray, freqs: np.ndarray, angle: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Power along a ray from zero frequency: 0 degrees (along +fx) or 45 degrees (the diagonal).

    Returns ``(|f|, power)``; on the diagonal |f| runs sqrt(2) times faster than the index, out to the
    corner where the grid's band ends.
    """
    p = np.asarray(power, dtype=np.float64)
    c = int(np.argmin(np.abs(freqs)))
    k = np.arange(len(freqs) - c)
    if angle == 0:
        return freqs[c + k], p[c, c + k]
    if angle == 45:
        return freqs[c + k] * math.sqrt(2), p[c + k, c + k]
    raise ValueError("slice angle must be 0 or 45 degrees")


def layer_marks(layer: object) -> dict[str, float]:
    """Cutoff, stopband (cutoff + half-width) and Nyquist of a layer, in cycles per unit.

    Takes an SG3 layer module (``out_sampling_rate``, ``out_cutoff``, ``out_half_width``) or a
    :class:`stylegan3.networks.layers.LayerInfo` (``sampling_rate``, ``cutoff``, ``stopband``). Layers without
    band limits (StyleGAN2, images) give only what they have.
    """
    marks: dict[str, float] = {}
    rate = getattr(layer, "out_sampling_rate", getattr(layer, "sampling_rate", None))
    cutoff = getattr(layer, "out_cutoff", getattr(layer, "cutoff", None))
    half = getattr(layer, "out_half_width", None)
    stopband = getattr(layer, "stopband", None)
    if rate is not None:
        marks["nyquist"] = float(rate) / 2
    if cutoff is not None:
        marks["cutoff"] = float(cutoff)
        if half is not None:
            marks["stopband"] = float(cutoff) + float(half)
        elif stopband is not None:
            marks["stopband"] = float(stopband)
    return marks


@dataclass
class Spectrum:
    """A mean power spectrum with its frequency axis and plot marks (see module doc for units)."""

    power: np.ndarray
    freqs: np.ndarray
    sampling_rate: float
    label: str = ""
    num_samples: int = 0
    marks: dict[str, float] = field(default_factory=dict)

    def db(self, floor_db: float = -150.0) -> np.ndarray:
        return to_db(self.power, floor_db=floor_db)

    def radial(self) -> tuple[np.ndarray, np.ndarray]:
        return radial_average(self.power, self.freqs)

    def slice(self, angle: int = 0) -> tuple[np.ndarray, np.ndarray]:
        return spectrum_slice(self.power, self.freqs, angle)

    def arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        """Flat dict of everything, for ``np.savez``."""
        out = {"power": self.power, "freqs": self.freqs, "sampling_rate": np.float64(self.sampling_rate),
               "num_samples": np.int64(self.num_samples)}
        for name, (f, v) in {"radial": self.radial(), "slice0": self.slice(0), "slice45": self.slice(45)}.items():
            out[f"{name}_freqs"], out[name] = f, v
        for k, v in self.marks.items():
            out[k] = np.float64(v)
        return {prefix + k: v for k, v in out.items()}


def accumulate_spectrum(
    batches: Iterable[torch.Tensor],
    sampling_rate: float | None = None,
    label: str = "",
    marks: dict[str, float] | None = None,
    window: str = "kaiser",
    beta: float = 8.0,
    total: int | None = None,
    progress: ProgressFn | None = None,
) -> Spectrum:
    """Mean spectrum of a stream of ``[N, C, H, W]`` tensors of one size (layers of many latents, photos).

    ``sampling_rate`` defaults to the width (unit = the whole image). ``progress(done, total)`` is
    called after each batch with the running count of images.
    """
    acc: torch.Tensor | None = None
    count = 0
    for x in batches:
        if x.ndim == 3:
            x = x[None]
        p = power_spectrum(x, window, beta) * x.shape[0]
        if acc is not None and p.shape != acc.shape:
            raise SG3Error(f"spectra need equal sizes, got {tuple(p.shape)} after {tuple(acc.shape)}")
        acc = p if acc is None else acc + p
        count += x.shape[0]
        if progress is not None:
            progress(count, total if total is not None else count)
    if acc is None:
        raise SG3Error("no images to compute a spectrum of")
    if acc.shape[0] != acc.shape[1]:
        raise SG3Error(f"spectra need square images, got {tuple(acc.shape)}")
    n = acc.shape[-1]
    rate = float(sampling_rate) if sampling_rate is not None else float(n)
    return Spectrum((acc / count).cpu().numpy(), spectrum_frequencies(n, rate), rate, label, count, dict(marks or {}))


def _z_for_seed(seed: int, z_dim: int) -> np.ndarray:
    try:
        from stylegan3.networks.latents import z_from_seed
    except ImportError:  # keep the math usable before the latents module exists
        return np.random.RandomState(seed).randn(1, z_dim)
    return z_from_seed(seed, z_dim)


def network_spectrum(
    G: torch.nn.Module,
    layer: str = "output",
    num_samples: int = 16,
    seed: int = 0,
    truncation_psi: float = 1.0,
    window: str = "kaiser",
    beta: float = 8.0,
    progress: ProgressFn | None = None,
    *,
    context: Context = SINGLE,
    resume_from: tuple[int, torch.Tensor] | None = None,
    on_partial: Callable[[int, torch.Tensor], None] | None = None,
    **synthesis_kwargs,
) -> Spectrum | None:
    """Mean spectrum of a layer (or ``'output'``) over the latents of seeds ``seed .. seed + N - 1``.

    The same seeds the GUI shows, so a striking spectrum can be followed back to its images. Runs on
    the device of ``G``'s parameters. Each latent's spectrum is computed on its own and the sum runs in
    seed order, so with a ``context`` of several processes (every rank calls this; only rank 0 gets the
    spectrum, the others None) the result has the same bits as in one process.

    ``resume_from=(k, sum)`` continues from the float64 sum of the first k latents' spectra (what
    ``on_partial(count, sum)`` reported on rank 0 after each round), so an interrupted run continued from its
    checkpoint gives the same bits as one that never stopped (`stylegan3.metrics.spectrum_checkpoint`).
    """
    if num_samples < 1:
        raise SG3Error("the number of samples must be at least 1")
    tensor = next(iter(G.parameters()), None)
    if tensor is None:
        tensor = next(iter(G.buffers()), None)
    device = tensor.device if tensor is not None else torch.device("cpu")
    synthesis_kwargs.setdefault("noise_mode", "const")
    from stylegan3.networks.layers import list_layers

    try:
        infos = {info.name: info for info in list_layers(G)}
    except AttributeError:  # a generator we cannot inspect still has an output to analyse
        infos = {}
    if layer == "output":
        banded = [info for info in infos.values() if info.cutoff is not None]
        marks = layer_marks(banded[-1]) if banded else {}  # SG3: the last layer's band is the image's
        marks["nyquist"] = G.img_resolution / 2
        rate: float | None = float(G.img_resolution)
    elif layer in infos:
        marks = layer_marks(infos[layer])
        rate = infos[layer].sampling_rate
    else:
        raise SG3Error(f"no layer {layer!r}; this network has: output, {', '.join(infos)}")

    def one(i: int) -> torch.Tensor:
        z = torch.from_numpy(_z_for_seed(seed + i, G.z_dim)).to(device=device, dtype=torch.float32)
        c = torch.zeros([1, G.c_dim], device=device)
        if G.c_dim:
            c[0, (seed + i) % G.c_dim] = 1
        with torch.no_grad():
            ws = G.mapping(z, c, truncation_psi=truncation_psi)
            if layer == "output":
                x = G.synthesis(ws, **synthesis_kwargs)
            else:
                from stylegan3.networks.layers import capture_layers

                _img, feats = capture_layers(G, ws, names=[layer], **synthesis_kwargs)
                if layer not in feats:
                    raise SG3Error(f"no layer named {layer!r} in this network")
                x = feats[layer]
        return power_spectrum(x, window, beta).cpu()  # float64; summed on rank 0 in seed order

    acc: torch.Tensor | None = None
    count = 0
    if resume_from is not None:
        count, acc = int(resume_from[0]), resume_from[1].to(torch.float64)
        if not 0 < count <= num_samples:
            raise SG3Error(f"cannot continue from {count} latents towards {num_samples}")
        if progress is not None and context.is_main:
            progress(count, num_samples)
    for results in map_ordered(one, range(count, num_samples), context):
        for _i, p in results or ():
            if acc is not None and p.shape != acc.shape:
                raise SG3Error(f"spectra need equal sizes, got {tuple(p.shape)} after {tuple(acc.shape)}")
            acc = p if acc is None else acc + p
            count += 1
        if results is not None and on_partial is not None:
            on_partial(count, acc)
        if results is not None and progress is not None:
            progress(count, num_samples)
    if not context.is_main:
        return None
    if acc.shape[0] != acc.shape[1]:
        raise SG3Error(f"spectra need square images, got {tuple(acc.shape)}")
    n = acc.shape[-1]
    rate = float(rate) if rate is not None else float(n)
    return Spectrum((acc / num_samples).numpy(), spectrum_frequencies(n, rate), rate, layer, num_samples, marks)
