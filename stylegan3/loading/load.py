"""`load_network`: one entry point for every way a user names a network.

A source is resolved to a local file (downloading URLs and catalog names into the cache), the
file is read by content (pickle or native safetensors) into a `ParsedNetwork`, and that is built
into our own module. The demo network needs no file at all.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from stylegan3.errors import NetworkLoadError
from stylegan3.loading import catalog
from stylegan3.loading.build import build_network, resolve_device
from stylegan3.loading.download import ProgressCallback, download, is_url
from stylegan3.loading.formats import HEAD_BYTES, describe_unreadable, detect_format
from stylegan3.loading.native import read_native
from stylegan3.loading.official import open_network_file, read_official_pickle
from stylegan3.loading.parsed import ParsedNetwork

DEMO = "demo"


def load_network(
    source: str | os.PathLike,
    key: str = "G_ema",
    device: str | torch.device | None = None,
    progress: ProgressCallback | None = None,
    self_check: bool = True,
) -> torch.nn.Module:
    """Load a generator from a path, http(s) URL, catalog name or 'demo', executing nothing from the file.

    Returns the module in eval mode with gradients off, on `device` (default: cuda if available,
    else cpu). `progress(done_bytes, total_or_None)` reports download progress for URLs. `self_check=False`
    is for callers that only read the module (`info`): they never render, so the kernels are neither built
    nor checked (a cold cache made `info` take 34 s for that).
    """
    text = _source_text(source)
    if _is_demo_name(text):
        G = _load_demo(text, device)
    else:
        G = build_network(read_network(text, key=key, progress=progress), device, label=text)
    if self_check:
        _first_use_check(G)
    return G


def _first_use_check(G: torch.nn.Module) -> None:
    """Kernels prove themselves on this network's calls before they render it (once per build and
    architecture; nothing to do on the reference ops). See `stylegan3.ops.selfcheck`."""
    from stylegan3.ops import selfcheck

    selfcheck.ensure_safe(G)


def read_network(
    source: str | os.PathLike, key: str = "G_ema", progress: ProgressCallback | None = None
) -> ParsedNetwork:
    """Resolve `source` to a file and parse it (format chosen by content) without building modules.

    The demo names give the demo network's data, so `convert demo out.safetensors` works like every
    other command that takes `demo`.
    """
    text = _source_text(source)
    if _is_demo_name(text):
        from stylegan3.loading.native import parsed_from_module

        return parsed_from_module(_load_demo(text, "cpu"))
    path = local_file(text, progress)
    if not path.exists():
        raise NetworkLoadError(text, "no such file" + catalog.hint_for(text))
    with open_network_file(path, text) as file:
        kind = detect_format(file.read(HEAD_BYTES))
    if kind == "pickle":
        return read_official_pickle(path, key, label=text)
    if kind == "safetensors":
        return read_native(path, label=text)
    raise NetworkLoadError(text, describe_unreadable(kind))


def local_file(source: str, progress: ProgressCallback | None = None) -> Path:
    """A local path for `source`: URLs and catalog names are downloaded (once) into the cache."""
    if is_url(source):
        return download(source, progress)
    path = Path(source).expanduser()
    entry = catalog.lookup(source)
    if entry is not None and not path.exists():
        return download(entry.url, progress)
    return path


def _source_text(source: object) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    raise NetworkLoadError(repr(source), "expected a file path, URL, catalog name or 'demo'")


def is_demo_source(source: str | os.PathLike) -> bool:
    """True when `source` names a built-in demo network rather than a file."""
    return isinstance(source, str) and _is_demo_name(source)


def _is_demo_name(text: str) -> bool:
    """'demo' or 'demo-<kind>'; anything else (e.g. a local file 'demo-sg3.safetensors') is a path."""
    if text == DEMO:
        return True
    if not text.startswith(DEMO + "-"):
        return False
    from stylegan3.loading.demo import DEMO_CONFIGS

    return text[len(DEMO) + 1 :] in DEMO_CONFIGS


def _load_demo(name: str, device: str | torch.device | None) -> torch.nn.Module:
    """'demo' is the SG3-T demo; 'demo-sg3-r' and 'demo-sg2' pick the other kinds."""
    try:
        from stylegan3.loading.demo import demo_network
    except ImportError:
        raise NetworkLoadError(DEMO, "the built-in demo network is not available in this installation") from None
    G = demo_network("sg3-t" if name == DEMO else name[len(DEMO) + 1 :])
    G.eval().requires_grad_(False)
    return G.to(resolve_device(device))


def network_name(source: str) -> str:
    """Short pane / figure label for a network source: a file's name, the last part of a URL, or as given."""
    text = str(source).rstrip("/")
    return text.rsplit("/", 1)[-1] if "/" in text or Path(text).suffix else text
