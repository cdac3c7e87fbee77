"""The networks the page offers in its picker: the demo nets, the command line's, and what `--allow` permits.

The picker is a convenience: whatever a page asks to load is still checked by `AllowList.check` on the server.
"""

from __future__ import annotations

from pathlib import Path

from stylegan3.service.policy import AllowList

NETWORK_SUFFIXES = (".pkl", ".pt", ".pth", ".safetensors")
MAX_LISTED = 200  # a folder of thousands of snapshots is listed in part; any of them can still be typed in


def demo_sources() -> list[str]:
    from stylegan3.loading.demo import DEMO_CONFIGS

    return [f"demo-{kind}" for kind in DEMO_CONFIGS]


def offered_networks(allow: AllowList, given: list[str]) -> list[str]:
    """Names for the picker, the command line's first (in their order), then the demos, allowed files, files
    in allowed folders (two levels deep, sorted) and allowed catalog names."""
    from stylegan3.loading import catalog

    out: list[str] = []

    def add(name: str) -> None:
        if name not in out and len(out) < MAX_LISTED:
            out.append(name)

    for name in given:
        add(name)
    for name in demo_sources():
        add(name)
    for path in allow.files:
        add(str(path))
    for folder in allow.folders:
        for path in sorted(_network_files(folder)):
            add(str(path))
    names = list(catalog.CATALOG) if allow.all_catalog else sorted(allow.catalog_names)
    for name in names:
        add(name)
    return out


def _network_files(folder: Path) -> list[Path]:
    found = []
    for pattern in ("*", "*/*"):
        try:
            found += [p for p in folder.glob(pattern) if p.suffix.lower() in NETWORK_SUFFIXES and p.is_file()]
        except OSError:
            continue
    return found
