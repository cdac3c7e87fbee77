"""Panels see the app only through `widgets.context.PanelContext`: no module of `widgets/` imports the App or
touches the generator module, the library imports no GUI code, every `app.X` a panel uses is a member of the
protocol (and the App has it), and panels work headless against a small fake context whose jobs run on a
backend's analyses (the only place a network lives), failures there becoming the panel's message."""

from __future__ import annotations

import ast
import inspect
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.support.nets import tiny_net

REPO = Path(__file__).resolve().parents[2]
WIDGET_FILES = sorted((REPO / "widgets").glob("*.py"))
GUI_PACKAGES = ("visualizer", "widgets")
APP_INTERNALS = ("network", "backend", "loader", "renderer", "panel_errors", "config", "widgets")


def _is_gui_module(name: str) -> bool:
    """`visualizer.x` in a checkout's old spelling, `sg3_explorer.visualizer.x` as the app package names it."""
    parts = name.split(".")
    return parts[0] in GUI_PACKAGES or (parts[0] == "sg3_explorer" and len(parts) > 1 and parts[1] in GUI_PACKAGES)


def _app_relative(name: str) -> str:
    """A module name without the app package's prefix (`sg3_explorer.visualizer.app` -> `visualizer.app`)."""
    return name.removeprefix("sg3_explorer.")


def _imported_modules(tree: ast.AST) -> list[str]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.append(node.module)
            out += [f"{node.module}.{alias.name}" for alias in node.names]
    return out


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else "?"


def _parse(path: Path) -> ast.AST:
    return ast.parse(path.read_text(), filename=str(path))


def test_widgets_do_not_import_the_app():
    assert len(WIDGET_FILES) > 10
    offenders = {p.name: m for p in WIDGET_FILES for m in _imported_modules(_parse(p))
                 if _app_relative(m) == "visualizer.app" or _app_relative(m).startswith("visualizer.app.")}
    assert offenders == {}


def test_widgets_never_touch_the_network_module():
    found = []
    for path in WIDGET_FILES:
        for node in ast.walk(_parse(path)):
            if not isinstance(node, ast.Attribute):
                continue
            name = _dotted(node)
            on_app = _dotted(node.value) in ("self.app", "app")
            if node.attr == "G" or "torch.nn" in name or (on_app and node.attr in APP_INTERNALS):
                found.append(f"{path.name}:{node.lineno} {name}")
    assert found == []


def test_the_checks_above_can_fail(tmp_path):
    """The AST checks see the forms a regression would take."""
    bad = ast.parse("from sg3_explorer.visualizer.app import App\nimport torch\nx = self.app.network.G\n"
                    "y: torch.nn.Module\n")
    assert "visualizer.app" in {_app_relative(m) for m in _imported_modules(bad)}
    assert _is_gui_module("sg3_explorer.widgets.base") and _is_gui_module("visualizer") and not _is_gui_module("ops")
    names = {_dotted(n) for n in ast.walk(bad) if isinstance(n, ast.Attribute)}
    assert {"self.app.network", "self.app.network.G", "torch.nn.Module"} <= names


def test_library_imports_no_gui_code():
    offenders = []
    for path in sorted((REPO / "stylegan3").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        gui = [m for m in _imported_modules(_parse(path)) if _is_gui_module(m)]
        if gui:
            offenders.append(f"{rel}: {gui}")
    assert offenders == []


def _protocol_members() -> set[str]:
    from sg3_explorer.widgets.context import PanelContext

    names = set(PanelContext.__annotations__)
    names |= {n for n in vars(PanelContext) if not n.startswith("_")}
    return names


def test_panels_use_only_the_context():
    """Every `self.app.X` / `app.X` in a panel is a member of PanelContext."""
    members = _protocol_members()
    assert {"request", "info", "start_job", "compute", "last_result", "settings", "load_network"} <= members
    used = {}
    for path in WIDGET_FILES:
        for node in ast.walk(_parse(path)):
            if isinstance(node, ast.Attribute) and _dotted(node.value) in ("self.app", "app"):
                used.setdefault(node.attr, f"{path.name}:{node.lineno}")
    assert used, "the scan found no uses at all"
    assert {name: where for name, where in used.items() if name not in members} == {}


def test_app_implements_the_context():
    """The App (the window over the headless `Explorer` session) has every member of the protocol, as a class
    attribute or set in an __init__ of its classes."""
    from sg3_explorer.visualizer.app import App

    assigned = set()
    for cls in App.__mro__[:-1]:
        init = ast.parse(textwrap.dedent(inspect.getsource(cls.__init__)))
        assigned |= {n.attr for n in ast.walk(init) if isinstance(n, ast.Attribute) and _dotted(n.value) == "self"
                     and isinstance(n.ctx, ast.Store)}
    missing = sorted(m for m in _protocol_members() if not hasattr(App, m) and m not in assigned)
    assert missing == []


# -- panels against a fake context --------------------------------------------------------------------------------

class FakeContext:
    """The context a panel gets, without an App or a window: jobs run on `backend` (anything with `analyze`)."""

    def __init__(self, info=None, backend=None) -> None:
        import torch

        from sg3_explorer.visualizer.settings import Settings
        from stylegan3.documents.request import RenderRequest

        self.request = RenderRequest()
        self.settings = Settings()
        self.backend = backend
        self.info = info
        self.source = info.source if info is not None else None
        self.last_result = None
        self.device = torch.device("cpu")
        self.device_description = "cpu"
        self.panels: dict = {}

    def widget(self, module_name: str):
        return self.panels.get(module_name)

    def current_request(self):
        from stylegan3.documents.request import NetworkRef

        return self.request.replace(network=NetworkRef(self.source or "demo")).for_frame()

    def apply_request(self, request) -> None:
        self.request = request

    def start_job(self, slot, job) -> bool:
        return slot.start(lambda progress: job.run(self.backend, progress), job.label)

    def compute(self, job):
        return job.run(self.backend, lambda done, total: None)


@pytest.fixture(scope="module")
def sg3():
    from stylegan3.networks.info import describe

    G = tiny_net("sg3", res=32)
    return G, describe(G, "tiny-sg3")


def test_layers_panel_reads_the_info_layer_table(sg3):
    from sg3_explorer.widgets.layers import LayersWidget

    G, info = sg3
    remote = FakeContext(info=info)  # the same panel whether the module is here or not: it never needs it
    panel = LayersWidget(remote)
    panel.on_network()
    assert [row.name for row in panel.layers] == list(info.layer_names) and len(panel.layers) == info.num_layers
    last = info.layers[-1]
    panel.select(last.name)
    assert remote.request.layer.layer == last.name
    remote.request = remote.request.edit("layer", channel=10_000)
    panel.select(last.name)
    assert remote.request.layer.channel == last.channels - 1
    panel.select("output")
    assert remote.request.layer.layer is None and panel.shown_info() is None  # "output" without FFT: the image
    remote.request = remote.request.edit("fft", enabled=True)
    panel.select("output")
    shown = panel.shown_info()
    assert (shown.name, shown.width, shown.channels, shown.cutoff) == ("output", 32, 3, last.cutoff)
    remote.request = remote.request.edit("layer", layer="no-such-layer")
    panel.on_network()
    assert remote.request.layer.layer is None and remote.request.layer.channel is None


def test_spectra_panel_computes_through_the_context(sg3):
    from sg3_explorer.widgets.spectra import SpectraWidget
    from stylegan3.metrics.spectra import network_spectrum

    G, info = sg3
    backend = AnalysesHere(G, info)
    ctx = FakeContext(info=info, backend=backend)
    ctx.request = ctx.request.edit("latent", x=3.0)
    panel = SpectraWidget(ctx)
    panel.on_network()
    assert panel.names == ["output", *info.layer_names]
    panel.layer_a = info.layers[-2].name
    assert panel.start()
    assert panel.job.wait(120)
    panel.update(0.0)
    want = network_spectrum(G, panel.layer_a, num_samples=1, seed=3, truncation_psi=1.0, window="kaiser")
    got = panel.spectra[panel.layer_a]
    np.testing.assert_allclose(got.power, want.power, rtol=1e-5)
    assert set(panel.curves[panel.layer_a]) == {"radial", "slice0", "slice45"}
    assert backend.calls == ["spectra"]


def test_spectra_paper_mode_computes_through_the_context(sg3, tmp_path):
    """Paper mode: the job runs the backend's `paper_spectrum` analysis; the spectrum, heat map and slices the panel
    shows equal the library's own (`network_paper_spectrum`, `spectrum_plots`), and the saved file reads back."""
    from sg3_explorer.widgets.spectra import SpectraWidget
    from stylegan3.metrics.paper_spectrum import load_paper_spectrum, network_paper_spectrum
    from stylegan3.metrics.spectrum_plots import heatmap_figure, slice_curves

    G, info = sg3
    backend = AnalysesHere(G, info)
    ctx = FakeContext(info=info, backend=backend)
    ctx.settings.capture_dir = str(tmp_path)
    panel = SpectraWidget(ctx)
    panel.on_network()
    paper = panel.paper
    paper.samples, paper.seed, paper.mean, paper.std, paper.interp = 3, 5, 120.0, 50.0, 2
    assert paper.start()
    assert panel.animating
    assert paper.job.wait(120), paper.job.error
    panel.update(0.0)
    assert paper.job.error is None and backend.calls == ["paper_spectrum"]
    want = network_paper_spectrum(G, 3, 120.0, 50.0, seed=5, beta=8.0, interp=2)
    got = paper.result.spectrum
    assert got.spectrum.shape == (64, 64) and got.image_size == 32 and got.num_images == 3
    np.testing.assert_array_equal(got.spectrum, want.spectrum)
    np.testing.assert_array_equal(paper.result.heatmap, heatmap_figure(got))
    for angle, (f, db) in slice_curves(want).items():
        np.testing.assert_array_equal(paper.result.slices[angle][0], f)
        np.testing.assert_array_equal(paper.result.slices[angle][1], db)
    back = load_paper_spectrum(paper.save())
    assert back.image_size == 32 and back.num_images == 3
    np.testing.assert_array_equal(back.spectrum, want.spectrum)
    panel.on_network()  # another network: the old spectrum goes
    assert paper.result is None


def test_spectra_paper_mode_bad_values_are_the_panels_message(sg3):
    from sg3_explorer.widgets.spectra import SpectraWidget

    G, info = sg3
    panel = SpectraWidget(FakeContext(info=info, backend=AnalysesHere(G, info)))
    panel.paper.std = 0.0
    assert panel.paper.start()
    assert panel.paper.job.wait(60)
    panel.update(0.0)
    assert panel.paper.result is None and "std" in panel.paper.job.error


class AnalysesHere:
    """A backend whose analyses run on a network of this process, as a server runs them next to its own."""

    def __init__(self, G, info) -> None:
        self.G, self.info, self.calls = G, info, []

    def analyze(self, name, request, progress=None, params=None):
        from stylegan3 import analyses as analysis

        self.calls.append(name)
        return analysis.run(name, self.G, request, self.info, progress or (lambda *a: None), params)


def test_equivariance_metrics_run_on_the_backend(sg3):
    from sg3_explorer.widgets.equivariance import EquivarianceWidget

    G, info = sg3
    calls = []

    class Backend:
        def analyze(self, name, request, progress, params=None):
            calls.append((name, request.latent.seed, request.network.source, params))
            progress(1, 1)
            return {"eqt": 41.5, "eqt_frac": 30.25, "eqr": 12.0}

    ctx = FakeContext(info=info, backend=Backend())
    ctx.request = ctx.request.edit("latent", x=7.0)
    panel = EquivarianceWidget(ctx)
    assert panel.supported and panel.start_metrics()
    assert panel.job.wait(30)
    panel.update(0.0)
    assert calls == [("eq_metrics", 7, "tiny-sg3", {"seed": 0})]
    assert panel.metrics == {"eqt": 41.5, "eqt_frac": 30.25, "eqr": 12.0}


def test_live_equivariance_follows_direction_moves_and_the_explicit_latent(sg3):
    """The metrics are of the latent shown: a direction slider or a projected latent changes it, so live metrics
    must be measured again (they went stale when the cache keyed on hand-picked seed-plane fields)."""
    from sg3_explorer.widgets.equivariance import EquivarianceWidget
    from stylegan3.documents.request import ExplicitLatent, LatentMove

    G, info = sg3
    seen = []

    class Backend:
        def analyze(self, name, request, progress, params=None):
            seen.append((len(request.moves), request.explicit.label))
            progress(1, 1)
            return {"eqt": 40.0 + len(seen), "eqt_frac": 30.0, "eqr": 12.0}

    ctx = FakeContext(info=info, backend=Backend())
    ctx.request = ctx.request.edit("latent", x=2.0)
    panel = EquivarianceWidget(ctx)
    panel.live = True

    def settle() -> None:
        panel.update(0.0)  # starts a job when the metrics are not of the latent shown
        assert panel.job.wait(30), panel.job.error
        panel.update(0.0)  # takes its result

    settle()
    assert seen == [(0, "")] and panel.metrics["eqt"] == 41.0
    ctx.request = ctx.request.replace(moves=(LatentMove(tuple([1.0] * info.w_dim), 1.5, label="smile"),))
    settle()
    assert seen == [(0, ""), (1, "")] and panel.metrics["eqt"] == 42.0
    ctx.request = ctx.request.replace(explicit=ExplicitLatent(((0.5,) * info.w_dim,), "projection", (2.0, 0.0)))
    settle()
    assert seen == [(0, ""), (1, ""), (1, "projection")] and panel.metrics["eqt"] == 43.0
    ctx.request = ctx.request.edit("transform", translate=(0.25, 0.0)).edit("untransform", enabled=True)
    settle()  # the latent did not change (only the view of it): nothing measured again
    assert len(seen) == 3 and panel.metrics["eqt"] == 43.0


def test_a_failing_backend_is_the_panels_message(sg3):
    """A lost renderer (or any refusal) makes the job fail with its one line; the panels stay up."""
    from sg3_explorer.widgets.directions import DirectionsWidget
    from sg3_explorer.widgets.timeline import TimelineWidget
    from stylegan3.service.backend import BackendError

    class Lost:
        def analyze(self, name, request, progress=None, params=None, **kw):
            raise BackendError(f"{name}: renderer process died (SIGKILL); restarted")

        def load(self, network, timeout=None):
            raise BackendError("renderer process died (SIGKILL); restarted")

    G, info = sg3
    ctx = FakeContext(info=info, backend=Lost())
    directions, timeline = DirectionsWidget(ctx), TimelineWidget(ctx)
    ctx.panels = {"directions": directions, "timeline": timeline}
    assert directions.visible() and timeline.visible()
    assert directions.start_pca(200)
    assert directions.job.wait(10)
    directions.update(0.0)
    assert directions.message == "PCA: pca: renderer process died (SIGKILL); restarted"
    assert timeline.add_bookmark() == 0  # a key is the view's request: no network needed to make one
    assert timeline.timeline.keyframes[0].request == ctx.current_request()
    timeline.preview(0.0)
    assert timeline.message == "timeline_keys: renderer process died (SIGKILL); restarted"
    assert not timeline.previewing
    directions.add_seed_set_direction()
    assert directions.message == "seed_set_direction: renderer process died (SIGKILL); restarted"


def test_a_bookmark_becomes_a_keyframe_and_back(sg3):
    """Bookmarks panel -> timeline key -> bookmark again is the same Bookmark; clicking either returns to it."""
    from sg3_explorer.widgets.bookmarks import BookmarksWidget
    from sg3_explorer.widgets.timeline import TimelineWidget

    G, info = sg3
    ctx = FakeContext(info=info)
    marks, timeline = BookmarksWidget(ctx), TimelineWidget(ctx)
    ctx.request = ctx.request.edit("latent", x=5.0).edit("truncation", psi=0.6).edit("transform", translate=(0.25, 0.0))
    mark = marks.add("five")
    assert marks.to_timeline(0) is None and "no Timeline panel" in marks.message
    ctx.panels = {"bookmarks": marks, "timeline": timeline}
    assert marks.to_timeline(0) == 0 and timeline.timeline.keyframes[0].bookmark is mark
    assert "'five' is timeline key 0" in marks.message
    ctx.request = ctx.request.edit("latent", x=9.0).edit("truncation", psi=1.0)
    assert timeline.add_bookmark(label="nine") == 1
    kept = timeline.keep_as_bookmark(1)
    assert [b.name for b in marks.bookmarks] == ["five", "nine"] and marks.bookmarks[1] is kept
    assert kept.request.latent.x == 9.0
    timeline.go(0)
    r = ctx.request
    assert (r.latent.x, r.truncation.psi, r.transform.translate) == (5.0, 0.6, (0.25, 0.0))
    assert timeline.message == "back to 'five'"
    marks.go(1)
    assert (ctx.request.latent.x, ctx.request.truncation.psi) == (9.0, 1.0)
    timeline.set_timeline(None)
    assert timeline.timeline.keyframes == []


def test_directions_pca_runs_through_the_context(sg3, tmp_path, monkeypatch):
    monkeypatch.setenv("SG3_EXPLORER_CACHE", str(tmp_path))
    from sg3_explorer.widgets.directions import DirectionsWidget
    from stylegan3.explore.directions import pca_directions

    G, info = sg3
    ctx = FakeContext(info=info, backend=AnalysesHere(G, info))
    panel = DirectionsWidget(ctx)
    assert panel.start_pca(300)
    assert panel.job.wait(120)
    panel.update(0.0)
    assert panel.directions is not None and panel.directions.samples == 300, panel.message
    want = pca_directions(G, 300)
    np.testing.assert_allclose(np.abs(panel.directions.vectors[:3]), np.abs(want.vectors[:3]), atol=1e-4)
    panel.set_amount(0, 2.0)
    assert [(m.index, m.amount) for m in panel.moves()] == [(0, 2.0)]
