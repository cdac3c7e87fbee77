"""`from sg3_explorer.notebook import show; viewer = show("net.pkl")`: the explorer in a notebook cell.

The short public name of `sg3_explorer.web.notebook` (needs the 'web' extra); see that module.
"""

from __future__ import annotations

from sg3_explorer.web.notebook import Viewer, show

__all__ = ["Viewer", "show"]
