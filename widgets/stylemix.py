"""Style mixing panel: a second seed and, per ws index, whether that ws comes from it."""

from __future__ import annotations

from imgui_bundle import imgui

from sg3_explorer.widgets.applicability import without_w
from sg3_explorer.widgets.base import Widget
from stylegan3.documents.request import StyleMix


def toggle_ws(selection: tuple[int, ...], index: int, on: bool, num_ws: int) -> tuple[int, ...]:
    """Selection with `index` added or removed."""
    s = set(selection)
    s.add(index) if on else s.discard(index)
    return StyleMix(ws=tuple(s)).limited_to(num_ws).ws


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
        return self.anim and bool(self.request.mix.ws)

    def update(self, dt: float) -> None:
        if self.animating:
            self._t += dt * self.speed
            if self._t >= 1.0:
                self._t = 0.0
                self.edit("mix", seed=self.request.mix.seed + 1)

    def on_network(self) -> None:
        info = self.app.info
        if info is not None:
            self.app.request = self.request.replace(mix=self.request.mix.limited_to(info.num_ws))

    def draw(self) -> None:
        mix = self.request.mix
        why = without_w(self.app.info, "there are no styles to mix")
        if why is not None:
            imgui.text_wrapped(why)
            return
        info = self.app.info
        num_ws = info.num_ws if info is not None else 0
        imgui.set_next_item_width(imgui.get_font_size() * 8)
        changed, seed = imgui.input_int("Mix seed", mix.seed)
        if changed:
            self.edit("mix", seed=int(seed))
        imgui.same_line()
        _, self.anim = imgui.checkbox("Anim##mix", self.anim)
        imgui.same_line()
        if imgui.button("Reset##mix"):
            self.app.request = self.request.replace(mix=StyleMix())
            self.anim = False
        if imgui.button("All##mix"):
            self.edit("mix", ws=tuple(range(num_ws)))
        imgui.same_line()
        if imgui.button("None##mix"):
            self.edit("mix", ws=())
        imgui.same_line()
        if imgui.button("Fine half##mix"):
            self.edit("mix", ws=tuple(range(num_ws // 2, num_ws)))
        imgui.text_disabled("ws taken from the mix seed:")
        per_row = 6
        for i in range(num_ws):
            if i % per_row:
                imgui.same_line()
            changed, on = imgui.checkbox(f"{i:2d}##ws{i}", i in self.request.mix.ws)
            if changed:
                self.edit("mix", ws=toggle_ws(self.request.mix.ws, i, on, num_ws))


WIDGET = StyleMixWidget
