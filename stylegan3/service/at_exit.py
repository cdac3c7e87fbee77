"""Compute threads stop before the interpreter exits.

Why: a daemon thread that is still inside torch or the kernels while Python finalizes crashes the process on its
way out (C++ `terminate` -> abort, or a segmentation fault: exit status 134 / 139 after the program's work was
done). Exiting with a frame in flight did that in about two runs out of three; CI saw it once as a test run that
passed every test and still failed. Backends and servers whose worker threads compute register here; at exit
they are closed (asked to stop, then joined with their own timeouts) before the interpreter tears down.

Registration is weak: an object closed and dropped by its owner leaves the set by itself. `close()` must be
idempotent, since an owner may already have closed it.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref

__all__ = ["close_at_exit", "close_all"]

log = logging.getLogger(__name__)
_live: list[weakref.ref] = []  # in registration order
_lock = threading.Lock()
_registered = False


def close_at_exit(obj) -> None:
    """Call `obj.close()` when the interpreter exits, unless `obj` is gone by then."""
    global _registered
    with _lock:
        if not _registered:
            atexit.register(close_all)
            _registered = True
        _live[:] = [ref for ref in _live if ref() is not None]
        _live.append(weakref.ref(obj))


def close_all() -> None:
    """Close every registered object that is still alive, newest first (a server before the backend it serves)."""
    with _lock:
        objs = [ref() for ref in reversed(_live)]
        _live.clear()
    for obj in objs:
        if obj is None:
            continue
        try:
            obj.close()
        except Exception as exc:  # noqa: BLE001 - exiting: report and close the rest
            log.warning("at exit: closing %s failed: %s", type(obj).__name__, exc)
