"""The average power spectrum as the StyleGAN3 paper's tooling defines it, and the dataset statistics it needs.

Why a second estimator beside `stylegan3.metrics.spectra`: the paper's spectrum figure (training data,
StyleGAN2, StyleGAN3-T / -R as heat maps and 0 / 45 degree slices) is computed from images *as saved*, so
numbers and pictures only compare with it (and files only interchange with its scripts) when computed the
same way. Per image:

1. quantize as a PNG would store it: ``(x * 127.5 + 128)`` clamped to [0, 255] and truncated to uint8
   (data images are uint8 already);
2. whiten with the dataset's mean and standard deviation over all pixels (`dataset_stats`), in uint8 units;
3. multiply by a separable Kaiser window (``beta``, default 8) normalised so that its 2-D energy is 1;
4. zero-pad at the right and bottom to ``interp`` times the size (finer frequency sampling, default 4);
5. |FFT|^2, averaged over channels; the mean over images is the spectrum.

The result, ``[interp * H, interp * W]`` float64 with zero frequency at ``[0, 0]`` (not shifted), is saved
with ``image_size`` in an ``.npz``: the layout the paper's scripts write and read, so files go both ways.
Generated image i has ``z`` from ``RandomState(seed + i).randn`` and, for a conditional network, the class
that same RandomState draws next; psi 1 and constant noise unless asked otherwise (`paper_image`).

The image's power is real and even, so only the half ``[S, S // 2 + 1]`` of a real FFT is summed (half the
memory, half a checkpoint, and a 1024-pixel network's spectrum fits one reply of `spectra --connect`);
`full_spectrum` restores the whole plane by its symmetry. Under torchrun every rank generates images and
rank 0 computes the spectra in image order, so one process and many give the same bits, and a sum resumed
from its checkpoint (`stylegan3.metrics.spectrum_checkpoint`) continues to the same bits as well.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from stylegan3.documents.request import NOISE_MODES
from stylegan3.errors import SG3Error
from stylegan3.runs.distributed import SINGLE, Context, map_ordered

__all__ = [
    "PaperSpectrum",
    "DatasetStats",
    "quantize",
    "paper_window",
    "half_power",
    "full_spectrum",
    "z_and_class",
    "paper_image",
    "sum_half_powers",
    "network_paper_spectrum",
    "images_paper_spectrum",
    "dataset_stats",
    "load_paper_spectrum",
]

ProgressFn = Callable[[int, int], None]


def quantize(x: torch.Tensor) -> torch.Tensor:
    """A generator's float image (about [-1, 1]) as the uint8 a saved PNG holds: x * 127.5 + 128, clamped, truncated."""
    return (x * 127.5 + 128).clamp(0, 255).to(torch.uint8)


def paper_window(size: int, beta: float = 8.0, device: torch.device | str | None = None) -> torch.Tensor:
    """Separable Kaiser window ``[size, size]`` (float64) whose squares sum to 1, so the spectrum of whitened
    white noise is flat at 1 (0 dB) whatever the size."""
    w = torch.kaiser_window(size, periodic=False, beta=float(beta), dtype=torch.float64, device=device)
    w = w / w.square().sum().sqrt()
    return w[:, None] * w[None, :]


def half_power(images: torch.Tensor, mean: float, std: float, window: torch.Tensor, interp: int) -> torch.Tensor:
    """Mean over images and channels of |FFT|^2 of the whitened, windowed, zero-padded uint8 ``[N, C, H, W]``:
    the non-negative-x half ``[S, S // 2 + 1]`` (S = interp * H), float64."""
    x = (images.to(torch.float64) - float(mean)) / float(std) * window
    size = x.shape[-1] * int(interp)
    spec = torch.fft.rfftn(x, s=(size, size), dim=(2, 3))
    return (spec.real.square() + spec.imag.square()).mean(dim=(0, 1))


def full_spectrum(half: np.ndarray) -> np.ndarray:
    """The whole ``[S, S]`` plane from the half of `half_power`: P[ky, kx] = P[-ky, -kx] for a real image."""
    half = np.asarray(half, dtype=np.float64)
    size = half.shape[0]
    rest = half[(-np.arange(size)) % size][:, size - np.arange(half.shape[1], size)]  # kx = S/2+1 .. S-1 (even S)
    return np.concatenate([half, rest], axis=1)


@dataclass
class PaperSpectrum:
    """An average power spectrum in the paper's layout (module doc): ``spectrum`` float64 ``[S, S]`` with zero
    frequency at [0, 0], ``image_size`` the side of the images it came from (S = interp * image_size)."""

    spectrum: np.ndarray
    image_size: int
    num_images: int = 0
    label: str = ""

    @property
    def interp(self) -> int:
        return self.spectrum.shape[0] // self.image_size

    def save(self, path: str | Path) -> None:
        """The paper's two arrays (``spectrum``, ``image_size``) plus ``num_images`` (its scripts read only the two)."""
        np.savez(path, spectrum=np.asarray(self.spectrum, dtype=np.float64), image_size=np.int64(self.image_size),
                 num_images=np.int64(self.num_images))


def load_paper_spectrum(path: str | Path) -> PaperSpectrum:
    """A spectrum file of `spectra --paper` or of the paper's own scripts, labelled by its file name."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            spectrum = np.array(data["spectrum"], dtype=np.float64)
            image_size = int(data["image_size"])
            num = int(data["num_images"]) if "num_images" in data.files else 0
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        raise SG3Error(f"{path}: not a spectrum file with 'spectrum' and 'image_size' ({exc})") from None
    if spectrum.ndim != 2 or spectrum.shape[0] != spectrum.shape[1] or image_size < 1:
        raise SG3Error(f"{path}: spectrum of shape {spectrum.shape} and image size {image_size} is not square")
    return PaperSpectrum(spectrum, image_size, num, path.stem)


def z_and_class(seed: int, z_dim: int, c_dim: int) -> tuple[np.ndarray, int | None]:
    """``z`` ``[1, z_dim]`` from ``RandomState(seed).randn`` (as `stylegan3.networks.latents.z_from_seed`) and, for a
    conditional network, the class the same RandomState draws next (None when unconditional)."""
    rnd = np.random.RandomState(int(seed) % (1 << 32))
    z = rnd.randn(1, z_dim)
    return z, (int(rnd.randint(c_dim)) if c_dim > 0 else None)


@torch.no_grad()
def paper_image(G: torch.nn.Module, seed: int, noise_mode: str = "const", psi: float = 1.0) -> torch.Tensor:
    """Image of `seed` as uint8 ``[1, C, H, W]`` on the CPU (module doc). ``noise_mode='random'`` draws the noise
    from a generator seeded with `seed` where the family supports it (StyleGAN2), so a run repeats; the paper's
    script draws unseeded noise, so its StyleGAN2 numbers do not repeat exactly."""
    from stylegan3 import families
    from stylegan3.networks.device import device_of
    from stylegan3.networks.latents import class_vector

    device = device_of(G)
    z, label = z_and_class(seed, int(G.z_dim), int(G.c_dim))
    c = class_vector(int(G.c_dim), label, device)
    ws = G.mapping(torch.from_numpy(z).to(device=device, dtype=torch.float32), c, truncation_psi=float(psi))
    kwargs: dict = {"noise_mode": noise_mode}
    if noise_mode == "random" and families.capabilities(G).seeded_noise:
        kwargs["noise_generator"] = torch.Generator(device=device).manual_seed(int(seed) % (1 << 63))
    return quantize(G.synthesis(ws, **kwargs)).cpu()


def sum_half_powers(
    image: Callable[[int], torch.Tensor],
    num: int,
    power: Callable[[torch.Tensor], torch.Tensor],
    *,
    context: Context = SINGLE,
    progress: ProgressFn | None = None,
    resume_from: tuple[int, torch.Tensor] | None = None,
    on_partial: Callable[[int, torch.Tensor], None] | None = None,
) -> tuple[int, torch.Tensor] | None:
    """Sum of ``power(image(i))`` for i in 0 .. num - 1, added in index order: ``(num, sum)`` on rank 0, None on
    the others. ``image`` runs on whichever rank the index falls to (uint8 CPU images travel, a few MB); ``power``
    runs on rank 0 only, so the sum has the same bits however many processes made the images."""
    if num < 1:
        raise SG3Error("the number of images must be at least 1")
    count, acc = 0, None
    if resume_from is not None:
        count, acc = int(resume_from[0]), resume_from[1]
        if not 0 < count <= num:
            raise SG3Error(f"cannot continue from {count} images towards {num}")
        if progress is not None and context.is_main:
            progress(count, num)
    for results in map_ordered(image, range(count, num), context):
        if results is None:
            continue
        for _i, img in results:
            p = power(img)
            if acc is not None and p.shape != acc.shape:
                raise SG3Error(f"spectra need equal sizes, got {tuple(p.shape)} after {tuple(acc.shape)}")
            acc = p if acc is None else acc.to(p.device) + p
            count += 1
        if on_partial is not None:
            on_partial(count, acc)
        if progress is not None:
            progress(count, num)
    return (count, acc) if context.is_main else None


def _check(mean: float, std: float, beta: float, interp: int) -> None:
    if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
        raise SG3Error(f"the dataset's std must be positive and mean finite, got mean {mean:g}, std {std:g}")
    if not beta >= 0:
        raise SG3Error(f"the Kaiser beta must be at least 0, got {beta:g}")
    if not 1 <= interp <= 16:
        raise SG3Error(f"--interp must be 1..16, got {interp}")


def _finish(total: tuple[int, torch.Tensor] | None, size: int, label: str) -> PaperSpectrum | None:
    if total is None:
        return None
    count, acc = total
    return PaperSpectrum(full_spectrum((acc / count).cpu().numpy()), size, count, label)


def network_paper_spectrum(
    G: torch.nn.Module,
    num: int,
    mean: float,
    std: float,
    seed: int = 0,
    beta: float = 8.0,
    interp: int = 4,
    noise_mode: str = "const",
    psi: float = 1.0,
    progress: ProgressFn | None = None,
    *,
    context: Context = SINGLE,
    resume_from: tuple[int, torch.Tensor] | None = None,
    on_partial: Callable[[int, torch.Tensor], None] | None = None,
    device: torch.device | None = None,
) -> PaperSpectrum | None:
    """The paper's spectrum of G's images of seeds ``seed .. seed + num - 1`` (module doc); rank 0 gets it.

    ``resume_from=(k, half sum)`` continues the float64 sum that ``on_partial(count, half sum)`` reported; the
    spectra are computed on ``device`` (default: G's)."""
    from stylegan3.networks.device import device_of

    _check(mean, std, beta, interp)
    if noise_mode not in NOISE_MODES:
        raise SG3Error(f"unknown noise mode {noise_mode!r}; choose from {', '.join(NOISE_MODES)}")
    size = int(G.img_resolution)
    device = device_of(G) if device is None else device
    window = paper_window(size, beta, device)
    total = sum_half_powers(lambda i: paper_image(G, seed + i, noise_mode, psi), num,
                            lambda img: half_power(img.to(device), mean, std, window, interp),
                            context=context, progress=progress, resume_from=resume_from, on_partial=on_partial)
    return _finish(total, size, f"seeds {seed}..{seed + num - 1}")


def images_paper_spectrum(
    source: str | Path,
    mean: float,
    std: float,
    beta: float = 8.0,
    interp: int = 4,
    max_images: int | None = None,
    seed: int = 0,
    progress: ProgressFn | None = None,
    *,
    context: Context = SINGLE,
    resume_from: tuple[int, torch.Tensor] | None = None,
    on_partial: Callable[[int, torch.Tensor], None] | None = None,
    device: torch.device | str = "cpu",
) -> PaperSpectrum | None:
    """The paper's spectrum of a dataset (folder or zip, `stylegan3.metrics.images.DatasetImages`) at its own size."""
    from stylegan3.metrics.images import DatasetImages

    _check(mean, std, beta, interp)
    data = DatasetImages(source, max_images, seed)
    try:
        size = data.size()
        window = paper_window(size, beta, device)
        total = sum_half_powers(data.read, len(data),
                                lambda img: half_power(_same_size(img, size, data).to(device), mean, std, window,
                                                       interp),
                                context=context, progress=progress, resume_from=resume_from, on_partial=on_partial)
    finally:
        data.close()
    return _finish(total, size, Path(source).stem)


def _same_size(img: torch.Tensor, size: int, data) -> torch.Tensor:
    # Another rank read this image: its size check ran against that rank's first image, which is the same file.
    if img.shape[2:] != (size, size):
        raise SG3Error(f"{data.source}: all images must share one size ({size}x{size})")
    return img


@dataclass(frozen=True)
class DatasetStats:
    """Mean and standard deviation of all pixel values (every channel) of a dataset, in uint8 units."""

    mean: float
    std: float
    num_images: int
    image_size: tuple[int, int]

    def as_args(self) -> str:
        return f"--mean={self.mean:g} --std={self.std:g}"


def dataset_stats(source: str | Path, max_images: int | None = None, seed: int = 0,
                  progress: ProgressFn | None = None, *, context: Context = SINGLE) -> DatasetStats | None:
    """Pixel mean and std (population) of a dataset, for whitening (`network_paper_spectrum`); rank 0 gets them.

    The sums are of integers, kept exactly in float64, so a folder and a zip of the same images agree to the
    last bit whatever the order."""
    from stylegan3.metrics.images import DatasetImages

    data = DatasetImages(source, max_images, seed)
    count, total, squares = 0, 0.0, 0.0
    try:
        def moments(i: int) -> tuple[int, float, float, tuple[int, int]]:
            x = data.read(i).to(torch.float64)
            return x.numel(), float(x.sum()), float(x.square().sum()), tuple(x.shape[2:])

        shape, done = None, 0
        for results in map_ordered(moments, range(len(data)), context):
            for _i, (n, s, s2, hw) in results or ():
                if shape is not None and hw != shape:
                    raise SG3Error(f"{data.source}: all images must share one size")
                shape, done = hw, done + 1
                count, total, squares = count + n, total + s, squares + s2
            if results is not None and progress is not None:
                progress(done, len(data))
    finally:
        data.close()
    if not context.is_main:
        return None
    mean = total / count
    return DatasetStats(mean, math.sqrt(max(squares / count - mean * mean, 0.0)), len(data), shape)
