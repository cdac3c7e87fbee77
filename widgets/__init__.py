"""The panels of the left column, one module per panel.

`CORE_MODULES` always load. `OPTIONAL_MODULES` (analysis panels added by later work) are imported when their
module exists; each module exposes `WIDGET`, the Widget subclass to instantiate. Names are inside this package.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sg3_explorer.widgets.base import Widget
    from sg3_explorer.widgets.context import PanelContext

CORE_MODULES = [
    "network",
    "latent",
    "stylemix",
    "truncation",
    "performance",
    "capture",
]
OPTIONAL_MODULES = [
    "layers",
    "equivariance",
    "spectra",
    "renderer_jobs",
    "comparison",
    "directions",
    "projection",
    "drag",
    "timeline",
    "bookmarks",
]


def widget_modules() -> list[ModuleType]:
    """Core panels plus whichever optional ones are present, in display order."""
    modules = [importlib.import_module(f"{__name__}.{name}") for name in CORE_MODULES]
    for name in OPTIONAL_MODULES:
        full = f"{__name__}.{name}"
        try:
            modules.append(importlib.import_module(full))
        except ModuleNotFoundError as exc:
            if exc.name != full:  # the panel exists but one of its own imports is missing: say so
                raise
    return modules


def create_widgets(app: PanelContext) -> list[Widget]:
    return [module.WIDGET(app) for module in widget_modules()]
