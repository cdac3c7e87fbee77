"""The paper's spectrum estimator against the formula written out here with numpy, its file layout both ways, and
the dataset statistics on a folder and on a zip of the same images."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from stylegan3.errors import SG3Error
from stylegan3.metrics.images import DatasetImages
from stylegan3.metrics.paper_spectrum import (
    PaperSpectrum,
    dataset_stats,
    full_spectrum,
    images_paper_spectrum,
    load_paper_spectrum,
    network_paper_spectrum,
    paper_window,
)
from tests.support.nets import tiny_net


def formula(images_uint8: list[np.ndarray], mean: float, std: float, beta: float, interp: int) -> np.ndarray:
    """The estimator as the issue states it, image by image: whiten, unit-energy separable Kaiser window, zero-pad
    at the end to interp x size, |FFT|^2 averaged over channels, then over images."""
    size = images_uint8[0].shape[-1]
    w1 = np.kaiser(size, beta)
    w = np.outer(w1, w1) / np.sqrt(np.sum(np.outer(w1, w1) ** 2))
    total = 0
    for img in images_uint8:  # [C, H, W] uint8
        x = (img.astype(np.float64) - mean) / std * w
        x = np.pad(x, [(0, 0), (0, (interp - 1) * size), (0, (interp - 1) * size)])
        total = total + (np.abs(np.fft.fft2(x)) ** 2).mean(axis=0)
    return total / len(images_uint8)


def generated(G, seed: int) -> np.ndarray:
    """Image of `seed` as the paper's tooling draws and saves it: z, then the class, from one RandomState."""
    rnd = np.random.RandomState(seed)
    z = torch.from_numpy(rnd.randn(1, G.z_dim)).float()
    c = torch.zeros([1, G.c_dim])
    if G.c_dim:
        c[0, rnd.randint(G.c_dim)] = 1
    with torch.no_grad():
        x = G.synthesis(G.mapping(z, c, truncation_psi=1), noise_mode="const")[0].numpy()
    return np.clip(x * 127.5 + 128, 0, 255).astype(np.uint8)


def conditional_net(res: int = 16) -> torch.nn.Module:
    from stylegan3.networks import build_generator

    torch.manual_seed(1)
    kwargs = dict(z_dim=8, w_dim=16, c_dim=5, img_resolution=res, img_channels=3, channel_base=256, channel_max=16,
                  num_layers=4, mapping_kwargs=dict(num_layers=2))
    return build_generator("sg3", kwargs).eval().requires_grad_(False)


def test_window_has_unit_energy_and_is_the_kaiser_outer_product():
    w = paper_window(24, 8.0).numpy()
    assert w.dtype == np.float64 and abs((w**2).sum() - 1) < 1e-12
    k = np.kaiser(24, 8.0)
    assert np.allclose(w, np.outer(k, k) / (k**2).sum(), rtol=1e-12, atol=0)


@pytest.mark.parametrize("G", [tiny_net("SG3-T", res=16), conditional_net()], ids=["unconditional", "conditional"])
def test_network_spectrum_is_the_formula(G):
    mean, std = 112.684, 69.509
    got = network_paper_spectrum(G, 3, mean, std, seed=5, beta=8.0, interp=4)
    want = formula([generated(G, 5 + i) for i in range(3)], mean, std, 8.0, 4)
    assert got.spectrum.shape == (64, 64) and got.spectrum.dtype == np.float64
    assert got.image_size == 16 and got.num_images == 3 and got.interp == 4
    assert np.allclose(got.spectrum, want, rtol=1e-9, atol=0)
    # zero frequency at [0, 0], not shifted: the DC of whitened images sits in the corner
    assert got.spectrum[0, 0] == pytest.approx(want[0, 0], rel=1e-9)


def test_the_class_comes_from_the_same_random_state():
    G = conditional_net()
    got = network_paper_spectrum(G, 2, 100.0, 50.0, seed=11, interp=2).spectrum
    rnd_labels = formula([generated(G, 11 + i) for i in range(2)], 100.0, 50.0, 8.0, 2)
    assert np.allclose(got, rnd_labels, rtol=1e-9, atol=0)

    def other_class(seed):  # a different (fixed) class per image gives a different spectrum
        z = torch.from_numpy(np.random.RandomState(seed).randn(1, G.z_dim)).float()
        c = torch.zeros([1, G.c_dim])
        c[0, 0] = 1
        x = G.synthesis(G.mapping(z, c), noise_mode="const")[0].numpy()
        return np.clip(x * 127.5 + 128, 0, 255).astype(np.uint8)

    assert not np.allclose(got, formula([other_class(11 + i) for i in range(2)], 100.0, 50.0, 8.0, 2), rtol=1e-6)


def test_seeded_random_noise_repeats_and_differs_from_const():
    G = tiny_net("SG2", res=16)
    a = network_paper_spectrum(G, 2, 120.0, 60.0, noise_mode="random", interp=1).spectrum
    b = network_paper_spectrum(G, 2, 120.0, 60.0, noise_mode="random", interp=1).spectrum
    const = network_paper_spectrum(G, 2, 120.0, 60.0, interp=1).spectrum
    assert np.array_equal(a, b) and not np.allclose(a, const, rtol=1e-6)


def test_full_spectrum_restores_the_plane_from_its_half():
    rng = np.random.default_rng(0)
    for size in (8, 9):
        x = rng.normal(size=(size, size))
        full = np.abs(np.fft.fft2(x)) ** 2
        assert np.allclose(full_spectrum(full[:, : size // 2 + 1]), full, rtol=1e-12, atol=1e-12)


def test_file_layout_goes_both_ways(tmp_path):
    # a file as the paper's script writes it: np.savez with a float64 spectrum and a plain int image size
    spectrum = np.random.default_rng(1).uniform(0.01, 10, size=(32, 32))
    np.savez(tmp_path / "theirs.npz", spectrum=spectrum, image_size=8)
    theirs = load_paper_spectrum(tmp_path / "theirs.npz")
    assert np.array_equal(theirs.spectrum, spectrum) and theirs.image_size == 8 and theirs.interp == 4
    assert theirs.label == "theirs" and theirs.num_images == 0
    # ours, read as their script reads it: exactly the two arrays it needs, same types
    PaperSpectrum(spectrum, 8, 5, "ours").save(tmp_path / "ours.npz")
    with np.load(tmp_path / "ours.npz") as data:
        assert data["spectrum"].dtype == np.float64 and np.array_equal(data["spectrum"], spectrum)
        assert data["image_size"].shape == () and int(data["image_size"]) == 8 and int(data["num_images"]) == 5
    bad = tmp_path / "bad.npz"
    np.savez(bad, power=spectrum)
    with pytest.raises(SG3Error, match="not a spectrum file"):
        load_paper_spectrum(bad)


def _dataset(tmp_path, n: int = 4, size: int = 12):
    rng = np.random.default_rng(3)
    folder = tmp_path / "data"
    (folder / "sub").mkdir(parents=True)
    images = []
    for i in range(n):
        arr = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        name = f"sub/{i:02d}.png" if i % 2 else f"{i:02d}.png"
        Image.fromarray(arr).save(folder / name)
        images.append((name, arr))
    (folder / "notes.txt").write_text("not an image")
    zpath = tmp_path / "data.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for name, _arr in images:
            zf.write(folder / name, name)
        zf.writestr("dataset.json", "{}")
    return folder, zpath, [arr for _name, arr in sorted(images)]


def test_stats_on_a_folder_and_a_zip_agree(tmp_path):
    folder, zpath, arrays = _dataset(tmp_path)
    a, b = dataset_stats(folder), dataset_stats(zpath)
    allpix = np.stack(arrays).astype(np.float64)
    assert a == b and a.num_images == 4 and a.image_size == (12, 12)
    assert a.mean == pytest.approx(allpix.mean(), rel=1e-12) and a.std == pytest.approx(allpix.std(), rel=1e-12)
    assert a.as_args() == f"--mean={a.mean:g} --std={a.std:g}"


def test_dataset_spectrum_is_the_formula_at_its_own_size(tmp_path):
    folder, zpath, arrays = _dataset(tmp_path)
    want = formula([a.transpose(2, 0, 1) for a in arrays], 127.0, 70.0, 8.0, 4)
    for source in (folder, zpath):
        got = images_paper_spectrum(source, 127.0, 70.0)
        assert got.image_size == 12 and got.spectrum.shape == (48, 48) and got.num_images == 4
        assert np.allclose(got.spectrum, want, rtol=1e-9, atol=0)


def test_dataset_subset_is_seeded_and_sizes_must_match(tmp_path):
    folder, _zpath, _arrays = _dataset(tmp_path, n=6)
    order = np.arange(6)
    np.random.RandomState(2).shuffle(order)
    want = [DatasetImages(folder).names[i] for i in np.sort(order[:3])]
    assert DatasetImages(folder, max_images=3, seed=2).names == want
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(folder / "zz.png")
    with pytest.raises(SG3Error, match="zz.png is 12x10.*one size"):
        dataset_stats(folder)
    with pytest.raises(SG3Error, match="not a folder or a zip"):
        DatasetImages(tmp_path / "missing")
