"""Capture panel: folder, save the generated image (full resolution PNG) or a screenshot of the window."""

from __future__ import annotations

from imgui_bundle import imgui

from sg3_explorer.widgets.base import Widget


class CaptureWidget(Widget):
    title = "Capture"
    default_open = False

    def draw(self) -> None:
        app = self.app
        imgui.set_next_item_width(-1)
        _, app.settings.capture_dir = imgui.input_text("##capture_dir", app.settings.capture_dir)
        if imgui.is_item_hovered():
            imgui.set_tooltip("Folder the captures go to (created when needed)")
        if imgui.button("Save image"):
            app.save_image()
        imgui.same_line()
        if imgui.button("Save GUI"):
            app.request_window_capture()
        if app.capture_message:
            imgui.text_wrapped(app.capture_message)


WIDGET = CaptureWidget
