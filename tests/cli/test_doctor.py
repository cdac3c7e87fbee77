"""`sg3-explorer doctor`: runs on any machine, exits 0, names the implementation in force and why."""

from __future__ import annotations

import json

import pytest
import torch

import sg3_explorer.ops.cuda as cuda_ops
from stylegan3.cli import cmd_doctor
from stylegan3.cli.main import main

pytestmark = pytest.mark.usefixtures("fresh_cuda_state")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only report")
def test_doctor_gives_one_account_on_cpu(capsys):
    """Each build has its row and one line says what renders: a CPU-only torch printed `kernels built none` and
    `ops: reference PyTorch path (fallback)` (the CUDA build's state, unlabelled) above `dispatch: CPU kernels`."""
    from stylegan3.ops import backend

    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert f"torch         {torch.__version__}" in lines
    assert "GPU           none visible" in lines
    reason = cuda_ops.unavailable_reason()
    assert reason and f"CUDA kernels  none: {reason}" in lines
    in_use = [line for line in lines if line.startswith("ops")]
    assert in_use == [f"ops in use: {backend.describe('cpu')}"]
    if backend.active_impl("cpu") == "cpu":
        assert any(line.startswith("CPU kernels   upfirdn2d, bias_act, filtered_lrelu [") for line in lines)
        assert "fallback" not in out
    for label in ("nvcc", "ninja", "c++", "kernel cache"):
        assert any(line.startswith(label) for line in lines), label


def test_doctor_json_no_build(capsys):
    assert main(["doctor", "--no-build", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["torch"] == torch.__version__
    assert info["tried"] is False  # --no-build must not compile anything
    assert info["active"] in ("ref", "cuda")
    assert {"nvcc", "ninja", "cxx", "cache_dir", "built_kernels", "reason", "dispatch", "cuda_graphs"} <= set(info)
    if not torch.cuda.is_available():
        assert info["cuda_graphs"] == "not applicable (no CUDA device)"


def test_doctor_says_when_graphs_are_disabled(capsys, monkeypatch):
    monkeypatch.setenv("SG3_CUDA_GRAPHS", "0")
    assert main(["doctor", "--no-build"]) == 0
    assert "CUDA graphs: off (SG3_CUDA_GRAPHS=0)" in capsys.readouterr().out


def test_report_when_kernels_are_built():
    info = {
        "torch": "2.11.0",
        "torch_cuda": "13.0",
        "device": "NVIDIA H100 (sm_90)",
        "nvcc": "13.0.88 (/usr/local/cuda/bin/nvcc)",
        "ninja": "1.11.1 (/usr/bin/ninja)",
        "cxx": "c++ 12.2.0 (/usr/bin/c++)",
        "build_dir": "/cache/extensions/0123456789abcdef",
        "arch": "9.0",
        "tried": True,
        "built_kernels": ["upfirdn2d", "bias_act", "filtered_lrelu"],
        "build_info": "cudart 13000",
        "reason": None,
        "active": "cuda",
    }
    info["dispatch"] = "CUDA kernels on NVIDIA H100"
    text = cmd_doctor.format_report(info)
    assert "GPU           NVIDIA H100 (sm_90)" in text
    assert "CUDA kernels  upfirdn2d, bias_act, filtered_lrelu [cudart 13000]" in text
    assert text.splitlines()[-1] == "ops in use: CUDA kernels on NVIDIA H100" and "fallback" not in text


def test_no_build_says_nothing_was_loaded(capsys):
    assert main(["doctor", "--no-build"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "ops in use: not decided (--no-build loads no kernels; run `sg3-explorer doctor`)" in lines
    assert "self-check: not run (--no-build)" in lines
