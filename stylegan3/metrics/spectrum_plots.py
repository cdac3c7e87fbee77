"""The StyleGAN3 paper's spectrum plots, drawn with Pillow: a dB heat map with fixed contour levels, and 0 / 45
degree slices of several spectra in one figure.

Why our own drawing and not matplotlib: the figures have one fixed look (fixed levels, fixed axes), which a few
hundred lines of Pillow reproduce, while matplotlib would be a large dependency for two plots (it is not in our
dependencies, and `sg3-explorer spectra` already draws with Pillow). The GUI can show the same arrays.

What is plotted follows the paper's tooling, so pictures of its files and ours compare:
- the spectrum in dB (10 log10), shifted so zero frequency is in the middle, with the first row and column
  repeated at the end so the plane runs from -size/2 to +size/2 inclusive (the two edges are the same
  frequency); axes in cycles per image;
- Gaussian smoothing (``mode='nearest'``) with sigma = smooth x interp, so the same ``smooth`` blurs the same
  band of frequencies whatever the interpolation factor (1.25 for heat maps, none for slices by default);
- heat map: filled contours at -40, -35, ..., 20 dB (below and above the range get the end colours), faint
  contour lines, a colour bar; slices: the row through zero frequency (0 degrees, out to size / 2) and the
  diagonal (45 degrees, out to size / sqrt 2), -50 .. 30 dB, labelled by file name.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from stylegan3.errors import SG3Error
from stylegan3.metrics.paper_spectrum import PaperSpectrum

__all__ = ["LEVELS", "SLICE_DB", "heatmap_db", "heatmap_bands", "heatmap_figure", "slice_curves", "slices_figure"]

LEVELS = np.linspace(-40, 20, 13)  # dB, the heat map's contour levels
SLICE_DB = (-50.0, 30.0)  # the slices' vertical range
HEATMAP_SMOOTH = 1.25
SCALE = 2  # figures are drawn at twice the size and averaged down: smooth lines and text without antialiasing
WHITE, BLACK, GRID = (255, 255, 255), (0, 0, 0), (222, 222, 222)
# Layout in output pixels: the heat map's square (left, top, side) and colour bar (gap after it, width); the slice
# plots' first area (left, top, width, height) and the gap between the two.
HEATMAP_BOX, BAR_GAP, BAR_W = (64, 44, 380), 28, 18
SLICES_BOX, SLICES_GAP = (56, 40, 500, 340), 90
CONTOUR_LINE = (25, 25, 112)  # midnight blue, blended at 25 %
# ColorBrewer "Blues" (light to dark), interpolated for the 14 bands (12 levels + below + above).
_BLUES = np.array([[247, 251, 255], [222, 235, 247], [198, 219, 239], [158, 202, 225], [107, 174, 214],
                   [66, 146, 198], [33, 113, 181], [8, 81, 156], [8, 48, 107]], float)
# Curve colours of the slices (the usual ten-colour cycle of plotting tools).
CURVE_COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
                (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


def heatmap_db(spec: PaperSpectrum, smooth: float = HEATMAP_SMOOTH) -> np.ndarray:
    """``[S + 1, S + 1]`` dB plane, zero frequency at ``[S / 2, S / 2]``, smoothed (module doc). Zeros are floored
    at -300 dB so they stay finite."""
    from scipy.ndimage import gaussian_filter

    db = 10 * np.log10(np.maximum(np.asarray(spec.spectrum, dtype=np.float64), 1e-30))
    db = np.fft.fftshift(db)
    db = np.concatenate([db, db[:1]], axis=0)
    db = np.concatenate([db, db[:, :1]], axis=1)
    if smooth > 0:
        db = gaussian_filter(db, sigma=spec.spectrum.shape[0] / spec.image_size * smooth, mode="nearest")
    return db


def _blues(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0, 1) * (len(_BLUES) - 1)
    i = np.minimum(t.astype(int), len(_BLUES) - 2)
    f = (t - i)[..., None]
    return _BLUES[i] * (1 - f) + _BLUES[i + 1] * f


BAND_COLORS = _blues((np.arange(len(LEVELS) + 1) - 0.5) / (len(LEVELS) - 1)).round().astype(np.uint8)


def heatmap_bands(db: np.ndarray, side: int) -> np.ndarray:
    """Band index (0 = below -40 dB, 13 = 20 dB and above) of each pixel of a ``side`` x ``side`` picture of the
    dB plane, y up, sampled bilinearly between the plane's points: the filled contours."""
    from scipy.ndimage import map_coordinates

    m = db.shape[0] - 1
    t = (np.arange(side) + 0.5) / side * m
    rows, cols = np.meshgrid(t[::-1], t, indexing="ij")  # picture row 0 is the top: the highest y frequency
    values = map_coordinates(db, [rows, cols], order=1, mode="nearest")
    return np.digitize(values, LEVELS)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size * SCALE)
    except TypeError:  # Pillow < 10.1: one small bitmap font
        return ImageFont.load_default()


def _text(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, size: int = 12, anchor: str = "la",
          fill: tuple[int, int, int] = BLACK) -> None:
    draw.text((xy[0] * SCALE, xy[1] * SCALE), text, fill=fill, font=_font(size), anchor=anchor)


def _finish(canvas: Image.Image) -> np.ndarray:
    w, h = canvas.size
    return np.asarray(canvas.resize((w // SCALE, h // SCALE), Image.BOX))


def _tick(value: float) -> str:
    return f"{value:g}"


def heatmap_figure(spec: PaperSpectrum, smooth: float = HEATMAP_SMOOTH, title: str | None = None) -> np.ndarray:
    """The paper's heat map of one spectrum as uint8 ``[H, W, 3]``: filled dB contours, axes in cycles per image
    from -size/2 to size/2 (five ticks), a colour bar with the levels, and the title (default: the label)."""
    db = heatmap_db(spec, smooth)
    (left, top, side), bar_gap, bar_w = HEATMAP_BOX, BAR_GAP, BAR_W
    width, height = left + side + bar_gap + bar_w + 56, top + side + 48
    canvas = Image.new("RGB", (width * SCALE, height * SCALE), WHITE)
    draw = ImageDraw.Draw(canvas)

    bands = heatmap_bands(db, side * SCALE)
    rgb = BAND_COLORS[bands].astype(np.float64)
    edge = np.zeros(bands.shape, bool)
    edge[:, 1:] |= bands[:, 1:] != bands[:, :-1]
    edge[1:, :] |= bands[1:, :] != bands[:-1, :]
    rgb[edge] = rgb[edge] * 0.75 + np.array(CONTOUR_LINE) * 0.25
    canvas.paste(Image.fromarray(rgb.round().astype(np.uint8)), (left * SCALE, top * SCALE))
    s = SCALE
    draw.rectangle([left * s - s, top * s - s, (left + side) * s, (top + side) * s], outline=BLACK, width=s)

    half = spec.image_size / 2
    for k, f in enumerate(np.linspace(-half, half, 5)):
        x = left + k * side / 4
        y = top + side - k * side / 4
        draw.line([x * s, (top + side) * s, x * s, (top + side + 5) * s], fill=BLACK, width=s)
        draw.line([(left - 5) * s, y * s, left * s, y * s], fill=BLACK, width=s)
        _text(draw, (x, top + side + 8), _tick(f), 11, "ma")
        _text(draw, (left - 8, y), _tick(f), 11, "rm")
    _text(draw, (left + side / 2, top + side + 26), "cycles per image", 11, "ma")

    x0 = left + side + bar_gap
    step = side / (len(LEVELS) - 1)
    tri = bar_w * 0.9
    for band in range(1, len(LEVELS)):  # the 12 bands between levels, bottom to top
        y1 = top + side - (band - 1) * step
        draw.rectangle([x0 * s, (y1 - step) * s, (x0 + bar_w) * s, y1 * s], fill=tuple(BAND_COLORS[band].tolist()))
    # below / above the range: triangles in the end colours, as plotting tools draw an "extended" colour bar
    draw.polygon([(x0 * s, (top + side) * s), ((x0 + bar_w) * s, (top + side) * s),
                  ((x0 + bar_w / 2) * s, (top + side + tri) * s)], fill=tuple(BAND_COLORS[0].tolist()), outline=BLACK)
    draw.polygon([(x0 * s, top * s), ((x0 + bar_w) * s, top * s), ((x0 + bar_w / 2) * s, (top - tri) * s)],
                 fill=tuple(BAND_COLORS[-1].tolist()), outline=BLACK)
    draw.rectangle([x0 * s, top * s, (x0 + bar_w) * s, (top + side) * s], outline=BLACK, width=s)
    for k, level in enumerate(LEVELS):
        y = top + side - k * step
        draw.line([(x0 + bar_w) * s, y * s, (x0 + bar_w + 4) * s, y * s], fill=BLACK, width=s)
        _text(draw, (x0 + bar_w + 7, y), _tick(level), 10, "lm")
    _text(draw, (x0 + bar_w / 2, top + side + 26), "dB", 11, "ma")

    name = spec.label if title is None else title
    count = f", {spec.num_images} images" if spec.num_images else ""
    _text(draw, (left, 14), f"{name} ({spec.image_size}px, x{spec.interp}{count})", 14)
    return _finish(canvas)


def slice_curves(spec: PaperSpectrum, smooth: float = 0.0) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """{0: (|f|, dB), 45: (|f|, dB)}: from zero frequency along +x out to size / 2, and along the diagonal out to
    size / sqrt 2 (cycles per image), S / 2 + 1 points each."""
    db = heatmap_db(spec, smooth)
    centre = (db.shape[0] - 1) // 2
    tail = np.arange(centre, db.shape[0])
    n = len(tail)
    return {0: (np.linspace(0, spec.image_size / 2, n), db[centre, tail]),
            45: (np.linspace(0, spec.image_size / math.sqrt(2), n), db[tail, tail])}


def _slice_panel(specs: Sequence[PaperSpectrum], curves: list[dict], angle: int, w: int, h: int) -> Image.Image:
    """One slice plot's area (grid and curves, clipped to it), at SCALE."""
    s = SCALE
    area = Image.new("RGB", (w * s, h * s), WHITE)
    draw = ImageDraw.Draw(area)
    lo, hi = SLICE_DB
    fmax = specs[0].image_size / (2 if angle == 0 else math.sqrt(2))
    for k in range(9):
        x, y = k * w / 8, k * h / 8
        draw.line([x * s, 0, x * s, h * s], fill=GRID, width=s)
        draw.line([0, y * s, w * s, y * s], fill=GRID, width=s)
    for c, color in zip(curves, CURVE_COLORS * 10, strict=False):
        f, d = c[angle]
        xs = f / fmax * w * s
        ys = (hi - d) / (hi - lo) * h * s
        draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=color, width=2 * SCALE, joint="curve")
    return area


def slices_figure(specs: Sequence[PaperSpectrum], smooth: float = 0.0) -> np.ndarray:
    """The paper's slice figure of several spectra as uint8 ``[H, W, 3]``: 0 degree slices left, 45 degree right,
    -50 .. 30 dB, nine ticks on each axis, a legend of the labels in each plot. All spectra must have one image
    size and one interpolation factor (their points must line up)."""
    if not specs:
        raise SG3Error("no spectra to plot")
    first = specs[0]
    for spec in specs[1:]:
        if spec.image_size != first.image_size or spec.spectrum.shape != first.spectrum.shape:
            raise SG3Error(f"all spectra must have one resolution: {spec.label} is {spec.image_size}px "
                           f"{spec.spectrum.shape[0]}x{spec.spectrum.shape[1]}, {first.label} {first.image_size}px "
                           f"{first.spectrum.shape[0]}x{first.spectrum.shape[1]}")
    curves = [slice_curves(spec, smooth) for spec in specs]
    (left, top, w, h), gap = SLICES_BOX, SLICES_GAP
    width, height = left + 2 * w + gap + 24, top + h + 56
    s = SCALE
    canvas = Image.new("RGB", (width * s, height * s), WHITE)
    draw = ImageDraw.Draw(canvas)
    lo, hi = SLICE_DB
    for p, angle in enumerate((0, 45)):
        x0 = left + p * (w + gap)
        canvas.paste(_slice_panel(specs, curves, angle, w, h), (x0 * s, top * s))
        draw.rectangle([x0 * s - s, top * s - s, (x0 + w) * s, (top + h) * s], outline=BLACK, width=s)
        fmax = first.image_size / 2 if angle == 0 else first.image_size / math.sqrt(2)
        ticks = np.linspace(0, fmax, 9)
        for k, f in enumerate(ticks if angle == 0 else np.round(ticks)):
            x = x0 + k * w / 8
            draw.line([x * s, (top + h) * s, x * s, (top + h + 5) * s], fill=BLACK, width=s)
            _text(draw, (x, top + h + 8), _tick(float(f)), 11, "ma")
        for k, level in enumerate(np.linspace(lo, hi, 9)):
            y = top + h - k * h / 8
            draw.line([(x0 - 5) * s, y * s, x0 * s, y * s], fill=BLACK, width=s)
            _text(draw, (x0 - 8, y), _tick(float(level)), 11, "rm")
        _text(draw, (x0 + w / 2, 12), f"{angle}\N{DEGREE SIGN} slice", 14, "ma")
        _text(draw, (x0 + w / 2, top + h + 28), "|f|, cycles per image", 11, "ma")
        _text(draw, (x0 - 8, top - 12), "dB", 11, "rm")
        _legend(draw, specs, x0 + w - 10, top + 10)
    return _finish(canvas)


def _legend(draw: ImageDraw.ImageDraw, specs: Sequence[PaperSpectrum], right: float, top: float) -> None:
    """Labels with their line colours, in a framed box whose top right corner is (right, top)."""
    s = SCALE
    font = _font(11)
    text_w = max(draw.textlength(spec.label or "?", font=font) for spec in specs) / s
    row, line = 18, 26
    box_w, box_h = 12 + line + 8 + text_w + 10, 8 + row * len(specs)
    x0 = right - box_w
    draw.rectangle([x0 * s, top * s, right * s, (top + box_h) * s], fill=WHITE, outline=(200, 200, 200), width=s)
    for i, (spec, color) in enumerate(zip(specs, CURVE_COLORS * 10, strict=False)):
        y = top + 4 + row * i + row / 2
        draw.line([(x0 + 10) * s, y * s, (x0 + 10 + line) * s, y * s], fill=color, width=3 * s)
        _text(draw, (x0 + 10 + line + 8, y), spec.label or "?", 11, "lm")
