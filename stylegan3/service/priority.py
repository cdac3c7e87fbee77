"""Render threads yield the CPU to the window's thread (a busy CPU render must not freeze the GUI)."""

from __future__ import annotations

import os
import threading


def lower_thread_priority(nice: int = 5) -> None:
    """On Linux niceness is per thread and inherited by the compute threads torch starts from this one."""
    if not hasattr(os, "setpriority") or os.environ.get("SG3_RENDER_NICE") == "0":
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError:
        pass
