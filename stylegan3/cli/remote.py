"""`--connect HOST:PORT` for the commands: render on an `sg3-explorer serve` instead of in this process."""

from __future__ import annotations

import argparse
import os
import sys

from stylegan3.errors import SG3Error


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
    """A ready RemoteBackend for `--connect`, or a one-line error."""
    from stylegan3.service.client import RemoteBackend
    from stylegan3.service.codec import FrameCodecError

    token = args.token or os.environ.get("SG3_EXPLORER_TOKEN") or None
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
        raise SG3Error(f"cannot reach {args.connect} ({status.message or 'no answer'}; is `sg3-explorer serve` "
                       "running there, or the SSH tunnel open?)")
    return backend


def run_render(args: argparse.Namespace) -> int:
    """`render --connect`: the same requests as a local render, the same PNG bytes."""
    from PIL import Image

    from stylegan3.request import Latent, NetworkRef, Noise, RenderRequest, Synthesis, Transform, Truncation
    from stylegan3.service.backend import BackendError

    backend = connect(args)
    try:
        try:
            info = backend.load(NetworkRef(args.network))
        except BackendError as exc:
            raise SG3Error(str(exc)) from None
        if info.c_dim and args.class_idx is None:
            raise SG3Error(f"{args.network}: conditional network ({info.c_dim} classes): pass --class N")
        if args.class_idx is not None and not 0 <= args.class_idx < max(info.c_dim, 1):
            raise SG3Error(f"class {args.class_idx} out of range (the network has {info.c_dim} classes)")
        if (args.translate != (0.0, 0.0) or args.rotate) and not info.capabilities.input_transform:
            print("warning: --translate/--rotate ignored: StyleGAN2 has no input transform", file=sys.stderr)
        base = RenderRequest(
            network=NetworkRef(args.network),
            truncation=Truncation(args.psi, args.cutoff),
            noise=Noise(args.noise_mode),
            transform=Transform(tuple(args.translate), args.rotate),
            synthesis=Synthesis(force_fp32=args.force_fp32, cuda_graphs=False),
        )
        try:
            args.outdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SG3Error(f"{args.outdir}: cannot create output folder ({exc.strerror})") from None
        for seed in args.seeds:
            request = base.replace(latent=Latent(float(seed), 0.0, args.class_idx or 0))
            try:
                result = backend.render(request, timeout=600)
            except BackendError as exc:
                raise SG3Error(str(exc)) from None
            if result.error:
                raise SG3Error(f"seed {seed}: {result.error}")
            path = args.outdir / f"seed{seed:04d}.png"
            Image.fromarray(result.image).save(path)
            print(path)
    finally:
        backend.close()
    return 0


def _load(backend, source: str):
    from stylegan3.request import NetworkRef
    from stylegan3.service.backend import BackendError

    try:
        return backend.load(NetworkRef(source))
    except BackendError as exc:
        raise SG3Error(str(exc)) from None


def _analyze(call):
    from stylegan3.service.backend import BackendError

    try:
        return call()
    except BackendError as exc:
        raise SG3Error(str(exc)) from None


def remote_spectrum(args: argparse.Namespace, progress=None):
    """`spectra --connect`: (name, Spectrum, weights' SHA-256 or "") of `--network`'s `--layer`, computed on the
    server with the arguments a local run passes to `network_spectrum`, so the figure and the .npz are the
    same (the hash only with `--record`)."""
    from stylegan3.cli.args import network_name
    from stylegan3.request import NetworkRef, RenderRequest
    from stylegan3.service import analyses

    source = args.network or "demo"
    backend = connect(args)
    try:
        _load(backend, source)
        request = RenderRequest(network=NetworkRef(source))
        spectra = _analyze(lambda: analyses.spectra(backend, request, [args.layer], args.samples, args.seed,
                                                    args.psi, args.window, args.beta, progress=progress))
        sha = _analyze(lambda: analyses.fingerprint(backend, request)) if getattr(args, "record", None) else ""
    finally:
        backend.close()
    return network_name(source), spectra[args.layer], sha


def remote_sticking(args: argparse.Namespace, backend, source: str, progress=None):
    """`sticking --connect`: (label, StickingResult, weights' SHA-256 or "") of one network on `backend` (see
    `connect`), with the arguments of a local run (seed's z, a zero label, psi, noise mode, the network's own
    input transform) so the score and figure are the same."""
    from stylegan3.cli.args import network_name
    from stylegan3.request import Latent, NetworkRef, Noise, RenderRequest, Truncation
    from stylegan3.service import analyses

    info = _load(backend, source)
    request = RenderRequest(network=NetworkRef(source), latent=Latent(float(args.seed)),
                            truncation=Truncation(float(args.psi), None), noise=Noise(args.noise_mode))
    res = _analyze(lambda: analyses.sticking(
        backend, request, progress, samples=args.samples, sigma=float(args.sigma), seed=args.noise_seed,
        space=args.space, hp_cutoff=float(args.hp_cutoff), batch_size=args.batch, zero_label=True, view=False))
    sha = _analyze(lambda: analyses.fingerprint(backend, request)) if getattr(args, "record", None) else ""
    return f"{network_name(source)} ({info.kind} {info.resolution}px)", res, sha
