"""Timeline panel: keyframes (bookmarks + durations) in order, scrubbing preview, mp4 export.

The panel holds a `stylegan3.documents.timeline.Timeline`. Its keys are the Bookmarks panel's bookmarks (a bookmark
sent there becomes a key; a key can be kept as a bookmark), and clicking a key's name returns the view to its
bookmark, as the Bookmarks panel does. Scrubbing shows `ResolvedTimeline.request_at(t, base)` in the window
(the keys are resolved on the backend once; the window's request becomes that request), and the export renders
the very same requests at t = k / fps on the backend (`timeline_frames`), so exported frame k is the preview at
time k / fps. Both go through the context's jobs
(`visualizer.network_jobs`): the panel never holds the network.
"""

from __future__ import annotations

from imgui_bundle import imgui

from sg3_explorer.visualizer.explore import latent_label, latent_of, without_latent
from sg3_explorer.visualizer.jobs import JobSlot
from sg3_explorer.visualizer.network_jobs import resolve_timeline_job, timeline_export_job
from sg3_explorer.widgets.base import Widget
from sg3_explorer.widgets.sliders import slider_float
from stylegan3.documents.bookmarks import Bookmark
from stylegan3.errors import SG3Error

BOOKMARKS_PANEL = "bookmarks"


class TimelineWidget(Widget):
    title = "Timeline"
    default_open = False

    def __init__(self, app) -> None:
        from stylegan3.documents.timeline import Timeline

        super().__init__(app)
        self.timeline = Timeline()
        self.time = 0.0
        self.playing = False
        self.previewing = False
        self.out_path = "timeline.mp4"
        self.file_path = "timeline.json"
        self.export = JobSlot()
        self.message = ""
        self._resolved = None
        self._resolved_for = None
        self._resolved_info = None

    def visible(self) -> bool:
        return self.app.info is not None

    @property
    def animating(self) -> bool:
        return self.playing

    # -- actions ----------------------------------------------------------------------------------------------
    def add_bookmark(self, ws=None, label: str = "", duration: float = 2.0) -> int:
        """A key of the current view, or of explicit `ws` (e.g. a projection) on it; returns its index.

        The key is the view's request, so it keeps exactly what is shown (blended seeds, mixing, an explicit
        latent, moves) and needs no network to make."""
        from stylegan3.documents.timeline import Keyframe

        request = self.app.current_request()
        if ws is not None:
            key = Keyframe.from_ws(ws, label=label or "projection", duration=duration, base=request)
            return self.add_keyframe(key.bookmark, duration)
        lat = request.latent
        plain_seed = (latent_of(request) is None and not request.moves and not request.mix.ws
                      and lat.y == 0 and float(lat.x).is_integer())
        name = label or (f"seed {int(lat.x)}" if plain_seed else latent_label(request)
                         or f"view {len(self.timeline.keyframes)}")
        return self.add_keyframe(Bookmark(name, request), duration)

    def add_keyframe(self, bookmark: Bookmark, duration: float = 2.0) -> int:
        """Append `bookmark` as a key (e.g. from the Bookmarks panel); returns its index."""
        from stylegan3.documents.timeline import Keyframe

        self.timeline.keyframes.append(Keyframe(bookmark, float(duration)))
        self.changed()
        return len(self.timeline.keyframes) - 1

    def keep_as_bookmark(self, index: int) -> Bookmark | None:
        """Put key `index`'s bookmark into the Bookmarks panel (None, with a message, without that panel)."""
        marks = self.app.widget(BOOKMARKS_PANEL)
        if marks is None:
            self.message = "no Bookmarks panel to keep it in"
            return None
        mark = marks.keep(self.timeline.keyframes[index].bookmark)
        self.message = f"bookmarked '{mark.name}'"
        return mark

    def go(self, index: int) -> None:
        """Return the view to key `index`'s bookmark (leaves the preview: the bookmark's own request is shown)."""
        key = self.timeline.keyframes[index]
        self.playing = False
        self.stop_preview()
        self.app.apply_request(key.request)
        self.message = f"back to '{key.label}'"

    def set_timeline(self, timeline) -> None:
        """Replace the timeline (a session opened); None = an empty one."""
        from stylegan3.documents.timeline import Timeline

        self.playing = False
        self.stop_preview()
        self.timeline = timeline if timeline is not None else Timeline()
        self.time = 0.0
        self.changed()

    def changed(self) -> None:
        self._resolved = None

    def base(self):
        """What preview and export put the timeline on: a fresh request naming the network shown, pinned to the
        view's seed-plane position (so Leave returns there; the frames' pixels do not depend on it)."""
        from stylegan3.documents.request import Latent, NetworkRef, RenderRequest

        lat = self.request.latent
        return RenderRequest(network=NetworkRef(self.app.source or "demo"), latent=Latent(float(lat.x), float(lat.y)))

    def resolved(self):
        # Only the keyframes' latents are cached (durations, interpolation and loop are read live from the
        # timeline), so edits that change a latent call `changed()`.
        # The info object (held, compared by identity) stands for the network: another network has another one.
        key = (id(self.timeline), len(self.timeline.keyframes))
        if self._resolved is None or self._resolved_for != key or self._resolved_info is not self.app.info:
            self._resolved = self.app.compute(resolve_timeline_job(self.timeline, self.base()))
            self._resolved_for, self._resolved_info = key, self.app.info
        return self._resolved

    def preview(self, t: float) -> None:
        """Show the timeline at `t` seconds (the export's frame at that time)."""
        if not self.timeline.keyframes:
            return
        self.time = float(t)
        try:
            r = self.resolved()
        except SG3Error as exc:  # a broken key or a lost renderer: say so instead of failing the panel
            self.message, self.playing = str(exc), False
            return
        directions = self.app.widget("directions")
        if directions is not None and directions.amounts:
            directions.reset()  # bookmarks carry their moves already; live sliders would add them twice
        # the export's frame at t is this very request: the preview shows what the export will write
        self.app.apply_request(r.request_at(self.time, self.base()))
        self.previewing = True

    def stop_preview(self) -> None:
        if self.previewing:
            self.app.request = without_latent(self.request)
            self.previewing = False

    def start_export(self, path: str | None = None, frames: int | None = None) -> bool:
        try:
            self.resolved()
        except Exception as exc:  # noqa: BLE001 - an empty or broken timeline is a message
            self.message = str(exc)
            return False
        out = self.out_path = path or self.out_path
        fps = float(self.timeline.fps)
        total = int(frames or self.timeline.num_frames(fps))
        self.message = ""
        return self.app.start_job(self.export, timeline_export_job(self.timeline, self.base(), out, fps, total))

    def save(self, path: str) -> None:
        from stylegan3.documents.timeline import save_timeline

        try:
            self.timeline.network = self.app.source
            save_timeline(path, self.timeline)
            self.message = f"saved {path}"
        except Exception as exc:  # noqa: BLE001
            self.message = str(exc)

    def load(self, path: str) -> None:
        from stylegan3.documents.timeline import load_timeline

        try:
            info = self.app.info
            self.set_timeline(load_timeline(path, num_ws=info.num_ws if info is not None else None,
                                            network=self.app.source))
            self.message = f"loaded {len(self.timeline.keyframes)} keyframes from {path}"
        except Exception as exc:  # noqa: BLE001
            self.message = str(exc)

    # -- per frame --------------------------------------------------------------------------------------------
    def on_network(self) -> None:
        self.playing = False
        self.stop_preview()
        self.changed()

    def update(self, dt: float) -> None:
        ok, count = self.export.poll()
        if ok:
            self.message = f"wrote {self.out_path}: {count} frames"
        elif self.export.error:
            self.message = f"export: {self.export.error}"
            self.export.error = None
        if self.playing and self.timeline.keyframes:
            try:
                total = self.timeline.total
                t = self.time + dt
                self.preview(t % total if self.timeline.loop else min(t, total))
                if not self.timeline.loop and t >= total:
                    self.playing = False
            except Exception as exc:  # noqa: BLE001
                self.message, self.playing = str(exc), False

    def close(self) -> None:
        self.export.cancel()

    def draw(self) -> None:
        from stylegan3.documents.timeline import INTERPOLATIONS

        tl = self.timeline
        font = imgui.get_font_size()
        if imgui.button("Add keyframe"):
            try:
                self.add_bookmark()
            except SG3Error as exc:  # a view no key can hold: one line
                self.message = str(exc)
        imgui.same_line()
        imgui.set_next_item_width(font * 6)
        if imgui.begin_combo("##interp", tl.interp):
            for name in INTERPOLATIONS:
                if imgui.selectable(name, name == tl.interp)[0]:
                    tl.interp = name
                    self.changed()
            imgui.end_combo()
        imgui.same_line()
        changed, tl.loop = imgui.checkbox("Loop", tl.loop)
        if changed:
            self.changed()
        remove = None
        for i, key in enumerate(tl.keyframes):
            imgui.push_id(f"key{i}")
            if imgui.small_button("x"):
                remove = i
            imgui.same_line()
            if imgui.small_button("show"):
                self.preview(float(tl.key_times()[i]))
            imgui.same_line()
            imgui.set_next_item_width(font * 4)
            changed, d = imgui.input_float("s", key.duration, 0.0, 0.0, "%.2f")
            if changed and d > 0:
                key.duration = float(d)
                self.changed()
            imgui.same_line()
            if imgui.small_button("bookmark"):
                self.keep_as_bookmark(i)
            if imgui.is_item_hovered():
                imgui.set_tooltip("keep this key in the Bookmarks panel")
            imgui.same_line()
            if imgui.selectable(f"{i}: {key.label}##go", False)[0]:
                self.go(i)
            if imgui.is_item_hovered():
                imgui.set_tooltip("return the view to this key's bookmark")
            imgui.pop_id()
        if remove is not None:
            del tl.keyframes[remove]
            self.changed()
        if not tl.keyframes:
            imgui.text_disabled("no keyframes yet: press Add keyframe, or send a bookmark here")
        else:
            total = max(tl.total, 1e-6)
            imgui.set_next_item_width(font * 12)
            changed, t = slider_float("Time", self.time, 0.0, total, "%.2f s")
            if changed:
                self.preview(t)
            imgui.same_line()
            _, self.playing = imgui.checkbox("Play", self.playing)
            if self.previewing:
                imgui.same_line()
                if imgui.small_button("Leave"):
                    self.playing = False
                    self.stop_preview()
        imgui.set_next_item_width(font * 4)
        changed, fps = imgui.input_float("fps", tl.fps, 0.0, 0.0, "%.0f")
        if changed and 0 < fps <= 240:
            tl.fps = float(fps)
        imgui.same_line()
        imgui.text_disabled(f"{tl.num_frames() if tl.keyframes else 0} frames")
        imgui.set_next_item_width(font * 10)
        _, self.out_path = imgui.input_text("##mp4", self.out_path)
        imgui.same_line()
        if self.export.busy:
            imgui.progress_bar(self.export.fraction, imgui.ImVec2(font * 6, 0),
                               f"{self.export.count}/{self.export.total}")
            imgui.same_line()
            if imgui.button("Cancel##export"):
                self.export.cancel()
        else:
            imgui.begin_disabled(not tl.keyframes)
            if imgui.button("Export mp4"):
                self.start_export()
            imgui.end_disabled()
        imgui.set_next_item_width(font * 10)
        _, self.file_path = imgui.input_text("##json", self.file_path)
        imgui.same_line()
        if imgui.button("Save##tl"):
            self.save(self.file_path)
        imgui.same_line()
        if imgui.button("Load##tl"):
            self.load(self.file_path)
        if self.message:
            imgui.text_wrapped(self.message)


WIDGET = TimelineWidget
