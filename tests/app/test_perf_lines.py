"""The Performance panel's two rates read apart: the image rate (seconds per image on a CPU) and the window's
frame rate; the CUDA-graphs switch says why it is off where frames are not rendered on CUDA; slider values are
written beside the sliders, by every panel."""

from __future__ import annotations

from sg3_explorer.visualizer.perf import TimeHistory, image_rate_line, window_rate_line
from sg3_explorer.widgets.performance import cuda_graphs_unavailable
from sg3_explorer.widgets.sliders import value_text


def _history(*ms: float) -> TimeHistory:
    h = TimeHistory()
    for v in ms:
        h.add(v)
    return h


def test_image_rate_is_per_second_with_the_time_per_image():
    assert image_rate_line(_history(3641.9)) == "image: 0.3 /s (3.64 s per image)"
    assert image_rate_line(_history(80.0)) == "image: 12.5 /s (80 ms per image)"
    assert image_rate_line(_history(4.0)) == "image: 250 /s (4.0 ms per image)"
    assert image_rate_line(TimeHistory()) == "image: no image yet"


def test_window_rate_says_window():
    assert window_rate_line(_history(*[33.3] * 5), 0.21) == "window: 30 FPS (33.3 ms per frame, GUI build 0.21 ms)"


def test_cuda_graphs_reason():
    assert cuda_graphs_unavailable("cuda:0") is None
    assert cuda_graphs_unavailable("cpu") == "they need a CUDA GPU, and frames are rendered on cpu"


def test_slider_value_text():
    assert value_text("%.2f seeds/s", 0.25) == "0.25 seeds/s"
    assert value_text("first %d ws", 3) == "first 3 ws"
    assert value_text("all ws", 8) == "all ws"
    assert value_text("%+.1f dB", 2.0) == "+2.0 dB"


def test_every_panel_slider_goes_through_the_helper():
    """A slider drawn with imgui directly would put its value under the grab again (issue 20, item 9)."""
    from pathlib import Path

    widgets = Path(__file__).resolve().parents[2] / "widgets"
    direct = [p.name for p in widgets.glob("*.py") if p.name != "sliders.py" and "imgui.slider_" in p.read_text()]
    assert direct == []
