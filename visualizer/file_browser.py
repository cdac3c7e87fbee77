"""Folder listing for the in-window file browser (no native dialog needed, works the same everywhere)."""

from __future__ import annotations

from pathlib import Path

NETWORK_SUFFIXES = (".pkl", ".pickle", ".safetensors", ".pt")


def list_folder(folder: str | Path, suffixes: tuple[str, ...] = NETWORK_SUFFIXES) -> tuple[list[Path], list[Path]]:
    """(sub-folders, network files) of `folder`, sorted by name, hidden entries skipped; empty when unreadable."""
    folder = Path(folder).expanduser()
    dirs: list[Path] = []
    files: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return dirs, files
    for p in entries:
        if p.name.startswith("."):
            continue
        try:
            if p.is_dir():
                dirs.append(p)
            elif p.suffix.lower() in suffixes:
                files.append(p)
        except OSError:
            continue
    key = lambda p: p.name.lower()  # noqa: E731
    return sorted(dirs, key=key), sorted(files, key=key)


def catalog_entries() -> list[tuple[str, str]]:
    """(name to load, description) for every official pretrained network the library knows."""
    try:
        from stylegan3.loading.catalog import CATALOG
    except ImportError:
        return []
    items = CATALOG.items() if isinstance(CATALOG, dict) else enumerate(CATALOG)
    out = []
    for key, entry in items:
        if isinstance(entry, str):
            out.append((str(key), entry))
        elif isinstance(entry, dict):
            name = str(entry.get("name", key))
            out.append((name, str(entry.get("description") or entry.get("url") or "")))
        else:
            name = str(getattr(entry, "name", key))
            out.append((name, str(getattr(entry, "description", "") or getattr(entry, "url", ""))))
    return out
