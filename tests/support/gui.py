"""Helpers for the GUI tests: a private Xvfb display, tiny networks written to files, waiting and comparing.

GUI tests skip (not fail) when imgui-bundle or Xvfb is missing, so a machine without the `gui` extra or the
Debian packages still runs the rest of the suite.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

SCREEN = "1600x1000x24"


def gui_skip_reason() -> str | None:
    if importlib.util.find_spec("imgui_bundle") is None:
        return "imgui-bundle not installed (pip install 'sg3-explorer[gui]')"
    if importlib.util.find_spec("OpenGL") is None:
        return "PyOpenGL not installed"
    if shutil.which("Xvfb") is None:
        return "Xvfb not installed (apt-get install xvfb libgl1-mesa-dri libglx-mesa0)"
    return None


def _free_display() -> int:
    for n in range(90, 400):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise RuntimeError("no free X display number")


@contextlib.contextmanager
def xvfb(screen: str = SCREEN):
    """Start Xvfb on a free display (`screen` is WxHxDEPTH), point DISPLAY at it (Mesa software GL), and kill it
    afterwards."""
    reason = gui_skip_reason()
    if reason:
        pytest.skip(reason)
    num = _free_display()
    proc = subprocess.Popen(["Xvfb", f":{num}", "-screen", "0", screen, "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock = Path(f"/tmp/.X11-unix/X{num}")
    deadline = time.monotonic() + 10
    while not sock.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not sock.exists():
        proc.kill()
        pytest.skip("Xvfb did not start")
    old = {k: os.environ.get(k) for k in ("DISPLAY", "LIBGL_ALWAYS_SOFTWARE")}
    os.environ["DISPLAY"] = f":{num}"
    os.environ["LIBGL_ALWAYS_SOFTWARE"] = "1"
    problem = _probe_opengl()
    if problem:
        proc.kill()
        pytest.skip(f"no working OpenGL on the virtual display: {problem}")
    try:
        yield f":{num}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


_PROBE = """
from imgui_bundle import hello_imgui, immapp
n = [0]
def gui():
    n[0] += 1
    if n[0] > 2:
        hello_imgui.get_runner_params().app_shall_exit = True
immapp.run(gui, window_size=(200, 150), fps_idle=0, ini_disable=True)
"""


def _probe_opengl() -> str | None:
    """Open a window in a child process: a missing Mesa driver must skip the tests, not abort pytest."""
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "window probe timed out"
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        return lines[-1] if lines else f"exit code {proc.returncode}"
    return None


def write_hostile_pickle(path: Path, marker: Path) -> Path:
    """A pickle that would create `marker` if anything executed it (it must be refused, never run)."""
    import pickle

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path.write_bytes(pickle.dumps({"G_ema": Exploit()}))
    return path


_REFERENCE: dict[str, torch.nn.Module] = {}


def reference_network(app) -> torch.nn.Module:
    """The app's network loaded into the test's process (the app itself holds none: its backend does), the module
    the headless reference renders compare the screen with."""
    from stylegan3.loading import load_network

    source = app.network.source
    if source not in _REFERENCE:
        _REFERENCE[source] = load_network(source, device="cpu").eval().requires_grad_(False)
    return _REFERENCE[source]


def wait_until(ctx, cond, timeout: float = 30.0) -> bool:
    """Yield GUI frames (test engine coroutine) until `cond()` holds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        ctx.yield_()
    return True


def wait_image_for_request(ctx, app, timeout: float = 30.0) -> None:
    """Until the on-screen image was rendered from the app's current request and has been drawn."""
    ok = wait_until(ctx, lambda: app.shown_request == app.request.for_frame() and not app.renderer.busy, timeout)
    assert ok, f"no image for {app.request.latent} within {timeout}s (status: {app.loader.status})"
    for _ in range(2):
        ctx.yield_()


def grab_window(ctx, app) -> np.ndarray:
    """Screenshot of the whole window through the app's own capture path (read after the frame is drawn)."""
    app.last_window_capture = None
    app.request_window_capture(save=False)
    assert wait_until(ctx, lambda: app.last_window_capture is not None, 10)
    return app.last_window_capture


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def sample_cells(window: np.ndarray, rect: tuple[float, float, float, float], shape: tuple[int, int]) -> np.ndarray:
    """Read back the shown image at its native size: the screen pixel at the centre of every image pixel.

    The view samples the texture bilinearly, so cell centres carry the texel value itself; this turns the
    "equal up to scaling" check into an element-wise comparison.
    """
    x0, y0, w, h = rect
    rows = np.floor(y0 + (np.arange(shape[0]) + 0.5) * h / shape[0]).astype(int)
    cols = np.floor(x0 + (np.arange(shape[1]) + 0.5) * w / shape[1]).astype(int)
    return window[rows][:, cols]


def assert_shows(window: np.ndarray, app, expected: np.ndarray, tol: float = 2.0) -> float:
    """The image region of `window` equals `expected` (a headless render) up to scaling."""
    got = sample_cells(window, app.image_view.image_rect, expected.shape[:2])
    diff = mean_abs_diff(got, expected)
    assert diff < tol, f"shown image differs from the headless render: mean abs diff {diff:.2f}"
    return diff


def run_driven(app, test_fn, kill_after_s: float | None = None) -> None:
    """Run the app with `test_fn(ctx)` driving it through imgui's test engine at full speed; any failed
    assertion inside is re-raised here, and no panel may have failed. `kill_after_s` raises the engine's
    watchdog (60 s) for a script that waits on slow work by design (a renderer restarting twice)."""
    from imgui_bundle import imgui

    def wrapped(ctx):
        io = imgui.test_engine.get_io(ctx.engine)
        io.config_run_speed = imgui.test_engine.TestRunSpeed.fast
        if kill_after_s is not None:
            io.config_watchdog_warning = io.config_watchdog_kill_test = float(kill_after_s)
        test_fn(ctx)

    app.run(test_function=wrapped)
    assert not app.panel_errors, app.panel_errors
