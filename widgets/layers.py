"""Layers & channels panel: every synthesis layer in a table; show one (channel / RGB, normalised, brightness)
instead of the output, its statistics, and its FFT view with the band limits drawn on it.

The pictures themselves come from the request pipeline (`stylegan3.render.views`): this panel only edits the
request's `LayerView` and `FFTView` sections. The
layer table is the `NetworkInfo`'s, so the panel is the same with the network in this process or on a server.
"""

from __future__ import annotations

from imgui_bundle import imgui

from sg3_explorer.widgets.base import Widget
from sg3_explorer.widgets.sliders import slider_float, slider_int
from stylegan3.documents.request import OUTPUT_LAYER, WINDOWS, FFTView, LayerView
from stylegan3.networks.layers import LayerInfo
from stylegan3.render.pipeline import layer_info

MARK_TEXT = {"cutoff": (0.3, 1.0, 0.3), "stopband": (1.0, 1.0, 0.3), "nyquist": (1.0, 0.35, 0.35)}


def fmt_freq(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"


def fft_toggle(layer_name: str | None, fft: bool) -> str | None:
    """FFT of "the image" needs the image as a layer; leaving FFT goes back to the plain image."""
    if fft and layer_name is None:
        return OUTPUT_LAYER
    if not fft and layer_name == OUTPUT_LAYER:
        return None
    return layer_name


class LayersWidget(Widget):
    title = "Layers & channels"
    default_open = False

    def __init__(self, app) -> None:
        super().__init__(app)
        self.layers: list[LayerInfo] = []

    def visible(self) -> bool:
        return self.app.info is not None

    def on_network(self) -> None:
        info = self.app.info
        self.layers = list(info.layers) if info is not None else []
        name = self.request.layer.layer
        if name not in (None, OUTPUT_LAYER) and name not in {info.name for info in self.layers}:
            self.edit("layer", layer=None, channel=None)

    def shown_info(self) -> LayerInfo | None:
        info = self.app.info
        return layer_info(info, self.request.layer.layer) if info is not None else None

    def select(self, name: str | None) -> None:
        self.edit("layer", layer=fft_toggle(name, self.request.fft.enabled))
        info, channel = self.shown_info(), self.request.layer.channel
        if channel is not None and info is not None and channel >= info.channels:
            self.edit("layer", channel=info.channels - 1)

    def draw(self) -> None:
        self._table()
        info = self.shown_info()
        lv = self.request.layer
        imgui.text(f"Showing: {'image' if lv.layer in (None, OUTPUT_LAYER) else lv.layer}")
        net_info = self.app.info
        channels = info.channels if info is not None else (net_info.img_channels if net_info is not None else 3)
        if imgui.radio_button("RGB (first 3)##ch", lv.channel is None):
            self.edit("layer", channel=None)
        imgui.same_line()
        if imgui.radio_button("Single##ch", lv.channel is not None) and lv.channel is None:
            self.edit("layer", channel=0)
        if self.request.layer.channel is not None:
            imgui.same_line()
            imgui.set_next_item_width(imgui.get_font_size() * 6)
            changed, ch = slider_int("Channel##ch", self.request.layer.channel, 0, max(channels - 1, 0))
            if changed:
                self.edit("layer", channel=min(max(int(ch), 0), max(channels - 1, 0)))
        changed, norm = imgui.checkbox("Normalize##layer", bool(lv.normalize))
        if changed:
            self.edit("layer", normalize=bool(norm))
        imgui.same_line()
        imgui.set_next_item_width(imgui.get_font_size() * 8)
        changed, gain = slider_float("Brightness##layer", float(lv.gain_db), -40.0, 40.0, "%+.1f dB")
        if changed:
            self.edit("layer", gain_db=float(gain))
        if imgui.button("Reset##layer"):
            self.app.request = self.request.replace(layer=LayerView(), fft=FFTView())
        self._stats()
        imgui.separator()
        self._fft(info)

    def _table(self) -> None:
        shown = self.request.layer.layer
        flags = (imgui.TableFlags_.borders_inner_v | imgui.TableFlags_.row_bg | imgui.TableFlags_.scroll_y |
                 imgui.TableFlags_.sizing_fixed_fit)
        rows = min(len(self.layers) + 1, 9)
        height = imgui.get_text_line_height_with_spacing() * (rows + 1) + 4
        if not imgui.begin_table("##layers", 7, flags, imgui.ImVec2(0, height)):
            return
        imgui.table_setup_scroll_freeze(0, 1)
        for col in ("Layer", "Size", "Ch", "dtype", "Cutoff", "Stop", "Rate"):
            imgui.table_setup_column(col)
        imgui.table_headers_row()
        sel_flags = imgui.SelectableFlags_.span_all_columns
        imgui.table_next_row()
        imgui.table_next_column()
        if imgui.selectable("image##layer", shown in (None, OUTPUT_LAYER), sel_flags)[0]:
            self.select(None)
        net_info = self.app.info
        if net_info is not None:
            res = net_info.resolution
            for text in (f"{res}", f"{net_info.img_channels}", "f32", "", "", f"{res}"):
                imgui.table_next_column()
                imgui.text(text)
        for info in self.layers:
            imgui.table_next_row()
            imgui.table_next_column()
            if imgui.selectable(f"{info.name}##layer", shown == info.name, sel_flags)[0]:
                self.select(info.name)
            for text in (f"{info.width}", f"{info.channels}", info.dtype.replace("float", "f"),
                         fmt_freq(info.cutoff), fmt_freq(info.stopband), fmt_freq(info.sampling_rate)):
                imgui.table_next_column()
                imgui.text(text)
        imgui.end_table()

    def _stats(self) -> None:
        res = self.app.last_result
        shown = self.request.layer.layer
        if res is None or res.request.layer.layer != shown or shown is None:
            return
        if "layer_error" in res.extras:
            imgui.text_colored(imgui.ImVec4(1.0, 0.45, 0.4, 1.0), res.extras["layer_error"])
        stats = res.extras.get("layer_stats")
        if not stats:
            return
        shape = res.extras.get("layer_shape")
        if shape:
            imgui.text_disabled(f"{shape[0]} channels, {shape[1]}x{shape[2]}")
        if imgui.begin_table("##layerstats", 4, imgui.TableFlags_.borders_inner_v):
            for col in ("", "mean", "std", "max |x|"):
                imgui.table_setup_column(col)
            imgui.table_headers_row()
            for label, key in (("all ch.", "all"), ("shown", "selected")):
                imgui.table_next_row()
                imgui.table_next_column()
                imgui.text(label)
                for k in ("mean", "std", "max"):
                    imgui.table_next_column()
                    imgui.text(f"{stats[key][k]:.4g}")
            imgui.end_table()

    def _fft(self, info: LayerInfo | None) -> None:
        fv = self.request.fft
        changed, fft = imgui.checkbox("FFT view", fv.enabled)
        if changed:
            self.app.request = self.request.edit("fft", enabled=fft).edit(
                "layer", layer=fft_toggle(self.request.layer.layer, fft))
        imgui.same_line()
        imgui.set_next_item_width(imgui.get_font_size() * 8)
        changed, rng = slider_float("Range##fft", float(fv.range_db), 20.0, 160.0, "%.0f dB")
        if changed:
            self.edit("fft", range_db=float(rng))
        imgui.text("Window")
        for w in WINDOWS:
            imgui.same_line()
            if imgui.radio_button(f"{w}##fftwin", fv.window == w):
                self.edit("fft", window=w)
        if self.request.fft.enabled and info is not None:
            for name, value in (("cutoff", info.cutoff), ("stopband", info.stopband), ("nyquist", info.nyquist)):
                if value is None:
                    continue
                imgui.text_colored(imgui.ImVec4(*MARK_TEXT[name], 1.0), f"o {name} {value:.4g}")
                imgui.same_line()
            imgui.new_line()
            imgui.push_style_color(imgui.Col_.text, imgui.get_style_color_vec4(imgui.Col_.text_disabled))
            imgui.text_wrapped("cycles per unit; energy outside the green circle is above the layer's cutoff")
            imgui.pop_style_color()


WIDGET = LayersWidget
