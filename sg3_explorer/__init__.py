"""The app's packages under one name: `sg3_explorer.visualizer`, `.widgets`, `.ops` (the kernels), `.assets` and `.web`.

Installed, they are real subfolders of this package, so the distribution puts only `stylegan3` and
`sg3_explorer` at the top of site-packages (generic names such as `ops` or `widgets` would clash with other
projects). In the source tree they stay the repository's own top-level folders; this package then reaches them
through its search path, so the same imports work in a checkout, an editable install and a wheel.
"""

from __future__ import annotations

from pathlib import Path

APP_PACKAGES = ("visualizer", "widgets", "ops", "assets", "web")

_here = Path(__file__).resolve().parent
if not (_here / "visualizer").is_dir() and (_here.parent / "visualizer" / "__init__.py").is_file():
    __path__.append(str(_here.parent))  # noqa: F821 - a source checkout: the folders sit beside this one
