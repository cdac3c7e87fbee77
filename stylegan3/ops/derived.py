"""Values derived from a tensor that stays the same across frames, computed once until it changes.

Why: a network's filters and frozen weights do not change between frames, yet preparing them every frame
costs passes over memory, launches, and (for host-made tensors) copies that a CUDA graph capture refuses.
An entry is keyed by the source tensor's storage address and version counter (an in-place edit, e.g. a
state dict loaded into the same tensor, bumps the version), and a weak reference guards against a new
tensor that happens to reuse a freed one's address.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import torch

T = TypeVar("T")


class DerivedCache(Generic[T]):
    """`get(source, key, make)` returns `make()` computed once per (source tensor as it is now, key)."""

    def __init__(self, limit: int = 1024) -> None:
        self.limit = limit
        self._entries: dict[tuple, tuple[weakref.ref, T]] = {}

    def get(self, source: torch.Tensor, key: Hashable, make: Callable[[], T]) -> T:
        full = (source.data_ptr(), source._version, tuple(source.shape), str(source.device), source.dtype, key)
        entry = self._entries.get(full)
        if entry is not None and entry[0]() is source:
            return entry[1]
        value = make()
        if len(self._entries) >= self.limit:
            self._entries.clear()  # bounded: stale entries of freed tensors never pile up
        self._entries[full] = (weakref.ref(source), value)
        return value

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
