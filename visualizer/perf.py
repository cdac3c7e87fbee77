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
