"""`--connect HOST:PORT` for the commands: render on an `sg3-explorer serve` instead of in this process."""

from __future__ import annotations

import argparse
import os
import sys

from stylegan3.errors import SG3Error


def add_connect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--connect", default=None, metavar="HOST:PORT",
                        help="render on an `sg3-explorer serve` (e.g. through an SSH tunnel) instead of here")
    parser.add_argument("--token", default=None,
                        help="the server's token (printed by `serve`; default $SG3_EXPLORER_TOKEN)")
    parser.add_argument("--frame-format", choices=["raw", "png", "jpeg"], default="raw",
                        help="how frames travel (--connect): raw or png are lossless (default raw)")
    parser.add_argument("--jpeg-quality", type=int, default=90, help="JPEG quality 1..100 (default 90)")


def connect(args: argparse.Namespace, timeout: float = 15.0):
    """A ready RemoteBackend for `--connect`, or a one-line error."""
    from stylegan3.service.client import RemoteBackend
    from stylegan3.service.codec import FrameCodecError

    token = args.token or os.environ.get("SG3_EXPLORER_TOKEN") or None
    try:
        backend = RemoteBackend(args.connect, token=token, frame_format=args.frame_format,
                                quality=args.jpeg_quality)
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
