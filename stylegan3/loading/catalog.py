"""NVIDIA's published pretrained generators, so users can type a name instead of a URL.

Only names and addresses live here; the files are fetched on demand through the download cache
and read by the safe loader like any other pickle.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

SG3_BASE = "https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan3/versions/1/files/"
SG2_BASE = "https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan2/versions/1/files/"


@dataclass(frozen=True)
class CatalogEntry:
    """One published network: `kind` is 'SG3-T', 'SG3-R' or 'SG2'; `name` has no `.pkl` suffix."""

    name: str
    url: str
    kind: str
    resolution: int
    dataset: str


# (dataset, resolution) pairs published for each StyleGAN3 config, and the StyleGAN2 comparison nets.
_SG3_NETS = [("ffhq", 1024), ("ffhqu", 256), ("ffhqu", 1024), ("metfaces", 1024), ("metfacesu", 1024), ("afhqv2", 512)]
_SG2_NETS = [("ffhq", 1024), ("ffhqu", 1024), ("ffhqu", 256), ("metfaces", 1024), ("metfacesu", 1024), ("afhqv2", 512)]


def _build() -> dict[str, CatalogEntry]:
    entries = []
    for config in ("t", "r"):
        for dataset, res in _SG3_NETS:
            name = f"stylegan3-{config}-{dataset}-{res}x{res}"
            entries.append(CatalogEntry(name, f"{SG3_BASE}{name}.pkl", f"SG3-{config.upper()}", res, dataset))
    for dataset, res in _SG2_NETS:
        name = f"stylegan2-{dataset}-{res}x{res}"
        entries.append(CatalogEntry(name, f"{SG2_BASE}{name}.pkl", "SG2", res, dataset))
    return {entry.name: entry for entry in entries}


CATALOG: dict[str, CatalogEntry] = _build()


def lookup(name: str) -> CatalogEntry | None:
    """The catalog entry for `name` (with or without `.pkl`, any case), or None."""
    key = name.strip().lower()
    key = key[: -len(".pkl")] if key.endswith(".pkl") else key
    return CATALOG.get(key)


def resolve(name_or_url: str) -> str | None:
    """A URL for a catalog name or an http(s) URL; None when it is neither (e.g. a local path)."""
    if name_or_url.lower().startswith(("http://", "https://")):
        return name_or_url
    entry = lookup(name_or_url)
    return entry.url if entry else None


DEMO_NAMES = ("demo", "demo-sg3-r", "demo-sg2")


def closest_names(text: str, n: int = 3) -> list[str]:
    """Catalog and demo names that look like `text` (a typo of one), best first."""
    key = text.strip().lower()
    key = key[: -len(".pkl")] if key.endswith(".pkl") else key
    return difflib.get_close_matches(key, [*CATALOG, *DEMO_NAMES], n=n, cutoff=0.6)


def hint_for(text: str) -> str:
    """The end of a 'no such file' message for something that was maybe meant as a catalog name.

    A text with a folder in it was meant as a path and gets no hint; a bare name gets the closest
    catalog names, or where to find the list.
    """
    if "/" in text or "\\" in text:
        return ""
    close = closest_names(text)
    if close:
        names = close[0] if len(close) == 1 else ", ".join(close[:-1]) + " or " + close[-1]
        return f", nor a catalog name; did you mean {names}?"
    return ", nor a catalog name (`sg3-explorer info --catalog` lists them)"
