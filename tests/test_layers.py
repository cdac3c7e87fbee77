"""The library's packages are layers: a package imports only from itself and the layers listed before it.

`docs/ARCHITECTURE.md` lists the layers; this test holds the tree to that list, so a module that reaches
upward (a network importing the service, a document importing the GUI's helpers) fails here instead of growing
into an import cycle. The few upward imports that remain are function-level and named below with their reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "stylegan3"

LAYERS: list[set[str]] = [
    {"errors"},
    {"ops"},
    {"documents"},
    {"networks", "families"},  # a family names its generator class; a network's info names its family
    {"loading"},
    {"runs"},
    {"metrics"},
    {"render"},
    {"explore"},
    {"analyses"},
    {"service"},
    {"perf"},
    {"cli"},
]

# (importing file, imported module): the upward imports that stay, each for a reason.
ALLOWED = {
    # The first-use self-check runs the network's own op calls (one latent, its graphs) against the reference ops.
    ("ops/selfcheck.py", "stylegan3.networks.latents"),
    ("ops/selfcheck.py", "stylegan3.networks"),
    ("ops/selfcheck.py", "stylegan3.render.graphs"),
    # A version-1 timeline names a direction file and seeds: converting it needs both, once, when it is read.
    ("documents/timeline.py", "stylegan3.explore.directions"),
    ("documents/timeline.py", "stylegan3.render.inputs"),
    # A trace image is the same uint8 conversion as a frame's.
    ("metrics/trace.py", "stylegan3.render.images"),
    # Analyses shape their results for the wire (encoded frames, bounded binary arrays).
    ("analyses/record.py", "stylegan3.service"),
    ("analyses/spectra.py", "stylegan3.service.arrays"),
}


def _rank() -> dict[str, int]:
    return {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "stylegan3" and len(parts) > 1 else None


def upward_imports() -> list[tuple[str, str]]:
    rank = _rank()
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        src = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        if src not in rank:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            modules = []
            if isinstance(node, ast.ImportFrom) and node.module:
                modules.append(node.module)
            elif isinstance(node, ast.Import):
                modules += [a.name for a in node.names]
            for module in modules:
                pkg = _package(module)
                if pkg in rank and rank[pkg] > rank[src]:
                    found.append((rel.as_posix(), module))
    return found


def test_every_package_is_in_a_layer():
    packages = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    modules = {p.stem for p in ROOT.glob("*.py") if p.stem not in ("__init__", "__main__")}
    assert packages | modules == set(_rank()), "a new top-level package or module: put it in a layer"


def test_imports_go_down_the_layers_only():
    upward = [edge for edge in upward_imports() if edge not in ALLOWED]
    assert upward == [], "imports reaching a later layer (see docs/ARCHITECTURE.md):\n" + "\n".join(
        f"  {src} imports {module}" for src, module in upward)


def test_the_allowed_exceptions_still_exist():
    found = set(upward_imports())
    assert ALLOWED <= found, f"no longer needed (delete them from ALLOWED): {sorted(ALLOWED - found)}"
