"""`sg3-explorer spectra`: mean power spectrum of a layer or the output, as a PNG figure plus raw arrays.

The figure shows each spectrum as a dB heat map (zero frequency in the middle) with the layer's cutoff
and stopband drawn as squares, and beside them the 0- and 45-degree slices as curves with the same
marks. ``--images DIR`` adds the spectrum of real images (centre-cropped, resized to the same size)
so a generator can be set beside its training data. Drawn with Pillow: no plotting dependency.
``--paper`` and ``--stats`` are the StyleGAN3 paper's estimator and dataset statistics (`stylegan3.cli.spectra_paper`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from stylegan3.cli.args import add_device_argument, add_record_argument
from stylegan3.errors import SG3Error

PANEL = 320  # heat-map side in pixels
PLOT_W, PLOT_H = 460, PANEL
MARGIN = 46
BG, FG, GRID = (255, 255, 255), (20, 20, 20), (225, 225, 225)
CURVE_COLORS = [(31, 119, 180), (214, 39, 40)]  # network, images
MARK_COLORS = {"cutoff": (44, 160, 44), "stopband": (255, 127, 14), "nyquist": (120, 120, 120)}
# Colour map anchors (dark blue -> purple -> orange -> pale yellow), interpolated linearly.
_CMAP = np.array([[0, 0, 4], [60, 15, 110], [150, 40, 120], [230, 90, 60], [250, 190, 40], [252, 250, 190]], float)


def register(subparsers: argparse._SubParsersAction) -> None:
    from stylegan3.documents.request import WINDOWS

    p = subparsers.add_parser(
        "spectra",
        help="mean power spectrum of a layer or the output (PNG figure + .npz)",
        description="Average the 2-D power spectrum of a synthesis layer (or the output image) over the latents "
        "of seeds S..S+N-1 and draw it in dB with its 0/45-degree slices and, for StyleGAN3 layers, the cutoff, "
        "stopband and Nyquist marks. Frequencies are in cycles per image unit (the output's Nyquist is half its "
        "resolution). The raw arrays go to an .npz beside the figure. Without --network the embedded demo "
        "net is used. --stats and --paper follow the StyleGAN3 paper instead: a dataset's pixel statistics, and the "
        "paper's average spectrum of a network's or a dataset's images (docs/SPECTRA.md).",
    )
    p.add_argument("--network", metavar="SRC", help="path, URL, catalog name or 'demo'")
    p.add_argument("--layer", default="output", metavar="NAME", help="synthesis layer name, or 'output' (default)")
    p.add_argument("--samples", type=int, default=16, metavar="N", help="latents to average (16)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="first seed (0)")
    p.add_argument("--psi", type=float, default=1.0, help="truncation psi (1 = none)")
    p.add_argument("--images", metavar="DIR", help="also the spectrum of the images in DIR, resized to the same size; "
                   "with --paper or --stats: a dataset (folder or zip of PNG/JPEG) at its own size instead")
    p.add_argument("--max-images", type=int, default=None, metavar="K",
                   help="use at most K images from DIR (--paper / --stats: a random subset drawn with --seed)")
    p.add_argument("--window", choices=WINDOWS, default="kaiser", help="window before the FFT (kaiser)")
    p.add_argument("--beta", type=float, default=8.0, help="Kaiser window beta (8)")
    p.add_argument("--db-range", type=float, default=100.0, metavar="DB", help="dB shown below the peak (100)")
    p.add_argument("--out", default="spectrum.png", metavar="FILE.png", help="figure path (spectrum.png)")
    add_device_argument(p)
    p.add_argument("--resume", metavar="FILE.npz",
                   help="checkpoint of the running sum, saved every 10 s: run again with the same file to continue "
                   "an interrupted run (same result bits), or with a larger --samples to extend a finished one")
    add_record_argument(p, "run", "network hash, marks, size, settings, version, time")
    from stylegan3.cli.remote import add_connect_arguments

    add_connect_arguments(p, frames=False)
    from stylegan3.cli.spectra_paper import add_arguments

    add_arguments(p)
    p.set_defaults(func=run)


def _colorize(db: np.ndarray, db_range: float) -> np.ndarray:
    t = np.clip(1 + db / db_range, 0, 1) * (len(_CMAP) - 1)
    i = np.minimum(t.astype(int), len(_CMAP) - 2)
    f = (t - i)[..., None]
    return (_CMAP[i] * (1 - f) + _CMAP[i + 1] * f).astype(np.uint8)


def _font(size: int = 13):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one fixed-size default font
        return ImageFont.load_default()


SQUARE_MARKS = ("cutoff", "stopband")


def _heatmap(draw, canvas, spec, x0: int, y0: int, db_range: float, title: str) -> None:
    """Spectrum in dB, nearest-upscaled to PANEL, with cutoff/stopband squares (same units as the axis).

    A mark at the Nyquist frequency is the panel's edge: its square is drawn just inside the frame so it
    stays visible; a mark beyond Nyquist has no square (the legend says so).
    """
    from PIL import Image

    rgb = _colorize(spec.db(), db_range)
    canvas.paste(Image.fromarray(rgb).resize((PANEL, PANEL), Image.NEAREST), (x0, y0))
    draw.rectangle([x0 - 1, y0 - 1, x0 + PANEL, y0 + PANEL], outline=FG)
    half_axis = spec.sampling_rate / 2
    c = PANEL / 2
    for name in SQUARE_MARKS:
        f = spec.marks.get(name)
        if f is not None and _on_axis(f, half_axis):
            r = f / half_axis * PANEL / 2  # at most PANEL / 2: the image pixels just inside the frame
            draw.rectangle([x0 + c - r, y0 + c - r, x0 + c + r - 1, y0 + c + r - 1], outline=MARK_COLORS[name],
                           width=2)
    draw.text((x0, y0 - 18), title, fill=FG, font=_font())
    draw.text((x0, y0 + PANEL + 4), f"-{half_axis:g}", fill=FG, font=_font(11))
    draw.text((x0 + PANEL - 24, y0 + PANEL + 4), f"{half_axis:g}", fill=FG, font=_font(11))


def _on_axis(f: float, half_axis: float) -> bool:
    return f <= half_axis * (1 + 1e-9)


def square_legend(spec) -> str:
    """What the squares of `spec`'s heat map are, naming only those drawn and where the others went."""
    half_axis = spec.sampling_rate / 2
    drawn, beyond = [], []
    for name in SQUARE_MARKS:
        f = spec.marks.get(name)
        if f is None:
            continue
        color = "green" if name == "cutoff" else "orange"
        edge = ", the edge" if abs(f - half_axis) <= 1e-9 * half_axis else ""
        (drawn if _on_axis(f, half_axis) else beyond).append(f"{name} {f:.3g} ({color}{edge})")
    parts = []
    if drawn:
        parts.append("squares: " + ", ".join(drawn))
    if beyond:
        parts.append(", ".join(beyond) + f" beyond Nyquist {half_axis:g}: no square")
    return "; ".join(parts)


def _curves(draw, x0: int, y0: int, spectra: list, db_range: float) -> None:
    """0-degree (solid) and 45-degree (thin) slices in dB against |f|, with vertical mark lines."""
    from stylegan3.metrics.spectra import to_db

    fmax = max(s.sampling_rate / 2 * np.sqrt(2) for s in spectra)
    w, h = PLOT_W - 2 * MARGIN, PLOT_H

    def px(f, d):
        return x0 + MARGIN + f / fmax * w, y0 + (-d / db_range) * h

    for k in range(0, int(db_range) + 1, 20):
        _, y = px(0, -k)
        draw.line([x0 + MARGIN, y, x0 + MARGIN + w, y], fill=GRID)
        draw.text((x0 + 2, y - 7), f"-{k}", fill=FG, font=_font(11))
    marks = spectra[0].marks
    for i, (name, f) in enumerate(sorted(marks.items(), key=lambda kv: kv[1])):
        x, _ = px(f, 0)
        draw.line([x, y0, x, y0 + h], fill=MARK_COLORS.get(name, FG), width=1)
        draw.text((x + 3, y0 + 4 + 14 * i), f"{name} {f:.3g}", fill=MARK_COLORS.get(name, FG), font=_font(11))
    peak = max(float(s.power.max()) for s in spectra)
    for s, color in zip(spectra, CURVE_COLORS, strict=False):
        for angle, width in ((0, 2), (45, 1)):
            f, p = s.slice(angle)
            d = np.maximum(to_db(p, ref=peak), -db_range)
            draw.line([px(fi, di) for fi, di in zip(f, d, strict=True)], fill=color, width=width)
    draw.rectangle([x0 + MARGIN, y0, x0 + MARGIN + w, y0 + h], outline=FG)
    draw.text((x0 + MARGIN, y0 + h + 4), "0", fill=FG, font=_font(11))
    draw.text((x0 + MARGIN + w - 60, y0 + h + 4), f"|f| {fmax:.3g}", fill=FG, font=_font(11))
    legend = "thick: 0 deg, thin: 45 deg;  " + ", ".join(
        f"{'blue' if i == 0 else 'red'}: {s.label}" for i, s in enumerate(spectra)
    )
    draw.text((x0 + MARGIN, y0 - 18), legend, fill=FG, font=_font(12))


def spectrum_figure(spectra: list, db_range: float = 100.0, title: str = "") -> np.ndarray:
    """Heat maps of every spectrum side by side, then one plot of their slices. Returns uint8 ``[H, W, 3]``."""
    from PIL import Image, ImageDraw

    if not spectra:
        raise SG3Error("nothing to draw")
    gap = 30
    width = gap + len(spectra) * (PANEL + gap) + PLOT_W + gap
    height = PANEL + 110
    canvas = Image.new("RGB", (width, height), BG)
    draw = ImageDraw.Draw(canvas)
    draw.text((gap, 8), title, fill=FG, font=_font(14))
    top = 56
    for i, s in enumerate(spectra):
        _heatmap(draw, canvas, s, gap + i * (PANEL + gap), top, db_range, f"{s.label} (n={s.num_samples})")
    _curves(draw, gap + len(spectra) * (PANEL + gap), top, spectra, db_range)
    legend = "; ".join(part for part in (f"dB re. peak, 0 .. -{db_range:g}", square_legend(spectra[0])) if part)
    draw.text((gap, height - 22), legend, fill=FG, font=_font(11))
    return np.asarray(canvas)


def _tqdm(total: int, desc: str):
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="img", file=sys.stderr, leave=False)

    def update(done: int, _total: int) -> None:
        bar.update(done - bar.n)

    return bar, update


def _checkpoint(args: argparse.Namespace, G, ctx):
    """The `--resume` checkpoint, opened on rank 0 (a refused file ends every rank with its message) and
    shared, so every rank starts from the same latent."""
    from stylegan3.metrics.spectrum_checkpoint import SpectrumCheckpoint
    from stylegan3.runs import distributed
    from stylegan3.runs.runlog import network_fingerprint

    def open_checkpoint() -> SpectrumCheckpoint:
        header = {"command": "spectra", "network_sha256": network_fingerprint(G), "layer": args.layer,
                  "seed": args.seed, "psi": args.psi, "window": args.window, "beta": args.beta}
        return SpectrumCheckpoint(args.resume, header, args.samples)

    return distributed.on_main(open_checkpoint, ctx)


def run(args: argparse.Namespace) -> int:
    from PIL import Image

    from stylegan3.cli import spectra_paper

    if args.stats:
        return spectra_paper.run_stats(args)
    if args.paper:
        return spectra_paper.run_paper(args)
    for flag in ("mean", "std", "stats_from"):
        if getattr(args, flag) is not None:
            raise SG3Error(f"--{flag.replace('_', '-')} belongs to --paper")

    from stylegan3.cli.args import load_networks, pick_device
    from stylegan3.metrics.images import iter_image_folder, list_images
    from stylegan3.metrics.spectra import accumulate_spectrum, network_spectrum

    if args.samples < 1:
        raise SG3Error("--samples must be at least 1")
    if not args.db_range > 0:
        raise SG3Error("--db-range must be positive")
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise SG3Error(f"--out must name a .png file, got {out}")
    if not out.parent.is_dir():
        raise SG3Error(f"{out.parent}: folder does not exist")
    if args.images is not None:
        if args.layer != "output":
            # Inner SG3 layers carry margins and their own sampling rates: photos have no such layer.
            raise SG3Error("--images compares real images with the generated output: use it with --layer output")
        if Path(args.images).is_file():
            raise SG3Error(f"{args.images}: not a folder (a zip of a dataset is read by --paper and --stats)")
        list_images(args.images, args.max_images)  # fail before the long part

    from stylegan3.cli.progress import RunProgress
    from stylegan3.runs import distributed

    for path in (args.record, args.resume):
        if path and not Path(path).parent.is_dir():
            raise SG3Error(f"folder of {path} does not exist")
    if args.resume and args.connect:
        raise SG3Error("--resume runs locally only (not with --connect)")
    t0 = time.perf_counter()
    processes, sha = 1, ""
    if args.connect:  # the spectrum is computed next to the network; photos (--images) here, on the CPU
        import torch

        from stylegan3.cli.remote import remote_spectrum

        device = torch.device("cpu")
        where = f"remote {args.connect}"
        with RunProgress(args.samples, "spectrum", "img", True) as bar:
            name, spec, sha = remote_spectrum(args, bar)
    else:
        with distributed.session(pick_device(args.device)) as (ctx, device):
            (name, G), = load_networks([args.network] if args.network else None, device)
            ckpt = _checkpoint(args, G, ctx) if args.resume else None
            start = ckpt.done if ckpt is not None else 0
            if ctx.is_main and start:
                print(f"{args.resume}: {start} of {args.samples} latents already summed, continuing", file=sys.stderr)
            with RunProgress(args.samples, "spectrum", "img", ctx.is_main, start, ctx.world_size) as bar:
                spec = network_spectrum(G, args.layer, args.samples, args.seed, args.psi, args.window, args.beta,
                                        bar, context=ctx, resume_from=ckpt.resume_from if ckpt else None,
                                        on_partial=ckpt.on_partial if ckpt and ctx.is_main else None)
            if ckpt is not None and ctx.is_main:
                ckpt.finish()
            if spec is not None and args.record:
                from stylegan3.runs.runlog import network_fingerprint

                sha = network_fingerprint(G)
            where, processes = device.type, ctx.world_size
    if spec is None:  # not rank 0 of a torchrun launch: rank 0 draws and writes
        return 0
    seconds = time.perf_counter() - t0
    spec.label = f"{name} {args.layer}"
    spectra = [spec]
    if args.images is not None:
        size = spec.power.shape[0]
        total = len(list_images(args.images, args.max_images))
        bar, update = _tqdm(total, "images")
        with bar:
            imgs = accumulate_spectrum(
                (x.to(device) for x in iter_image_folder(args.images, size, args.max_images)),
                sampling_rate=spec.sampling_rate, label=f"images {Path(args.images).name}",
                window=args.window, beta=args.beta, total=total, progress=update,
            )
        spectra.append(imgs)

    title = f"power spectrum: {spec.label}, seeds {args.seed}..{args.seed + args.samples - 1}, {args.window} window"
    Image.fromarray(spectrum_figure(spectra, args.db_range, title)).save(out)
    arrays = spec.arrays("net_")
    if len(spectra) > 1:
        arrays.update(spectra[1].arrays("images_"))
    npz = out.with_suffix(".npz")
    np.savez(npz, **arrays)
    marks = ", ".join(f"{k} {v:.4g}" for k, v in sorted(spec.marks.items(), key=lambda kv: kv[1]))
    print(f"{spec.label}: {spec.num_samples} samples, {spec.power.shape[0]}x{spec.power.shape[1]}"
          f" at {spec.sampling_rate:g}/unit" + (f" ({marks})" if marks else ""))
    print(f"wrote {out} and {npz}")
    if args.record:
        from stylegan3.runs.runlog import append_run_record, run_record

        settings = {"layer": args.layer, "seed": args.seed, "psi": args.psi, "window": args.window,
                    "beta": args.beta, "device": where}
        results = {"size": list(spec.power.shape), "sampling_rate": spec.sampling_rate, "marks": dict(spec.marks),
                   "peak": float(spec.power.max()), "npz": str(npz)}
        append_run_record(args.record, run_record("spectra", name, sha, args.samples, settings, results, seconds,
                                                  processes))
    return 0
