"""Image view geometry (fit, 1:1, wheel zoom around the cursor, drag pan, hover pixel) as plain math.

No GUI code here, so the mapping between screen and image pixels is unit-tested; `image_view.py` only draws.
Coordinates are relative to the view region's top-left corner, in framebuffer pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_ZOOM, MAX_ZOOM = 1 / 16, 64.0


@dataclass
class ViewTransform:
    fit: bool = True
    zoom: float = 1.0  # screen pixels per image pixel when not fitting
    cx: float = 0.5  # image point (as a fraction of width/height) at the region centre when not fitting
    cy: float = 0.5

    def placement(self, rw: float, rh: float, iw: int, ih: int) -> tuple[float, float, float]:
        """(x0, y0, scale): where the image's top-left lands and how many screen px one image px takes."""
        if iw <= 0 or ih <= 0 or rw <= 0 or rh <= 0:
            return 0.0, 0.0, 1.0
        if self.fit:
            scale = min(rw / iw, rh / ih)
            x0, y0 = (rw - iw * scale) / 2, (rh - ih * scale) / 2
        else:
            scale = self.zoom
            x0, y0 = rw / 2 - self.cx * iw * scale, rh / 2 - self.cy * ih * scale
        # Whole pixels: at 1:1 every image pixel then maps onto exactly one screen pixel.
        return float(math.floor(x0)), float(math.floor(y0)), scale

    def set_fit(self) -> None:
        self.fit = True

    def set_one_to_one(self) -> None:
        self.fit, self.zoom, self.cx, self.cy = False, 1.0, 0.5, 0.5

    def _unfit(self, rw: float, rh: float, iw: int, ih: int) -> None:
        """Turn 'fit' into the equivalent explicit zoom/centre so zoom and pan continue from what is shown."""
        if self.fit:
            _, _, scale = self.placement(rw, rh, iw, ih)
            self.fit, self.zoom, self.cx, self.cy = False, scale, 0.5, 0.5

    def zoom_at(self, factor: float, mx: float, my: float, rw: float, rh: float, iw: int, ih: int) -> None:
        """Zoom by `factor`, keeping the image point under the cursor (mx, my) where it is."""
        self._unfit(rw, rh, iw, ih)
        x0, y0, s = self.placement(rw, rh, iw, ih)
        px, py = (mx - x0) / s, (my - y0) / s  # image coords under cursor
        new = min(max(self.zoom * factor, MIN_ZOOM), MAX_ZOOM)
        # Solve rw/2 - cx*iw*new + px*new = mx for cx (same for y).
        self.zoom = new
        self.cx = (rw / 2 - mx + px * new) / (iw * new)
        self.cy = (rh / 2 - my + py * new) / (ih * new)

    def pan(self, dx: float, dy: float, rw: float, rh: float, iw: int, ih: int) -> None:
        """Move the image with the mouse by (dx, dy) screen pixels."""
        self._unfit(rw, rh, iw, ih)
        self.cx -= dx / (iw * self.zoom)
        self.cy -= dy / (ih * self.zoom)

    def pixel_at(self, mx: float, my: float, rw: float, rh: float, iw: int, ih: int) -> tuple[int, int] | None:
        """Image pixel (col, row) under the cursor, None outside the image."""
        x0, y0, s = self.placement(rw, rh, iw, ih)
        col, row = math.floor((mx - x0) / s), math.floor((my - y0) / s)
        if 0 <= col < iw and 0 <= row < ih:
            return col, row
        return None
