"""The render state: everything that decides which image the renderer produces.

Widgets edit one plain `RenderState`; the renderer turns a copy of it into an image. Keeping it a comparable
dataclass of plain values (and immutable, typed request sections for the explicit latent and the direction
moves) lets the GUI detect "nothing changed" with `==`, hand the worker an independent snapshot with `copy()`,
and lets tests build the very same state headless. `visualizer.request_adapter.request_from_state` is the one
conversion to what renderers take, a `RenderRequest`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from stylegan3.documents.request import ExplicitLatent, LatentMove

NOISE_MODES = ("const", "random", "none")


@dataclass
class RenderState:
    """What to render. Defaults reproduce `G(z_from_seed(0), psi=1)` with constant noise."""

    # Latent: a position in the 2-D seed plane. Integer positions are plain seeds; fractional ones blend
    # the neighbouring seeds' latents (official viewer's "Drag").
    x: float = 0.0
    y: float = 0.0
    class_idx: int = 0  # only used by conditional networks (c_dim > 0)

    # Style mixing: ws whose index is listed come from `mix_seed` instead.
    mix_seed: int = 0
    mix_ws: tuple[int, ...] = ()

    # Truncation and noise.
    psi: float = 1.0
    cutoff: int | None = None  # truncate only the first `cutoff` ws; None = all
    noise_mode: str = "const"
    noise_seed: int = 0

    force_fp32: bool = False
    cuda_graphs: bool = True  # replay synthesis from a captured CUDA graph where possible (GPU only)

    # SG3 input transform (official convention: rotate in turns, M = [[cos, sin, x], [-sin, cos, y]]).
    translate: tuple[float, float] = (0.0, 0.0)
    rotate: float = 0.0
    untransform: bool = False

    # Layer view (filled in by the analysis panels): None shows the generated image.
    layer_name: str | None = None
    channel: int | None = None  # None = first three channels as RGB
    fft: bool = False
    layer_normalize: bool = False
    layer_gain_db: float = 0.0
    fft_window: str = "kaiser"
    fft_range_db: float = 80.0
    untransform_view: str = "warped"  # or "difference"
    diff_gain_db: float = 20.0

    # Exploration panels: a latent given by value (projection, timeline, bookmark) and direction moves,
    # as the request carries them (immutable, so `==` and `copy()` stay cheap). See `visualizer.explore`.
    explicit: ExplicitLatent = field(default_factory=ExplicitLatent)
    moves: tuple[LatentMove, ...] = ()

    @property
    def seed(self) -> int:
        """The integer seed the latent position rounds down to (what the seed field shows)."""
        return int(self.x // 1)

    def copy(self, **changes) -> RenderState:
        """An independent snapshot (the worker must never see the GUI edit a state mid-render)."""
        return dataclasses.replace(self, **changes)


def ws_selection(indices: tuple[int, ...] | list[int], num_ws: int) -> tuple[int, ...]:
    """Normalise a mix-layer selection: unique, sorted, inside [0, num_ws)."""
    return tuple(sorted({int(i) for i in indices if 0 <= int(i) < num_ws}))
