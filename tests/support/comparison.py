"""Drivers and checks of the comparison window, shared by the real-window tests that open panes
(tests/app/test_gui_comparison.py, test_gui_tf.py): what a pane shows on screen against its headless render."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tests.support import gui as gui_support
from tests.support.gui import mean_abs_diff, wait_until


def make_app(tmp_path: Path, networks: list[str]) -> Any:
    """The App on `networks`, sized for the comparison window, its settings and captures private to the test."""
    from sg3_explorer.visualizer.app import App, AppConfig

    app = App(AppConfig(networks=networks, window_size=(1100, 760), persist_settings=False))
    app.settings.capture_dir = str(tmp_path / "captures")
    return app


def run_driven(app: Any, test_fn: Callable[[Any], None]) -> None:
    """The shared driver, plus: the window's exit hook must have closed every pane (threads joined)."""
    model = app.widget("comparison").model
    try:
        gui_support.run_driven(app, test_fn)
        closed_on_exit = not model.panes
    finally:
        model.close()  # (a no-op when the exit hook already did it)
    assert closed_on_exit


def magnified(expected: np.ndarray, rect: tuple[float, float, float, float]) -> tuple[np.ndarray, tuple]:
    """`expected` as the display draws it into `rect`: bilinear texture sampling (clamped at the edges) at every
    screen pixel centre, as OpenGL does. Returns the image and the screen slice it covers."""
    x0, y0, w, h = rect
    ih, iw = expected.shape[:2]
    xs = np.arange(int(np.ceil(x0)), int(x0 + w))
    ys = np.arange(int(np.ceil(y0)), int(y0 + h))
    u = np.clip((xs + 0.5 - x0) / w * iw - 0.5, 0, iw - 1)
    v = np.clip((ys + 0.5 - y0) / h * ih - 0.5, 0, ih - 1)
    u0, v0 = np.minimum(u.astype(int), iw - 2), np.minimum(v.astype(int), ih - 2)
    fu, fv = (u - u0)[None, :, None], (v - v0)[:, None, None]
    img = expected.astype(np.float32)
    top = img[v0][:, u0] * (1 - fu) + img[v0][:, u0 + 1] * fu
    bottom = img[v0 + 1][:, u0] * (1 - fu) + img[v0 + 1][:, u0 + 1] * fu
    return top * (1 - fv) + bottom * fv, (slice(ys[0], ys[-1] + 1), slice(xs[0], xs[-1] + 1))


def shown(window: np.ndarray, widget: Any, pane: Any, which: str, expected: np.ndarray) -> float:
    """Mean abs difference between what the window shows for a pane image and `expected` (its native pixels)
    magnified to the pane's on-screen rectangle."""
    rect = widget.view.rects[(pane.pane_id, which)]
    want, region = magnified(expected, rect)
    return mean_abs_diff(window[region], want)


def check_panes(window: np.ndarray, app: Any, widget: Any) -> list[float]:
    """Every pane shows the headless render of its state, all at the same on-screen size."""
    from sg3_explorer.visualizer.renderer import render_image

    diffs, sizes = [], set()
    for pane in widget.model.panes:
        from stylegan3.loading import load_network

        expected = render_image(load_network(pane.source, device="cpu"), pane.request_for(app.request))
        assert np.array_equal(pane.image, expected)
        diff = shown(window, widget, pane, "image", expected)
        assert diff < 2.0, f"{pane.label}: on-screen pane differs from the headless render by {diff:.2f}"
        x0, y0, w, h = widget.view.rects[(pane.pane_id, "image")]
        sizes.add((round(w), round(h)))
        diffs.append(diff)
    assert len(sizes) == 1, f"panes of different on-screen size: {sizes}"
    assert next(iter(sizes))[0] > 100
    return diffs


def check_split(window: np.ndarray, widget: Any, left: Any, right: Any) -> tuple[float, float]:
    """Left of the divider the first pane, right of it the second, each at the full square's scale."""
    rect = widget.view.rects[(left.pane_id, "split")]
    cut = int(round(widget.view.split_x - np.ceil(rect[0])))
    diffs = []
    for pane, cols in ((left, slice(0, cut - 2)), (right, slice(cut + 3, None))):
        want, region = magnified(pane.image, rect)
        diffs.append(mean_abs_diff(window[region][:, cols], want[:, cols]))
    other, region = magnified(right.image, rect)
    assert mean_abs_diff(window[region][:, : cut - 2], other[:, : cut - 2]) > 5.0  # the left really is pane 1
    assert max(diffs) < 2.0, f"split view differs from the panes' renders: {diffs}"
    return diffs[0], diffs[1]


def imgui_vec(x: float, y: float) -> Any:
    """An ImVec2, importing imgui only where a window test runs (the module imports without the gui extra)."""
    from imgui_bundle import imgui

    return imgui.ImVec2(x, y)


def wait_panes(ctx: Any, app: Any, widget: Any, timeout: float = 60.0) -> None:
    """Until every pane shows the current state and is drawn: a check before that would compare a stale frame."""
    ok = wait_until(ctx, lambda: widget.model.all_shown(app.request), timeout)
    assert ok, [p.status for p in widget.model.panes]
    for _ in range(3):  # uploaded and drawn
        ctx.yield_()
