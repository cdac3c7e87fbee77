"""`sg3-explorer spectra-plot heatmap F.npz` / `slices A.npz B.npz ...`: the StyleGAN3 paper's spectrum figures.

Reads spectra in the paper tooling's layout (`spectrum`, `image_size`): those of `spectra --paper` and those the
paper's own scripts wrote, so a network can be set beside the published data. Drawing:
`stylegan3.metrics.spectrum_plots`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from stylegan3.errors import SG3Error


def register(subparsers: argparse._SubParsersAction) -> None:
    from stylegan3.metrics.spectrum_plots import HEATMAP_SMOOTH

    p = subparsers.add_parser(
        "spectra-plot",
        help="the StyleGAN3 paper's spectrum heat map and 0/45-degree slices of .npz spectra",
        description="Plot average power spectra saved by `spectra --paper` (or by the paper's own tooling) as "
        "the paper shows them: a heat map in dB with contour levels every 5 dB from -40 to 20, or the 0- and "
        "45-degree slices of several files in one figure, each labelled by its file name.",
    )
    sub = p.add_subparsers(dest="plot", metavar="PLOT", required=True)
    h = sub.add_parser("heatmap", help="dB heat map of one spectrum",
                       description="Heat map of one spectrum in dB, zero frequency in the middle, axes in cycles "
                       "per image, Gaussian smoothing scaled to the interpolation factor.")
    h.add_argument("npz", metavar="F.npz")
    h.add_argument("--out", required=True, metavar="FILE.png", help="figure path")
    h.add_argument("--smooth", type=float, default=HEATMAP_SMOOTH,
                   help=f"Gaussian smoothing in bins of the image's own frequency step ({HEATMAP_SMOOTH:g}; 0 = none)")
    h.add_argument("--title", default=None, help="figure title (default: the file name)")
    h.set_defaults(func=run_heatmap)
    s = sub.add_parser("slices", help="0- and 45-degree slices of one or more spectra",
                       description="The 0-degree (along x) and 45-degree (diagonal) slices from zero frequency "
                       "outwards, in dB, of spectra of one image size and interpolation factor.")
    s.add_argument("npz", nargs="+", metavar="F.npz")
    s.add_argument("--out", required=True, metavar="FILE.png", help="figure path")
    s.add_argument("--smooth", type=float, default=0.0, help="Gaussian smoothing, as for heatmap (0 = none)")
    s.add_argument("--labels", default=None, metavar="A,B,...", help="curve labels (default: the file names)")
    s.set_defaults(func=run_slices)


def _out(path: str) -> Path:
    out = Path(path)
    if out.suffix.lower() != ".png":
        raise SG3Error(f"--out must name a .png file, got {out}")
    if not out.parent.is_dir():
        raise SG3Error(f"{out.parent}: folder does not exist")
    return out


def _smooth(value: float) -> float:
    if not value >= 0:
        raise SG3Error(f"--smooth must be at least 0, got {value:g}")
    return value


def run_heatmap(args: argparse.Namespace) -> int:
    from PIL import Image

    from stylegan3.metrics.paper_spectrum import load_paper_spectrum
    from stylegan3.metrics.spectrum_plots import heatmap_figure

    out = _out(args.out)
    spec = load_paper_spectrum(args.npz)
    Image.fromarray(heatmap_figure(spec, _smooth(args.smooth), args.title)).save(out)
    print(f"wrote {out}")
    return 0


def run_slices(args: argparse.Namespace) -> int:
    from PIL import Image

    from stylegan3.metrics.paper_spectrum import load_paper_spectrum
    from stylegan3.metrics.spectrum_plots import slices_figure

    out = _out(args.out)
    specs = [load_paper_spectrum(path) for path in args.npz]
    if args.labels is not None:
        labels = args.labels.split(",")
        if len(labels) != len(specs):
            raise SG3Error(f"--labels names {len(labels)} curves for {len(specs)} files")
        for spec, label in zip(specs, labels, strict=True):
            spec.label = label.strip()
    Image.fromarray(slices_figure(specs, _smooth(args.smooth))).save(out)
    print(f"wrote {out}")
    return 0
