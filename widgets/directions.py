"""Directions panel: PCA of W (a background job, cached per network), user directions, sliders in sigma units.

Each shown component is a slider (-5 .. 5 sigma) with the range of ws it moves (all, coarse, middle, fine or a
custom list such as 0-3,8). The moves go into the window's request (`visualizer.explore`), so the image on
screen is `render_image` of that request, and they apply on top of whatever latent is shown (seed, projection,
timeline).
The PCA and the seed-set / bookmark directions are jobs of the context (`visualizer.network_jobs`): the panel
never holds the network.
"""

from __future__ import annotations

import numpy as np
from imgui_bundle import imgui

from sg3_explorer.visualizer.explore import with_moves
from sg3_explorer.visualizer.jobs import JobSlot
from sg3_explorer.visualizer.network_jobs import (
    directions_fingerprint_job,
    pca_job,
    seed_set_direction_job,
    user_direction_job,
)
from sg3_explorer.widgets.applicability import without_w
from sg3_explorer.widgets.base import Widget
from sg3_explorer.widgets.sliders import slider_float

RANGES = ("all", "coarse", "middle", "fine", "custom")
SLIDER_LIMIT = 5.0


def merged(first, second):
    """Two direction sets as one (components of `first`, then of `second`); either may be None."""
    from stylegan3.explore.directions import Directions

    if first is None:
        return second
    if second is None:
        return first
    kind = first.kind if first.kind == second.kind else "mixed"
    return Directions(vectors=np.concatenate([first.vectors, second.vectors]),
                      sigmas=np.concatenate([first.sigmas, second.sigmas]), mean=first.mean, kind=kind,
                      network=first.network or second.network, source=f"{first.source}; {second.source}",
                      samples=first.samples, labels=list(first.labels) + list(second.labels))


class DirectionsWidget(Widget):
    title = "Directions"
    default_open = False

    def __init__(self, app) -> None:
        super().__init__(app)
        self.job = JobSlot()
        self.directions = None
        self.amounts: dict[int, float] = {}
        self.ranges: dict[int, str] = {}
        self.custom: dict[int, str] = {}
        self.samples = 0
        self.shown = 8
        self.path = "directions.npz"
        self.seeds_a = "0-9"
        self.seeds_b = "10-19"
        self.bookmark_a, self.bookmark_b = 0, 1
        self.message = ""
        self.mismatch = ""  # a file refused as another network's: the "Load anyway" button loads it

    def visible(self) -> bool:
        return self.app.info is not None

    # -- actions (also what the tests call) ----------------------------------------------------------------------
    def set_directions(self, directions, message: str = "") -> None:
        self.directions = directions
        self.amounts, self.ranges, self.custom = {}, {}, {}
        self.message = message
        self.apply()

    def set_amount(self, index: int, amount: float, ws: str = "all", custom: str = "") -> None:
        self.amounts[index] = float(amount)
        self.ranges[index] = ws
        if custom:
            self.custom[index] = custom
        self.apply()

    def visible_indices(self) -> list[int]:
        """User directions first (few, and just made), then the leading `shown` PCA components."""
        d = self.directions
        if d is None:
            return []
        user = [i for i, label in enumerate(d.labels) if not label.startswith("PC")]
        pcs = [i for i, label in enumerate(d.labels) if label.startswith("PC")]
        return user + pcs[: self.shown]

    def moves(self) -> tuple:
        from stylegan3.explore.directions import DirectionMove, ws_range

        if self.directions is None or self.app.info is None:
            return ()
        num_ws = int(self.app.info.num_ws)
        out = []
        for index, amount in sorted(self.amounts.items()):
            if amount == 0 or index >= len(self.directions):
                continue
            name = self.ranges.get(index, "all")
            try:
                layers = ws_range(self.custom.get(index, "all") if name == "custom" else name, num_ws)
            except Exception:  # noqa: BLE001 - a half-typed custom range moves nothing until it parses
                continue
            out.append(DirectionMove(index, amount, layers))
        return tuple(out)

    def apply(self) -> None:
        self.app.request = with_moves(self.request, self.directions, self.moves())

    def reset(self) -> None:
        self.amounts = {}
        self.apply()

    def start_pca(self, samples: int | None = None) -> bool:
        from stylegan3.explore.directions import default_samples

        if self.app.info is None:
            return False
        n = int(samples or self.samples or default_samples(self.app.device))
        self.samples = n
        return self.app.start_job(self.job, pca_job(self.app.current_request(), n))

    def add_seed_set_direction(self) -> None:
        from stylegan3.explore.interpolation import parse_seeds

        try:
            job = seed_set_direction_job(self.app.current_request(), parse_seeds(self.seeds_a),
                                         parse_seeds(self.seeds_b), psi=float(self.request.truncation.psi),
                                         label=f"{self.seeds_a}->{self.seeds_b}")
            d = self.app.compute(job)
        except Exception as exc:  # noqa: BLE001 - a typo in a seed list is a message, not a crash
            self.message = str(exc)
            return
        self.set_directions(merged(self.directions, d), f"added {d.labels[0]}")

    def add_bookmark_direction(self, a: int, b: int) -> None:
        timeline = self.app.widget("timeline")
        try:
            ra, rb = timeline.timeline.keyframes[a].request, timeline.timeline.keyframes[b].request
            d = self.app.compute(user_direction_job(ra, rb, source=f"bookmark {a} -> {b}", label=f"B{a}->B{b}"))
        except Exception as exc:  # noqa: BLE001
            self.message = str(exc)
            return
        self.set_directions(merged(self.directions, d), f"added bookmark {a} -> {b}")

    def save(self, path: str) -> None:
        from stylegan3.explore.directions import save_directions

        try:
            save_directions(path, self.directions)
            self.message = f"saved {path}"
        except Exception as exc:  # noqa: BLE001
            self.message = str(exc)

    def load(self, path: str, force: bool = False) -> None:
        """Load a direction file; one made for another network is refused (the message says so and a "Load
        anyway" button appears) unless `force`."""
        from stylegan3.explore.directions import DirectionsMismatch, check_network, load_directions

        self.mismatch = ""
        try:
            d = load_directions(path)
            w_dim = self.app.info.w_dim if self.app.info is not None else d.w_dim
            fingerprint = self.app.compute(directions_fingerprint_job(self.app.current_request())) if d.network \
                else None
            forced = check_network(d, path, int(w_dim), fingerprint, force)
        except DirectionsMismatch as exc:
            self.message = f"not loaded: {exc}"
            self.mismatch = path
            return
        except Exception as exc:  # noqa: BLE001
            self.message = str(exc)
            return
        note = " (made for another network, loaded anyway)" if forced else ""
        self.set_directions(d, f"loaded {len(d)} directions ({d.kind}) from {path}{note}")

    # -- per frame -----------------------------------------------------------------------------------------------
    def on_network(self) -> None:
        self.job.cancel()
        self.set_directions(None)

    def update(self, dt: float) -> None:
        ok, result = self.job.poll()
        if ok:
            self.set_directions(result, f"{len(result)} components from {result.samples} samples")
        elif self.job.error:
            self.message = f"PCA: {self.job.error}"
            self.job.error = None

    def close(self) -> None:
        self.job.cancel()

    def draw(self) -> None:
        from stylegan3.explore.directions import default_samples

        why = without_w(self.app.info, "there are no W directions to find or move along")
        if why is not None:
            imgui.text_wrapped(why)
            return
        if not self.samples:
            self.samples = default_samples(self.app.device)
        imgui.set_next_item_width(imgui.get_font_size() * 7)
        _, self.samples = imgui.input_int("Samples", self.samples, 1000, 10000)
        self.samples = max(100, min(int(self.samples), 1_000_000))
        imgui.same_line()
        if self.job.busy:
            imgui.progress_bar(self.job.fraction, imgui.ImVec2(imgui.get_font_size() * 6, 0), self.job.label)
            imgui.same_line()
            if imgui.button("Cancel##pca"):
                self.job.cancel()
        elif imgui.button("Compute PCA"):
            self.start_pca()
        if self.message:
            imgui.text_wrapped(self.message)
        if self.mismatch and imgui.button("Load anyway##dirs"):
            self.load(self.mismatch, force=True)
        self._draw_sliders()
        if imgui.tree_node("User directions"):
            self._draw_user()
            imgui.tree_pop()
        imgui.set_next_item_width(imgui.get_font_size() * 12)
        _, self.path = imgui.input_text("##dirpath", self.path)
        imgui.same_line()
        if imgui.button("Load##dirs"):
            self.load(self.path)
        imgui.same_line()
        imgui.begin_disabled(self.directions is None)
        if imgui.button("Save##dirs"):
            self.save(self.path)
        imgui.end_disabled()

    def _draw_sliders(self) -> None:
        d = self.directions
        if d is None:
            imgui.text_disabled("no directions: compute PCA, add a user direction, or load a file")
            return
        imgui.text_disabled(f"{len(d)} directions ({d.kind}); sliders in sigma")
        font = imgui.get_font_size()
        changed_any = False
        for i in self.visible_indices():
            imgui.push_id(i)
            imgui.set_next_item_width(font * 7)  # its label and value follow it
            changed, value = slider_float(f"{d.labels[i]}", self.amounts.get(i, 0.0), -SLIDER_LIMIT,
                                                SLIDER_LIMIT, "%.2f")
            if imgui.is_item_hovered():
                imgui.set_tooltip(f"{d.labels[i]}: 1.0 moves {d.sigmas[i]:.3g} in W (one sigma); right-click: 0")
            if imgui.is_item_clicked(imgui.MouseButton_.right):
                changed, value = True, 0.0
            if changed:
                self.amounts[i] = float(value)
                changed_any = True
            imgui.same_line()
            imgui.set_next_item_width(font * 5)
            current = self.ranges.get(i, "all")
            if imgui.begin_combo("##ws", current):
                for name in RANGES:
                    if imgui.selectable(name, name == current)[0]:
                        self.ranges[i] = name
                        changed_any = True
                imgui.end_combo()
            if current == "custom":
                imgui.same_line()
                imgui.set_next_item_width(font * 4)
                changed, text = imgui.input_text("##custom", self.custom.get(i, "0-3"))
                if changed or i not in self.custom:
                    self.custom[i] = text
                    changed_any = True
            imgui.pop_id()
        if changed_any:
            self.apply()
        hidden = len(d) - len(self.visible_indices())
        if hidden:
            if imgui.small_button(f"show more ({hidden} hidden)"):
                self.shown += 8
            imgui.same_line()
        if imgui.small_button("Reset sliders"):
            self.reset()

    def _draw_user(self) -> None:
        font = imgui.get_font_size()
        imgui.set_next_item_width(font * 5)
        _, self.seeds_a = imgui.input_text("A seeds", self.seeds_a)
        imgui.same_line()
        imgui.set_next_item_width(font * 5)
        _, self.seeds_b = imgui.input_text("B seeds", self.seeds_b)
        if imgui.button("Add mean difference A -> B"):
            self.add_seed_set_direction()
        timeline = self.app.widget("timeline")
        count = len(timeline.timeline.keyframes) if timeline is not None else 0
        if count >= 2:
            imgui.set_next_item_width(font * 2.5)
            _, self.bookmark_a = imgui.input_int("A##ba", self.bookmark_a, 0, 0)
            imgui.same_line()
            imgui.set_next_item_width(font * 2.5)
            _, self.bookmark_b = imgui.input_int("B##bb", self.bookmark_b, 0, 0)
            self.bookmark_a = min(max(self.bookmark_a, 0), count - 1)
            self.bookmark_b = min(max(self.bookmark_b, 0), count - 1)
            imgui.same_line()
            if imgui.button("Add bookmark A -> B"):
                self.add_bookmark_direction(self.bookmark_a, self.bookmark_b)
        else:
            imgui.text_disabled("two bookmarks (Timeline panel) make a direction too")


WIDGET = DirectionsWidget
