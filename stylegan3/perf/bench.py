"""Per-frame synthesis time on the user's machine, next to the floor at this machine's rates.

Why: our kernels and graphs are first run by users. `sg3-explorer bench` gives them one table to paste into
a bug report: for each network, precision and implementation available on the device (the reference ops,
kernels, kernels + CUDA graphs, as `stylegan3.ops.backend.implementations` lists them), the median
synthesis time per frame and the floor that frame's arithmetic and memory traffic set at this machine's
measured rates (`stylegan3.perf.floor`). Every comparison is within the run: times taken by NVIDIA's code on
other machines (`benchmarks/NOTES.md`) are not a column, since they compared other hardware and other ops.
The one-time costs (building or loading the kernels, their first-use self-check) are timed apart
(`prepare`) and reported in the header, never inside a row.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from stylegan3.networks.configs import NETS, build_config_net

Progress = Callable[[str], None]  # called once per timed or warm-up run, with what is running


@dataclass
class Row:
    network: str
    resolution: int
    precision: str
    impl: str
    batch: int
    ms_per_frame: float | None = None
    floor_ms: float | None = None
    note: str = ""


@dataclass
class Network:
    label: str
    G: torch.nn.Module
    config: str | None = None  # SG3-T / SG3-R / SG2 for an official config with random weights


@dataclass
class Report:
    header: dict[str, Any]
    rows: list[Row] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"header": self.header, "rows": [asdict(r) for r in self.rows]}


def config_name(text: str) -> str | None:
    """'sg3-t' -> 'SG3-T' when `text` names one of the official configs, else None."""
    return next((n for n in NETS if n.lower() == text.strip().lower()), None)


def networks(sources: list[str] | None, device: torch.device, resolution: int | None = None) -> list[Network]:
    """`--network` values: SG3-T / SG3-R / SG2 build the official config at `resolution` (random weights), anything
    else loads as everywhere (path, URL, catalog name, demo). Default: the three official configs. Nothing is
    checked here: `prepare` times the one-time costs apart."""
    from stylegan3.loading.load import load_network, network_name

    out = []
    for src in sources or list(NETS):
        config = config_name(src)
        if config is None:
            out.append(Network(network_name(src), load_network(src, device=device, self_check=False)))
            continue
        res = resolution or default_resolution(device)
        out.append(Network(f"{config} (official config)", build_config_net(config, res, device), config))
    return out


def prepare(nets: list[Network], device: torch.device) -> dict[str, float]:
    """Pay the one-time costs before timing, and time them: building (or loading the cached build of) the kernels
    for `device`, then their self-check on each network, as loading a network does (cached after the first run).
    Returns {"kernels_s": seconds, "self_check_s": seconds}."""
    from stylegan3.ops import backend, selfcheck

    t0 = time.perf_counter()
    backend.kernels_module(device)
    t1 = time.perf_counter()
    for net in nets:
        selfcheck.ensure_safe(net.G, device)  # time what the user would get: switched-off ops stay off
    return {"kernels_s": t1 - t0, "self_check_s": time.perf_counter() - t1}


def setup_label(setup: dict[str, float]) -> str:
    """The header line of `prepare`'s times."""
    return (f"kernel build or load {setup['kernels_s']:.1f} s, self-check {setup['self_check_s']:.1f} s "
            "(once per install and network; not in the times below)")


def default_resolution(device: torch.device) -> int:
    """1024 on a GPU (NVIDIA's H100 numbers), 256 elsewhere (a 1024 frame takes minutes on a CPU)."""
    return 1024 if device.type == "cuda" else 256


def precisions_for(device: torch.device) -> list[str]:
    """fp16 (the networks' mixed precision) exists on CUDA only; elsewhere the networks run in fp32."""
    return ["fp16", "fp32"] if device.type == "cuda" else ["fp32"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _rate(fn: Callable[[], Any], device: torch.device, repeats: int = 3) -> float:
    """Best seconds of `fn` over a few runs after one warm-up."""
    fn()
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return best


def quick_ceilings(device: torch.device) -> tuple[Any, str]:
    """Peak rates for the floor: a one-second measurement of a matmul and a copy on `device`."""
    from stylegan3.perf.floor import Ceilings

    n = 4096 if device.type == "cuda" else 768
    a = torch.randn(n, n, device=device)
    fp32 = 2 * n**3 / _rate(lambda: a @ a, device) / 1e12
    fp16 = fp32
    if device.type == "cuda":
        h = a.half()
        fp16 = 2 * n**3 / _rate(lambda: h @ h, device) / 1e12
    src = torch.ones(int((256 if device.type == "cuda" else 64) * 2**20 / 4), device=device)
    dst = torch.zeros_like(src)  # both touched first: page faults are not bandwidth
    bw = 2 * src.numel() * 4 / _rate(lambda: dst.copy_(src), device) / 1e9
    tf32 = fp32 if not (device.type == "cuda" and torch.backends.cudnn.allow_tf32) else max(fp32, fp16 / 2)
    label = f"measured: {bw:.0f} GB/s copy, {fp32 * 1e3:.0f} GFLOPS fp32 matmul" + (
        f", {fp16:.0f} TFLOPS fp16 matmul" if device.type == "cuda" else ""
    )
    return Ceilings(bw_gbs=bw, fp16_tflops=fp16, tf32_tflops=tf32, fp32_tflops=fp32, hfma2_tflops=2 * fp32), label


def floor_ms(net: Network, precision: str, ceilings: Any, device: torch.device) -> float | None:
    """The layer-wise floor of one frame (batch 1) at `ceilings`; None for a network the model cannot count."""
    from stylegan3.perf import floor

    try:
        summary = floor.summarize(net.config or net.label, precision, floor.count_network(net.G, precision), ceilings)
    except (ValueError, AttributeError, KeyError):
        return None
    mm32 = "tf32" if device.type == "cuda" and torch.backends.cudnn.allow_tf32 else "fp32"
    return float(summary["floors"][mm32]["layerwise_ms"])


def median_ms(fn: Callable[[], Any], device: torch.device, warmup: int, iters: int,
              tick: Progress = lambda _what: None, what: str = "") -> float:
    """Median milliseconds of `fn` after `warmup` runs (CUDA events on a GPU, perf_counter elsewhere).

    Public so the scripts under benchmarks/ time exactly as the `bench` command does; `tick(what)` after each run.
    """
    for _ in range(warmup):
        fn()
        tick(what)
    _sync(device)
    times = []
    for _ in range(iters):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            fn()
            _sync(device)
            times.append((time.perf_counter() - t0) * 1000.0)
        tick(what)
    return statistics.median(times)


def measure_row(
    net: Network, precision: str, impl: str, why_not: str | None, device: torch.device, batch: int, warmup: int,
    iters: int, tick: Progress,
) -> Row:
    """One (network, precision, implementation) row; `why_not` (from the backend) makes it a note instead."""
    from stylegan3.ops import backend
    from stylegan3.render.graphs import SynthesisGraphs
    from stylegan3.render.memory import is_out_of_memory, out_of_memory_message, release_cached_memory

    G = net.G
    row = Row(net.label, int(G.img_resolution), precision, impl, batch)
    if why_not:
        row.note = f"n/a: {why_not}"
        return row
    force_fp32 = precision == "fp32"
    z = torch.randn([batch, G.z_dim], generator=torch.Generator().manual_seed(0)).to(device)
    c = torch.zeros([batch, G.c_dim], device=device)
    runner = SynthesisGraphs(G) if impl.endswith("+graphs") else None

    def synth() -> torch.Tensor:
        if runner is None:
            return G.synthesis(ws, noise_mode="const", force_fp32=force_fp32)
        out = runner(ws, noise_mode="const", force_fp32=force_fp32)
        if runner.last_reason is not None:
            raise RuntimeError(f"CUDA graph not used: {runner.last_reason}")
        return out

    what = f"{net.label} {precision} {impl}"
    try:
        with torch.inference_mode(), backend.serving(None, device) if impl == "reference" else nullcontext():
            ws = G.mapping(z, c, truncation_psi=1.0)
            row.ms_per_frame = median_ms(synth, device, warmup, iters, tick, what) / batch
        off = {op for op in backend.disabled(device) if op != "graphs"}
        if impl != "reference" and off:
            row.note = f"reference for {', '.join(sorted(off))} (self-check)"
        faster = backend.reference_faster(device)
        if impl != "reference" and faster:
            row.note = "; ".join(filter(None, [row.note, f"reference where faster: {len(faster)} call shape(s)"]))
    except Exception as exc:  # noqa: BLE001 - one failed row must not end the benchmark
        if is_out_of_memory(exc):
            release_cached_memory()
            row.note = out_of_memory_message(exc, "benchmarking")
        else:
            row.note = f"failed: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:120]}"
    finally:
        if runner is not None:
            runner.clear()
    return row


def machine_header(device: torch.device, ceilings_label: str, batch: int, setup: str = "") -> dict[str, Any]:
    from stylegan3 import __version__ as version
    from stylegan3.ops import backend

    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = platform.processor() or platform.machine()
    return {
        "sg3-explorer": version,
        "device": f"{device} ({name})",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "ops": backend.describe(device),
        "batch": batch,
        "floor ceilings": ceilings_label,
        **({"one-time setup": setup} if setup else {}),
    }


def run(
    nets: list[Network], device: torch.device, batch: int = 1, warmup: int | None = None, iters: int | None = None,
    progress: Callable[[int, int, str], None] | None = None, setup: dict[str, float] | None = None,
) -> Report:
    """Every row for `nets` on `device`; `progress(done, total, what)` after each timed or warm-up run (the bar:
    its total counts the runs of the implementations available here only, so it never jumps); `setup`, the
    times `prepare` took, goes in the header."""
    from stylegan3.ops import backend

    warmup = (5 if device.type == "cuda" else 1) if warmup is None else warmup
    iters = (20 if device.type == "cuda" else 2) if iters is None else iters
    ceilings, ceilings_label = quick_ceilings(device)
    impls = backend.implementations(device)
    precisions = precisions_for(device)
    total = len(nets) * len(precisions) * sum(why is None for _, why in impls) * (warmup + iters)
    done = [0]

    def tick(what: str) -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total, what)

    report = Report(header=machine_header(device, ceilings_label, batch, setup_label(setup) if setup else ""))
    for net in nets:
        for precision in precisions:
            floor = floor_ms(net, precision, ceilings, device)
            for impl, why_not in impls:
                row = measure_row(net, precision, impl, why_not, device, batch, warmup, iters, tick)
                row.floor_ms = floor
                report.rows.append(row)
    report.header["runs"] = f"median of {iters} after {warmup} warm-up"
    return report


def _ms(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.0f}" if v >= 100 else f"{v:.2f}" if v >= 1 else f"{v:.3f}"


def format_report(report: Report) -> str:
    """Markdown: the machine, one table row per measurement, then what is not available here and why
    (paste it into an issue as is)."""
    lines = ["## sg3-explorer bench", ""]
    lines += [f"- {k}: {v}" for k, v in report.header.items()]
    lines += [
        "",
        "| network | res | prec | ops | ms / frame | vs reference | floor ms | x floor | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    ref = {(r.network, r.precision): r.ms_per_frame for r in report.rows if r.impl == "reference"}
    missing: dict[str, str] = {}
    for r in report.rows:
        if r.note.startswith("n/a: "):
            missing.setdefault(r.impl, r.note[5:])
            continue
        base = ref.get((r.network, r.precision))
        speed = f"{base / r.ms_per_frame:.2f}x" if base and r.ms_per_frame and r.impl != "reference" else ""
        over = f"{r.ms_per_frame / r.floor_ms:.1f}x" if r.ms_per_frame and r.floor_ms else ""
        lines.append(
            f"| {r.network} | {r.resolution} | {r.precision} | {r.impl} | {_ms(r.ms_per_frame)} | {speed} | "
            f"{_ms(r.floor_ms)} | {over} | {r.note} |"
        )
    if missing:
        lines += ["", "Not available here: " + "; ".join(f"{impl} ({why})" for impl, why in missing.items()) + "."]
    lines += ["", "vs reference: how many times faster than the reference ops in this run (above 1 = faster). "
              "floor: the frame's arithmetic and memory traffic at the measured rates, layer by layer "
              "(stylegan3/perf/floor.py)."]
    return "\n".join(lines)


def report_from_json(doc: dict[str, Any]) -> Report:
    """A report written with `--json`, to print its table again."""
    fields = set(Row.__dataclass_fields__)  # files of older versions carried NVIDIA's numbers from other machines
    return Report(header=dict(doc["header"]), rows=[Row(**{k: v for k, v in r.items() if k in fields})
                                                    for r in doc["rows"]])
