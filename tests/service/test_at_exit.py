"""Worker threads stop before the interpreter exits (`stylegan3.service.at_exit`).

A render thread still inside torch or the kernels while Python finalized crashed the process after its work was
done (abort or segmentation fault at exit, ~2 runs in 3 when exiting with a frame in flight; CI saw one).
"""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stylegan3.service import at_exit

ROOT = Path(__file__).resolve().parents[2]


class Closable:
    def __init__(self, log: list, name: str, fail: bool = False) -> None:
        self.log, self.name, self.fail = log, name, fail

    def close(self) -> None:
        self.log.append(self.name)
        if self.fail:
            raise RuntimeError("boom")


def test_close_all_closes_the_living_newest_first_and_goes_on_after_a_failure(monkeypatch):
    monkeypatch.setattr(at_exit, "_live", [])
    log: list[str] = []
    first, failing = Closable(log, "first"), Closable(log, "failing", fail=True)
    gone = Closable(log, "gone")
    last = Closable(log, "last")
    for obj in (first, failing, gone, last):
        at_exit.close_at_exit(obj)
    del gone
    gc.collect()
    at_exit.close_all()
    assert log == ["last", "failing", "first"]
    at_exit.close_all()  # each object is closed once
    assert log == ["last", "failing", "first"]


EXIT_SCRIPT = textwrap.dedent(
    """
    import atexit, sys, threading
    from pathlib import Path

    def threads_left():  # registered before the backend's handler: runs after it (atexit is last in, first out)
        print("left:", sorted(t.name for t in threading.enumerate() if t.name.startswith("sg3-")), flush=True)

    atexit.register(threads_left)
    from stylegan3.documents.request import Latent, NetworkRef, RenderRequest
    from stylegan3.service.thread_backend import ThreadBackend
    from tests.support.nets import save_tiny

    net = save_tiny(Path(sys.argv[1]) / "net.safetensors", "SG3-R", res=64)
    backend = ThreadBackend("cpu")
    request = RenderRequest().replace(network=NetworkRef(str(net)))
    backend.submit(request)
    assert backend.wait_result(240.0) is not None  # the first frame (self-check included) is done
    backend.submit(request.replace(latent=Latent(x=1.0)))  # in flight when the script ends
    print("busy at exit:", backend.status().state, flush=True)
    """
)


@pytest.mark.slow
def test_exiting_with_a_frame_in_flight_stops_the_render_thread_first(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "busy at exit: busy" in proc.stdout, proc.stdout  # a frame was in flight
    assert "left: []" in proc.stdout, proc.stdout
