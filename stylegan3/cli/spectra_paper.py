"""`spectra --stats` and `spectra --paper`: the StyleGAN3 paper's workflow (`stylegan3.metrics.paper_spectrum`).

1. `spectra --images DATA --stats` prints the dataset's pixel mean and std (as `--mean=.. --std=..`) and saves
   them as JSON beside --out;
2. `spectra --paper --images DATA --stats-from DATA.json` (or `--mean M --std S`) gives the data's spectrum;
3. `spectra --paper --network NET --samples N ...` gives a network's, with the same whitening;
4. `spectra-plot slices *.npz` sets them side by side.
Each spectrum goes to an .npz beside --out in the paper's layout, and --out gets its heat map. Networks run
locally (also under torchrun, with --resume) or on a server (--connect); datasets are read here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from stylegan3.errors import SG3Error


def add_arguments(p: argparse.ArgumentParser) -> None:
    from stylegan3.documents.request import NOISE_MODES

    g = p.add_argument_group("the paper's estimator (docs/SPECTRA.md)")
    g.add_argument("--paper", action="store_true",
                   help="the StyleGAN3 paper's average spectrum of the output (or of --images): uint8 images "
                   "whitened by the dataset's --mean / --std, unit-energy Kaiser window, zero-padded to --interp x "
                   "the size; .npz in the paper tooling's layout and its heat map")
    g.add_argument("--stats", action="store_true",
                   help="with --images: mean and std of all pixel values, printed and saved as JSON beside --out")
    g.add_argument("--mean", type=float, default=None, help="dataset mean for --paper (uint8 units, from --stats)")
    g.add_argument("--std", type=float, default=None, help="dataset std for --paper (uint8 units, from --stats)")
    g.add_argument("--stats-from", metavar="FILE.json", help="--mean and --std from the file --stats saved")
    g.add_argument("--interp", type=int, default=4, metavar="K", help="frequency interpolation: zero-pad to K x "
                   "the size (4)")
    g.add_argument("--noise-mode", choices=NOISE_MODES, default="const",
                   help="--paper noise: const (default) or random, seeded per image (the paper's script draws "
                   "unseeded noise)")


def _out_paths(args: argparse.Namespace) -> tuple[Path, Path]:
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise SG3Error(f"--out must name a .png file, got {out}")
    if not out.parent.is_dir():
        raise SG3Error(f"{out.parent}: folder does not exist")
    for path in (args.record, args.resume):
        if path and not Path(path).parent.is_dir():
            raise SG3Error(f"folder of {path} does not exist")
    return out, out.with_suffix(".npz")


def run_stats(args: argparse.Namespace) -> int:
    """`spectra --images DATA --stats`: mean / std over every pixel value of the dataset, as --mean / --std."""
    from stylegan3.cli.progress import RunProgress
    from stylegan3.metrics.images import DatasetImages
    from stylegan3.metrics.paper_spectrum import dataset_stats
    from stylegan3.runs import distributed

    if args.images is None:
        raise SG3Error("--stats needs --images DIR_OR_ZIP (the dataset)")
    if args.paper or args.network or args.connect:
        raise SG3Error("--stats reads a dataset here: use it without --paper, --network and --connect")
    out = Path(args.out)
    path = out if out.suffix.lower() == ".json" else out.with_suffix(".json")
    if not path.parent.is_dir():
        raise SG3Error(f"{path.parent}: folder does not exist")
    total = len(DatasetImages(args.images, args.max_images, args.seed))
    import torch

    with distributed.session(torch.device("cpu")) as (ctx, _device):
        with RunProgress(total, "stats", "img", ctx.is_main, 0, ctx.world_size) as bar:
            stats = dataset_stats(args.images, args.max_images, args.seed, bar, context=ctx)
    if stats is None:
        return 0
    h, w = stats.image_size
    record = {"source": str(args.images), "mean": stats.mean, "std": stats.std, "num_images": stats.num_images,
              "image_size": [h, w]}
    path.write_text(json.dumps(record, indent=1) + "\n")
    print(f"{args.images}: {stats.num_images} images of {w}x{h}")
    print(stats.as_args())
    print(f"wrote {path}")
    return 0


def whitening(args: argparse.Namespace) -> tuple[float, float]:
    """--mean / --std, or both from --stats-from; one of the two ways is needed."""
    if args.stats_from:
        if args.mean is not None or args.std is not None:
            raise SG3Error("give --stats-from or --mean / --std, not both")
        try:
            data = json.loads(Path(args.stats_from).read_text())
            return float(data["mean"]), float(data["std"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SG3Error(f"{args.stats_from}: not a stats file of `spectra --stats` ({exc})") from None
    if args.mean is None or args.std is None:
        raise SG3Error("--paper whitens by the dataset's statistics: give --mean and --std (or --stats-from "
                       "FILE.json), from `spectra --images DATA --stats`")
    return float(args.mean), float(args.std)


def _check_paper_args(args: argparse.Namespace) -> None:
    if args.layer != "output":
        raise SG3Error("--paper is the spectrum of saved images: use it with --layer output")
    if args.window != "kaiser":
        raise SG3Error("--paper uses the Kaiser window (shape: --beta)")
    if not 1 <= args.interp <= 16:
        raise SG3Error(f"--interp must be 1..16, got {args.interp}")
    if args.images is not None and (args.network or args.connect):
        raise SG3Error("--paper --images is the dataset's spectrum (read here): give it without --network and "
                       "--connect, and compute the network's in another run")
    if args.resume and args.connect:
        raise SG3Error("--resume runs locally only (not with --connect)")


def _header(args: argparse.Namespace, mean: float, std: float, source: dict) -> dict:
    return {"command": "spectra --paper", **source, "seed": args.seed, "mean": mean, "std": std, "beta": args.beta,
            "interp": args.interp}


def run_paper(args: argparse.Namespace) -> int:
    """`spectra --paper`: the paper's spectrum of a network's images or of a dataset, .npz + heat map."""
    from stylegan3.cli.args import load_networks, pick_device
    from stylegan3.cli.progress import RunProgress
    from stylegan3.metrics.paper_spectrum import images_paper_spectrum, network_paper_spectrum
    from stylegan3.metrics.spectrum_checkpoint import SpectrumCheckpoint
    from stylegan3.runs import distributed

    _check_paper_args(args)
    mean, std = whitening(args)
    out, npz = _out_paths(args)
    if args.samples < 1:
        raise SG3Error("--samples must be at least 1")
    t0 = time.perf_counter()
    sha, processes = "", 1
    if args.images is not None:
        from stylegan3.metrics.images import DatasetImages

        total = len(DatasetImages(args.images, args.max_images, args.seed))
        name = Path(args.images).name
    else:
        total, name = args.samples, None
    if args.connect:
        from stylegan3.cli.remote import remote_paper_spectrum

        with RunProgress(total, "spectrum", "img", True) as bar:
            name, spec, sha = remote_paper_spectrum(args, bar)
        where = f"remote {args.connect}"
    else:
        with distributed.session(pick_device(args.device)) as (ctx, device):
            if args.images is not None:
                source = {"images": str(Path(args.images).resolve()), "max_images": args.max_images}
                G = None
            else:
                from stylegan3.runs.runlog import network_fingerprint

                (name, G), = load_networks([args.network] if args.network else None, device)
                sha = network_fingerprint(G) if (args.resume or args.record) else ""
                source = {"network_sha256": sha, "psi": args.psi, "noise_mode": args.noise_mode}
            ckpt = None
            if args.resume:
                header = _header(args, mean, std, source)
                ckpt = distributed.on_main(lambda: SpectrumCheckpoint(args.resume, header, total), ctx)
            start = ckpt.done if ckpt is not None else 0
            if ctx.is_main and start:
                print(f"{args.resume}: {start} of {total} images already summed, continuing", file=sys.stderr)
            common = dict(context=ctx, resume_from=ckpt.resume_from if ckpt else None,
                          on_partial=ckpt.on_partial if ckpt and ctx.is_main else None)
            with RunProgress(total, "spectrum", "img", ctx.is_main, start, ctx.world_size) as bar:
                if G is None:
                    spec = images_paper_spectrum(args.images, mean, std, args.beta, args.interp, args.max_images,
                                                 args.seed, bar, device=device, **common)
                else:
                    spec = network_paper_spectrum(G, args.samples, mean, std, args.seed, args.beta, args.interp,
                                                  args.noise_mode, args.psi, bar, **common)
            if ckpt is not None and ctx.is_main:
                ckpt.finish()
            where, processes = device.type, ctx.world_size
    if spec is None:  # not rank 0 of a torchrun launch
        return 0
    seconds = time.perf_counter() - t0
    spec.label = out.stem
    spec.save(npz)
    from PIL import Image

    from stylegan3.metrics.spectrum_plots import heatmap_figure

    what = f"{name} images" if args.images is not None else f"{name} seeds {args.seed}..{args.seed + total - 1}"
    Image.fromarray(heatmap_figure(spec, title=f"{out.stem}: {what}")).save(out)
    size = spec.spectrum.shape[0]
    print(f"{what}: {spec.num_images} images of {spec.image_size}px, spectrum {size}x{size} "
          f"(x{args.interp}, mean {mean:g}, std {std:g}, Kaiser beta {args.beta:g})")
    print(f"wrote {out} and {npz}")
    if args.record:
        from stylegan3.runs.runlog import append_run_record, run_record

        settings = {"paper": True, "seed": args.seed, "mean": mean, "std": std, "beta": args.beta,
                    "interp": args.interp, "device": where}
        if args.images is None:
            settings.update(psi=args.psi, noise_mode=args.noise_mode)
        results = {"image_size": spec.image_size, "spectrum_size": size, "npz": str(npz)}
        append_run_record(args.record, run_record("spectra", name, sha, spec.num_images, settings, results, seconds,
                                                  processes))
    return 0
