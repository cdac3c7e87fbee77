"""`spectra --resume`: an interrupted or extended mean spectrum continues from its saved running sum and gives
the same bits as a run that never stopped; a checkpoint of other settings, a smaller --samples than what is
saved, and a damaged file are refused with one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylegan3.errors import SG3Error
from stylegan3.metrics.spectra import network_spectrum
from stylegan3.metrics.spectrum_checkpoint import SpectrumCheckpoint
from tests.support.nets import tiny_net

HEADER = {"command": "spectra", "layer": "L1_36_16", "seed": 3}


def test_interrupted_sum_continues_to_the_same_bits(tmp_path):
    G = tiny_net("SG3-T", res=16)
    want = network_spectrum(G, "L1_36_16", 6, seed=3, truncation_psi=0.8)
    path = tmp_path / "sum.npz"
    ckpt = SpectrumCheckpoint(path, HEADER, 6, save_every=0.0)
    assert ckpt.resume_from is None and ckpt.done == 0

    def stop_at_4(done: int, total: int) -> None:
        if done == 4:
            raise KeyboardInterrupt  # a kill after the 4th latent's sum was saved

    with pytest.raises(KeyboardInterrupt):
        network_spectrum(G, "L1_36_16", 6, seed=3, truncation_psi=0.8, progress=stop_at_4,
                         on_partial=ckpt.on_partial)
    again = SpectrumCheckpoint(path, HEADER, 6)
    assert again.done == 4 and again.resume_from[1].dtype == torch.float64
    seen = []
    got = network_spectrum(G, "L1_36_16", 6, seed=3, truncation_psi=0.8, resume_from=again.resume_from,
                           progress=lambda d, t: seen.append(d))
    assert seen == [4, 5, 6]
    assert np.array_equal(got.power, want.power) and got.num_samples == 6 and got.marks == want.marks


def test_cli_resume_extends_a_finished_run_bit_for_bit(tmp_path, capsys):
    from stylegan3.cli.main import main
    from stylegan3.loading.native import save_native

    net = save_native(tiny_net("SG2", res=16), tmp_path / "sg2.safetensors")
    base = ["spectra", "--network", str(net), "--seed", "7", "--device", "cpu"]
    assert main([*base, "--samples", "5", "--out", str(tmp_path / "fresh.png")]) == 0
    ckpt = str(tmp_path / "run.npz")
    assert main([*base, "--samples", "2", "--resume", ckpt, "--out", str(tmp_path / "first.png")]) == 0
    assert main([*base, "--samples", "5", "--resume", ckpt, "--out", str(tmp_path / "ext.png")]) == 0
    assert "2 of 5 latents already summed, continuing" in capsys.readouterr().err
    fresh, ext = np.load(tmp_path / "fresh.npz"), np.load(tmp_path / "ext.npz")
    assert all(np.array_equal(fresh[k], ext[k]) for k in fresh.files) and int(ext["net_num_samples"]) == 5
    assert (tmp_path / "fresh.png").read_bytes() == (tmp_path / "ext.png").read_bytes()
    assert not np.array_equal(np.load(tmp_path / "first.npz")["net_power"], fresh["net_power"])
    # other settings, fewer samples than saved, --connect: refused with one line
    assert main([*base[:4], "8", "--device", "cpu", "--samples", "6", "--resume", ckpt,
                 "--out", str(tmp_path / "x.png")]) == 1
    assert "saved with other settings (seed)" in capsys.readouterr().err
    assert main([*base, "--samples", "3", "--resume", ckpt, "--out", str(tmp_path / "x.png")]) == 1
    assert "already sums 5 latents, more than --samples 3" in capsys.readouterr().err
    assert main([*base, "--samples", "3", "--resume", ckpt, "--connect", "127.0.0.1:1",
                 "--out", str(tmp_path / "x.png")]) == 1
    assert "--resume runs locally only" in capsys.readouterr().err


def test_damaged_checkpoint_is_refused(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(SG3Error, match="not a spectrum checkpoint"):
        SpectrumCheckpoint(bad, HEADER, 4)
    ckpt = SpectrumCheckpoint(tmp_path / "ok.npz", HEADER, 4)
    ckpt.save(0, torch.zeros(3, 3, dtype=torch.float64))
    with pytest.raises(SG3Error, match="damaged checkpoint"):
        SpectrumCheckpoint(tmp_path / "ok.npz", HEADER, 4)
