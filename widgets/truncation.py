"""Truncation & noise panel: psi, cutoff; noise mode and noise seed (SG2 has per-layer noise, SG3 none)."""

from __future__ import annotations

from imgui_bundle import imgui

from sg3_explorer.visualizer.state import NOISE_MODES
from sg3_explorer.widgets.base import Widget


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
        return self.noise_anim and self.app.state.noise_mode == "random"

    def update(self, dt: float) -> None:
        if self.animating:
            self.app.state.noise_seed += 1

    def on_network(self) -> None:
        info = self.app.info
        s = self.app.state
        if info is not None and s.cutoff is not None and s.cutoff >= info.num_ws:
            s.cutoff = None

    def draw(self) -> None:
        s = self.app.state
        info = self.app.info
        num_ws = info.num_ws if info is not None else 1
        w = imgui.get_font_size() * 12
        imgui.set_next_item_width(w)
        _, s.psi = imgui.slider_float("Psi", s.psi, -1.0, 2.0, "%.2f")
        imgui.set_next_item_width(w)
        cut = num_ws if s.cutoff is None else s.cutoff
        changed, cut = imgui.slider_int("Cutoff", cut, 0, num_ws, "all ws" if cut >= num_ws else "first %d ws")
        if changed:
            s.cutoff = cutoff_from_slider(cut, num_ws)
        if imgui.button("Reset##trunc"):
            s.psi, s.cutoff = 1.0, None
            s.noise_mode, s.noise_seed, self.noise_anim = "const", 0, False

        if info is not None and not info.capabilities.seeded_noise:
            imgui.text_disabled("SG3 has no noise inputs")
            return
        imgui.text("Noise")
        for mode in NOISE_MODES:
            imgui.same_line()
            if imgui.radio_button(mode, s.noise_mode == mode):
                s.noise_mode = mode
        if s.noise_mode == "random":
            imgui.set_next_item_width(imgui.get_font_size() * 8)
            _, s.noise_seed = imgui.input_int("Noise seed", s.noise_seed)
            imgui.same_line()
            _, self.noise_anim = imgui.checkbox("Anim##noise", self.noise_anim)


WIDGET = TruncationWidget
