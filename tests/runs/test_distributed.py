"""torch.distributed work split: a 2-process gloo launch gives the bits of a 1-process run; the map itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from stylegan3.runs import distributed

ROOT = Path(__file__).resolve().parents[2]


def _launch(out: Path, nproc: int) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           str(ROOT / "tests" / "support" / "dist_worker.py"), str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
def test_two_gloo_processes_give_the_single_process_bits(tmp_path):
    _launch(tmp_path / "two.pt", 2)
    two = torch.load(tmp_path / "two.pt")
    # the reference: the same code in this process, no process group
    from tests.support import dist_worker

    torch_threads = torch.get_num_threads()
    try:
        one = dist_worker.compute(distributed.SINGLE)
    finally:
        torch.set_num_threads(torch_threads)
    assert two["world_size"] == 2 and one["world_size"] == 1
    assert two["failure"] == one["failure"] == "item 1 is bad"  # raised on rank 1, reported by rank 0
    assert set(two["eq"]) == {"eqt", "eqt_frac", "eqr"}
    for m, values in one["eq"].items():
        assert two["eq"][m] == values, m  # pooled PSNR, bootstrap spread, interval, per-sample: exactly equal
        assert len(values[4]) == 5
    assert torch.equal(two["spectrum"], one["spectrum"]) and one["spectrum"].shape == (16, 16)
    assert torch.equal(two["sticking"][0], one["sticking"][0])
    assert two["sticking"][1:] == one["sticking"][1:]
    assert len(one["frames"]) == len(two["frames"]) == 7  # 3 seeds, 3 frames per seed, no loop
    for a, b in zip(one["frames"], two["frames"], strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(one["frames"][0], one["frames"][3])  # the frames really move


def test_single_process_map_keeps_order_and_raises_directly():
    rounds = list(distributed.map_ordered(lambda x: x * x, [3, 1, 2], distributed.SINGLE, per_rank=2))
    assert rounds == [[(3, 9), (1, 1)], [(2, 4)]]
    with pytest.raises(ZeroDivisionError):
        list(distributed.map_ordered(lambda x: 1 / x, [1, 0]))


def test_not_launched_means_no_process_group(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert not distributed.launched()
    ctx, dev = distributed.setup(torch.device("cpu"))
    assert ctx == distributed.SINGLE and ctx.is_main and not ctx.active and dev == torch.device("cpu")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert not distributed.launched()  # torchrun with one process: plain run
    monkeypatch.setenv("WORLD_SIZE", "x")
    assert not distributed.launched()
