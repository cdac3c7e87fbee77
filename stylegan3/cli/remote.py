"""`--connect HOST:PORT` for the commands: render on an `sg3-explorer serve` instead of in this process."""

from __future__ import annotations

import argparse
import os

from stylegan3.errors import SG3Error

_START_HINT = "is `sg3-explorer serve` running there, or the SSH tunnel open?"


def add_connect_arguments(parser: argparse.ArgumentParser, frames: bool = True) -> None:
    """--connect / --token, and (for commands that fetch frames) --frame-format / --jpeg-quality."""
    parser.add_argument("--connect", default=None, metavar="HOST:PORT",
                        help="run on an `sg3-explorer serve` (e.g. through an SSH tunnel) instead of here")
    parser.add_argument("--token", default=None,
                        help="the server's token (printed by `serve`; default $SG3_EXPLORER_TOKEN)")
    if not frames:
        return
    parser.add_argument("--frame-format", choices=["raw", "png", "jpeg"], default="raw",
                        help="how frames travel (--connect): raw or png are lossless (default raw)")
    parser.add_argument("--jpeg-quality", type=int, default=90, help="JPEG quality 1..100 (default 90)")


def connect(args: argparse.Namespace, timeout: float = 15.0):
    """A ready RemoteBackend for `--connect`, or a one-line error within a few seconds (`probe` first: a port
    where nothing listens is refused at once instead of after the hello's timeout)."""
    from stylegan3.service.client import RemoteBackend, probe
    from stylegan3.service.codec import FrameCodecError

    token = args.token or os.environ.get("SG3_EXPLORER_TOKEN") or None
    problem = probe(args.connect)
    if problem is not None:
        raise SG3Error(f"cannot reach {args.connect}: {problem}; {_START_HINT}")
    try:
        backend = RemoteBackend(args.connect, token=token, frame_format=getattr(args, "frame_format", "raw"),
                                quality=getattr(args, "jpeg_quality", 90))
    except FrameCodecError:
        raise
    if not backend.wait_ready(timeout):
        status = backend.status()
        backend.close()
        if status.state == "refused":
            raise SG3Error(status.message)
        raise SG3Error(f"cannot reach {args.connect}: {status.message or 'no answer'}; {_START_HINT}")
    return backend


def open_backend(args: argparse.Namespace):
    """Where a command's analyses run: the `--connect` server, else a `ThreadBackend` on `--device` here (the
    same analysis either way, so the files written are the same)."""
    if getattr(args, "connect", None):
        return connect(args)
    from stylegan3.cli.args import pick_device
    from stylegan3.service.thread_backend import ThreadBackend

    return ThreadBackend(pick_device(getattr(args, "device", None)))


def where(args: argparse.Namespace, info) -> str:
    """The device line of outputs and run records: the local device type, or `remote HOST:PORT`."""
    return f"remote {args.connect}" if getattr(args, "connect", None) else info.device_type


def run_render(args: argparse.Namespace) -> int:
    """`render --connect`: the same requests as a local render (`cmd_render.seed_requests`), the same PNG bytes."""
    from stylegan3.cli.cmd_render import direction_moves, make_outdir, save_frame, seed_requests
    from stylegan3.documents.request import NetworkRef, RenderRequest
    from stylegan3.service.backend import BackendError

    backend = connect(args)
    try:
        ref = NetworkRef(args.network)
        try:
            info = backend.load(ref)
        except BackendError as exc:
            raise SG3Error(str(exc)) from None
        fingerprint = None
        if args.direction:  # the direction files' network check, with the fingerprint computed on the server
            from stylegan3.service import analyses

            fingerprint = analyze(lambda: analyses.directions_fingerprint(backend, RenderRequest(network=ref)))
        requests = seed_requests(args, info, direction_moves(args.direction, info, fingerprint, args.force))
        make_outdir(args.outdir)
        for seed, request in requests:
            try:
                result = backend.render(request, timeout=600)
            except BackendError as exc:
                raise SG3Error(str(exc)) from None
            save_frame(args, seed, result.image, result.error)
    finally:
        backend.close()
    return 0


def load(backend, source: str):
    """The backend's `NetworkInfo` of `source`; its refusal or load error as a one-line SG3Error."""
    from stylegan3.documents.request import NetworkRef
    from stylegan3.service.backend import BackendError

    try:
        return backend.load(NetworkRef(source))
    except BackendError as exc:
        raise SG3Error(str(exc)) from None


def analyze(call):
    """`call()`, a backend's refusal or failure turned into a one-line SG3Error."""
    from stylegan3.service.backend import BackendError

    try:
        return call()
    except BackendError as exc:
        raise SG3Error(str(exc)) from None


def remote_spectrum(args: argparse.Namespace, progress=None):
    """`spectra --connect`: (name, Spectrum, weights' SHA-256 or "") of `--network`'s `--layer`, computed on the
    server with the arguments a local run passes to `network_spectrum`, so the figure and the .npz are the
    same (the hash only with `--record`)."""
    from stylegan3.documents.request import NetworkRef, RenderRequest
    from stylegan3.loading.load import network_name
    from stylegan3.service import analyses

    source = args.network or "demo"
    backend = connect(args)
    try:
        load(backend, source)
        request = RenderRequest(network=NetworkRef(source))
        spectra = analyze(lambda: analyses.spectra(backend, request, [args.layer], args.samples, args.seed,
                                                    args.psi, args.window, args.beta, progress=progress))
        sha = analyze(lambda: analyses.fingerprint(backend, request)) if getattr(args, "record", None) else ""
    finally:
        backend.close()
    return network_name(source), spectra[args.layer], sha


def remote_paper_spectrum(args: argparse.Namespace, progress=None):
    """`spectra --paper --connect`: (name, PaperSpectrum, weights' SHA-256 or "") of `--network`'s images, computed
    on the server by the analysis 'paper_spectrum' with the arguments a local run uses, so the .npz is the same."""
    from stylegan3.analyses.spectra import paper_spectrum_from_plain
    from stylegan3.documents.request import NetworkRef, RenderRequest
    from stylegan3.loading.load import network_name
    from stylegan3.service import analyses

    source = args.network or "demo"
    params = dict(samples=int(args.samples), seed=int(args.seed), mean=float(args.mean), std=float(args.std),
                  beta=float(args.beta), interp=int(args.interp), psi=float(args.psi), noise_mode=args.noise_mode)
    backend = connect(args)
    try:
        load(backend, source)
        request = RenderRequest(network=NetworkRef(source))
        out = analyze(lambda: backend.analyze("paper_spectrum", request, progress, params=params))
        sha = analyze(lambda: analyses.fingerprint(backend, request)) if getattr(args, "record", None) else ""
    finally:
        backend.close()
    return network_name(source), paper_spectrum_from_plain(out), sha


def remote_sticking(args: argparse.Namespace, backend, source: str, progress=None):
    """`sticking --connect`: (label, StickingResult, weights' SHA-256 or "") of one network on `backend` (see
    `connect`), with the arguments of a local run (seed's z, a zero label, psi, noise mode, the network's own
    input transform) so the score and figure are the same."""
    from stylegan3.documents.request import Latent, NetworkRef, Noise, RenderRequest, Truncation
    from stylegan3.loading.load import network_name
    from stylegan3.service import analyses

    info = load(backend, source)
    request = RenderRequest(network=NetworkRef(source), latent=Latent(float(args.seed)),
                            truncation=Truncation(float(args.psi), None), noise=Noise(args.noise_mode))
    res = analyze(lambda: analyses.sticking(
        backend, request, progress, samples=args.samples, sigma=float(args.sigma), seed=args.noise_seed,
        space=args.space, hp_cutoff=float(args.hp_cutoff), batch_size=args.batch, zero_label=True, view=False))
    sha = analyze(lambda: analyses.fingerprint(backend, request)) if getattr(args, "record", None) else ""
    return f"{network_name(source)} ({info.kind} {info.resolution}px)", res, sha
