"""Results files: resumable per-sample logs (a killed run resumes to the same result) and run records."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stylegan3.cli.main import main
from stylegan3.errors import SG3Error
from stylegan3.runs.runlog import SampleLog, network_fingerprint
from tests.support.nets import save_tiny

ROOT = Path(__file__).resolve().parents[2]


def test_sample_log_appends_reopens_and_drops_a_torn_line(tmp_path):
    path = tmp_path / "s.jsonl"
    log = SampleLog(path, {"seed": 1, "metric": "eqr"})
    assert log.done == {} and path.read_text().count("\n") == 1
    log.append([(0, {"eqr": [0.1, 3.0]}), (2, {"eqr": [1e-300, 7.0]})])
    again = SampleLog(path, {"seed": 1, "metric": "eqr"})
    assert again.done == {0: {"eqr": [0.1, 3.0]}, 2: {"eqr": [1e-300, 7.0]}}  # floats round-trip exactly
    with open(path, "ab") as f:
        f.write(b'{"i": 5, "r": {"eq')  # killed in the middle of a write
    third = SampleLog(path, {"seed": 1, "metric": "eqr"})
    assert sorted(third.done) == [0, 2] and path.read_bytes().endswith(b"\n")
    third.append([(5, {"eqr": [2.0, 1.0]})])
    assert sorted(SampleLog(path, {"seed": 1, "metric": "eqr"}).done) == [0, 2, 5]


def test_sample_log_refuses_other_settings_and_other_files(tmp_path):
    path = tmp_path / "s.jsonl"
    SampleLog(path, {"seed": 1})
    with pytest.raises(SG3Error, match=r"other settings \(seed: 1 there, 2 now\)"):
        SampleLog(path, {"seed": 2})
    other = tmp_path / "notes.txt"
    other.write_text("hello\n")
    with pytest.raises(SG3Error, match="not a results file"):
        SampleLog(other, {"seed": 1})
    with pytest.raises(SG3Error, match="does not exist"):
        SampleLog(tmp_path / "missing" / "s.jsonl", {})


def test_fingerprint_follows_the_weights(tmp_path):
    from tests.support.nets import tiny_net

    a, b = tiny_net("sg3", res=16, seed=0), tiny_net("sg3", res=16, seed=0)
    assert network_fingerprint(a) == network_fingerprint(b) and len(network_fingerprint(a)) == 64
    next(b.parameters()).data[0] += 1e-3
    assert network_fingerprint(a) != network_fingerprint(b)


def _eq_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if re.match(r"\s+EQ-", line)]


def _sample_lines(path: Path) -> int:
    return max(0, path.read_text().count("\n") - 1) if path.exists() else 0


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_result(tmp_path, capsys):
    net = save_tiny(tmp_path / "net.safetensors", kind="sg3", res=16)
    args = ["equivariance", "--network", str(net), "--samples", "8", "--metrics", "eqt_frac,eqr", "--device", "cpu",
            "--seed", "4"]
    results = tmp_path / "eq.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "stylegan3", *args, "--resume", str(results)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while _sample_lines(results) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    killed_at = _sample_lines(results)
    assert proc.returncode == -signal.SIGKILL and 2 <= killed_at < 8, (proc.returncode, killed_at)

    record = tmp_path / "runs.jsonl"
    # resumed by two processes (torchrun, gloo): rank 0 reads the file and shares what is left to do
    resumed_proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "stylegan3",
         *args, "--resume", str(results), "--record", str(record)],
        env={**env, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300)
    assert resumed_proc.returncode == 0, resumed_proc.stderr[-3000:]
    assert f"{killed_at} of 8 latents already done" in resumed_proc.stderr
    if 8 - killed_at > 2:  # more than one round of two latents left: the first is timed and extrapolated
        assert "estimate:" in resumed_proc.stderr and "on 2 processes" in resumed_proc.stderr
    resumed = _eq_lines(resumed_proc.stdout)
    assert resumed_proc.stdout.count("EQ-R") == 1  # printed by rank 0 only
    assert _sample_lines(results) == 8
    assert main([*args]) == 0  # the same run uninterrupted, no results file
    fresh = _eq_lines(capsys.readouterr().out)
    assert len(resumed) == 2 and resumed == fresh
    (line,) = record.read_text().splitlines()
    rec = json.loads(line)
    assert rec["command"] == "equivariance" and rec["samples"] == 8 and rec["processes"] == 2
    assert rec["settings"]["metrics"] == ["eqt_frac", "eqr"] and rec["settings"]["seed"] == 4
    assert len(rec["network_sha256"]) == 64 and rec["version"] and rec["time"].startswith("20")
    psnr = float(re.search(r"EQ-R\s+([\d.]+) dB", "\n".join(fresh)).group(1))
    assert rec["results"]["eqr"]["psnr_db"] == pytest.approx(psnr, abs=0.006)
    # the same file with other settings is refused with one line, by rank 0, and rank 1 stops too (no hang)
    refused = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "stylegan3",
         *args[:-1], "5", "--resume", str(results)],
        env={**env, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0
    assert refused.stderr.count("error: ") == 1 and "other settings (seed: 4 there, 5 now)" in refused.stderr
