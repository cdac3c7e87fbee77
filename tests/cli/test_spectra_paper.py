"""`spectra --stats`, `spectra --paper` (dataset and network; --resume, --connect, torchrun) and `spectra-plot`: the
paper's workflow end to end on tiny networks and a small dataset, compared with the library's numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stylegan3.cli.main import main
from stylegan3.metrics.paper_spectrum import dataset_stats, images_paper_spectrum, network_paper_spectrum
from tests.support.nets import tiny_net
from tests.support.service import running_server

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def net(tmp_path_factory) -> Path:
    from stylegan3.loading.native import save_native

    return save_native(tiny_net("SG2", res=16), tmp_path_factory.mktemp("nets") / "tiny-sg2.safetensors")


@pytest.fixture
def data(tmp_path) -> tuple[Path, Path]:
    """A folder and a zip of the same five 16x16 PNGs (smooth blobs, so the spectrum falls off)."""
    folder = tmp_path / "data"
    folder.mkdir()
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[:16, :16]
    zpath = tmp_path / "data.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for i in range(5):
            cy, cx = rng.uniform(4, 12, 2)
            blob = 255 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 20)
            arr = np.stack([blob, blob * 0.5, 255 - blob], -1).astype(np.uint8)
            Image.fromarray(arr).save(folder / f"img{i}.png")
            zf.write(folder / f"img{i}.png", f"img{i}.png")
    return folder, zpath


def test_the_papers_workflow(net, data, tmp_path, capsys):
    folder, zpath = data
    # 1. dataset statistics, the same from the folder and the zip
    assert main(["spectra", "--images", str(folder), "--stats", "--out", str(tmp_path / "folder.png")]) == 0
    out = capsys.readouterr().out
    assert main(["spectra", "--images", str(zpath), "--stats", "--out", str(tmp_path / "stats.json")]) == 0
    stats = dataset_stats(folder)
    assert f"--mean={stats.mean:g} --std={stats.std:g}" in out and "5 images of 16x16" in out
    saved = json.loads((tmp_path / "stats.json").read_text())
    assert saved == {**json.loads((tmp_path / "folder.json").read_text()), "source": str(zpath)}
    assert saved["mean"] == stats.mean and saved["std"] == stats.std and saved["num_images"] == 5
    capsys.readouterr()
    # 2. the data's spectrum at its own size, whitened by the saved statistics
    assert main(["spectra", "--paper", "--images", str(zpath), "--stats-from", str(tmp_path / "stats.json"),
                 "--out", str(tmp_path / "data.png")]) == 0
    want = images_paper_spectrum(folder, stats.mean, stats.std)
    with np.load(tmp_path / "data.npz") as got:
        assert np.array_equal(got["spectrum"], want.spectrum) and int(got["image_size"]) == 16
    # 3. a network's, with the same whitening (seeds 3..5)
    argv = ["spectra", "--paper", "--network", str(net), "--samples", "3", "--seed", "3", "--mean", str(stats.mean),
            "--std", str(stats.std), "--interp", "2", "--device", "cpu"]
    assert main([*argv, "--out", str(tmp_path / "sg2.png")]) == 0
    assert "3 images of 16px, spectrum 32x32 (x2" in capsys.readouterr().out
    from stylegan3 import load_network

    G = load_network(str(net), device="cpu")
    want = network_paper_spectrum(G, 3, stats.mean, stats.std, seed=3, interp=2)
    with np.load(tmp_path / "sg2.npz") as got:
        assert got["spectrum"].shape == (32, 32) and np.array_equal(got["spectrum"], want.spectrum)
    heat = np.asarray(Image.open(tmp_path / "sg2.png"))
    assert heat.shape[2] == 3 and len(np.unique(heat.reshape(-1, 3), axis=0)) > 20
    # 4. the slices of data and network (same interp needed: the data at x4, so the network again at x4)
    assert main([*argv[:-4], "--out", str(tmp_path / "sg2x4.png")]) == 0
    assert main(["spectra-plot", "slices", str(tmp_path / "data.npz"), str(tmp_path / "sg2x4.npz"),
                 "--out", str(tmp_path / "slices.png")]) == 0
    assert Image.open(tmp_path / "slices.png").width > 1000
    assert main(["spectra-plot", "slices", str(tmp_path / "data.npz"), str(tmp_path / "sg2.npz"),
                 "--out", str(tmp_path / "bad.png")]) == 1
    assert "one resolution" in capsys.readouterr().err


def test_resume_extends_a_paper_run_bit_for_bit(net, tmp_path, capsys):
    base = ["spectra", "--paper", "--network", str(net), "--mean", "120", "--std", "60", "--interp", "2",
            "--noise-mode", "random", "--device", "cpu"]
    assert main([*base, "--samples", "4", "--out", str(tmp_path / "fresh.png")]) == 0
    ckpt = str(tmp_path / "sum.npz")
    assert main([*base, "--samples", "2", "--resume", ckpt, "--out", str(tmp_path / "first.png")]) == 0
    assert main([*base, "--samples", "4", "--resume", ckpt, "--out", str(tmp_path / "ext.png")]) == 0
    assert "2 of 4 images already summed, continuing" in capsys.readouterr().err
    a, b = np.load(tmp_path / "fresh.npz"), np.load(tmp_path / "ext.npz")
    assert np.array_equal(a["spectrum"], b["spectrum"]) and int(b["num_images"]) == 4
    other_std = [*base[:7], "61", *base[8:]]
    assert main([*other_std, "--samples", "5", "--resume", ckpt, "--out", str(tmp_path / "x.png")]) == 1
    assert "saved with other settings (std)" in capsys.readouterr().err


def test_connect_gives_the_local_bits(net, tmp_path, capsys):
    argv = ["spectra", "--paper", "--network", str(net), "--samples", "2", "--seed", "9", "--mean", "110",
            "--std", "70", "--psi", "0.8", "--record", str(tmp_path / "runs.jsonl")]
    assert main([*argv, "--device", "cpu", "--out", str(tmp_path / "local.png")]) == 0
    with running_server([str(net.parent)]) as server:
        host_port = server.address.removeprefix("tcp://")
        assert main([*argv, "--connect", host_port, "--out", str(tmp_path / "remote.png")]) == 0
    a, b = np.load(tmp_path / "local.npz"), np.load(tmp_path / "remote.npz")
    assert sorted(a.files) == sorted(b.files) == ["image_size", "num_images", "spectrum"]
    assert all(np.array_equal(a[k], b[k]) for k in a.files) and a["spectrum"].shape == (64, 64)
    records = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert records[0]["network_sha256"] == records[1]["network_sha256"] != ""


def test_errors_are_one_line(net, data, tmp_path, capsys):
    folder, zpath = data
    out = ["--out", str(tmp_path / "x.png")]
    cases = {
        ("spectra", "--paper", "--network", str(net), *out): "give --mean and --std (or --stats-from",
        ("spectra", "--paper", "--mean", "1", "--std", "1", "--layer", "L1", *out): "--layer output",
        ("spectra", "--paper", "--mean", "1", "--std", "0", *out): "std must be positive",
        ("spectra", "--paper", "--mean", "1", "--std", "1", "--images", str(folder), "--network", str(net), *out):
            "without --network",
        ("spectra", "--stats", *out): "--stats needs --images",
        ("spectra", "--network", str(net), "--mean", "3", *out): "--mean belongs to --paper",
        ("spectra-plot", "heatmap", str(folder / "img0.png"), *out): "not a spectrum file",
        ("spectra", "--network", str(net), "--images", str(zpath), *out): "a zip of a dataset is read by --paper",
    }
    for argv, message in cases.items():
        assert main(list(argv)) == 1, argv
        assert message in capsys.readouterr().err, argv


@pytest.mark.slow
def test_two_processes_give_the_single_process_bits(net, tmp_path):
    """`spectra --paper` under torchrun (2 gloo processes): the same .npz as one process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    argv = ["-m", "stylegan3", "spectra", "--paper", "--network", str(net), "--samples", "3", "--mean", "100",
            "--std", "50", "--interp", "2", "--device", "cpu"]
    one = subprocess.run([sys.executable, *argv, "--out", str(tmp_path / "one.png")], env=env, capture_output=True,
                         text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *argv,
                          "--out", str(tmp_path / "two.png")], env=env, capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = np.load(tmp_path / "one.npz"), np.load(tmp_path / "two.npz")
    assert np.array_equal(a["spectrum"], b["spectrum"]) and int(b["num_images"]) == 3


def test_the_analysis_refuses_bad_params_with_one_line(net):
    from stylegan3.documents.request import NetworkRef, RenderRequest
    from stylegan3.service.backend import BackendError
    from stylegan3.service.thread_backend import ThreadBackend

    request = RenderRequest(network=NetworkRef(str(net)))
    with ThreadBackend("cpu") as thread:
        with pytest.raises(BackendError, match="paper_spectrum params: std must be in"):
            thread.analyze("paper_spectrum", request, params={"std": 0.0})
        with pytest.raises(BackendError, match="paper_spectrum params: interp must be in 1..16, got 32"):
            thread.analyze("paper_spectrum", request, params={"interp": 32})


def test_an_interrupted_dataset_spectrum_continues_to_the_same_bits(data, tmp_path, capsys, monkeypatch):
    from stylegan3.cli.progress import RunProgress
    from stylegan3.metrics.spectrum_checkpoint import SpectrumCheckpoint

    folder, _zpath = data
    argv = ["spectra", "--paper", "--images", str(folder), "--mean", "100", "--std", "60", "--device", "cpu"]
    assert main([*argv, "--out", str(tmp_path / "fresh.png")]) == 0
    ckpt = str(tmp_path / "sum.npz")

    def stop_at_3(self, done: int, _total=None) -> None:
        if done == 3:
            raise KeyboardInterrupt  # a kill after the 3rd image's sum was saved

    with monkeypatch.context() as m:
        m.setattr(SpectrumCheckpoint.__init__, "__defaults__", (0.0,))  # save after every image, not every 10 s
        m.setattr(RunProgress, "__call__", stop_at_3)
        assert main([*argv, "--resume", ckpt, "--out", str(tmp_path / "cut.png")]) != 0
    assert "interrupted" in capsys.readouterr().err and not (tmp_path / "cut.npz").exists()
    assert main([*argv, "--resume", ckpt, "--out", str(tmp_path / "resumed.png")]) == 0
    assert "3 of 5 images already summed, continuing" in capsys.readouterr().err
    a, b = np.load(tmp_path / "fresh.npz"), np.load(tmp_path / "resumed.npz")
    assert np.array_equal(a["spectrum"], b["spectrum"]) and int(b["num_images"]) == 5
