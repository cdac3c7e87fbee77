"""Fetch a network over http(s) once and keep it in the user's cache folder.

The download goes to a temporary file in the cache folder and is renamed into place only when it
is complete and looks like a network file, so an interrupted transfer or an HTML error page never
leaves something that a later run would mistake for a cached network.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from stylegan3.documents.atomic import create_temp_beside
from stylegan3.errors import DownloadError
from stylegan3.loading.formats import HEAD_BYTES, detect_format, looks_like_html

ProgressCallback = Callable[[int, "int | None"], None]

CHUNK_BYTES = 1 << 20
USER_AGENT = "sg3-explorer"


def cache_dir() -> Path:
    """`$SG3_EXPLORER_CACHE`, else `$XDG_CACHE_HOME/sg3-explorer`, else `~/.cache/sg3-explorer`."""
    explicit = os.environ.get("SG3_EXPLORER_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "sg3-explorer"


def is_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))


def cached_file_for(url: str) -> Path:
    """Where `url` is (or will be) cached: a hash of the full URL keeps different sources apart."""
    name = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).name
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "network"
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:12]
    return cache_dir() / "networks" / f"{digest}-{name[:100]}"


def download(url: str, progress: ProgressCallback | None = None, timeout: float = 30.0) -> Path:
    """Return the cached copy of `url`, downloading it first if needed.

    `progress(done_bytes, total_bytes_or_None)` is called as data arrives (for the GUI); a tqdm
    bar is shown on stderr as well. Failures raise `DownloadError` naming the URL.
    """
    if not is_url(url):
        raise DownloadError(url, "only http:// and https:// addresses can be downloaded")
    target = cached_file_for(url)
    if target.is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(url, f"cannot create the cache folder {target.parent}: {exc.strerror or exc}") from None
    fd, tmp = create_temp_beside(target, prefix=".download-")
    try:
        with os.fdopen(fd, "wb") as out:
            _fetch(url, out, progress, timeout)
        with open(tmp, "rb") as check:
            head = check.read(HEAD_BYTES)
        kind = detect_format(head)
        if kind not in ("pickle", "safetensors"):
            raise DownloadError(url, _not_a_network(kind, head))
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def _not_a_network(kind: str, head: bytes) -> str:
    """One line for a download that is not a network file; an HTML page gets its usual cause and the way out."""
    if looks_like_html(head):
        return ("the server sent an HTML page instead of the network file (a hosting site's download, sign-in or "
                "virus-scan page, as Google Drive sends for large files): download it in a browser and open the "
                "saved file")
    return f"the server sent {'a text page' if kind == 'text' else 'something'} that is not a network file"


def _fetch(url: str, out, progress: ProgressCallback | None, timeout: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise DownloadError(url, f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason.strerror if isinstance(exc.reason, OSError) and exc.reason.strerror else exc.reason
        raise DownloadError(url, f"cannot connect: {reason}") from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise DownloadError(url, f"cannot connect: {exc}") from None
    with response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        done = 0
        name = cached_file_for(url).name.split("-", 1)[-1]
        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=name, file=sys.stderr) as bar:
            if progress is not None:
                progress(0, total)
            while True:
                try:
                    chunk = response.read1(CHUNK_BYTES)  # whatever has arrived, so progress stays live
                except (OSError, http.client.HTTPException) as exc:  # includes timeouts and resets
                    reason = str(exc) or type(exc).__name__
                    raise DownloadError(url, f"download interrupted after {done} bytes: {reason}") from None
                if not chunk:
                    break
                out.write(chunk)
                done += len(chunk)
                bar.update(len(chunk))
                if progress is not None:
                    progress(done, total)
    if total is not None and done != total:
        raise DownloadError(url, f"download interrupted: got {done} of {total} bytes")
    if done == 0:
        raise DownloadError(url, "the server sent an empty file")
