"""Latent panel: seed, continuous 2-D drag through the seed plane, animation, snap, class label."""

from __future__ import annotations

import math

from imgui_bundle import imgui

from sg3_explorer.widgets.base import Widget
from sg3_explorer.widgets.sliders import slider_float

DRAG_SEEDS_PER_PIXEL = 0.02  # mouse drag on the "Drag" button: 50 px move one seed


def snap(x: float, y: float) -> tuple[float, float]:
    """Nearest integer position in the seed plane."""
    return float(round(x)), float(round(y))


def step_animation(x: float, speed: float, dt: float) -> float:
    """Advance along x by `speed` seeds per second."""
    return x + speed * dt


class LatentWidget(Widget):
    title = "Latent"

    def __init__(self, app) -> None:
        super().__init__(app)
        self.anim = False
        self.speed = 0.25

    def visible(self) -> bool:
        return self.app.info is not None

    @property
    def animating(self) -> bool:
        return self.anim

    def update(self, dt: float) -> None:
        if self.anim:
            self.edit("latent", x=step_animation(self.request.latent.x, self.speed, dt))

    def set_seed(self, seed: int) -> None:
        self.edit("latent", x=float(seed))

    def on_network(self) -> None:
        info = self.app.info
        if info is not None and info.c_dim:
            self.edit("latent", class_idx=self.request.latent.class_idx % info.c_dim)

    def draw(self) -> None:
        lat = self.request.latent
        w = imgui.get_font_size() * 8
        imgui.set_next_item_width(w)
        changed, seed = imgui.input_int("Seed", lat.seed)
        if changed:
            self.edit("latent", x=float(seed))
        imgui.same_line()
        _, self.anim = imgui.checkbox("Anim", self.anim)
        imgui.same_line()
        if imgui.button("Snap"):
            x, y = snap(lat.x, lat.y)
            self.edit("latent", x=x, y=y)
        imgui.same_line()
        if imgui.button("Reset##latent"):
            self.edit("latent", x=0.0, y=0.0)
            self.anim = False

        imgui.set_next_item_width(w)
        changed, x = imgui.drag_float("X", lat.x, 0.01, format="%.3f")
        if changed:
            self.edit("latent", x=float(x))
        imgui.same_line()
        imgui.set_next_item_width(w)
        changed, y = imgui.drag_float("Y", lat.y, 0.01, format="%.3f")
        if changed:
            self.edit("latent", y=float(y))

        imgui.button("Drag", imgui.ImVec2(w, 0))
        if imgui.is_item_active():
            d = imgui.get_io().mouse_delta
            if d.x or d.y:
                lat = self.request.latent
                self.edit("latent", x=lat.x + d.x * DRAG_SEEDS_PER_PIXEL, y=lat.y + d.y * DRAG_SEEDS_PER_PIXEL)
        if imgui.is_item_hovered():
            imgui.set_tooltip("Hold and move the mouse: walk the seed plane (fractional positions blend seeds)")
        imgui.same_line()
        imgui.set_next_item_width(imgui.get_font_size() * 5)  # its value and unit follow it
        _, self.speed = slider_float("Speed", self.speed, 0.01, 5.0, "%.2f seeds/s",
                                           imgui.SliderFlags_.logarithmic)

        lat = self.request.latent
        info = self.app.info
        if info is not None and info.c_dim > 0:
            imgui.set_next_item_width(w)
            changed, c = imgui.input_int("Class", lat.class_idx)
            if changed:
                self.edit("latent", class_idx=int(c) % info.c_dim)
        frac = not (math.isclose(lat.x, round(lat.x)) and math.isclose(lat.y, round(lat.y)))
        if frac:
            imgui.text_disabled(f"between seeds: ({lat.x:.2f}, {lat.y:.2f})")


WIDGET = LatentWidget
