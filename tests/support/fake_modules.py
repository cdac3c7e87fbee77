"""Put stand-in modules into `sys.modules` for a while: how the fakes pickle classes under foreign module names.

The official, TF and tfutil fakes all need `pickle` to find their classes by the names the real projects use,
and all must leave `sys.modules` as they found it afterwards.
"""

from __future__ import annotations

import contextlib
import sys
import types
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def fake_modules(contents: dict[str, dict[str, Any]]) -> Iterator[None]:
    """Register a new module per name in `contents`, holding those attributes; restore what was there on exit."""
    fakes = {}
    for name, attributes in contents.items():
        fakes[name] = types.ModuleType(name)
        for key, value in attributes.items():
            setattr(fakes[name], key, value)
    saved = {name: sys.modules.get(name) for name in fakes}
    sys.modules.update(fakes)
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
