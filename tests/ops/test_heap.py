"""stylegan3.ops.heap: freed large blocks are reused (no fresh pages) once keep_freed_memory() ran (glibc)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Faults of the second of two 64 MiB fill-and-free cycles, before and after keep_freed_memory(), in a fresh process
# (the allocator setting is process-wide).
PROBE = """
import json, resource, torch
from stylegan3.ops import heap

def cycle():
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t = torch.empty(16 << 20)
    t.fill_(1.0)
    del t
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0

cycle()
before = cycle()
result = heap.keep_freed_memory()
cycle()
after = cycle()
print(json.dumps(dict(before=before, after=after, result=result, again=heap.keep_freed_memory())))
"""


def _probe(env_extra: dict[str, str]) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **env_extra)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _glibc() -> bool:
    return os.confstr("CS_GNU_LIBC_VERSION") is not None if hasattr(os, "confstr") else False


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _glibc(), reason="glibc only")
def test_freed_blocks_are_reused_without_page_faults():
    r = _probe({"SG3_KEEP_HEAP": "1"})
    pages = (64 << 20) // 4096
    assert r["before"] >= pages // 2, r  # glibc default: a 64 MiB block is a fresh mmap every time
    assert r["after"] < pages // 50, r  # reused from the heap
    assert r["result"].startswith("freed memory reused"), r
    assert r["again"] == r["result"]


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _glibc(), reason="glibc only")
def test_switch_off_leaves_the_defaults():
    r = _probe({"SG3_KEEP_HEAP": "0"})
    pages = (64 << 20) // 4096
    assert r["result"] == "glibc defaults (SG3_KEEP_HEAP=0)"
    assert r["after"] >= pages // 2, r
