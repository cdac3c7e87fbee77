"""Downloads from a local http.server on 127.0.0.1: caching, progress, and failures that leave no file."""

from __future__ import annotations

import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from stylegan3.errors import DownloadError
from stylegan3.loading import cache_dir, catalog, download, load_network
from stylegan3.loading.download import cached_file_for
from tests.support.nets import tiny_net
from tests.support.official_fakes import official_pickle_bytes

NET_BYTES: bytes = b""
RELEASE = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    hits: dict[str, int] = {}

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        path = self.path.split("?")[0]
        _Handler.hits[path] = _Handler.hits.get(path, 0) + 1
        if path in ("/net.pkl", "/other/net.pkl"):
            self._send(200, NET_BYTES)
        elif path == "/nolength.pkl":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(NET_BYTES)
        elif path == "/short.pkl":
            self.send_response(200)
            self.send_header("Content-Length", str(len(NET_BYTES)))
            self.end_headers()
            self.wfile.write(NET_BYTES[: len(NET_BYTES) // 2])
            self.wfile.flush()
            self.close_connection = True
        elif path == "/page.pkl":
            self._send(200, b"<html><body>Please log in</body></html>\n", "text/html")
        elif path == "/uc":  # a Google-Drive-like large-file confirmation page, served for a .pkl address
            page = (b"\n<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head>"
                    b"<body>Google Drive can't scan this file for viruses.</body></html>\n")
            self._send(200, page, "text/html; charset=utf-8")
        elif path == "/notes.pkl":
            self._send(200, b"these are not weights, just some notes\n", "text/plain")
        elif path == "/redirect.pkl":
            self.send_response(302)
            self.send_header("Location", "/net.pkl")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/stall.pkl":
            self.send_response(200)
            self.send_header("Content-Length", str(len(NET_BYTES)))
            self.end_headers()
            self.wfile.write(NET_BYTES[:100])
            self.wfile.flush()
            RELEASE.wait(10)
        else:
            self._send(404, b"not found", "text/plain")

    def _send(self, code: int, body: bytes, content_type: str = "application/octet-stream") -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def generator():
    return tiny_net("SG2", res=16, seed=7, c_dim=2, perturb=0.01)


@pytest.fixture(scope="module")
def server(generator):
    global NET_BYTES
    NET_BYTES = official_pickle_bytes(generator)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    RELEASE.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("SG3_EXPLORER_CACHE", str(folder))
    _Handler.hits.clear()
    return folder


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_cache_dir_precedence(tmp_path, monkeypatch):
    assert cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("SG3_EXPLORER_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "sg3-explorer"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "sg3-explorer"


def test_cached_names_keep_sources_apart(server):
    a, b = cached_file_for(f"{server}/net.pkl"), cached_file_for(f"{server}/other/net.pkl")
    assert a != b and a.name.endswith("-net.pkl") and b.name.endswith("-net.pkl")
    assert a.parent == b.parent == cache_dir() / "networks"


def test_download_once_with_progress(server, isolated_cache):
    calls: list[tuple[int, int | None]] = []
    path = download(f"{server}/net.pkl", progress=lambda done, total: calls.append((done, total)))
    assert path.read_bytes() == NET_BYTES
    assert _files(isolated_cache) == [path]
    total = len(NET_BYTES)
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    again = download(f"{server}/net.pkl")
    assert again == path and _Handler.hits["/net.pkl"] == 1  # served from the cache the second time


def test_load_network_from_url(server, generator):
    G = load_network(f"{server}/redirect.pkl", device="cpu")  # redirects are followed
    for key, tensor in generator.state_dict().items():
        assert torch.equal(G.state_dict()[key], tensor), key
    assert _Handler.hits == {"/redirect.pkl": 1, "/net.pkl": 1}


def test_unknown_length_reports_none_total(server):
    calls: list[tuple[int, int | None]] = []
    path = download(f"{server}/nolength.pkl", progress=lambda done, total: calls.append((done, total)))
    assert path.read_bytes() == NET_BYTES
    assert {total for _, total in calls} == {None} and calls[-1][0] == len(NET_BYTES)


def test_catalog_name_downloads_through_the_cache(server, generator, monkeypatch):
    entry = catalog.CatalogEntry("test-sg2-16x16", f"{server}/net.pkl", "SG2", 16, "test")
    monkeypatch.setitem(catalog.CATALOG, entry.name, entry)
    G = load_network("test-sg2-16x16.pkl", device="cpu")
    assert torch.equal(G.state_dict()["synthesis.b4.const"], generator.state_dict()["synthesis.b4.const"])
    assert _Handler.hits == {"/net.pkl": 1}


def test_only_http_urls_are_fetched(tmp_path, isolated_cache):
    local = tmp_path / "net.pkl"
    local.write_bytes(NET_BYTES or b"x")
    with pytest.raises(DownloadError, match="only http:// and https://"):
        download(local.as_uri())
    assert _files(isolated_cache) == []


def _failure(url: str, cache: Path, **kwargs) -> str:
    with pytest.raises(DownloadError) as info:
        load_network(url, device="cpu", **kwargs)
    message = str(info.value)
    assert message.startswith(f"{url}: ") and "\n" not in message
    assert _files(cache) == []  # nothing half-written survives
    return message


def test_http_404(server, isolated_cache):
    assert "HTTP 404" in _failure(f"{server}/missing.pkl", isolated_cache)


def test_connection_refused(isolated_cache):
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    message = _failure(f"http://127.0.0.1:{port}/net.pkl", isolated_cache)
    assert "cannot connect" in message and "refused" in message.lower()


def test_interrupted_stream(server, isolated_cache):
    message = _failure(f"{server}/short.pkl", isolated_cache)
    assert "interrupted" in message


def test_error_page_is_not_cached(server, isolated_cache):
    assert "sent an HTML page instead of the network file" in _failure(f"{server}/page.pkl", isolated_cache)
    assert "sent a text page that is not a network file" in _failure(f"{server}/notes.pkl", isolated_cache)


def test_hosting_page_instead_of_a_pickle_is_one_clear_line(server, isolated_cache):
    """What a Google Drive address (the StyleGAN v1 / ProGAN catalog entries) sends for a large file."""
    url = f"{server}/uc?id=1MEGjdvVpUsu1jB4zrXZN7Y4kBBOzizDQ"
    with pytest.raises(DownloadError) as info:
        load_network(url, device="cpu")
    message = str(info.value)
    assert "\n" not in message and message.startswith(url)
    assert "sent an HTML page instead of the network file" in message and "download it in a browser" in message
    assert _files(isolated_cache) == []


def test_stalled_server_times_out(server, isolated_cache):
    start = time.monotonic()
    with pytest.raises(DownloadError, match="interrupted after 100 bytes") as info:
        download(f"{server}/stall.pkl", timeout=0.5)
    assert time.monotonic() - start < 5
    assert "\n" not in str(info.value)
    assert _files(isolated_cache) == []


def test_downloaded_file_has_the_umask_mode(server, isolated_cache):
    """A shared cache must be readable by others: 0644 under umask 022, not mkstemp's 0600."""
    old = os.umask(0o022)
    try:
        path = download(f"{server}/net.pkl")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
