"""Build or load a kernels module at most once per process, never raising: the state both kernel builds
(CUDA in `ops.cuda`, CPU in `ops.cuda.cpu`) keep behind their `kernels()` / `unavailable_reason()` / `reset()`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import ModuleType

from sg3_explorer.ops.cuda.build import BuildUnavailable


class BuildOnce:
    """`get()` runs `build(verbose)` the first time (under a lock) and keeps its module, or None and a one-line
    reason; `on_fallback(reason)` is told once when it gave None. `reset()` forgets the outcome."""

    def __init__(self, build: Callable[[bool], ModuleType], on_fallback: Callable[[str], None]) -> None:
        self._build, self._on_fallback = build, on_fallback
        self._lock = threading.Lock()
        self.tried = False
        self.module: ModuleType | None = None
        self.reason: str | None = None

    def get(self, verbose: bool = False) -> ModuleType | None:
        if self.tried:
            return self.module
        with self._lock:
            if not self.tried:
                try:
                    self.module, self.reason = self._build(verbose), None
                except BuildUnavailable as exc:
                    self.module, self.reason = None, str(exc)
                except Exception as exc:  # noqa: BLE001 - the contract is: never raise
                    self.module, self.reason = None, f"unexpected {type(exc).__name__}: {exc}"
                self.tried = True
                if self.module is None:
                    self._on_fallback(self.reason or "unknown reason")
        return self.module

    def reset(self) -> None:
        with self._lock:
            self.tried, self.module, self.reason = False, None, None
