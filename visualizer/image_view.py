"""The image area: draws the texture with the current ViewTransform and handles wheel zoom, drag pan, hover.

Left or middle drag pans, the wheel zooms around the cursor, double-click toggles fit / 1:1. The pixel under the
cursor (coordinates and RGB value) is reported back for the status bar. A panel that edits on the image (the Drag
panel's points and mask) hands over an `ImageTool`: it draws over the image, and while it `edits`, left and right
clicks and drags go to it in image pixels (the middle button still pans).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
from imgui_bundle import imgui

from sg3_explorer.visualizer.texture import Texture
from sg3_explorer.visualizer.view import ViewTransform

WHEEL_STEP = 1.2


class ImageTool(Protocol):
    """Clicks and drags on the image and a drawing over it. Positions are fractions of the image's width and
    height (0 .. 1 from the top-left corner), whatever size the shown image has (an output or a layer view);
    `to_screen(fx, fy)` maps them to the screen; `width` is the image's width on screen in pixels."""

    @property
    def edits(self) -> bool: ...

    def press(self, x: float, y: float, button: int) -> None: ...

    def drag(self, x: float, y: float, button: int) -> None: ...

    def overlay(self, dl: imgui.ImDrawList, to_screen: Callable[[float, float], imgui.ImVec2],
                width: float) -> None: ...


class ImageView:
    def __init__(self) -> None:
        self.view = ViewTransform()
        self.hover: tuple[int, int, tuple[int, ...]] | None = None  # (col, row, rgb)
        # Last placement in window (screen) coordinates: x0, y0, width, height. Tests locate the image with it.
        self.image_rect: tuple[float, float, float, float] | None = None

    def draw(self, texture: Texture, pixels: np.ndarray | None, placeholder: str,
             tool: ImageTool | None = None) -> None:
        avail = imgui.get_content_region_avail()
        rw, rh = max(avail.x, 1.0), max(avail.y, 1.0)
        origin = imgui.get_cursor_screen_pos()
        imgui.invisible_button("##image_view", imgui.ImVec2(rw, rh),
                               imgui.ButtonFlags_.mouse_button_left | imgui.ButtonFlags_.mouse_button_middle)
        hovered, active = imgui.is_item_hovered(), imgui.is_item_active()
        dl = imgui.get_window_draw_list()
        self.hover = None
        if texture.tex_id is None or pixels is None:
            self.image_rect = None
            size = imgui.calc_text_size(placeholder)
            dl.add_text(imgui.ImVec2(origin.x + (rw - size.x) / 2, origin.y + (rh - size.y) / 2),
                        imgui.get_color_u32(imgui.Col_.text_disabled), placeholder)
            return
        ih, iw = pixels.shape[:2]
        io = imgui.get_io()
        mx, my = io.mouse_pos.x - origin.x, io.mouse_pos.y - origin.y
        if hovered and io.mouse_wheel:
            self.view.zoom_at(WHEEL_STEP ** io.mouse_wheel, mx, my, rw, rh, iw, ih)
        edits = tool is not None and tool.edits
        left_down = imgui.is_mouse_down(imgui.MouseButton_.left)
        if active and (io.mouse_delta.x or io.mouse_delta.y) and not (edits and left_down):
            self.view.pan(io.mouse_delta.x, io.mouse_delta.y, rw, rh, iw, ih)
        if hovered and not edits and imgui.is_mouse_double_clicked(imgui.MouseButton_.left):
            self.view.set_fit() if not self.view.fit else self.view.set_one_to_one()

        x0, y0, scale = self.view.placement(rw, rh, iw, ih)
        if edits and hovered:
            x, y = (mx - x0) / (iw * scale), (my - y0) / (ih * scale)
            for button in (imgui.MouseButton_.left, imgui.MouseButton_.right):
                if imgui.is_mouse_clicked(button):
                    tool.press(x, y, int(button))
                elif imgui.is_mouse_down(button) and (io.mouse_delta.x or io.mouse_delta.y):
                    tool.drag(x, y, int(button))
        p0 = imgui.ImVec2(origin.x + x0, origin.y + y0)
        p1 = imgui.ImVec2(p0.x + iw * scale, p0.y + ih * scale)
        self.image_rect = (p0.x, p0.y, iw * scale, ih * scale)
        dl.push_clip_rect(origin, imgui.ImVec2(origin.x + rw, origin.y + rh), True)
        dl.add_image(imgui.ImTextureRef(texture.tex_id), p0, p1)
        if tool is not None:
            tool.overlay(dl, lambda fx, fy: imgui.ImVec2(p0.x + fx * iw * scale, p0.y + fy * ih * scale), iw * scale)
        dl.pop_clip_rect()
        if hovered:
            px = self.view.pixel_at(mx, my, rw, rh, iw, ih)
            if px is not None:
                col, row = px
                self.hover = (col, row, tuple(int(v) for v in pixels[row, col]))
