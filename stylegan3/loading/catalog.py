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
    """One published network: `kind` is 'SG3-T', 'SG3-R', 'SG2', 'SG1' or 'ProGAN'; `name` has no `.pkl` suffix."""

    name: str
    url: str
    kind: str
    resolution: int
    dataset: str
    note: str = ""  # what a user should know before fetching it (e.g. that it cannot be downloaded from here)


# The TensorFlow-era releases, with the addresses their official READMEs give (NVlabs/stylegan's "networks"
# table; tkarras/progressive_growing_of_gans' "Importing and using pre-trained networks" section, which links
# only the CelebA-HQ network by file). All are Google Drive addresses, which answer a program with an HTML
# page (a quota or virus-scan page) instead of the file.
DRIVE_NOTE = ("Google Drive address from the official README: it sends an HTML page, not the file, to programs; "
              "download it in a browser and open the saved .pkl")
_TF_ERA_NETS = [
    ("stylegan-ffhq-1024x1024", "https://drive.google.com/uc?id=1MEGjdvVpUsu1jB4zrXZN7Y4kBBOzizDQ", "SG1", 1024,
     "ffhq"),
    ("stylegan-celebahq-1024x1024", "https://drive.google.com/uc?id=1MGqJl28pN4t7SAtSrPdSRJSQJqahkzUf", "SG1", 1024,
     "celebahq"),
    ("stylegan-bedrooms-256x256", "https://drive.google.com/uc?id=1MOSKeGF0FJcivpBI7s63V9YHloUTORiF", "SG1", 256,
     "bedrooms"),
    # The README calls it 512x384 (the pictures); G_synthesis draws square power-of-two frames: 512x512.
    ("stylegan-cars-512x384", "https://drive.google.com/uc?id=1MJ6iCfNtMIRicihwRorsM3b7mmtmK9c3", "SG1", 512, "cars"),
    ("stylegan-cats-256x256", "https://drive.google.com/uc?id=1MQywl0FNt6lHu8E_EUqnRbviagS7fbiJ", "SG1", 256, "cats"),
    ("karras2018iclr-celebahq-1024x1024", "https://drive.google.com/open?id=188K19ucknC6wg1R6jbuPEhTq9zoufOx4",
     "ProGAN", 1024, "celebahq"),
]


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
    for name, url, kind, res, dataset in _TF_ERA_NETS:
        entries.append(CatalogEntry(name, url, kind, res, dataset, DRIVE_NOTE))
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
