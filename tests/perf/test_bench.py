"""`sg3-explorer bench`: the table users paste into bug reports, on tiny networks (seconds on a CPU)."""

from __future__ import annotations

import json

import pytest
import torch

from stylegan3.cli.main import main
from stylegan3.networks.configs import build_config_net
from stylegan3.ops import backend
from stylegan3.perf import bench
from tests.support.nets import save_tiny

CPU = torch.device("cpu")


def test_cli_bench_prints_the_table_and_writes_json(tmp_path, capsys, no_cpu_kernels):
    net = save_tiny(tmp_path / "tiny.safetensors", kind="sg3", res=32)
    out = tmp_path / "bench.json"
    argv = ["bench", "--network", str(net), "--network", "demo-sg2", "--device", "cpu", "--warmup", "0", "--iters",
            "1", "--json", str(out)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    text = captured.out
    assert text.startswith("## sg3-explorer bench") and "- device: cpu" in text
    assert "- ops: reference ops on CPU" in text
    rows = [line for line in text.splitlines() if line.startswith("| tiny.safetensors") or line.startswith("| demo")]
    assert len(rows) == 2  # fp32 only on the CPU; what cannot run here is one line below the table
    assert "| tiny.safetensors | 32 | fp32 | reference |" in rows[0]
    assert "| demo-sg2 | 256 | fp32 | reference |" in rows[1]
    assert "Not available here: kernels (no kernels for this device); kernels+graphs (no kernels for this device)." \
        in text
    assert "run/s" in captured.err or "runs/s" in captured.err or "s/run" in captured.err  # the bar, on stderr
    assert "0/1 " not in captured.err  # no placeholder bar while the kernels load and check themselves
    assert captured.err.splitlines()[0] == ("bench: building or loading the kernels and self-checking them (one-time "
                                            "costs, timed apart)")
    setup = [line for line in text.splitlines() if line.startswith("- one-time setup: ")]
    assert len(setup) == 1 and setup[0].endswith("(once per install and network; not in the times below)")
    assert "NVIDIA" not in text  # times from other machines are not compared with ours
    doc = json.loads(out.read_text())
    ref = [r for r in doc["rows"] if r["impl"] == "reference"]
    assert len(doc["rows"]) == 6 and all(r["ms_per_frame"] > 0 and r["floor_ms"] > 0 for r in ref)
    assert bench.format_report(bench.report_from_json(doc)) == text.strip()  # the table again, from the JSON
    assert doc["header"]["torch"] == torch.__version__ and doc["header"]["batch"] == 1


def test_rows_time_per_frame_and_the_bar_counts_only_what_runs(no_cpu_kernels):
    """Per-frame time divides by the batch; the progress total counts the runs of available implementations only
    (n/a rows used to add their runs at once, so the count jumped)."""
    G = build_config_net("SG2", 32, CPU, tiny=True)
    nets = [bench.Network("SG2 (official config)", G, "SG2")]
    ticks = []
    report = bench.run(nets, CPU, batch=2, warmup=1, iters=2, progress=lambda d, t, w: ticks.append((d, t)))
    assert ticks == [(d, 3) for d in range(1, 4)]  # the reference only: 1 warm-up + 2 timed runs, one step each
    ref = report.rows[0]
    assert ref.impl == "reference" and ref.batch == 2 and ref.ms_per_frame > 0 and ref.floor_ms > 0
    assert [r.note for r in report.rows[1:]] == ["n/a: no kernels for this device"] * 2


def test_prepare_times_the_one_time_costs_apart(monkeypatch):
    from stylegan3.ops import selfcheck

    checked = []
    monkeypatch.setattr(selfcheck, "ensure_safe", lambda G, device=None, stream=None: checked.append(G))
    G = build_config_net("SG2", 16, CPU, tiny=True)
    setup = bench.prepare([bench.Network("a", G), bench.Network("b", G)], CPU)
    assert checked == [G, G] and set(setup) == {"kernels_s", "self_check_s"}
    assert bench.setup_label({"kernels_s": 0.42, "self_check_s": 73.0}) == (
        "kernel build or load 0.4 s, self-check 73.0 s (once per install and network; not in the times below)")
    report = bench.run([bench.Network("a", G)], CPU, warmup=0, iters=1, setup=setup)
    assert report.header["one-time setup"] == bench.setup_label(setup)


def test_old_json_with_nvidia_numbers_still_prints():
    row = dict(network="SG2", resolution=256, precision="fp32", impl="reference", batch=1, ms_per_frame=5.0,
               floor_ms=1.0, nvidia_ms=1000.0, nvidia_where="elsewhere", note="")
    text = bench.format_report(bench.report_from_json({"header": {}, "rows": [row]}))
    assert "| SG2 | 256 | fp32 | reference | 5.00 |  | 1.00 | 5.0x |  |" in text and "1000" not in text


def test_implementations_come_from_the_backend(monkeypatch, no_cpu_kernels):
    """Rows are whatever the backend lists, so kernels for another device appear once they exist."""
    assert [name for name, _ in backend.implementations(CPU)] == ["reference", "kernels", "kernels+graphs"]
    assert backend.implementations(CPU)[1][1] == "no kernels for this device"

    from stylegan3.ops.reference_kernels import ReferenceKernels

    fake = ReferenceKernels()  # a kernels module that computes with the reference
    monkeypatch.setattr(backend, "kernels_module", lambda device: fake)
    monkeypatch.setattr(backend, "cuda_kernels_for", lambda x: fake)
    impls = backend.implementations(CPU)
    assert impls[1] == ("kernels", None) and impls[2] == ("kernels+graphs", "CUDA graphs need a CUDA device")
    G = build_config_net("SG2", 16, CPU, tiny=True)
    report = bench.run([bench.Network("tiny", G)], CPU, warmup=0, iters=1)
    assert report.rows[1].impl == "kernels" and report.rows[1].ms_per_frame > 0


def test_bad_arguments_are_one_line(capsys):
    assert main(["bench", "--batch", "0", "--device", "cpu"]) == 1
    assert capsys.readouterr().err.strip() == "error: --batch and --iters must be at least 1, --warmup at least 0"
    assert main(["bench", "--resolution", "100", "--device", "cpu"]) == 1
    assert "power of two" in capsys.readouterr().err


@pytest.mark.parametrize("text,name", [("sg3-t", "SG3-T"), ("SG2", "SG2"), ("demo", None), ("sg3r", None)])
def test_config_names(text, name):
    assert bench.config_name(text) == name


def test_kernels_row_says_where_the_reference_is_faster():
    """A call shape the self-check gave to the reference (faster there) is named in the kernels row's note."""
    G = build_config_net("SG2", 32, CPU, tiny=True)
    net = bench.Network("SG2 (official config)", G, "SG2")
    backend.prefer_reference(CPU, "upfirdn2d [4, 35, 35] float32", "reference faster (1 ms vs 3 ms)")
    try:
        row = bench.measure_row(net, "fp32", "kernels", None, CPU, 1, 0, 1, lambda _w: None)
        ref = bench.measure_row(net, "fp32", "reference", None, CPU, 1, 0, 1, lambda _w: None)
    finally:
        backend.enable_all(CPU)
    assert row.note == "reference where faster: 1 call shape(s)"
    assert ref.note == ""
