"""`sg3-explorer spectra` on the small reference networks: figure, arrays, marks, errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from stylegan3.cli.main import main

pytestmark = pytest.mark.fixtures


def test_output_spectrum_with_image_folder(fixtures_dir, tmp_path, capsys):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (80, 96, 3), dtype=np.uint8)).save(imgs / f"{i}.png")
    out = tmp_path / "spec.png"
    rc = main(["spectra", "--network", str(fixtures_dir / "sg3t.pkl"), "--samples", "1", "--seed", "3",
               "--images", str(imgs), "--out", str(out), "--device", "cpu"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "64x64 at 64/unit" in printed and "nyquist 32" in printed
    fig = Image.open(out)
    assert fig.mode == "RGB" and fig.width > 1000 and fig.height > 300
    arrays = np.load(tmp_path / "spec.npz")
    assert arrays["net_power"].shape == (64, 64) and arrays["images_power"].shape == (64, 64)
    assert int(arrays["net_num_samples"]) == 1 and int(arrays["images_num_samples"]) == 2
    assert float(arrays["net_nyquist"]) == 32.0 and float(arrays["net_sampling_rate"]) == 64.0
    assert arrays["net_freqs"][0] == -32.0
    # random pixels are white: their spectrum is far flatter than the generator's
    net, im = arrays["net_slice0"], arrays["images_slice0"]
    assert im[-1] / im[1:].max() > 100 * net[-1] / net[1:].max()


def test_layer_spectrum_has_sg3_marks(fixtures_dir, tmp_path, capsys):
    pytest.importorskip("stylegan3.networks.layers")
    out = tmp_path / "l4.png"
    rc = main(["spectra", "--network", str(fixtures_dir / "sg3t.pkl"), "--layer", "L4_52_64", "--samples", "1",
               "--out", str(out), "--device", "cpu"])
    assert rc == 0
    arrays = np.load(tmp_path / "l4.npz")
    assert arrays["net_power"].shape == (52, 52)
    assert 0 < float(arrays["net_cutoff"]) < float(arrays["net_stopband"])
    assert float(arrays["net_nyquist"]) * 2 == float(arrays["net_sampling_rate"])


def test_bad_arguments_give_one_line(fixtures_dir, tmp_path, capsys):
    net = str(fixtures_dir / "sg3t.pkl")
    assert main(["spectra", "--network", net, "--layer", "L99", "--out", str(tmp_path / "a.png")]) == 1
    assert "no layer 'L99'" in capsys.readouterr().err
    assert main(["spectra", "--network", net, "--out", str(tmp_path / "a.jpg")]) == 1
    assert ".png" in capsys.readouterr().err
    missing = str(tmp_path / "none")
    assert main(["spectra", "--network", net, "--images", missing, "--out", str(tmp_path / "b.png")]) == 1
    assert "not a folder" in capsys.readouterr().err
    argv = ["spectra", "--network", net, "--layer", "L2_36_64", "--images", str(tmp_path),
            "--out", str(tmp_path / "c.png")]
    assert main(argv) == 1
    assert "--layer output" in capsys.readouterr().err


def test_stylegan2_layer_spectrum(fixtures_dir, tmp_path, capsys):
    out = tmp_path / "sg2.png"
    rc = main(["spectra", "--network", str(fixtures_dir / "sg2.pkl"), "--layer", "b32.conv1", "--samples", "1",
               "--window", "hann", "--out", str(out), "--device", "cpu"])
    assert rc == 0
    arrays = np.load(tmp_path / "sg2.npz")
    assert arrays["net_power"].shape == (32, 32) and float(arrays["net_nyquist"]) == 16.0
    assert "net_cutoff" not in arrays  # StyleGAN2 layers have no designed band limit
    assert main(["spectra", "--network", str(fixtures_dir / "sg2.pkl"), "--layer", "L3_36_64",
                 "--out", str(out)]) == 1
    assert "b32.conv1" in capsys.readouterr().err
