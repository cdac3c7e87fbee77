"""The Drag panel without a window: clicks (as fractions of the shown image) become point pairs in the network's
pixels, the mask is painted and erased, and Start runs the `drag` analysis on a backend, whose result becomes
the view's explicit latent and a bookmark."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.support.nets import tiny_net


class Backend:
    """Runs analyses on a network of this process, as a server runs them next to its own."""

    def __init__(self, G, info) -> None:
        self.G, self.info = G, info

    def load(self, ref):
        return self.info

    def analyze(self, name, request, progress=None, params=None, on_partial=None, attachment=None):
        from stylegan3 import analyses

        return analyses.run(
            name,
            self.G,
            request,
            self.info,
            progress or (lambda *a: None),
            params,
            emit=on_partial,
            attachment=attachment,
        )


class Bookmarks:
    def __init__(self, ctx) -> None:
        self.ctx, self.bookmarks = ctx, []

    def add(self, name):
        from stylegan3.documents.bookmarks import Bookmark

        mark = Bookmark(name, self.ctx.current_request())
        self.bookmarks.append(mark)
        return mark


class Context:
    def __init__(self, G, info) -> None:
        from stylegan3.documents.request import RenderRequest

        self.request, self.info, self.source = RenderRequest(), info, "tiny"
        self.device = torch.device("cpu")
        self.backend = Backend(G, info)
        self.panels = {"bookmarks": Bookmarks(self)}

    def widget(self, name):
        return self.panels.get(name)

    def current_request(self):
        from stylegan3.documents.request import NetworkRef

        return self.request.replace(network=NetworkRef(self.source)).for_frame()

    def start_job(self, slot, job) -> bool:
        return slot.start(lambda progress: job.run(self.backend, progress), job.label)


@pytest.fixture()
def panel():
    pytest.importorskip("imgui_bundle")
    from sg3_explorer.widgets.drag import DragWidget
    from stylegan3.networks.info import describe

    G = tiny_net("SG2", res=32)
    return DragWidget(Context(G, describe(G, "tiny")))


def test_clicks_make_pairs_in_network_pixels(panel):
    assert panel.image_tool() is None  # nothing to draw or edit: the image pans as usual
    panel.mode = "points"
    assert panel.image_tool() is panel and panel.edits
    panel.press(12.5 / 32, 16.2 / 32, 0)  # a fraction of the shown image, whatever its size on screen
    assert panel.pending == (12, 16) and not panel.pairs
    panel.press(0.6406, 0.5, 0)
    assert panel.pairs == [[12, 16, 20, 16]] and panel.pending is None
    panel.press(1.2, 0.5, 0)  # outside the image: ignored
    assert panel.pending is None
    panel.press(0.1, 0.1, 0)
    panel.press(0.1, 0.2, 0)
    panel.press(0.11, 0.21, 1)  # right click: the nearest pair goes
    assert panel.pairs == [[12, 16, 20, 16]]


def test_the_mask_is_painted_and_erased(panel):
    panel.mode, panel.brush = "mask", 3
    panel.press(0.5, 0.5, 0)
    assert panel.mask.shape == (32, 32) and panel.mask[16, 16] == 1 and panel.mask[16, 12] == 0
    panel.drag(0.6, 0.5, 0)
    assert panel.mask[16, 19] == 1
    panel.press(0.5, 0.5, 1)
    assert panel.mask[16, 16] == 0 and panel.mask[16, 19] == 1
    panel.clear_mask()
    assert panel.mask is None


def test_start_runs_the_drag_and_keeps_the_result(panel):
    assert not panel.start() and "click a handle" in panel.message
    panel.pairs = [[12, 16, 20, 16]]
    panel.lr, panel.steps = 0.01, 200
    assert panel.start()
    assert panel.job.wait(300)
    panel.update(0.0)
    result = panel.result
    assert result is not None and result.reached and panel.message.startswith("done after")
    assert panel.app.request.explicit.label == "drag" and np.asarray(panel.app.request.explicit.w).shape == (8, 16)
    marks = panel.app.widget("bookmarks").bookmarks
    assert [m.name for m in marks] == ["drag 1"] and marks[0].request.explicit.w == panel.app.request.explicit.w
    assert panel.pairs[0][:2] == list(result.points[0])  # the handle moved to where it was tracked
