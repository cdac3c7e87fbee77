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
def test_doctor_reports_fallback_on_cpu(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert f"torch          {torch.__version__}" in out
    assert "GPU            none visible" in out
    assert "kernels built  none" in out
    reason = cuda_ops.unavailable_reason()
    assert reason and f"ops: reference PyTorch path (fallback): {reason}" in out
    for label in ("nvcc", "ninja", "c++", "kernel cache"):
        assert any(line.startswith(label) for line in out.splitlines()), label


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
    text = cmd_doctor.format_report(info)
    assert "GPU            NVIDIA H100 (sm_90)" in text
    assert "kernels built  upfirdn2d, bias_act, filtered_lrelu [cudart 13000]" in text
    assert "ops: CUDA kernels" in text and "register-blocked" in text and "fallback" not in text
