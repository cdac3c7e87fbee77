"""Performance panel: the window's frame rate and the image rate (two different numbers, labelled so) with history
graphs, FPS limit, vsync, force fp32, CUDA graphs (off, with the reason, where frames are not rendered on CUDA),
device/ops, GPU memory and the kernels' self-check."""

from __future__ import annotations

import numpy as np
from imgui_bundle import imgui, implot

from sg3_explorer.visualizer.perf import TimeHistory, image_rate_line, window_rate_line
from sg3_explorer.widgets.base import Widget
from sg3_explorer.widgets.sliders import slider_int


def _plot(label: str, hist: TimeHistory, height: float) -> None:
    """Time history, y from 0 to the recent maximum (written next to the plot instead of tick labels)."""
    data = hist.array()
    if data.size < 2:
        return
    imgui.text_disabled(f"max {data.max():.1f} ms")
    flags = implot.Flags_.no_title | implot.Flags_.no_legend | implot.Flags_.no_menus | implot.Flags_.no_mouse_text
    if implot.begin_plot(label, imgui.ImVec2(-1, height), flags):
        ax = implot.AxisFlags_.no_tick_labels | implot.AxisFlags_.no_grid_lines
        implot.setup_axes("", "", ax, ax)
        implot.setup_axes_limits(0, max(len(hist), 2) - 1, 0, float(data.max()) * 1.1 + 1e-3, imgui.Cond_.always)
        implot.plot_line("ms", np.arange(data.size, dtype=np.float32), data)
        implot.end_plot()


class PerformanceWidget(Widget):
    title = "Performance"
    default_open = False

    def draw(self) -> None:
        app = self.app
        h = imgui.get_font_size() * 3
        # two different rates: how often the window redraws, and how often a new image arrives (on a CPU, seconds)
        imgui.text(window_rate_line(app.gui_times, app.gui_build_times.mean_ms()))
        _plot("##gui_plot", app.gui_times, h)
        imgui.text(image_rate_line(app.render_times))
        _plot("##render_plot", app.render_times, h)

        w = imgui.get_font_size() * 10
        imgui.set_next_item_width(w)
        _, app.settings.fps_limit = slider_int("FPS limit", app.settings.fps_limit, 5, 240)  # window applies
        _, app.settings.vsync = imgui.checkbox("Vertical sync", app.settings.vsync)
        imgui.same_line()
        synthesis = app.request.synthesis
        changed, on = imgui.checkbox("Force FP32", synthesis.force_fp32)
        if changed:
            self.edit("synthesis", force_fp32=on)
        if imgui.is_item_hovered() and app.info is not None:  # the same words as the Network panel and `info`
            now = app.info.precision(force_fp32=app.request.synthesis.force_fp32)
            imgui.set_tooltip(f"float16 runs only on a CUDA GPU. Now: {now}")
        imgui.same_line()
        why_not = cuda_graphs_unavailable(render_device(app))
        imgui.begin_disabled(why_not is not None)
        changed, on = imgui.checkbox("CUDA graphs", synthesis.cuda_graphs and why_not is None)
        imgui.end_disabled()
        if changed:
            self.edit("synthesis", cuda_graphs=on)
        if imgui.is_item_hovered(imgui.HoveredFlags_.allow_when_disabled):
            imgui.set_tooltip("Replay synthesis from a captured CUDA graph (GPU only): one launch per frame")
        if why_not is not None:
            imgui.push_style_color(imgui.Col_.text, imgui.get_style().color_(imgui.Col_.text_disabled))
            imgui.text_wrapped(f"CUDA graphs off: {why_not}")
            imgui.pop_style_color()

        imgui.text("Ops:")
        imgui.same_line()
        ops = app.ops_description()
        if "CUDA kernels" in ops:
            imgui.text_wrapped(ops)
        else:
            imgui.push_style_color(imgui.Col_.text, imgui.ImVec4(1.0, 0.8, 0.35, 1.0))
            imgui.text_wrapped(ops)
            imgui.pop_style_color()
        impl = app.last_result.impl if app.last_result else "-"
        imgui.text_disabled(f"device {app.device_description}   impl {impl}")
        reason = app.last_result.extras.get("graph_reason") if app.last_result else None
        if reason and app.request.synthesis.cuda_graphs:
            imgui.text_disabled(f"CUDA graph not used: {reason}")
        line = transport_line(app.last_result.extras if app.last_result else {})
        if line:
            imgui.text_wrapped(line)
        _draw_health(app)


def render_device(app) -> str:
    """Where frames are rendered: the loaded network's device (a server's, with --connect), else this one's."""
    return str(app.info.device) if app.info is not None else str(app.device)


def cuda_graphs_unavailable(device: str) -> str | None:
    """Why the CUDA graphs switch does nothing on `device` (one line), or None on a CUDA device."""
    if device.startswith("cuda"):
        return None
    return f"they need a CUDA GPU, and frames are rendered on {device}"


def transport_line(extras: dict) -> str | None:
    """How the last frame travelled (a renderer in a child process or on a server), or None in process."""
    transport = extras.get("transport")
    if transport is None or transport == "thread":
        return None
    kib = extras.get("frame_bytes", 0) / 1024
    return (f"Transport {transport}: {extras.get('frame_format', 'raw')} {kib:.0f} KiB/frame, encode "
            f"{extras.get('encode_ms', 0.0):.1f} ms, decode {extras.get('decode_ms', 0.0):.1f} ms, "
            f"round trip {extras.get('round_trip_ms', 0.0):.1f} ms")


def _draw_health(app) -> None:
    """GPU memory and the kernels' self-check (what it switched off and why), each on its own line."""
    from stylegan3.ops import selfcheck
    from stylegan3.render.memory import gpu_memory_line

    memory = gpu_memory_line(app.device)
    if memory:
        imgui.text_disabled(memory)
    for line in selfcheck.status_lines(app.device):
        off = " switched off: " in line
        color = imgui.ImVec4(1.0, 0.8, 0.35, 1.0) if off else imgui.get_style().color_(imgui.Col_.text_disabled)
        imgui.push_style_color(imgui.Col_.text, color)
        imgui.text_wrapped(line if off else line[0].upper() + line[1:])
        imgui.pop_style_color()


WIDGET = PerformanceWidget
