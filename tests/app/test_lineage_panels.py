"""The panels on StyleGAN (v1) and ProGAN networks, without a window: the ones that apply work through the
context (layer table with the TF names' layers, spectra, directions in W for v1), the ones that cannot apply
give their one-line reason, read from the capabilities (ProGAN: no W space; neither: no input transform)."""

from __future__ import annotations

import pytest

from sg3_explorer.widgets.applicability import without_noise, without_transform, without_w
from stylegan3.loading import load_network
from stylegan3.networks.info import describe
from tests.app.test_panel_context import AnalysesHere, FakeContext
from tests.support.tf_lineage_fakes import write_lineage_nets


@pytest.fixture(scope="module")
def lineage(tmp_path_factory) -> dict[str, tuple]:
    """{kind: (G, info)} of ProGAN and SG1 read from their TF pickles."""
    nets = {}
    for path in write_lineage_nets(tmp_path_factory.mktemp("lineage"))[:2]:
        G = load_network(str(path), device="cpu")
        info = describe(G, str(path))
        nets[info.kind] = (G, info)
    assert set(nets) == {"ProGAN", "SG1"}
    return nets


def test_reasons_follow_the_capabilities(lineage):
    pro, v1 = lineage["ProGAN"][1], lineage["SG1"][1]
    assert without_w(pro, "there are no styles to mix") == (
        "Disabled: ProGAN has no W space (z feeds the generator directly), so there are no styles to mix.")
    assert without_w(v1, "anything") is None
    assert without_transform(pro, "x").startswith("Disabled: ProGAN has no continuous (Fourier) input")
    assert without_transform(v1, "x").startswith("Disabled: SG1 has no continuous (Fourier) input")
    assert without_noise(pro) == "ProGAN has no noise inputs" and without_noise(v1) is None
    assert without_w(None, "x") is None and without_transform(None, "x") is None and without_noise(None) is None


@pytest.mark.parametrize("kind", ["ProGAN", "SG1"])
def test_layers_and_spectra_panels_apply(lineage, kind):
    from sg3_explorer.widgets.layers import LayersWidget
    from sg3_explorer.widgets.spectra import SpectraWidget

    G, info = lineage[kind]
    ctx = FakeContext(info=info, backend=AnalysesHere(G, info))
    layers = LayersWidget(ctx)
    layers.on_network()
    assert [row.name for row in layers.layers] == list(info.layer_names) and info.num_layers > 0
    layers.select(info.layers[-1].name)
    assert ctx.request.layer.layer == info.layers[-1].name
    spectra = SpectraWidget(ctx)
    spectra.on_network()
    spectra.layer_a = info.layers[-2].name
    assert spectra.start() and spectra.job.wait(120)
    spectra.update(0.0)
    assert spectra.layer_a in spectra.spectra and ctx.backend.calls == ["spectra"]


def test_directions_in_w_apply_to_stylegan_v1(lineage, tmp_path, monkeypatch):
    monkeypatch.setenv("SG3_EXPLORER_CACHE", str(tmp_path))
    from sg3_explorer.widgets.directions import DirectionsWidget

    G, info = lineage["SG1"]
    panel = DirectionsWidget(FakeContext(info=info, backend=AnalysesHere(G, info)))
    assert panel.start_pca(200) and panel.job.wait(120)
    panel.update(0.0)
    assert panel.directions is not None and panel.directions.samples == 200, panel.message


def test_projection_in_w_plus_applies_to_stylegan_v1(lineage, tmp_path):
    from PIL import Image

    from sg3_explorer.visualizer.renderer import render_image
    from sg3_explorer.widgets.projection import ProjectionWidget
    from stylegan3.service.thread_backend import ThreadBackend

    G, info = lineage["SG1"]
    backend = ThreadBackend("cpu", loader=lambda ref, device: G)  # the projection job loads through the backend
    ctx = FakeContext(info=info, backend=backend)
    target = tmp_path / "target.png"
    Image.fromarray(render_image(G, ctx.current_request().edit("latent", x=7.0))).save(target)
    panel = ProjectionWidget(ctx)
    panel.steps, panel.loss_kind = 4, "offline"
    try:
        assert panel.start(str(target)), panel.message
        assert panel.job.wait(120)
        ok, result = panel.job.poll()  # (what `update` takes; it also draws the dialog, which needs a window)
    finally:
        backend.close()
    assert ok and result.step.steps == 4, panel.job.error
    assert tuple(result.step.ws.shape[-2:]) == (info.num_ws, info.w_dim)  # W+: one w per layer
