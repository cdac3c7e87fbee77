"""Per-frame floor of one synthesis frame, as tables: the command-line face of `stylegan3.perf.floor`.

The model (what a frame must compute and move, and the floors that follow at given ceilings) lives in
the package, because `sg3-explorer bench` prints the floor next to its measured times; this script only
builds the official configs, formats the summary and per-layer tables, reads measured ceilings from
benchmarks/ceilings.py's JSON and writes everything to JSON when asked.

    PYTHONPATH=. python3 -m benchmarks.floor [--layers] [--json FILE] [--bw-gbs 3000 ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from benchmarks.tables import text_table
from stylegan3.networks.configs import NETS
from stylegan3.perf.floor import Ceilings, build, count_network, summarize


def _g(x: float) -> str:
    return f"{x / 1e9:.3f}" if x < 1e9 else f"{x / 1e9:.1f}"


def _ms(x: float | None) -> str:
    return "" if x is None else f"{x:.3f}"


UNIT_LABEL = {"tc16": "fp16 TC", "mm32": "tf32 TC | fp32", "cuda": "fp32 cores"}


def format_summary(s: dict[str, Any], res_label: str) -> str:
    out = [
        f"## {s['net']} {s['precision']} ({s['fp16_layers']} of {s['layers_total']} layers fp16), {res_label}, batch 1",
    ]
    head = ["part", "GMAC", "2-D GMAC", "sep GMAC", "unit", "ms fp16TC", "ms tf32TC", "ms fp32", "ms hfma2"]
    rows = []
    for p in s["parts"]:
        label = p["kind"] + (f" [{p['dtype']} layers]" if p["dtype"] else "")
        alt = [_g(p[k]) if k in p else "" for k in ("macs_2d", "macs_sep")]
        times = [_ms(p["ms"].get(k)) for k in ("fp16", "tf32", "fp32", "hfma2")]
        rows.append([label, _g(p["macs"]), *alt, UNIT_LABEL[p["unit"]], *times])
    out += text_table(head, rows, left={0, 4})
    rd = s["radial_down"]
    if rd["macs"]:
        out.append(
            f"of which radial (2-D) down filters: {rd['macs'] / 1e9:.1f} GMAC over {rd['out_samples'] / 1e6:.1f} M "
            f"output samples ({rd['macs'] / rd['out_samples']:.0f} MAC each): {rd['ms_fp32']:.3f} ms on fp32 cores, "
            f"{rd['ms_hfma2']:.3f} ms at the hfma2 rate"
        )
    bt = s["bytes"]
    out.append("")
    for key, label, what in (
        ("a", "strict   ", "weights once + output image"),
        ("b", "practical", "+ activations at our kernel boundaries"),
        ("c", "today    ", "(b) with today's torch modulation passes"),
    ):
        out.append(f"bytes ({key}) {label} {bt[key] / 1e6:9.1f} MB  {bt[key + '_ms']:.3f} ms   {what}")
    out.append("")
    fl = s["floors"]
    frows = [
        ["compute (units added)", _ms(fl["tf32"]["compute_ms"]), _ms(fl["fp32"]["compute_ms"])],
        ["floor strict = max(compute, a)", _ms(fl["tf32"]["strict_ms"]), _ms(fl["fp32"]["strict_ms"])],
        ["floor practical = max(compute, b)", _ms(fl["tf32"]["practical_ms"]), _ms(fl["fp32"]["practical_ms"])],
        ["layer-wise: sum max(compute_l, b_l)", _ms(fl["tf32"]["layerwise_ms"]), _ms(fl["fp32"]["layerwise_ms"])],
    ]
    out += text_table(["floor (synthesis only, ms)", "fp32 convs on tf32 TC", "on fp32 cores"], frows)
    extra = f"target (issue 4) <= {s['target_ms']:g} ms" if s["target_ms"] else ""
    if s["official_ms"]:
        extra += f"; official code fp16 {s['official_ms']:g} ms"
    if extra:
        out.append(extra)
    return "\n".join(out)


def format_layers(s: dict[str, Any]) -> str:
    head = ["layer", "dtype", "shape", "conv GMAC", "flt built", "flt 2-D", "flt sep", "other G",
            "a MB", "b MB", "c MB", "ms tf32", "ms fp32", "ms bytes b"]  # fmt: skip
    rows = []
    conv_kinds = ("modconv", "torgb", "fourier", "mapping")
    flt_kinds = ("filtered_lrelu", "upfirdn2d blur", "img upsample")
    for r in s["layers"]:
        conv = sum(w["macs"] for w in r["work"] if w["kind"] in conv_kinds)
        fw = [w for w in r["work"] if w["kind"] in flt_kinds]
        flt = sum(w["macs"] for w in fw)
        f2d = sum(w["macs_2d"] for w in fw)
        fsep = sum(w["macs_sep"] for w in fw)
        other = sum(w["macs"] for w in r["work"] if w["kind"] not in conv_kinds + flt_kinds)
        flts = [_g(x) if fw else "" for x in (flt, f2d, fsep)]
        mbs = [f"{r[k] / 1e6:.1f}" for k in ("bytes_a", "bytes_b", "bytes_c")]
        times = [_ms(r["compute_ms"]["tf32"]), _ms(r["compute_ms"]["fp32"]), _ms(r["bytes_b_ms"])]
        rows.append([r["name"], r["dtype"], r["desc"], _g(conv), *flts, _g(other), *mbs, *times])
    return "\n".join([f"### {s['net']} {s['precision']} per layer", *text_table(head, rows, left={0, 1, 2})])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    d = Ceilings()
    p.add_argument("--nets", default=",".join(NETS), help="comma list of SG3-T, SG3-R, SG2")
    p.add_argument("--precisions", default="fp16,fp32", help="comma list of fp16 (mixed, as the nets ask), fp32")
    p.add_argument("--resolution", type=int, default=None, help="output resolution (default 1024; 16 with --tiny)")
    p.add_argument("--tiny", action="store_true", help="the tiny configs of bench_synthesis (tests)")
    p.add_argument("--layers", action="store_true", help="also print a per-layer table")
    p.add_argument("--json", default=None, help="write everything to this JSON file")
    p.add_argument("--bw-gbs", type=float, default=d.bw_gbs, help=f"memory bandwidth GB/s (default {d.bw_gbs:g})")
    p.add_argument("--fp16-tflops", type=float, default=d.fp16_tflops, help="fp16 tensor-core TFLOPS")
    p.add_argument("--tf32-tflops", type=float, default=d.tf32_tflops, help="tf32 tensor-core TFLOPS")
    p.add_argument("--fp32-tflops", type=float, default=d.fp32_tflops, help="fp32 CUDA-core TFLOPS")
    p.add_argument("--hfma2-tflops", type=float, default=d.hfma2_tflops, help="fp16 CUDA-core (half2) TFLOPS")
    p.add_argument(
        "--ceilings", default=None, help="JSON of benchmarks.ceilings (measured on the GPU); overrides the rates"
    )
    return p.parse_args(argv)


def measured_ceilings(path: str, base: Ceilings) -> Ceilings:
    """Rates measured by benchmarks/ceilings.py replace the datasheet ones (a NaN or missing one does not)."""
    with open(path) as fh:
        m = json.load(fh)

    def pick(key: str, default: float) -> float:
        v = m.get(key)
        return float(v) if isinstance(v, (int, float)) and v == v and v > 0 else default

    return Ceilings(
        pick("bw_gbs", base.bw_gbs),
        pick("fp16_tflops", base.fp16_tflops),
        pick("tf32_tflops", base.tf32_tflops),
        pick("fp32_fma_tflops", base.fp32_tflops),
        pick("fp16_fma_tflops", base.hfma2_tflops),
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ceil = Ceilings(args.bw_gbs, args.fp16_tflops, args.tf32_tflops, args.fp32_tflops, args.hfma2_tflops)
    if args.ceilings:
        ceil = measured_ceilings(args.ceilings, ceil)
    res = args.resolution or (16 if args.tiny else 1024)
    res_label = f"{res}x{res}" + (" (tiny channels)" if args.tiny else "")
    print(
        f"# synthesis floor per frame, {res_label}, batch 1. 1 MAC = 1 FMA = 2 FLOPs; ceilings: "
        f"{ceil.bw_gbs:g} GB/s, fp16 TC {ceil.fp16_tflops:g}, tf32 TC {ceil.tf32_tflops:g}, "
        f"fp32 {ceil.fp32_tflops:g}, hfma2 {ceil.hfma2_tflops:g} TFLOPS"
    )
    results = []
    for net in args.nets.split(","):
        G = build(net, args.tiny, res)
        for precision in args.precisions.split(","):
            s = summarize(net, precision, count_network(G, precision), ceil)
            results.append(s)
            print()
            print(format_summary(s, res_label))
            if args.layers:
                print()
                print(format_layers(s))
    if args.json:
        with open(args.json, "w") as fh:
            doc = {"resolution": res, "tiny": args.tiny, "ceilings": asdict(ceil), "results": results}
            json.dump(doc, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
