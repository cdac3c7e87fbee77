"""Truncation & noise panel: psi, cutoff; noise mode and noise seed (SG1 / SG2 have per-layer noise, SG3
and ProGAN none; ProGAN has no W to truncate in either)."""

from __future__ import annotations

from imgui_bundle import imgui

from sg3_explorer.widgets.applicability import without_noise, without_w
from sg3_explorer.widgets.base import Widget
from sg3_explorer.widgets.sliders import slider_float, slider_int
from stylegan3.documents.request import NOISE_MODES, Noise, Truncation


def cutoff_from_slider(value: int, num_ws: int) -> int | None:
    """Slider at num_ws means 'truncate every ws' (None), like the official viewer's default."""
    return None if value >= num_ws else max(0, int(value))


class TruncationWidget(Widget):
    title = "Truncation & noise"

    def __init__(self, app) -> None:
        super().__init__(app)
        self.noise_anim = False

    def visible(self) -> bool:
        return self.app.info is not None

    @property
    def animating(self) -> bool:
        return self.noise_anim and self.request.noise.mode == "random"

    def update(self, dt: float) -> None:
        if self.animating:
            self.edit("noise", seed=self.request.noise.seed + 1)

    def on_network(self) -> None:
        info = self.app.info
        cutoff = self.request.truncation.cutoff
        if info is not None and cutoff is not None and cutoff >= info.num_ws:
            self.edit("truncation", cutoff=None)

    def _truncation(self, num_ws: int) -> None:
        r = self.request
        w = imgui.get_font_size() * 12
        imgui.set_next_item_width(w)
        changed, psi = slider_float("Psi", r.truncation.psi, -1.0, 2.0, "%.2f")
        if changed:
            self.edit("truncation", psi=float(psi))
        imgui.set_next_item_width(w)
        cut = num_ws if r.truncation.cutoff is None else r.truncation.cutoff
        changed, cut = slider_int("Cutoff", cut, 0, num_ws, "all ws" if cut >= num_ws else "first %d ws")
        if changed:
            self.edit("truncation", cutoff=cutoff_from_slider(cut, num_ws))

    def draw(self) -> None:
        info = self.app.info
        num_ws = info.num_ws if info is not None else 1
        why = without_w(info, "truncation does not apply")
        if why is not None:
            imgui.text_wrapped(why)
        else:
            self._truncation(num_ws)
        if imgui.button("Reset##trunc"):
            self.app.request = self.request.replace(truncation=Truncation(), noise=Noise())
            self.noise_anim = False

        why = without_noise(info)
        if why is not None:
            imgui.text_disabled(why)
            return
        imgui.text("Noise")
        noise = self.request.noise
        for mode in NOISE_MODES:
            imgui.same_line()
            if imgui.radio_button(mode, noise.mode == mode):
                self.edit("noise", mode=mode)
        if noise.mode == "random":
            imgui.set_next_item_width(imgui.get_font_size() * 8)
            changed, seed = imgui.input_int("Noise seed", noise.seed)
            if changed:
                self.edit("noise", seed=int(seed))
            imgui.same_line()
            _, self.noise_anim = imgui.checkbox("Anim##noise", self.noise_anim)


WIDGET = TruncationWidget
