"""The panels of the left column, one module per panel.

`CORE_MODULES` always load. `OPTIONAL_MODULES` (analysis panels added by later work) are imported when their
module exists; each module exposes `WIDGET`, the Widget subclass to instantiate.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from widgets.base import Widget
    from widgets.context import PanelContext

CORE_MODULES = [
    "widgets.network",
    "widgets.latent",
    "widgets.stylemix",
    "widgets.truncation",
    "widgets.performance",
    "widgets.capture",
]
OPTIONAL_MODULES = [
    "widgets.layers",
    "widgets.equivariance",
    "widgets.spectra",
    "widgets.renderer_jobs",
    "widgets.comparison",
    "widgets.directions",
    "widgets.projection",
    "widgets.timeline",
    "widgets.bookmarks",
]


def widget_modules() -> list[ModuleType]:
    """Core panels plus whichever optional ones are present, in display order."""
    modules = [importlib.import_module(name) for name in CORE_MODULES]
    for name in OPTIONAL_MODULES:
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the panel exists but one of its own imports is missing: say so
                raise
    return modules


def create_widgets(app: PanelContext) -> list[Widget]:
    return [module.WIDGET(app) for module in widget_modules()]
