"""Comparison mode, drawing part: the "Comparison" window with the panes side by side.

A table with one column per pane keeps the panes aligned whatever each one has to say: a header row (name,
kind, notes on what it cannot share, per-pane overrides), the generated images all at the same on-screen size
whatever the network's resolution, then the sticking averages with their scores, then the traces. Every image
is an OpenGL texture re-uploaded only when its pane's `image_version` changes. Where each image landed on screen
is kept in `rects` so tests can compare the window's pixels with a headless render.
"""

from __future__ import annotations

import math

from imgui_bundle import imgui

from sg3_explorer.visualizer.comparison import FOLLOW, ComparisonModel, Pane
from sg3_explorer.visualizer.texture import Texture
from stylegan3.documents.request import NOISE_MODES, RenderRequest

NOTE_COLOR = imgui.ImVec4(1.0, 0.75, 0.35, 1.0)
ERROR_COLOR = imgui.ImVec4(1.0, 0.45, 0.4, 1.0)
NOISE_CHOICES = (FOLLOW, *NOISE_MODES)


def pane_side(space: float, resolutions: list[int]) -> int:
    """On-screen side of every pane: whole pixels, and when there is room a whole multiple of every network's
    resolution, so each network pixel covers the same number of screen pixels (no beat patterns from uneven
    magnification, and the same treatment for every pane)."""
    side = max(int(space), 16)
    if resolutions:
        step = math.lcm(*resolutions)
        if side >= step:
            side -= side % step
    return side


def divider_at(x: float, width: float) -> float:
    """Divider position (fraction of the width) for a mouse at `x` pixels from the image's left edge."""
    return min(max(x / max(width, 1.0), 0.0), 1.0)


class ComparisonView:
    def __init__(self, model: ComparisonModel) -> None:
        self.model = model
        self._textures: dict[tuple[int, str], Texture] = {}
        self._versions: dict[int, int] = {}
        # (pane_id, 'image' | 'sticking' | 'trace') -> (x0, y0, w, h) in window pixels, as drawn last frame
        self.rects: dict[tuple[int, str], tuple[float, float, float, float]] = {}
        self._remove: Pane | None = None
        self.divider = 0.5  # split view: fraction of the width showing the first pane
        self.split_x: float | None = None  # screen x of the divider, as drawn last frame

    # -- textures (GUI thread) ----------------------------------------------------------------------------
    def upload(self) -> None:
        live = {p.pane_id for p in self.model.panes}
        for key in [k for k in self._textures if k[0] not in live]:
            self._textures.pop(key).delete()
            self.rects.pop(key, None)
        for pane in self.model.panes:
            if self._versions.get(pane.pane_id) == pane.image_version:
                continue
            self._versions[pane.pane_id] = pane.image_version
            for which, pixels in (("image", pane.image), ("sticking", pane.sticking_image),
                                  ("trace", pane.trace_image)):
                if pixels is not None:
                    self._textures.setdefault((pane.pane_id, which), Texture()).upload(pixels)

    def delete(self) -> None:
        for tex in self._textures.values():
            tex.delete()
        self._textures.clear()
        self._versions.clear()

    # -- drawing ------------------------------------------------------------------------------------------
    def draw_panes(self, main: RenderRequest, show_sticking: bool, show_trace: bool, split: bool = False) -> None:
        """The panes side by side; with `split`, the first two panes share one image with a movable divider."""
        panes = self.model.panes
        self.rects = {k: v for k, v in self.rects.items() if k[0] in {p.pane_id for p in panes}}
        if not panes:
            imgui.text_disabled("no panes: add two or more networks above (e.g. ProGAN, SG1, SG2, SG3 of one dataset)")
            return
        n = len(panes)
        split = split and n >= 2
        avail = imgui.get_content_region_avail()
        spacing = imgui.get_style().cell_padding.x * 2 + 2
        col_w = max((avail.x - spacing * n) / n, 16.0)
        line = imgui.get_frame_height_with_spacing()
        notes = [self.model.notes(p, main) for p in panes]
        header_h = line * (3 + max(len(x) for x in notes))
        rows = 1 + int(show_sticking) + int(show_trace) * 0.5
        resolutions = [p.info.resolution for p in panes if p.info is not None]
        side = pane_side(min(col_w, (avail.y - header_h - line * 2 * (rows - 1)) / rows), resolutions)
        flags = imgui.TableFlags_.borders_inner_v | imgui.TableFlags_.sizing_stretch_same
        if imgui.begin_table("##panes", n, flags):
            imgui.table_next_row()
            for pane, pane_notes in zip(panes, notes, strict=True):
                imgui.table_next_column()
                imgui.push_id(f"pane{pane.pane_id}")  # string ids: tests address "pane2/x"
                self._header(pane, pane_notes, col_w)
                imgui.pop_id()
            if not split:
                imgui.table_next_row()
                for pane in panes:
                    imgui.table_next_column()
                    self._image(pane, "image", side, side, pane.status or "rendering ...")
                self._analysis_rows(panes, side, show_sticking, show_trace)
            imgui.end_table()
        if split:
            big = pane_side(min(avail.x, avail.y - header_h - line * 2 * (rows - 1) - side * (rows - 1)), resolutions)
            self._split(panes[0], panes[1], big)
            if (show_sticking or show_trace) and imgui.begin_table("##pane_rows", n, flags):
                self._analysis_rows(panes, side, show_sticking, show_trace)
                imgui.end_table()
        if self._remove is not None:
            self.model.remove(self._remove)
            self._remove = None

    def _analysis_rows(self, panes: list[Pane], side: float, show_sticking: bool, show_trace: bool) -> None:
        if show_sticking:
            imgui.table_next_row()
            for pane in panes:
                imgui.table_next_column()
                self._sticking(pane, side)
        if show_trace:
            imgui.table_next_row()
            for pane in panes:
                imgui.table_next_column()
                self._trace(pane, side)

    def _split(self, a: Pane, b: Pane, side: float) -> None:
        """Pane `a` left of the divider, pane `b` right of it, both mapped onto the same square: the divider
        slides over one picture, so a detail that stays put in one net and moves in the other is easy to see.
        Press and drag anywhere on the image to move the divider."""
        origin = imgui.get_cursor_screen_pos()
        imgui.invisible_button("##split", imgui.ImVec2(side, side))
        if imgui.is_item_active():
            self.divider = divider_at(imgui.get_io().mouse_pos.x - origin.x, side)
        if imgui.is_item_hovered():
            imgui.set_tooltip("drag to move the divider")
        ta, tb = self._textures.get((a.pane_id, "image")), self._textures.get((b.pane_id, "image"))
        dl = imgui.get_window_draw_list()
        d = self.divider
        xd = origin.x + round(side * d)
        bottom = origin.y + side
        if ta is not None and a.image is not None:
            dl.add_image(imgui.ImTextureRef(ta.tex_id), origin, imgui.ImVec2(xd, bottom), imgui.ImVec2(0, 0),
                         imgui.ImVec2((xd - origin.x) / side, 1))
        if tb is not None and b.image is not None:
            dl.add_image(imgui.ImTextureRef(tb.tex_id), imgui.ImVec2(xd, origin.y),
                         imgui.ImVec2(origin.x + side, bottom), imgui.ImVec2((xd - origin.x) / side, 0),
                         imgui.ImVec2(1, 1))
        dl.add_line(imgui.ImVec2(xd, origin.y), imgui.ImVec2(xd, bottom), imgui.get_color_u32(imgui.Col_.text), 2.0)
        text = imgui.get_color_u32(imgui.Col_.text)
        dl.add_text(imgui.ImVec2(origin.x + 4, bottom + 2), text, f"< {a.label}")
        label_b = f"{b.label} >"
        line = imgui.get_text_line_height_with_spacing()
        dl.add_text(imgui.ImVec2(origin.x + side - imgui.calc_text_size(label_b).x - 4, bottom + 2 + line), text,
                    label_b)
        imgui.dummy(imgui.ImVec2(side, 2 * line + 2))
        rect = (origin.x, origin.y, float(side), float(side))
        self.rects[(a.pane_id, "split")] = self.rects[(b.pane_id, "split")] = rect
        self.split_x = xd

    def _header(self, pane: Pane, notes: list[str], width: float) -> None:
        imgui.push_text_wrap_pos(imgui.get_cursor_pos_x() + width)
        if imgui.small_button("x"):
            self._remove = pane  # removed after the table: the panes list is being iterated
        if imgui.is_item_hovered():
            imgui.set_tooltip("remove this pane")
        imgui.same_line()
        imgui.text(pane.label)
        info = pane.info
        if info is not None:
            ms = f"   {pane.render_ms:.0f} ms" if pane.render_ms else ""
            imgui.text_disabled(f"z {info.z_dim}  w {info.w_dim}  ws {info.num_ws}{ms}")
            for note in notes:
                imgui.text_colored(NOTE_COLOR, note)
            self._overrides(pane)
        elif pane.loader.status.error:
            imgui.text_colored(ERROR_COLOR, pane.status)
        else:
            imgui.text_disabled(pane.status)
        imgui.pop_text_wrap_pos()

    def _overrides(self, pane: Pane) -> None:
        info, o = pane.info, pane.overrides
        w = imgui.get_font_size() * 6
        if info.c_dim > 0:
            follow = o.class_idx is None
            changed, follow = imgui.checkbox("same class", follow)
            if changed:
                o.class_idx = None if follow else 0
            if not follow:
                imgui.same_line()
                imgui.set_next_item_width(w)
                _, c = imgui.input_int("Pane class", int(o.class_idx))
                o.class_idx = int(c) % info.c_dim
        if info.capabilities.seeded_noise:  # noise inputs to override (SG1, SG2)
            imgui.set_next_item_width(w)
            idx = NOISE_CHOICES.index(o.noise_mode) if o.noise_mode in NOISE_CHOICES else 0
            changed, idx = imgui.combo("Pane noise", idx, list(NOISE_CHOICES))
            if changed:
                o.noise_mode = NOISE_CHOICES[idx]

    def _image(self, pane: Pane, which: str, w: float, h: float, placeholder: str) -> None:
        tex = self._textures.get((pane.pane_id, which))
        if tex is None or tex.tex_id is None:
            pos = imgui.get_cursor_screen_pos()
            imgui.dummy(imgui.ImVec2(w, h))
            imgui.get_window_draw_list().add_rect(pos, imgui.ImVec2(pos.x + w, pos.y + h),
                                                  imgui.get_color_u32(imgui.Col_.border))
            imgui.get_window_draw_list().add_text(imgui.ImVec2(pos.x + 6, pos.y + h / 2),
                                                  imgui.get_color_u32(imgui.Col_.text_disabled), placeholder)
            self.rects.pop((pane.pane_id, which), None)
            return
        imgui.image(imgui.ImTextureRef(tex.tex_id), imgui.ImVec2(w, h))
        p0, size = imgui.get_item_rect_min(), imgui.get_item_rect_size()
        self.rects[(pane.pane_id, which)] = (p0.x, p0.y, size.x, size.y)

    def _sticking(self, pane: Pane, side: float) -> None:
        job = pane.sticking
        if job is not None:
            imgui.progress_bar(job.fraction, imgui.ImVec2(side, 0), f"averaging {job.fraction * 100:.0f}%")
        elif pane.sticking_score is not None:
            imgui.text(f"sticking score {pane.sticking_score:.3f}")
            if imgui.is_item_hovered():
                imgui.set_tooltip("fraction of fine-detail energy that stays on the same pixels across the "
                                  "perturbed frames: ~0 details move with the content, ~1 stuck to the grid")
        else:
            imgui.text_disabled("sticking: not computed")
        self._image(pane, "sticking", side, side, "average of K frames")

    def _trace(self, pane: Pane, side: float) -> None:
        job = pane.trace
        if job is not None:
            imgui.progress_bar(job.fraction, imgui.ImVec2(side, 0), f"recording {job.fraction * 100:.0f}%")
        elif pane.trace_verticality is not None:
            imgui.text(f"trace verticality {pane.trace_verticality:.3f}")
        else:
            imgui.text_disabled("trace: not recorded")
        # One height for every pane: they recorded the same number of frames, so time runs at one scale.
        frames = max(2, int(self.model.trace.frames))
        largest = max((p.info.resolution for p in self.model.panes if p.info is not None), default=frames)
        h = round(side * min(max(frames / largest, 0.25), 1.0))
        self._image(pane, "trace", side, h, "row over time")
