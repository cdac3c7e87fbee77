"""Networks load on a background thread with a status line; the GUI keeps running (and rendering) meanwhile.

Only the newest load request counts: if the user picks another network while one is downloading, the older
result is discarded when it arrives. Load errors (SG3Error and anything unexpected) become a one-line message
for the window instead of an exception. Loaded nets are cached, so switching back is instant.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from sg3_explorer.visualizer.renderer import prepare_network
from stylegan3.networks.info import NetworkInfo, describe
from stylegan3.ops import backend

LoadFn = Callable[..., torch.nn.Module]


@dataclass
class LoadStatus:
    source: str = ""
    message: str = ""
    fraction: float | None = None  # download progress 0..1 when known
    busy: bool = False
    error: str | None = None


@dataclass
class LoadedNetwork:
    load_id: int
    source: str
    G: torch.nn.Module | None  # None when the network lives in a renderer elsewhere (child process, server)
    info: NetworkInfo
    seconds: float
    ops: str = ""  # e.g. "reference ops on CPU (no CUDA device)"
    label: str = ""  # what the Network panel shows for the source (a demo net's name); empty: the source


def default_load_fn(
    source: str, progress: Callable[..., None] | None = None, device: torch.device | None = None
) -> torch.nn.Module:
    """`stylegan3.loading.load_network` straight onto the render device, reporting download progress."""
    from stylegan3.loading import load_network

    return load_network(source, device=device, progress=progress)


def error_line(exc: BaseException, doing: str = "working") -> str:
    """One line for the window: our own errors as they are, out of memory with what to change (after handing
    the cached memory back), anything else with its type."""
    from stylegan3.errors import SG3Error
    from stylegan3.perf.memory import is_out_of_memory, out_of_memory_message, release_cached_memory

    if is_out_of_memory(exc):
        release_cached_memory()
        return out_of_memory_message(exc, doing)

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, SG3Error):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _progress_text(args: tuple) -> tuple[str | None, float | None]:
    """Message and fraction from a progress report: (done_bytes, total_bytes_or_None), (fraction) or (message)."""
    if len(args) >= 2 and isinstance(args[0], (int, float)) and (args[1] is None or isinstance(args[1], (int, float))):
        done, total = args[0], args[1]
        if total:
            return f"{done / 1e6:.1f} / {total / 1e6:.1f} MB", min(max(done / total, 0.0), 1.0)
        return f"{done / 1e6:.1f} MB", None
    if len(args) == 1 and isinstance(args[0], float):
        return None, min(max(args[0], 0.0), 1.0)
    if args and isinstance(args[0], str):
        return args[0], None
    return None, None


def _cache_key(source: str) -> tuple:
    """A local file that changed on disk is loaded again; URLs and names are keyed by their text."""
    try:
        st = Path(source).expanduser().stat()
        return (source, st.st_mtime_ns, st.st_size)
    except (OSError, ValueError):
        return (source,)


class LoaderBase:
    """What both loaders share: latest request wins, one background thread per request, a status line.

    Subclasses implement `_work(load_id, source)`, which ends by calling `_finish` or `_fail`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest_id = 0
        self._done: LoadedNetwork | None = None
        self.status = LoadStatus()
        self._threads: list[threading.Thread] = []

    def load(self, source: str) -> int:
        """Start loading `source` in the background; returns the load id."""
        source = str(source).strip()
        with self._lock:
            self._latest_id += 1
            load_id = self._latest_id
            self.status = LoadStatus(source=source, message=self._loading_message(source), busy=True)
        t = threading.Thread(target=self._work, args=(load_id, source), name="sg3-load", daemon=True)
        self._threads = [th for th in self._threads if th.is_alive()] + [t]
        t.start()
        return load_id

    def poll(self) -> LoadedNetwork | None:
        """The finished newest load, once."""
        with self._lock:
            done, self._done = self._done, None
        return done

    @property
    def latest_id(self) -> int:
        """Id of the newest load request (what `status` describes)."""
        return self._latest_id

    @property
    def busy(self) -> bool:
        return self.status.busy

    def wait(self, timeout: float = 60.0) -> bool:
        """Block until the loads started so far finish (tests and CLI only)."""
        end = time.monotonic() + timeout
        for t in list(self._threads):
            t.join(max(0.0, end - time.monotonic()))
        return not self.busy

    def _set_status(self, load_id: int, **changes) -> None:
        with self._lock:
            if load_id != self._latest_id:
                return
            for k, v in changes.items():
                setattr(self.status, k, v)

    def _fail(self, load_id: int, line: str) -> None:
        self._set_status(load_id, busy=False, error=line, message=f"failed: {line}", fraction=None)

    def _finish(self, loaded: LoadedNetwork) -> None:
        with self._lock:
            if loaded.load_id != self._latest_id:
                return  # a newer request superseded this one
            self._done = loaded
            self.status = LoadStatus(source=loaded.source, message=f"loaded {loaded.source} in {loaded.seconds:.1f} s",
                                     busy=False)

    def _loading_message(self, source: str) -> str:
        return f"loading {source} ..."

    def _work(self, load_id: int, source: str) -> None:
        raise NotImplementedError


class NetworkLoader(LoaderBase):
    """Loads into this process, onto the render device (the in-process renderer's loader)."""

    def __init__(self, device: torch.device, load_fn: LoadFn = default_load_fn, cache_size: int = 3) -> None:
        super().__init__()
        self.device = device
        self._load_fn = load_fn
        self._cache: OrderedDict[tuple, tuple[torch.nn.Module, NetworkInfo]] = OrderedDict()
        self._cache_size = cache_size

    def _work(self, load_id: int, source: str) -> None:
        t0 = time.perf_counter()

        def progress(*args) -> None:
            msg, frac = _progress_text(args)
            self._set_status(load_id, message=f"{source}: {msg}" if msg else self.status.message, fraction=frac)

        try:
            key = _cache_key(source)
            with self._lock:  # several loader threads may run at once (a drop and a click)
                cached = self._cache.get(key)
                if cached is not None:
                    self._cache.move_to_end(key)
            if cached is not None:
                G, info = cached
            else:
                G = self._load_fn(source, progress=progress, device=self.device)
                G = prepare_network(G, self.device)
                info = describe(G, source)
                with self._lock:
                    self._cache[key] = (G, info)
                    while len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
        except Exception as exc:  # noqa: BLE001 - hostile or broken input must never take the app down
            self._fail(load_id, error_line(exc, "loading the network"))
            return
        try:
            # On first use this builds the op kernels for the device (CPU: about 30 s, once per install).
            self._set_status(load_id, message=f"{source}: preparing the op kernels (the first time compiles them)")
            ops = backend.describe(self.device)
        except Exception as exc:  # noqa: BLE001 - a broken kernel build is reported, rendering falls back
            ops = f"op implementation unknown ({type(exc).__name__}: {exc})"
        label = str(getattr(G, "demo_name", "") or "")
        self._finish(LoadedNetwork(load_id, source, G, info, time.perf_counter() - t0, ops, label))
