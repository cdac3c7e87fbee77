"""Which layers run in float16: counted once (`list_layers` rows), said the same way by `info` and the GUI."""

from __future__ import annotations

import pytest
import torch

from stylegan3.cli.main import main
from stylegan3.loading.demo import demo_network
from stylegan3.networks.info import describe
from stylegan3.networks.precision import fp16_layer_count, precision_summary


def test_counts_follow_the_listed_rows():
    # SG3-T demo: `input` is float32, L0..L14 are all marked (num_fp16_res covers every sampling rate here).
    assert fp16_layer_count(demo_network("sg3-t")) == (15, 16)
    # SG2 demo: blocks 32..256 use float16 for conv0, conv1 and torgb alike (3 x 4), b4..b16 stay float32.
    G = demo_network("sg2")
    assert fp16_layer_count(G) == (12, 20)
    assert [b for b in G.synthesis.block_resolutions if getattr(G.synthesis, f"b{b}").use_fp16] == [32, 64, 128, 256]
    info = describe(G, "demo-sg2")
    assert (info.fp16_layers, info.num_layers) == (12, 20)


def _block_dtypes(G, device: str, force_fp32: bool) -> dict[str, torch.dtype]:
    G = G.to(device)
    ws = G.mapping(torch.zeros([1, G.z_dim], device=device), None)
    _, layers = G.synthesis(ws, force_fp32=force_fp32, capture=["b32.conv1", "b32.torgb"])
    return {name.split(".")[1]: t.dtype for name, t in layers.items()}


def test_sg2_marked_block_runs_float32_on_the_cpu():
    """What the count claims: on the CPU a marked block (conv1 and torgb alike) computes in float32."""
    assert _block_dtypes(demo_network("sg2"), "cpu", False) == {"conv1": torch.float32, "torgb": torch.float32}


@pytest.mark.gpu
def test_sg2_marked_block_runs_float16_on_a_gpu():
    """On CUDA the torgb of a marked block is float16 too, which is why it is counted."""
    G = demo_network("sg2")
    assert _block_dtypes(G, "cuda", False) == {"conv1": torch.float16, "torgb": torch.float16}
    assert _block_dtypes(G, "cuda", True) == {"conv1": torch.float32, "torgb": torch.float32}


def test_summary_says_what_runs_where():
    assert precision_summary(12, 20, "cpu") == "all float32 on the CPU (on a CUDA GPU 12 of 20 layers run in float16)"
    assert precision_summary(12, 20, "cuda") == "12 of 20 layers in float16, the rest in float32"
    assert precision_summary(12, 20, "cuda", force_fp32=True) == (
        "all float32: force fp32 is on (12 of 20 layers would run in float16)")
    assert precision_summary(0, 20, "cuda") == "all layers in float32"


def test_info_prints_the_same_line(capsys):
    assert main(["info", "demo-sg2"]) == 0
    out = capsys.readouterr().out
    here = "cuda" if torch.cuda.is_available() else "cpu"
    assert f"precision   {precision_summary(12, 20, here)}\n" in out
    assert sum(line.endswith("float16") for line in out.splitlines()) == 12
