"""Network panel: path/URL field, in-window file browser, recent list, official catalog, demo net; info + errors."""

from __future__ import annotations

from pathlib import Path

from imgui_bundle import imgui

from sg3_explorer.visualizer.file_browser import catalog_entries, list_folder
from sg3_explorer.widgets.base import Widget

ERROR_COLOR = imgui.ImVec4(1.0, 0.45, 0.4, 1.0)
DIM_COLOR = imgui.ImVec4(0.65, 0.65, 0.65, 1.0)


class NetworkWidget(Widget):
    title = "Network"

    def __init__(self, app) -> None:
        super().__init__(app)
        self.path_text = ""
        self._load_shown = 0  # id of the load request whose source the field shows
        self.browse_dir = app.settings.browse_dir or str(Path.cwd())
        self._listing: tuple | None = None  # (folders, files) of browse_dir while the browser is open

    def _follow_loads(self) -> None:
        """The field shows what was last asked for (command line, drop, menus, Demo), loaded or not, so a
        failed load leaves the mistyped text there to correct."""
        app = self.app
        if app.load_id != self._load_shown:
            self._load_shown = app.load_id
            self.path_text = app.load_status.source

    def draw(self) -> None:
        app = self.app
        self._follow_loads()
        imgui.set_next_item_width(-imgui.calc_text_size("Load").x - imgui.get_style().item_spacing.x * 2 - 8)
        enter, self.path_text = imgui.input_text(
            "##path", self.path_text, imgui.InputTextFlags_.enter_returns_true
        )
        if imgui.is_item_hovered():
            imgui.set_tooltip("Path, URL or catalog name of a network (or drop a file onto the window)")
        imgui.same_line()
        if (imgui.button("Load") or enter) and self.path_text.strip():
            app.load_network(self.path_text.strip())

        if imgui.button("Browse..."):
            self._listing = list_folder(self.browse_dir)  # read once per visit, not every frame
            imgui.open_popup("browse_popup")
        imgui.same_line()
        if imgui.button("Recent..."):
            imgui.open_popup("recent_popup")
        imgui.same_line()
        if imgui.button("Catalog..."):
            imgui.open_popup("catalog_popup")
        imgui.same_line()
        if imgui.button("Demo"):
            app.load_network("demo")
        self._browse_popup()
        self._recent_popup()
        self._catalog_popup()

        status = app.load_status
        if status.busy:
            if status.fraction is not None:
                imgui.progress_bar(status.fraction, imgui.ImVec2(-1, 0), f"{status.fraction * 100:.0f}%")
            imgui.text_wrapped(status.message)
        if status.error:
            imgui.push_style_color(imgui.Col_.text, ERROR_COLOR)
            imgui.text_wrapped(f"Load failed: {status.error}")
            imgui.pop_style_color()

        info = app.info
        if info is None:
            imgui.text_colored(DIM_COLOR, "no network loaded")
            return
        imgui.text(f"{info.kind}   {info.resolution}x{info.resolution}x{info.img_channels}")
        imgui.text(f"z {info.z_dim}   w {info.w_dim}   ws {info.num_ws}   c {info.c_dim}")
        imgui.text_colored(DIM_COLOR, f"{info.num_params / 1e6:.2f} M params")
        imgui.push_style_color(imgui.Col_.text, DIM_COLOR)
        imgui.text_wrapped(info.precision(force_fp32=app.request.synthesis.force_fp32))
        imgui.pop_style_color()
        imgui.text_colored(DIM_COLOR, _shorten(app.source or info.source, 48))

    def _browse_popup(self) -> None:
        if not imgui.begin_popup("browse_popup"):
            return
        imgui.text(_shorten(self.browse_dir, 60))
        if self._listing is None:
            self._listing = list_folder(self.browse_dir)
        dirs, files = self._listing
        parent = Path(self.browse_dir).parent
        if imgui.begin_child("##browse_list", imgui.ImVec2(imgui.get_font_size() * 30, imgui.get_font_size() * 18)):
            if imgui.selectable("../", False)[0]:
                self._set_browse_dir(parent)
            for d in dirs:
                if imgui.selectable(d.name + "/", False)[0]:
                    self._set_browse_dir(d)
            for f in files:
                if imgui.selectable(f.name, False)[0]:
                    self.path_text = str(f)
                    self.app.load_network(str(f))
                    imgui.close_current_popup()
            if not files:
                imgui.text_colored(DIM_COLOR, "(no .pkl / .safetensors here)")
        imgui.end_child()
        imgui.end_popup()

    def _set_browse_dir(self, folder: Path) -> None:
        self.browse_dir = str(folder)
        self._listing = list_folder(self.browse_dir)
        self.app.settings.browse_dir = self.browse_dir

    def _recent_popup(self) -> None:
        if not imgui.begin_popup("recent_popup"):
            return
        if not self.app.settings.recent:
            imgui.text_colored(DIM_COLOR, "(nothing yet)")
        for source in list(self.app.settings.recent):
            if imgui.selectable(_shorten(source, 70), False)[0]:
                self.path_text = source
                self.app.load_network(source)
        imgui.end_popup()

    def _catalog_popup(self) -> None:
        if not imgui.begin_popup("catalog_popup"):
            return
        entries = catalog_entries()
        if not entries:
            imgui.text_colored(DIM_COLOR, "(catalog unavailable)")
        imgui.text_colored(DIM_COLOR, "Downloads once into the cache, with progress shown below the field.")
        for name, desc in entries:
            if imgui.selectable(name, False)[0]:
                self.path_text = name
                self.app.load_network(name)
            if desc and imgui.is_item_hovered():
                imgui.set_tooltip(desc)
        imgui.end_popup()


def _shorten(text: str, n: int) -> str:
    return text if len(text) <= n else "..." + text[-(n - 3):]


WIDGET = NetworkWidget
