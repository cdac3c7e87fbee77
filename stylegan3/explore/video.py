"""Synchronized interpolation videos: one labelled pane per network, side by side, all on the same seeds.

Comparing networks is the point (e.g. StyleGAN2 next to StyleGAN3-T on the same seed walk shows which
one's details stick), so every pane follows the same frame clock: each network maps the same seeds at
its own `z_dim`, interpolates in its own W, and is scaled to a common pane size whatever its resolution.
A `grid` splits the seeds into W*H walks shown as a grid inside each pane. Frames are produced by a
generator (`iter_video_frames`) so they can be tested or shown without ffmpeg; `write_video` encodes
them with imageio-ffmpeg (the optional `video` extra).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from stylegan3.errors import SG3Error
from stylegan3.explore.interpolation import num_frames, path_ws, transform_path
from stylegan3.render.images import VIDEO_BLOCK, pad_to_block, to_rgb_uint8
from stylegan3.runs.distributed import SINGLE, Context, map_ordered

__all__ = [
    "VideoSpec",
    "network_label",
    "label_text",
    "pane_frames",
    "compose_frame",
    "transform_matrices",
    "cell_ws",
    "resize_images",
    "draw_label",
    "tile_grid",
    "iter_video_frames",
    "video_frame_count",
    "write_video",
]

LABEL_HEIGHT = 24


@dataclass
class VideoSpec:
    """Everything that defines an interpolation video except the networks."""

    seeds: Sequence[int]
    frames_per_seed: int = 60
    loop: bool = False
    grid: tuple[int, int] = (1, 1)  # (columns, rows) of walks inside each pane
    kind: str = "cubic"
    psi: float = 1.0
    cutoff: int | None = None
    class_idx: int | None = None
    noise_mode: str = "const"
    translate_path: str | None = None  # see stylegan3.explore.interpolation.parse_transform_path
    pane_size: int | None = None  # side of one grid cell in pixels; default: the largest network's resolution
    batch_size: int = 4


def network_label(name: str, G: torch.nn.Module) -> str:
    """`"name (SG3-T 256px)"`; a network our code cannot classify is still labelled with its class name."""
    from stylegan3.networks import network_kind

    kind = network_kind(G)
    return label_text(name, type(G).__name__ if kind == "other" else kind, int(G.img_resolution))


def label_text(name: str, kind: str, resolution: int) -> str:
    """A pane's label from what a `NetworkInfo` says too (a remote network's pane is labelled the same)."""
    return f"{name} ({kind} {int(resolution)}px)"


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """Scale float images `[N, C, H, W]` to `size` x `size`; antialiased when shrinking, bicubic when growing."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    shrink = size < images.shape[-1]
    return F.interpolate(images.to(torch.float32), size=(size, size), mode="bicubic", align_corners=False,
                         antialias=shrink)


def draw_label(width: int, text: str, height: int = LABEL_HEIGHT) -> np.ndarray:
    """A dark strip `[height, width, 3]` uint8 with `text` in white, laid out by `fit_label`."""
    from PIL import Image, ImageDraw

    strip = Image.new("RGB", (width, height), (24, 24, 24))
    draw = ImageDraw.Draw(strip)
    lines, size = fit_label(width, text, height)
    font = _label_font(size)
    for i, line in enumerate(lines):
        y = height * (2 * i + 1) / (2 * len(lines))
        draw.text((_LABEL_MARGIN, y), line, fill=(235, 235, 235), font=font, anchor="lm")
    return np.asarray(strip)


def fit_label(width: int, text: str, height: int = LABEL_HEIGHT) -> tuple[list[str], int]:
    """The lines and font size that show `text` in a `width` x `height` strip.

    Small panes (a 64 px fixture net) cannot hold "name (SG3-T 64px)" on one line, so the first layout
    that fits wins: one line at a falling font size, then two lines (name over the bracketed detail, or
    split at a space), then the name without its file extension; only if none fits is text cut with "...".
    """
    from PIL import Image, ImageDraw

    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    room = width - 2 * _LABEL_MARGIN
    one_line = range(max(8, height - 10), 9, -1)
    two_lines = range(max(8, (height - 2) // 2), 7, -1)
    layouts = _label_layouts(text)
    for lines in layouts:
        for size in one_line if len(lines) == 1 else two_lines:
            font = _label_font(size)
            if all(draw.textlength(line, font=font) <= room for line in lines):
                return lines, size
    size = (two_lines if len(layouts[-1]) > 1 else one_line)[-1]
    return [_cut(draw, line, _label_font(size), room) for line in layouts[-1]], size


_LABEL_MARGIN = 3
_NET_SUFFIXES = (".pkl", ".pickle", ".safetensors")


def _label_layouts(text: str) -> list[list[str]]:
    """Ways to show `text`, most complete first (see `draw_label`)."""
    layouts = [[text]]
    name, sep, detail = text.partition(" (")
    if sep and detail.endswith(")"):
        pair = [name, detail[:-1]]
    elif " " in text:  # split at the space nearest the middle
        cut = min((i for i, ch in enumerate(text) if ch == " "), key=lambda i: abs(2 * i - len(text)))
        pair = [text[:cut], text[cut + 1 :]]
    else:
        return layouts
    layouts.append(pair)
    stem = next((pair[0][: -len(suf)] for suf in _NET_SUFFIXES if pair[0].lower().endswith(suf)), None)
    if stem:
        layouts.append([stem, pair[1]])
    return layouts


def _label_font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap font
        return ImageFont.load_default()


def _cut(draw, text: str, font, room: float) -> str:
    while text and draw.textlength(text, font=font) > room:
        text = text[:-2] + "\u2026" if len(text) > 2 else ""
    return text


def tile_grid(images: np.ndarray, cols: int, rows: int) -> np.ndarray:
    """`[cols*rows, H, W, 3]` -> one `[rows*H, cols*W, 3]` image, row-major."""
    n, h, w, c = images.shape
    if n != cols * rows:
        raise ValueError(f"{n} images for a {cols}x{rows} grid")
    return images.reshape(rows, cols, h, w, c).transpose(0, 2, 1, 3, 4).reshape(rows * h, cols * w, c)


def video_frame_count(spec: VideoSpec) -> int:
    """Number of frames the video will have."""
    cells = spec.grid[0] * spec.grid[1]
    if len(spec.seeds) < cells or len(spec.seeds) % cells:
        raise SG3Error(f"{len(spec.seeds)} seeds cannot be split evenly over a {spec.grid[0]}x{spec.grid[1]} grid")
    return num_frames(len(spec.seeds) // cells, spec.frames_per_seed, spec.loop)


def cell_ws(G: torch.nn.Module, spec: VideoSpec, device: torch.device) -> torch.Tensor:
    """Per-frame ws for every grid cell: `[frames, cells, num_ws, w_dim]`."""
    cells = spec.grid[0] * spec.grid[1]
    per_cell = len(spec.seeds) // cells  # cell i walks seeds[i * per_cell : (i + 1) * per_cell]
    paths = [
        path_ws(G, spec.seeds[i * per_cell : (i + 1) * per_cell], spec.frames_per_seed, loop=spec.loop,
                kind=spec.kind, psi=spec.psi, cutoff=spec.cutoff, class_idx=spec.class_idx, device=device)
        for i in range(cells)
    ]
    return torch.stack(paths, dim=1)


def _check_spec(nets: Sequence[tuple[str, torch.nn.Module]], spec: VideoSpec) -> None:
    if not nets:
        raise SG3Error("no network to render")
    video_frame_count(spec)  # seeds vs grid, frames per seed
    if spec.batch_size < 1:
        raise SG3Error("batch size must be >= 1")
    if spec.translate_path:
        from stylegan3.networks.transform import has_input_transform

        flat = [name for name, G in nets if not has_input_transform(G)]
        if flat:
            raise SG3Error(f"a translate path needs StyleGAN3 networks; no input transform in: {', '.join(flat)}")


def transform_matrices(spec: VideoSpec, total: int, device: torch.device) -> torch.Tensor | None:
    """The inverse input transform of every frame `[total, 3, 3]` along the translate path; None without one."""
    if not spec.translate_path:
        return None
    from stylegan3.documents.request import Transform
    from stylegan3.render.inputs import input_transform

    path = transform_path(spec.translate_path, total, spec.loop)
    return torch.from_numpy(np.stack([input_transform(Transform((float(t[0]), float(t[1])), float(t[2])))
                                      for t in path])).to(device=device, dtype=torch.float32)


@torch.no_grad()
def pane_frames(G: torch.nn.Module, spec: VideoSpec, ws: torch.Tensor, cell: int, start: int, stop: int,
                matrices: torch.Tensor | None = None) -> np.ndarray:
    """One network's pane (its grid of walks, no label) for frames `start .. stop - 1`, rendered as one batch:
    uint8 `[stop - start, rows * cell, cols * cell, 3]`. `ws` is `cell_ws`, `matrices` `transform_matrices`
    (one transform per frame, passed to synthesis: the network is not modified). The local video and the
    `video_walk` analysis of a remote network both render through this, in the same batches."""
    cols, rows = spec.grid
    cells = cols * rows
    batch = ws[start:stop].reshape(-1, *ws.shape[2:])  # frame-major: [frames*cells, num_ws, w_dim]
    extra = {} if matrices is None else {"transform": matrices[start:stop].repeat_interleave(cells, dim=0)}
    img = G.synthesis(batch, noise_mode=spec.noise_mode, force_fp32=True, **extra)
    img = to_rgb_uint8(resize_images(img, cell)).cpu().numpy()
    img = img.reshape(stop - start, cells, cell, cell, 3)
    return np.stack([tile_grid(img[f], cols, rows) for f in range(len(img))])


def compose_frame(panes: Sequence[np.ndarray], labels: Sequence[np.ndarray]) -> np.ndarray:
    """One video frame: each pane under its label strip, side by side, padded for H.264."""
    return pad_to_block(np.concatenate([np.concatenate([label, pane], axis=0)
                                         for pane, label in zip(panes, labels, strict=True)], axis=1))


def check_cell(cell: int) -> int:
    if not 8 <= cell <= 4096:
        raise SG3Error(f"pane size {cell} outside 8..4096")
    return cell


@torch.no_grad()
def iter_video_frames(
    nets: Sequence[tuple[str, torch.nn.Module]],
    spec: VideoSpec,
    device: torch.device | str = "cpu",
    context: Context = SINGLE,
) -> Iterator[np.ndarray]:
    """Yield the video's frames as uint8 `[H, W, 3]` arrays (sides padded to multiples of 16).

    Each network renders `batch_size` frames x cells at a time (`pane_frames`).
    With a `context` of several processes every rank must exhaust this iterator: the batches are spread
    over the ranks, and rank 0 yields every frame in order (the others yield nothing).
    """
    _check_spec(nets, spec)
    device = torch.device(device)
    cols = spec.grid[0]
    cell = check_cell(int(spec.pane_size or max(int(G.img_resolution) for _, G in nets)))
    total = video_frame_count(spec)
    paths = [cell_ws(G, spec, device) for _, G in nets]
    labels = [draw_label(cols * cell, network_label(name, G)) for name, G in nets]
    matrices = transform_matrices(spec, total, device)
    step = spec.batch_size

    def render_batch(start: int) -> list[np.ndarray]:
        stop = min(start + step, total)
        panes = [pane_frames(G, spec, ws, cell, start, stop, matrices) for (_, G), ws in zip(nets, paths, strict=True)]
        return [compose_frame([pane[f] for pane in panes], labels) for f in range(stop - start)]

    for results in map_ordered(render_batch, range(0, total, step), context):
        for _start, frames in results or ():
            yield from frames


VIDEO_SUFFIXES = (".mp4", ".gif")  # H.264 through imageio-ffmpeg; animated GIF through imageio's Pillow plugin


def check_video_path(out: str | Path) -> str:
    """The format of `out` ('mp4' or 'gif', from its suffix) after checking that it can be written here: the
    suffix, the folder and the libraries, so a bad `--out` is one line before any network loads or frame renders
    (a `.gif` used to fail after the progress bar had started, with imageio's 'FFMPEG can not handle the given
    uri')."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise SG3Error(f"{out}: videos are written as .mp4 (H.264) or .gif, not {suffix or 'a file without suffix'}")
    if not out.parent.is_dir():
        raise SG3Error(f"output folder {out.parent} does not exist")
    try:
        import imageio.v2  # noqa: F401
        if suffix == ".mp4":
            import imageio_ffmpeg  # noqa: F401 - imageio only finds out at the first frame otherwise
        else:
            import PIL  # noqa: F401
    except ImportError:
        raise SG3Error("video export needs imageio and imageio-ffmpeg: pip install 'sg3-explorer[video]'") from None
    return suffix[1:]


def _writer(path: Path, kind: str, fps: float, bitrate: str):
    import imageio.v2 as imageio

    if kind == "gif":  # imageio >= 2.28's Pillow plugin: duration in milliseconds, loop 0 = forever
        return imageio.get_writer(str(path), format="GIF", mode="I", duration=1000.0 / fps, loop=0)
    return imageio.get_writer(str(path), format="FFMPEG", mode="I", fps=fps, codec="libx264", bitrate=bitrate,
                              macro_block_size=VIDEO_BLOCK, pixelformat="yuv420p", ffmpeg_log_level="error")


def write_video(
    frames: Iterator[np.ndarray],
    out: str | Path,
    fps: float = 30.0,
    total: int | None = None,
    bitrate: str = "10M",
    progress: bool = True,
    on_frame: Callable[[int], None] | None = None,
) -> int:
    """Encode uint8 frames to an H.264 mp4 (imageio-ffmpeg) or an animated GIF (`out`'s suffix, see
    `check_video_path`); returns the number of frames written.

    The file is written to a temporary name and renamed at the end, so an interrupted run never leaves a
    truncated video where a good one was expected.
    """
    kind = check_video_path(out)
    out = Path(out)
    tmp = out.with_name(f".{out.stem}.partial{out.suffix}")
    count = 0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="frame", desc=out.name)
    try:
        writer = _writer(tmp, kind, fps, bitrate)
        try:
            for frame in frames:
                writer.append_data(frame)
                count += 1
                if bar is not None:
                    bar.update(1)
                if on_frame is not None:
                    on_frame(count)
        finally:
            writer.close()
        if count == 0:
            raise SG3Error("no frames to write")
        tmp.replace(out)
    finally:
        if bar is not None:
            bar.close()
        if tmp.exists():
            tmp.unlink()
    return count
