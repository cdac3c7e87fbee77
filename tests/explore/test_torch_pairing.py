"""`--loss lpips` names a torchvision that does not pair with the installed torch, and the hint keeps that torch.

The packages are faked (package metadata and `sys.modules`); nothing is installed. The hint's command was checked
by hand with `pip install --dry-run lpips 'torch==2.13.0' 'torchvision==0.28.*'` against torch 2.13.0+cpu: it plans
lpips and torchvision 0.28.0 only (the unpinned extra planned torch 2.14.1 and ~20 nvidia-* packages)."""

from __future__ import annotations

import sys
import types
from importlib import metadata

import pytest

from stylegan3.cli.main import main
from stylegan3.explore import torch_pairing
from stylegan3.explore.projection import perceptual_status
from stylegan3.explore.torch_pairing import install_hint, pairing_problem, torchvision_series

CPU_HINT = (
    "pip install lpips 'torch==2.13.0' 'torchvision==0.28.*' --extra-index-url "
    "https://download.pytorch.org/whl/cpu (the torch pin keeps your torch 2.13.0+cpu)"
)


def test_torch_2_n_pairs_with_torchvision_0_n_plus_15():
    assert torchvision_series("2.13.0+cpu") == "0.28"
    assert torchvision_series("2.1.2") == "0.16"
    assert torchvision_series("2.14.1+cu130") == "0.29"
    assert torchvision_series("1.13.1") is None


def test_pairing_problems_are_one_line_each():
    assert pairing_problem("2.13.0+cpu", "0.28.0+cpu", "linux") is None
    assert pairing_problem("2.13.0", "0.28.1", "linux") is None
    assert pairing_problem("2.13.0+cpu", "0.29.1", "linux") == (
        "torchvision 0.29.1 is not the release for torch 2.13.0+cpu (that is torchvision 0.28.x)"
    )
    assert pairing_problem("2.13.0+cpu", "0.28.0", "linux") == (
        "torchvision 0.28.0 is PyPI's CUDA build, which does not load with the CPU build torch 2.13.0+cpu"
    )
    assert pairing_problem("2.13.0", "0.28.0", "darwin") is None  # PyPI's macOS wheels are CPU builds


def test_the_hint_pins_the_installed_torch():
    assert install_hint("2.13.0+cpu") == CPU_HINT
    assert install_hint("2.14.1") == (
        "pip install lpips 'torch==2.14.1' 'torchvision==0.29.*' (the torch pin keeps your torch 2.14.1)"
    )


def _fake_versions(monkeypatch, torch_version: str, torchvision_version: str | None) -> None:
    real = metadata.version

    def version(name: str) -> str:
        if name == "torch":
            return torch_version
        if name == "torchvision":
            if torchvision_version is None:
                raise metadata.PackageNotFoundError(name)
            return torchvision_version
        return real(name)

    monkeypatch.setattr(metadata, "version", version)


def test_project_loss_lpips_with_a_mismatched_torchvision_is_one_line_before_any_work(monkeypatch, tmp_path, capsys):
    _fake_versions(monkeypatch, "2.13.0+cpu", "0.29.1")
    monkeypatch.setattr(
        "stylegan3.cli.remote.open_backend",
        lambda args: pytest.fail("the network was loaded before the loss was checked"),
    )
    target = tmp_path / "t.png"
    from PIL import Image

    Image.new("RGB", (16, 16)).save(target)
    argv = ["project", "--network", "demo", "--target", str(target), "--loss", "lpips", "--outdir", str(tmp_path)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "error: perceptual loss unavailable: torchvision 0.29.1 is not the release for torch 2.13.0+cpu (that is "
        f"torchvision 0.28.x); {CPU_HINT}; or use the offline loss"
    ]


def test_a_paired_torchvision_lets_lpips_import(monkeypatch):
    _fake_versions(monkeypatch, "2.13.0+cpu", "0.28.0+cpu")
    monkeypatch.setitem(sys.modules, "lpips", types.ModuleType("lpips"))
    importable, _, _ = perceptual_status()
    assert importable


def test_missing_lpips_names_the_command_for_the_installed_torch(monkeypatch):
    _fake_versions(monkeypatch, "2.13.0+cpu", None)
    monkeypatch.setitem(sys.modules, "lpips", None)  # `import lpips` raises ImportError
    importable, cached, reason = perceptual_status()
    assert not importable and not cached
    assert reason.startswith("the lpips package is not usable (ModuleNotFoundError: ")
    assert reason.endswith(f"; {CPU_HINT}")
    assert torch_pairing.installed_problem() is None  # no torchvision: the import names what is missing
