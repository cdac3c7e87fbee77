"""Safe loading of generator networks: official pickles (read as data, never executed) and `.safetensors`.

Modules: `safe_unpickler` (allow-listed pickle reader), `official` (pickle -> `ParsedNetwork`),
`native` (our safetensors format), `download` (cached http fetch), `build` (`ParsedNetwork` ->
module), `load` (the `load_network` entry point).
"""

from __future__ import annotations

from stylegan3.loading.build import build_network
from stylegan3.loading.download import cache_dir, download
from stylegan3.loading.load import load_network, read_network
from stylegan3.loading.native import read_native, save_native, write_native
from stylegan3.loading.official import read_official_pickle
from stylegan3.loading.parsed import ParsedNetwork

__all__ = [
    "ParsedNetwork",
    "build_network",
    "cache_dir",
    "download",
    "load_network",
    "read_native",
    "read_network",
    "read_official_pickle",
    "save_native",
    "write_native",
]
