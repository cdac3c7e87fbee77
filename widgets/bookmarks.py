"""Session & bookmarks panel: save / open a session file; named views to return to with a click.

Headless logic lives in `visualizer.session_io` (tests drive it without a window), reached through the
context (`current_request`, `apply_request`, `save_session`, `open_session`); this panel only draws it.
A bookmark (`stylegan3.documents.bookmarks.Bookmark`) is also what a timeline key holds, so "to timeline" sends one
to the Timeline panel as a key and that panel can send a key back here.
"""

from __future__ import annotations

from pathlib import Path

from imgui_bundle import imgui

from sg3_explorer.widgets.base import Widget
from stylegan3.documents.bookmarks import Bookmark
from stylegan3.documents.session import SUFFIX
from stylegan3.errors import SG3Error


class BookmarksWidget(Widget):
    title = "Session & bookmarks"
    default_open = False  # the default layout fits 1280x800; opened, the column scrolls it into view

    def __init__(self, app) -> None:
        super().__init__(app)
        self.bookmarks: list[Bookmark] = []
        self.path = str(Path(app.settings.capture_dir) / f"session{SUFFIX}")
        self.new_name = ""
        self.message = ""
        self.editing: int | None = None
        self.edit_text = ""

    # -- actions (the buttons call these; tests may too) -----------------------------------------------------
    def add(self, name: str | None = None) -> Bookmark:
        name = (name or self.new_name).strip() or f"seed {self.request.latent.seed}"
        mark = Bookmark(name, self.app.current_request())
        self.bookmarks.append(mark)
        self.new_name = ""
        return mark

    def keep(self, mark: Bookmark) -> Bookmark:
        """Add an existing bookmark (e.g. a timeline key's) to the list."""
        self.bookmarks.append(mark)
        return mark

    def to_timeline(self, index: int) -> int | None:
        """Send bookmark `index` to the Timeline panel as its last key; returns the key's index."""
        timeline = self.app.widget("timeline")
        if timeline is None:
            self.message = "no Timeline panel to send it to"
            return None
        key = timeline.add_keyframe(self.bookmarks[index])
        self.message = f"'{self.bookmarks[index].name}' is timeline key {key}"
        return key

    def rename(self, index: int, name: str) -> None:
        name = name.strip()
        if name and 0 <= index < len(self.bookmarks):
            self.bookmarks[index] = self.bookmarks[index].renamed(name)

    def delete(self, index: int) -> None:
        if 0 <= index < len(self.bookmarks):
            del self.bookmarks[index]

    def go(self, index: int) -> None:
        self.app.apply_request(self.bookmarks[index].request)
        self.message = f"back to '{self.bookmarks[index].name}'"

    def save(self) -> None:
        try:
            self.message = f"saved {self.app.save_session(self.path)}"
        except SG3Error as exc:
            self.message = str(exc)

    def open(self) -> None:
        try:
            session = self.app.open_session(self.path)
            self.message = f"opened {Path(self.path).name} ({len(session.bookmarks)} bookmarks)"
        except SG3Error as exc:
            self.message = str(exc)

    # -- drawing --------------------------------------------------------------------------------------------
    def draw(self) -> None:
        imgui.set_next_item_width(-1)
        _, self.path = imgui.input_text("##session_path", self.path)
        if imgui.is_item_hovered():
            imgui.set_tooltip(f"Session file ({SUFFIX}): network, view, panel settings, bookmarks")
        if imgui.button("Save session"):
            self.save()
        imgui.same_line()
        if imgui.button("Open session"):
            self.open()
        imgui.separator()
        imgui.set_next_item_width(imgui.get_font_size() * 10)
        entered, self.new_name = imgui.input_text_with_hint("##bookmark_name", "name", self.new_name,
                                                            imgui.InputTextFlags_.enter_returns_true)
        imgui.same_line()
        if imgui.button("Add bookmark") or entered:
            self.add()
        for i, mark in enumerate(list(self.bookmarks)):
            imgui.push_id(f"bm{i}")
            if self.editing == i:
                imgui.set_next_item_width(imgui.get_font_size() * 10)
                done, self.edit_text = imgui.input_text("##rename", self.edit_text,
                                                        imgui.InputTextFlags_.enter_returns_true)
                imgui.same_line()
                if imgui.button("OK") or done:
                    self.rename(i, self.edit_text)
                    self.editing = None
            else:
                if imgui.selectable(f"{mark.name}##go", False, 0, imgui.ImVec2(imgui.get_font_size() * 10, 0))[0]:
                    self.go(i)
                if imgui.is_item_hovered():
                    r = mark.request
                    imgui.set_tooltip(f"seed {r.latent.seed}  psi {r.truncation.psi:.2f}  "
                                      f"{Path(r.network.source).name or r.network.source}")
                imgui.same_line()
                if imgui.small_button("Rename"):
                    self.editing, self.edit_text = i, mark.name
                imgui.same_line()
                if imgui.small_button("to timeline"):
                    self.to_timeline(i)
                if imgui.is_item_hovered():
                    imgui.set_tooltip("add this bookmark to the Timeline panel as its last keyframe")
            imgui.same_line()
            if imgui.small_button("x"):
                self.delete(i)
                self.editing = None
            imgui.pop_id()
        if self.message:
            imgui.text_wrapped(self.message)


WIDGET = BookmarksWidget
