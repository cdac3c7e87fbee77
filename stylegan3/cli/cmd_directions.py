"""`sg3-explorer directions`: principal directions of W (GANSpace) into a direction file.

The decomposition is the backend's `pca` analysis, here (a thread backend on `--device`) or on a server
(`--connect`): one code path, the same file either way, and the result cached where the network lives.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from stylegan3.cli.args import add_device_argument, add_network_argument
from stylegan3.errors import SG3Error


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "directions",
        help="compute PCA directions of W (GANSpace) into a .npz direction file",
        description="Sample w from the mapping network, take their principal components (largest variance "
        "first) and write them with their standard deviations, so `render --direction FILE:K=S` moves "
        "S standard deviations along component K.",
    )
    add_network_argument(p)
    p.add_argument("--samples", type=int, default=None,
                   help="number of sampled w (default: 100000 on a GPU, 20000 on a CPU)")
    p.add_argument("--components", type=int, default=None, help="keep the first N components (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampled z (0)")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.npz", help="direction file to write")
    add_device_argument(p)
    from stylegan3.cli.remote import add_connect_arguments

    add_connect_arguments(p, frames=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from stylegan3.cli.remote import analyze, load, open_backend
    from stylegan3.documents.request import NetworkRef, RenderRequest
    from stylegan3.explore.directions import default_samples, save_directions
    from stylegan3.service import analyses

    if args.samples is not None and args.samples < 2:
        raise SG3Error("--samples must be at least 2")
    if args.components is not None and args.components < 1:
        raise SG3Error("--components must be at least 1")
    if not args.out.parent.is_dir():
        raise SG3Error(f"output folder {args.out.parent} does not exist")
    with open_backend(args) as backend:
        info = load(backend, args.network)
        samples = args.samples or default_samples(info.device)
        request = RenderRequest(network=NetworkRef(args.network))
        with tqdm(total=samples, unit="w", desc="sampling W") as bar:
            def progress(done: int, total: int) -> None:
                bar.update(done - bar.n)

            d = analyze(lambda: analyses.pca(backend, request, samples, progress, components=args.components,
                                             seed=args.seed))
    save_directions(args.out, d)
    share = d.sigmas**2 / max(float((d.sigmas**2).sum()), 1e-30)
    lead = ", ".join(f"PC{i} {s:.3g}" for i, s in enumerate(d.sigmas[:5]))
    print(f"wrote {args.out}: {len(d)} components of {d.w_dim}-d W from {samples} samples "
          f"(network {d.network}); sigma {lead}; first 5 explain {share[:5].sum() * 100:.1f}% of the kept variance")
    return 0
