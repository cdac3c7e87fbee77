"""Which networks a server may load: the folders, URL prefixes and catalog names given with `--allow`.

The server loads files for people it does not know, so a source is checked before anything is opened:
- a path must resolve (symlinks followed, `..` refused outright) to a file inside an allowed folder, or be an
  allowed file; relative paths are looked up inside the allowed folders; the resolved path is what gets
  loaded, so a symlink swapped in later cannot redirect the load;
- a URL must start with an allowed prefix (http/https only, no `..`/`.` segments, no user:password@);
- a catalog name must be allowed by name (or `catalog` allows all of NVIDIA's published nets);
- the built-in demo networks read no file and are always allowed.
Everything else raises `SourceRefused`, which the server logs with the client's address.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from stylegan3.errors import SG3Error

ALL_CATALOG = "catalog"


class SourceRefused(SG3Error):
    pass


def _is_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))


def _url_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "not a valid URL"
    if parts.scheme.lower() not in ("http", "https"):
        return "only http(s) URLs are served"
    if "@" in parts.netloc:
        return "URLs with a user name or password are refused"
    segments = unquote(parts.path).replace("\\", "/").split("/")
    if any(s in ("..", ".") for s in segments):
        return "URLs with '.' or '..' segments are refused"
    return None


@dataclass
class AllowList:
    folders: list[Path] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    url_prefixes: list[str] = field(default_factory=list)
    catalog_names: set[str] = field(default_factory=set)
    all_catalog: bool = False
    everything: bool = False  # the child-process renderer: the user's own process, no policy

    @classmethod
    def parse(cls, entries: list[str]) -> AllowList:
        """From `--allow` values; an entry that is neither URL, catalog name, folder nor file is an error."""
        from stylegan3.loading import catalog

        allow = cls()
        for entry in entries:
            text = str(entry).strip()
            if _is_url(text):
                problem = _url_problem(text)
                if problem:
                    raise SG3Error(f"--allow {text}: {problem}")
                allow.url_prefixes.append(text)
            elif text.lower() == ALL_CATALOG:
                allow.all_catalog = True
            elif catalog.lookup(text) is not None and not Path(text).exists():
                allow.catalog_names.add(catalog.lookup(text).name)
            else:
                path = Path(text).expanduser()
                if path.is_dir():
                    allow.folders.append(path.resolve())
                elif path.is_file():
                    allow.files.append(path.resolve())
                else:
                    raise SG3Error(f"--allow {text}: not a folder, file, http(s) URL prefix or catalog name")
        return allow

    @classmethod
    def anything(cls) -> AllowList:
        return cls(everything=True)

    def describe(self) -> str:
        if self.everything:
            return "any source (local renderer)"
        parts = [str(f) + os.sep for f in self.folders] + [str(f) for f in self.files] + list(self.url_prefixes)
        if self.all_catalog:
            parts.append("all catalog names")
        parts += sorted(self.catalog_names)
        return ", ".join(parts + ["demo networks"])

    def check(self, source: str) -> str:
        """The source to load (a resolved path for files), or SourceRefused saying why not."""
        from stylegan3.loading import catalog
        from stylegan3.loading.load import is_demo_source

        text = str(source)
        if self.everything or is_demo_source(text):
            return text
        if "\x00" in text or len(text) > 4096:
            raise SourceRefused(f"{text[:60]!r}: not a valid network source")
        if _is_url(text):
            problem = _url_problem(text)
            if problem:
                raise SourceRefused(f"{text}: {problem}")
            if any(text.startswith(p) for p in self.url_prefixes):
                return text
            raise SourceRefused(f"{text}: URL not under an allowed prefix (server --allow)")
        entry = catalog.lookup(text)
        if entry is not None and "/" not in text and os.sep not in text:
            if self.all_catalog or entry.name in self.catalog_names:
                return entry.name
            raise SourceRefused(f"{text}: catalog name not allowed on this server (server --allow)")
        return str(self._check_path(text))

    def _check_path(self, text: str) -> Path:
        raw = Path(text)
        if ".." in raw.parts:
            raise SourceRefused(f"{text}: paths with '..' are refused")
        candidates = [raw] if raw.is_absolute() else [folder / raw for folder in self.folders]
        for candidate in candidates:
            try:
                real = candidate.resolve(strict=True)
            except (OSError, RuntimeError):
                continue
            if real in self.files or any(real.is_relative_to(folder) for folder in self.folders):
                if not real.is_file():
                    raise SourceRefused(f"{text}: not a file")
                return real
            raise SourceRefused(f"{text}: outside the folders this server allows (server --allow)"
                                + (" (a symlink leads out)" if candidate.is_symlink() or real != candidate.absolute()
                                   else ""))
        if raw.is_absolute() and not any(raw.is_relative_to(f) for f in self.folders):
            raise SourceRefused(f"{text}: outside the folders this server allows (server --allow)")
        raise SourceRefused(f"{text}: no such file in the allowed folders")
