"""`--device cpu|cuda|cuda:N|mps`: parsed, refused with one line when bad or absent, accepted by every command."""

from __future__ import annotations

import pytest
import torch

from sg3_explorer.visualizer.cli import build_parser, main
from stylegan3.errors import SG3Error
from stylegan3.loading.build import resolve_device


def test_device_strings_are_parsed():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device(None).type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "cuda:-1", "cpu:1", "meta", "xla", "cuda:0:1", "", "c p u"])
def test_bad_device_strings_are_refused_in_one_line(bad):
    with pytest.raises(SG3Error) as info:
        resolve_device(bad)
    text = str(info.value)
    assert "\n" not in text and f"{bad!r}" in text and "cpu, cuda, cuda:N or mps" in text


def test_cuda_index_and_absent_backends(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(SG3Error, match=r"'cuda:2' asked for, but this machine has 2 CUDA GPU\(s\): cuda:0 to cuda:1"):
        resolve_device("cuda:2")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SG3Error, match="'cuda' asked for, but no CUDA GPU is available"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(SG3Error, match="MPS backend is not available"):
        resolve_device("mps")


def test_every_command_takes_device():
    parser = build_parser()
    commands = next(a.choices for a in parser._actions if hasattr(a, "choices") and isinstance(a.choices, dict))
    # spectra-plot draws saved spectrum files, timeline writes a file of keys: they run no network, so they
    # have no device to choose
    no_network = {"spectra-plot", "timeline"}
    missing = [name for name, sub in commands.items()
               if name not in no_network and not any("--device" in a.option_strings for a in sub._actions)]
    assert missing == []
    assert no_network <= set(commands)
    assert {"gui", "render", "info", "convert", "doctor"} <= set(commands)


@pytest.mark.parametrize(
    "argv",
    [
        ["render", "--device", "gpu", "--outdir", "unused"],
        ["info", "--device", "cuda:x"],
        ["doctor", "--no-build", "--device", "tpu"],
        ["gui", "--device", "cuda:x"],
        ["convert", "demo", "unused.safetensors", "--device", "gpu"],
    ],
)
def test_cli_refuses_a_bad_device_with_one_line(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown device") and "\n" not in err and "cpu, cuda, cuda:N or mps" in err
    assert not (tmp_path / "unused").exists()


def test_cli_renders_on_the_cpu_when_asked(tmp_path, capsys):
    assert main(["render", "--network", "demo-sg2", "--device", "cpu", "--seeds", "1", "--outdir", str(tmp_path)]) == 0
    assert (tmp_path / "seed0001.png").is_file()
