"""Style mixing panel: a second seed and, per ws index, whether that ws comes from it."""

from __future__ import annotations

from imgui_bundle import imgui

from sg3_explorer.visualizer.state import ws_selection
from sg3_explorer.widgets.base import Widget


def toggle_ws(selection: tuple[int, ...], index: int, on: bool, num_ws: int) -> tuple[int, ...]:
    """Selection with `index` added or removed."""
    s = set(selection)
    s.add(index) if on else s.discard(index)
    return ws_selection(tuple(s), num_ws)


class StyleMixWidget(Widget):
    title = "Style mixing"
    default_open = False

    def __init__(self, app) -> None:
        super().__init__(app)
        self.anim = False
        self.speed = 1.0
        self._t = 0.0

    def visible(self) -> bool:
        return self.app.info is not None

    @property
    def animating(self) -> bool:
        return self.anim and bool(self.app.state.mix_ws)

    def update(self, dt: float) -> None:
        if self.animating:
            self._t += dt * self.speed
            if self._t >= 1.0:
                self._t = 0.0
                self.app.state.mix_seed += 1

    def on_network(self) -> None:
        info = self.app.info
        if info is not None:
            self.app.state.mix_ws = ws_selection(self.app.state.mix_ws, info.num_ws)

    def draw(self) -> None:
        s = self.app.state
        info = self.app.info
        num_ws = info.num_ws if info is not None else 0
        imgui.set_next_item_width(imgui.get_font_size() * 8)
        _, s.mix_seed = imgui.input_int("Mix seed", s.mix_seed)
        imgui.same_line()
        _, self.anim = imgui.checkbox("Anim##mix", self.anim)
        imgui.same_line()
        if imgui.button("Reset##mix"):
            s.mix_seed, s.mix_ws, self.anim = 0, (), False
        if imgui.button("All##mix"):
            s.mix_ws = tuple(range(num_ws))
        imgui.same_line()
        if imgui.button("None##mix"):
            s.mix_ws = ()
        imgui.same_line()
        if imgui.button("Fine half##mix"):
            s.mix_ws = tuple(range(num_ws // 2, num_ws))
        imgui.text_disabled("ws taken from the mix seed:")
        per_row = 6
        for i in range(num_ws):
            if i % per_row:
                imgui.same_line()
            changed, on = imgui.checkbox(f"{i:2d}##ws{i}", i in s.mix_ws)
            if changed:
                s.mix_ws = toggle_ws(s.mix_ws, i, on, num_ws)


WIDGET = StyleMixWidget
