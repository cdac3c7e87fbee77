"""`sg3-explorer equivariance`: EQ-T, EQ-T_frac and EQ-R of a StyleGAN3 network, with their uncertainty.

Prints one line per metric: the PSNR in dB pooled over all sampled latents (the paper's definition),
the bootstrap standard error over latents and a 95% interval. StyleGAN2 networks have no input
transform to probe, so they are refused with a one-line error. Under ``torchrun --nproc_per_node N`` the
latents are spread over the processes (same result as one process); ``--resume`` makes a long run
continuable and ``--record`` keeps one JSON line per run (see README, "Computing the paper's metrics").
With ``--connect HOST:PORT`` the latents' terms are computed on an ``sg3-explorer serve`` (the
``equivariance_terms`` analysis, in chunks, each latent streamed back as it finishes) and pooled here: the same
estimates, log and JSON as a local run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from stylegan3.cli.args import add_device_argument, add_record_argument
from stylegan3.errors import SG3Error


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "equivariance",
        help="EQ-T / EQ-T_frac / EQ-R in dB (StyleGAN3 only)",
        description="Measure translation and rotation equivariance as in 'Alias-Free Generative Adversarial "
        "Networks': render each latent plainly and with a random input translation (up to 1/8 of the image, whole "
        "pixels for EQ-T) or rotation (up to 180 degrees), transform the plain image the same way with a "
        "band-limited resampler and report the PSNR over valid pixels. Without --network the embedded demo "
        "net is used.",
    )
    p.add_argument("--network", metavar="SRC", help="path, URL, catalog name or 'demo'")
    p.add_argument("--samples", type=int, default=64, metavar="N", help="latents to sample (64; the paper used 50k)")
    p.add_argument("--metrics", default="eqt,eqt_frac,eqr", help="comma-separated subset of eqt,eqt_frac,eqr")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of latents and transforms (0)")
    p.add_argument("--psi", type=float, default=1.0, help="truncation psi (1 = none, as in the paper)")
    add_device_argument(p)
    p.add_argument("--json", metavar="FILE", help="also write the results (with per-sample PSNRs) as JSON")
    p.add_argument("--resume", metavar="FILE.jsonl",
                   help="results file: every finished latent is appended; run again with the same file to "
                   "continue an interrupted run where it stopped (or with a larger --samples to extend it)")
    add_record_argument(p, "run", "network hash, metrics, samples, settings, version, time")
    from stylegan3.cli.remote import add_connect_arguments

    add_connect_arguments(p, frames=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from stylegan3.cli.args import load_networks, pick_device
    from stylegan3.cli.progress import RunProgress
    from stylegan3.metrics.equivariance import (
        DEFINITION_VERSION,
        METRICS,
        estimate_equivariance,
        input_transform_buffer,
    )
    from stylegan3.runs import distributed
    from stylegan3.runs.runlog import SampleLog, network_fingerprint

    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    bad = [m for m in metrics if m not in METRICS]
    if bad or not metrics:
        raise SG3Error(f"--metrics: unknown {', '.join(bad) or '(none)'}; choose from {', '.join(METRICS)}")
    if args.samples < 1:
        raise SG3Error("--samples must be at least 1")
    for path in (args.resume, args.record, args.json):
        if path and not Path(path).parent.is_dir():
            raise SG3Error(f"folder of {path} does not exist")
    settings = {"metrics": list(metrics), "seed": args.seed, "psi": args.psi, "translate_max": 0.125,
                "rotate_max": 1.0, "force_fp32": True, "definition": DEFINITION_VERSION}
    if args.connect:
        name, results, seconds, where, fingerprint = _remote(args, metrics, settings)
        _report(args, name, results, seconds, where, "", settings, fingerprint, 1)
        return 0
    with distributed.session(pick_device(args.device)) as (ctx, device):
        (name, G), = load_networks([args.network] if args.network else None, device)
        input_transform_buffer(G)  # refuses StyleGAN2 before any work
        fingerprint = network_fingerprint(G) if ctx.is_main and (args.resume or args.record) else ""

        def open_log() -> SampleLog | None:  # on rank 0; a refused file ends every rank with its message
            if not args.resume:
                return None
            return SampleLog(args.resume, {"command": "equivariance", "network_sha256": fingerprint, **settings})

        log = distributed.on_main(open_log, ctx)  # every rank learns which latents are done
        done = dict(log.done) if log is not None else {}
        log = log if ctx.is_main else None  # rank 0 alone appends
        start = sum(1 for i in done if 0 <= i < args.samples)
        if ctx.is_main and start:
            print(f"{args.resume}: {start} of {args.samples} latents already done, continuing", file=sys.stderr)
        t0 = time.perf_counter()
        with RunProgress(args.samples, "equivariance", "latents", ctx.is_main, start, ctx.world_size) as bar:
            results = estimate_equivariance(
                G, args.samples, metrics, seed=args.seed, truncation_psi=args.psi, progress=bar,
                done=done, on_results=log.append if log is not None else None, context=ctx,
            )
        seconds = time.perf_counter() - t0
        if not ctx.is_main:
            return 0
    procs = f", {ctx.world_size} processes" if ctx.active else ""
    _report(args, name, results, seconds, device.type, procs, settings, fingerprint, ctx.world_size)
    return 0


def _report(args: argparse.Namespace, name: str, results: dict, seconds: float, where: str, procs: str,
            settings: dict, fingerprint: str, processes: int) -> None:
    """Print the estimates and write --json / --record (the same for a local and a --connect run)."""
    from stylegan3.runs.runlog import append_run_record, run_record

    metrics = list(results)
    print(f"{name}: {args.samples} latents, seed {args.seed}, {where}{procs}, {seconds:.1f} s")
    for m in metrics:
        print(f"  {results[m]}")
    summary = {m: {"psnr_db": r.psnr, "stderr_db": r.stderr, "ci95_db": [r.ci_low, r.ci_high]}
               for m, r in results.items()}
    if args.json:
        doc = {"network": name, "samples": args.samples, "seed": args.seed, "psi": args.psi,
               "device": where, "seconds": seconds,
               "metrics": {m: {**summary[m], "per_sample_db": r.per_sample} for m, r in results.items()}}
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1, allow_nan=True)
    if args.record:
        append_run_record(args.record, run_record(
            "equivariance", name, fingerprint, args.samples, {**settings, "device": where},
            summary, seconds, processes))


CHUNK = 16  # latents per request: a bounded reply, and a cancel or a lost connection costs at most this many


def _remote(args: argparse.Namespace, metrics: tuple[str, ...], settings: dict):
    """(name, estimates, seconds, device line, weights' SHA-256 or "") of a --connect run: the missing latents'
    terms from the server, appended to the --resume log as each arrives, pooled here in latent order."""
    from stylegan3.cli.progress import RunProgress
    from stylegan3.cli.remote import analyze, connect, load, where
    from stylegan3.documents.request import NetworkRef, RenderRequest
    from stylegan3.loading.load import network_name
    from stylegan3.metrics.equivariance import pool_terms
    from stylegan3.runs.runlog import SampleLog
    from stylegan3.service import analyses

    source = args.network or "demo"
    request = RenderRequest(network=NetworkRef(source))
    backend = connect(args)
    try:
        info = load(backend, source)
        if not info.capabilities.input_transform:
            raise SG3Error("equivariance metrics need a StyleGAN3 network: this one has no input transform")
        fingerprint = analyze(lambda: analyses.fingerprint(backend, request)) if args.resume or args.record else ""
        log = None
        if args.resume:
            log = SampleLog(args.resume, {"command": "equivariance", "network_sha256": fingerprint, **settings})
        have = {i: t for i, t in (log.done if log is not None else {}).items() if 0 <= i < args.samples}
        if have:
            print(f"{args.resume}: {len(have)} of {args.samples} latents already done, continuing", file=sys.stderr)
        todo = [i for i in range(args.samples) if i not in have]
        t0 = time.perf_counter()
        with RunProgress(args.samples, "equivariance", "latents", True, len(have)) as bar:
            def arrived(index: int, terms: dict) -> None:
                have[index] = terms
                if log is not None:
                    log.append([(index, terms)])
                bar(len(have), args.samples)

            for start, count in _runs(todo, CHUNK):
                analyze(lambda start=start, count=count: analyses.equivariance_terms(
                    backend, request, start, count, metrics, args.seed, args.psi, on_latent=arrived))
        seconds = time.perf_counter() - t0
    finally:
        backend.close()
    results = pool_terms([have[i] for i in range(args.samples)], metrics, args.seed)
    return network_name(source) if args.network else "demo", results, seconds, where(args, info), fingerprint


def _runs(indices: list[int], most: int) -> list[tuple[int, int]]:
    """(start, count) of consecutive indices, each at most `most` long."""
    out: list[tuple[int, int]] = []
    for i in indices:
        if out and out[-1][0] + out[-1][1] == i and out[-1][1] < most:
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((i, 1))
    return out
