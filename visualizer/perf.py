"""Timing history for the Performance panel (GUI frame time, render time), kept as plain arrays."""

from __future__ import annotations

from collections import deque

import numpy as np


class TimeHistory:
    """The last `size` samples in milliseconds."""

    def __init__(self, size: int = 240) -> None:
        self._samples: deque[float] = deque(maxlen=size)

    def add(self, ms: float) -> None:
        self._samples.append(float(ms))

    def __len__(self) -> int:
        return len(self._samples)

    def array(self) -> np.ndarray:
        return np.asarray(self._samples, dtype=np.float32)

    def mean_ms(self, last: int = 30) -> float:
        if not self._samples:
            return 0.0
        a = self.array()[-last:]
        return float(a.mean())

    def fps(self, last: int = 30) -> float:
        m = self.mean_ms(last)
        return 1000.0 / m if m > 0 else 0.0


def image_rate_line(times: TimeHistory, last: int = 10) -> str:
    """How fast new images arrive (the backend's render time): a CPU render may take seconds, so the rate is per
    second and the time per image is in the unit that reads best. Not the window's frame rate."""
    ms = times.mean_ms(last)
    if ms <= 0:
        return "image: no image yet"
    per_image = f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"
    rate = 1000.0 / ms
    return f"image: {rate:.{1 if rate < 100 else 0}f} /s ({per_image} per image)"


def window_rate_line(times: TimeHistory, build_ms: float) -> str:
    """How often the window redraws (menus, sliders and the last image stay smooth while images take longer)."""
    return f"window: {times.fps():.0f} FPS ({times.mean_ms():.1f} ms per frame, GUI build {build_ms:.2f} ms)"
