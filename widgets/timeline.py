"""Timeline panel: bookmarks of the current view, their order and durations, scrubbing preview, mp4 export.

The panel holds a `stylegan3.keyframes.Timeline`; scrubbing puts `ResolvedTimeline.ws_at(t)` and
`transform_at(t)` into the render state, the export renders the same functions at t = k / fps on a private copy
of the network, so exported frame k is the preview at time k / fps. Both go through the context's jobs
(`visualizer.network_jobs`): the panel never holds the network.
"""

from __future__ import annotations

from imgui_bundle import imgui

from stylegan3.errors import SG3Error
from visualizer.explore import clear_latent, latent_label, latent_of, set_latent
from visualizer.jobs import JobSlot
from visualizer.network_jobs import resolve_timeline_job, state_ws_job, timeline_export_job
from widgets.base import Widget


class TimelineWidget(Widget):
    title = "Timeline"
    default_open = False

    def __init__(self, app) -> None:
        from stylegan3.keyframes import Timeline

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

    def visible(self) -> bool:  # with the network elsewhere, preview and export say why they cannot run there
        return self.app.info is not None

    @property
    def animating(self) -> bool:
        return self.playing

    # -- actions ----------------------------------------------------------------------------------------------
    def add_bookmark(self, ws=None, label: str = "", duration: float = 2.0) -> int:
        """Bookmark `ws` (e.g. a projection) or the current view; returns its index."""
        from stylegan3.keyframes import Keyframe

        s = self.app.state
        common = dict(translate=tuple(float(v) for v in s.translate), rotate=float(s.rotate), duration=duration)
        plain_seed = (latent_of(s) is None and not s.moves and not s.mix_ws
                      and s.y == 0 and float(s.x).is_integer())
        if ws is not None:
            key = Keyframe.from_ws(ws, label=label or "projection", **common)
        elif plain_seed:
            key = Keyframe(seed=int(s.x), psi=float(s.psi), label=label or f"seed {int(s.x)}", **common)
        else:  # blended seeds, mixing, moves or an explicit latent: keep exactly what is shown
            key = Keyframe.from_ws(self.app.compute(state_ws_job(s)), label=label or latent_label(s)
                                   or f"view {len(self.timeline.keyframes)}", **common)
        self.timeline.keyframes.append(key)
        self.changed()
        return len(self.timeline.keyframes) - 1

    def changed(self) -> None:
        self._resolved = None

    def resolved(self):
        # Only the keyframes' latents are cached (durations, interpolation and loop are read live from the
        # timeline), so edits that change a latent call `changed()`.
        # The info object (held, compared by identity) stands for the network: another network has another one.
        key = (id(self.timeline), len(self.timeline.keyframes))
        if self._resolved is None or self._resolved_for != key or self._resolved_info is not self.app.info:
            self._resolved = self.app.compute(resolve_timeline_job(self.timeline))
            self._resolved_for, self._resolved_info = key, self.app.info
        return self._resolved

    def bookmark_ws(self, index: int):
        from stylegan3.keyframes import Timeline

        one = Timeline(keyframes=[self.timeline.keyframes[index]], directions=self.timeline.directions)
        return self.app.compute(resolve_timeline_job(one)).key_ws[0]

    def preview(self, t: float) -> None:
        """Show the timeline at `t` seconds (the export's frame at that time)."""
        if not self.timeline.keyframes:
            return
        self.time = float(t)
        try:
            r = self.resolved()
        except SG3Error as exc:  # the network is rendered elsewhere: say so instead of failing the panel
            self.message, self.playing = str(exc), False
            return
        s = self.app.state
        directions = self.app.widget("directions")
        if directions is not None and directions.amounts:
            directions.reset()  # bookmarks carry their moves already; live sliders would add them twice
        set_latent(s, r.ws_at(self.time)[0], label="timeline")
        tx, ty, rot = (float(v) for v in r.transform_at(self.time)[0])
        s.translate, s.rotate = (tx, ty), rot
        s.noise_mode = self.timeline.noise_mode
        self.previewing = True

    def stop_preview(self) -> None:
        if self.previewing:
            clear_latent(self.app.state)
            self.previewing = False

    def start_export(self, path: str | None = None, frames: int | None = None) -> bool:
        try:
            r = self.resolved()
        except Exception as exc:  # noqa: BLE001 - an empty or broken timeline is a message
            self.message = str(exc)
            return False
        out = self.out_path = path or self.out_path
        fps = float(self.timeline.fps)
        total = int(frames or self.timeline.num_frames(fps))
        self.message = ""
        return self.app.start_job(self.export, timeline_export_job(r, out, fps, total))

    def save(self, path: str) -> None:
        from stylegan3.keyframes import save_timeline

        try:
            self.timeline.network = self.app.source
            save_timeline(path, self.timeline)
            self.message = f"saved {path}"
        except Exception as exc:  # noqa: BLE001
            self.message = str(exc)

    def load(self, path: str) -> None:
        from stylegan3.keyframes import load_timeline

        try:
            self.timeline = load_timeline(path)
            self.changed()
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
        from stylegan3.keyframes import INTERPOLATIONS

        tl = self.timeline
        font = imgui.get_font_size()
        if imgui.button("Add bookmark"):
            try:
                self.add_bookmark()
            except SG3Error as exc:  # e.g. a blended view while the network is rendered elsewhere
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
            imgui.push_id(i)
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
            imgui.text(f"{i}: {key.label}")
            imgui.pop_id()
        if remove is not None:
            del tl.keyframes[remove]
            self.changed()
        if not tl.keyframes:
            imgui.text_disabled("no bookmarks yet: set up a view and press Add bookmark")
        else:
            total = max(tl.total, 1e-6)
            imgui.set_next_item_width(font * 12)
            changed, t = imgui.slider_float("Time", self.time, 0.0, total, "%.2f s")
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
