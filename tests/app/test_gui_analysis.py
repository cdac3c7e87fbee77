"""The analysis panels (equivariance, layers & channels, spectra) in the real app on Xvfb, driven by the imgui
test engine: every control is operated like a user would, and the pixels on screen must equal the headless
`render_image` of the resulting request. Screenshots are left in tests/_artifacts (gui_analysis_*.png)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from tests.support.gui import (
    assert_shows,
    grab_window,
    mean_abs_diff,
    reference_network,
    run_driven,
    wait_image_for_request,
    wait_until,
)
from tests.support.nets import save_tiny

pytestmark = pytest.mark.gui


def make_app(tmp_path, networks, open_panels=(), size=(960, 800)):
    """The app with only `open_panels` (widget module names) expanded, so the test needs no clicks for layout."""
    from sg3_explorer.visualizer.app import App, AppConfig

    app = App(AppConfig(networks=networks, window_size=size, persist_settings=False))
    app.settings.capture_dir = str(tmp_path / "captures")
    app.settings.panels_open = {w.key: w.key in open_panels for w in app.widgets}
    return app


def vec(x: float, y: float):
    from imgui_bundle import imgui

    return imgui.ImVec2(x, y)


def shot(ctx, app, artifacts_dir, name: str) -> np.ndarray:
    """Window screenshot, saved for people to look at, and checked against the headless render."""
    from sg3_explorer.visualizer.renderer import render_image

    wait_image_for_request(ctx, app)
    pixels = grab_window(ctx, app)
    Image.fromarray(pixels).save(artifacts_dir / f"gui_analysis_{name}.png")
    assert_shows(pixels, app, render_image(reference_network(app), app.request))
    return pixels


def combo_pick(ctx, widget, combo: str, item: str) -> None:
    """Open one of the panel's combos and click an entry in its popup (which has the focus).

    The test engine's references do not find combos by label, so the panel records where it drew them."""
    x0, y0, x1, y1 = widget.item_rects[combo]
    ctx.mouse_move_to_pos(vec((x0 + x1) / 2, (y0 + y1) / 2))
    ctx.mouse_click(0)
    ctx.item_click(f"**/{item}")


def write_fast_sg3(path):
    """A tiny SG3 net with 1x1 convolutions (the R configuration): the cheapest SG3 to render on a CPU."""
    return save_tiny(path, "SG3-R", seed=1)


def test_equivariance_panel(app_env, artifacts_dir):
    """Translate (typed, dragged fast/slow, rounded, animated, reset), rotate (typed, dragged, animated, reset),
    untransform (warped and difference views) and the metrics (Compute and Live) on a tiny SG3 net."""
    from sg3_explorer.visualizer.renderer import render_image, view_ws
    from stylegan3.metrics.equivariance import eq_metrics_for_latent

    net = write_fast_sg3(app_env / "tiny_sg3.safetensors")
    app = make_app(app_env, [str(net)], ["equivariance"])
    seen = {}

    def drive(ctx):
        assert wait_until(ctx, lambda: app.network is not None, 30)
        wait_image_for_request(ctx, app)
        G = reference_network(app)
        plain = render_image(G, app.request)

        ctx.item_input_value("**/X##xlate", 0.25)
        ctx.item_input_value("**/Y##xlate", -0.125)
        assert app.request.transform.translate == pytest.approx((0.25, -0.125))
        shot(ctx, app, artifacts_dir, "translate")
        # the content moved by (8, -4) pixels: the plain render shifted by that matches away from the border
        shown = app.last_image.astype(np.float32)
        shifted = np.roll(plain, (-4, 8), axis=(0, 1)).astype(np.float32)
        assert np.abs(shown[8:-8, 12:-4] - shifted[8:-8, 12:-4]).mean() < 12
        assert np.abs(shown - plain.astype(np.float32)).mean() > 5

        ctx.item_click("**/Reset##xlate")
        assert app.request.transform.translate == (0.0, 0.0)
        ctx.item_drag_with_delta("**/Drag fast##xlate", vec(30, 0))
        tx, ty = app.request.transform.translate
        assert tx == pytest.approx(0.3, abs=0.05) and abs(ty) < 0.05
        x0 = app.request.transform.translate
        ctx.item_drag_with_delta("**/Drag slow##xlate", vec(40, 20))
        assert app.request.transform.translate[0] - x0[0] == pytest.approx(0.02, abs=0.005)
        assert app.request.transform.translate[1] - x0[1] == pytest.approx(0.01, abs=0.005)
        ctx.item_click("**/Round to whole pixels##xlate")
        ctx.yield_()
        assert all(abs(v * 32 - round(v * 32)) < 1e-9 for v in app.request.transform.translate)
        ctx.item_click("**/Round to whole pixels##xlate")
        ctx.item_click("**/Reset##xlate")
        ctx.item_input_value("**/Speed##xlate", 0.5)
        assert app.widget("equivariance").speed_t == pytest.approx(0.5)
        ctx.item_click("**/Anim##xlate")
        for _ in range(5):
            ctx.yield_()
        ctx.item_click("**/Anim##xlate")
        assert app.request.transform.translate[0] > 0 and app.request.transform.translate[1] == 0
        ctx.item_click("**/Reset##xlate")

        ctx.item_input_value("**/Rotate (turns)##rot", 0.125)
        assert app.request.transform.rotate == pytest.approx(0.125)
        shot(ctx, app, artifacts_dir, "rotate")
        ctx.item_drag_with_delta("**/Drag##rot", vec(50, 0))
        assert app.request.transform.rotate == pytest.approx(0.175, abs=0.01)
        ctx.item_click("**/Reset##rot")
        assert app.request.transform.rotate == 0.0
        ctx.item_input_value("**/Speed##rot", 0.2)
        assert app.widget("equivariance").speed_r == pytest.approx(0.2)
        ctx.item_click("**/Anim##rot")
        for _ in range(5):
            ctx.yield_()
        ctx.item_click("**/Anim##rot")
        assert app.request.transform.rotate > 0
        ctx.item_click("**/Reset##rot")

        # Untransform: the translated render warped back is close to the plain render.
        ctx.item_input_value("**/X##xlate", 0.1)
        ctx.item_input_value("**/Y##xlate", 0.05)
        ctx.item_click("**/Untransform")
        assert app.request.untransform.enabled
        back = shot(ctx, app, artifacts_dir, "untransform")
        inner = (slice(6, -6), slice(6, -6))
        err_back = np.abs(app.last_image[inner].astype(np.float32) - plain[inner].astype(np.float32)).mean()
        assert err_back < 6, err_back
        ctx.item_click("**/difference##ut")
        assert app.request.untransform.view == "difference"
        ctx.item_input_value("**/Diff gain##ut", 30)
        diff = shot(ctx, app, artifacts_dir, "difference")
        assert app.last_result.extras["residual_psnr"] > 20
        assert mean_abs_diff(diff, back) > 0
        seen["residual"] = app.last_result.extras["residual_psnr"]
        ctx.item_click("**/warped##ut")
        ctx.item_click("**/Untransform")
        ctx.item_click("**/Reset##xlate")

        # Metrics: Compute runs off the GUI thread; the values are the library's for this latent.
        eq = app.widget("equivariance")
        ctx.item_click("**/Compute##eq")
        assert eq.job.busy or eq.metrics is not None
        assert wait_until(ctx, lambda: eq.metrics is not None, 60), eq.job.error
        shot(ctx, app, artifacts_dir, "metrics")
        # the library's value for this latent (all three are checked headless in test_layer_view)
        with torch.no_grad():
            ref = eq_metrics_for_latent(G, view_ws(G, app.request), metrics=["eqt"], rng=[0, 0])["eqt"]
        assert eq.metrics["eqt"] == pytest.approx(ref, rel=1e-6)
        seen["metrics"] = dict(eq.metrics)
        ctx.item_click("**/Live##eq")
        ctx.item_open("**/Latent")
        ctx.item_input_value("**/Seed", 3)
        assert wait_until(ctx, lambda: eq.metrics_key is not None and eq.metrics_key.latent.x == 3.0, 60)
        assert eq.metrics != seen["metrics"]

    run_driven(app, drive)
    assert all(math.isfinite(v) for v in seen["metrics"].values())


def test_sg2_equivariance_disabled_and_layer_table_lists_blocks(app_env, artifacts_dir):
    """SG2: the equivariance panel explains why it is off; the layer table lists each block's convs and ToRGB."""
    from stylegan3.networks.layers import list_layers

    net = save_tiny(app_env / "tiny_sg2.safetensors", kind="sg2", res=32)
    app = make_app(app_env, [str(net)], ["equivariance", "layers"])

    def drive(ctx):
        assert wait_until(ctx, lambda: app.network is not None, 30)
        ctx.yield_()
        assert not ctx.item_exists("**/X##xlate") and not ctx.item_exists("**/Untransform")
        shot(ctx, app, artifacts_dir, "sg2_disabled")
        names = [info.name for info in list_layers(reference_network(app))]
        assert "b16.torgb" in names and "b32.conv1" in names
        assert [info.name for info in app.widget("layers").layers] == names
        ctx.item_close("**/Equivariance")
        ctx.item_click("**/b16.conv1##layer")
        assert app.request.layer.layer == "b16.conv1"
        shot(ctx, app, artifacts_dir, "sg2_layer")
        assert app.last_image.shape == (16, 16, 3)

    run_driven(app, drive)


def test_layers_fft_and_spectra_panels(app_env, artifacts_dir):
    """Pick a layer in the table, channel / RGB, normalize, brightness, statistics, FFT view (range, window),
    then the spectra plots: layer combo, overlay, number of latents, compute with progress, cancel, window."""
    from sg3_explorer.visualizer.renderer import view_ws
    from stylegan3.documents.request import OUTPUT_LAYER, LayerView
    from stylegan3.metrics.spectra import network_spectrum
    from stylegan3.networks.layers import capture_layers
    from stylegan3.render.views import layer_stats

    net = write_fast_sg3(app_env / "tiny_sg3.safetensors")
    app = make_app(app_env, [str(net)], ["layers"])
    seen = {}

    def drive(ctx):
        assert wait_until(ctx, lambda: app.network is not None, 30)
        wait_image_for_request(ctx, app)
        G = reference_network(app)
        ctx.item_click("**/L1_52_16##layer")
        assert app.request.layer.layer == "L1_52_16" and app.request.layer.channel is None
        shot(ctx, app, artifacts_dir, "layer_rgb")
        assert app.last_image.shape == (52, 52, 3)

        ctx.item_click("**/Single##ch")
        assert app.request.layer.channel == 0
        ctx.item_input_value("**/Channel##ch", 5)
        assert app.request.layer.channel == 5
        ctx.item_click("**/Normalize##layer")
        assert app.request.layer.normalize is True
        ctx.item_input_value("**/Brightness##layer", -6)
        assert app.request.layer.gain_db == pytest.approx(-6)
        shot(ctx, app, artifacts_dir, "layer_channel")
        with torch.no_grad():
            _, feats = capture_layers(G, view_ws(G, app.request), ["L1_52_16"], noise_mode="const")
        want = layer_stats(feats["L1_52_16"], 5)
        got = app.last_result.extras["layer_stats"]
        for part in ("all", "selected"):
            for k in ("mean", "std", "max"):
                assert got[part][k] == pytest.approx(want[part][k], rel=1e-4, abs=1e-6), (part, k)
        assert got["selected"]["std"] != pytest.approx(got["all"]["std"])

        ctx.item_click("**/FFT view")
        assert app.request.fft.enabled
        ctx.item_input_value("**/Range##fft", 60)
        assert app.request.fft.range_db == pytest.approx(60)
        ctx.item_click("**/hann##fftwin")
        assert app.request.fft.window == "hann"
        fft = shot(ctx, app, artifacts_dir, "layer_fft")
        assert app.last_image.shape == (260, 260, 3)
        # the marks are drawn: pure green (cutoff), yellow (stopband) and red (Nyquist, dashed: = stopband here)
        img = app.last_image
        for colour in ((0, 255, 0), (255, 255, 0), (255, 0, 0)):
            assert (img == colour).all(axis=2).sum() > 50, colour
        ctx.item_click("**/image##layer")
        assert app.request.layer.layer == OUTPUT_LAYER and app.request.fft.enabled
        shot(ctx, app, artifacts_dir, "output_fft")
        ctx.item_click("**/FFT view")
        assert app.request.layer.layer is None and not app.request.fft.enabled
        ctx.item_click("**/L2_52_8##layer")
        ctx.item_click("**/Reset##layer")
        assert app.request.layer == LayerView()  # no layer, RGB, not normalised, 0 dB
        seen["fft"] = fft.shape

        # Spectra panel
        ctx.item_close("**/Layers & channels")
        ctx.item_open("**/Spectra")
        sp = app.widget("spectra")
        app.request = app.request.edit("layer", layer="L3_32_8")  # as if picked in the table: "Shown" takes it
        ctx.item_click("**/Shown##spec")
        assert sp.layer_a == "L3_32_8"
        app.request = app.request.edit("layer", layer=None)
        combo_pick(ctx, sp, "Layer##specA", "L2_52_8")
        assert sp.layer_a == "L2_52_8"
        ctx.item_click("**/Overlay##spec")
        combo_pick(ctx, sp, "##specB", "L4_32_3")
        assert sp.overlay and sp.layer_b == "L4_32_3"
        ctx.item_input_value("**/Latents##spec", 2)
        assert sp.num_samples == 2
        ctx.item_click("**/Compute##spec")
        assert wait_until(ctx, lambda: not sp.job.busy and sp.curves, 60), sp.job.error
        assert set(sp.curves) == {"L2_52_8", "L4_32_3"}
        for _ in range(3):
            ctx.yield_()
        pixels = grab_window(ctx, app)
        Image.fromarray(pixels).save(artifacts_dir / "gui_analysis_spectra.png")
        ref = network_spectrum(G, "L2_52_8", num_samples=2, seed=app.request.latent.seed,
                               truncation_psi=app.request.truncation.psi, window="kaiser")
        f, db = sp.curves["L2_52_8"]["radial"]
        rf, rp = ref.radial()
        np.testing.assert_allclose(f, rf)
        np.testing.assert_allclose(db, 10 * np.log10(np.maximum(rp / ref.power.max(), 1e-15)), atol=1e-6)
        assert sp.spectra["L2_52_8"].marks == pytest.approx(ref.marks)
        seen["marks"] = ref.marks

        combo_pick(ctx, sp, "Window##spec", "hann")
        assert sp.window == "hann"
        ctx.item_input_value("**/Latents##spec", 200)
        ctx.item_click("**/Compute##spec")
        assert sp.job.busy
        ctx.item_click("**/Cancel##spec")
        assert wait_until(ctx, lambda: not sp.job.busy, 30)
        ctx.yield_()
        assert sp.job.error == "cancelled"

    run_driven(app, drive)
    assert set(seen["marks"]) == {"cutoff", "stopband", "nyquist"}


def test_spectra_paper_mode(app_env, artifacts_dir):
    """Paper mode of the Spectra panel: typed settings, Compute with progress, the heat map on screen equals the
    library's figure pixel for pixel, the slice plot shows the library's 0 / 45 degree curves, Save writes the
    paper's `.npz`, and Cancel stops a long run."""
    from sg3_explorer.widgets.spectra_paper import fit_width
    from stylegan3.metrics.paper_spectrum import load_paper_spectrum, network_paper_spectrum
    from stylegan3.metrics.spectrum_plots import heatmap_figure, slice_curves

    net = write_fast_sg3(app_env / "tiny_sg3.safetensors")
    app = make_app(app_env, [str(net)], ["spectra"], size=(1000, 1000))  # tall: heat map and slices in view
    seen = {}

    def drive(ctx):
        assert wait_until(ctx, lambda: app.network is not None, 30)
        wait_image_for_request(ctx, app)
        G = reference_network(app)
        sp = app.widget("spectra")
        ctx.item_click("**/paper##specmode")
        assert sp.mode == "paper"
        paper = sp.paper
        ctx.item_input_value("**/Mean##paper", 120.0)
        ctx.item_input_value("**/Std##paper", 50.0)
        ctx.item_input_value("**/Images##paper", 4)
        ctx.item_input_value("**/First seed##paper", 2)
        ctx.item_input_value("**/Interp##paper", 2)
        assert paper.params() == dict(samples=4, seed=2, mean=120.0, std=50.0, beta=8.0, interp=2, psi=1.0,
                                      noise_mode="const")
        ctx.item_click("**/Compute##paper")
        assert wait_until(ctx, lambda: not paper.job.busy and paper.result is not None, 60), paper.job.error
        for _ in range(3):
            ctx.yield_()
        pixels = grab_window(ctx, app)
        Image.fromarray(pixels).save(artifacts_dir / "gui_analysis_spectra_paper.png")

        ref = network_paper_spectrum(G, 4, 120.0, 50.0, seed=2, beta=8.0, interp=2)
        np.testing.assert_array_equal(paper.result.spectrum.spectrum, ref.spectrum)
        figure = heatmap_figure(paper.result.spectrum)
        Image.fromarray(figure).save(artifacts_dir / "gui_analysis_spectra_paper_library_heatmap.png")
        x, y, w, h = (int(round(v)) for v in paper.rects["heatmap"])
        shown = pixels[y:y + h, x:x + w]
        expected = fit_width(figure, w)
        assert shown.shape == expected.shape
        assert mean_abs_diff(shown, expected) < 1.0, mean_abs_diff(shown, expected)
        for angle, (f, db) in slice_curves(ref).items():
            np.testing.assert_array_equal(paper.result.slices[angle][0], f)
            np.testing.assert_array_equal(paper.result.slices[angle][1], db)
        # the slice plot is drawn: ImPlot's first two line colours are in its area
        x, y, w, h = (int(round(v)) for v in paper.rects["slices"])
        area = pixels[y:y + h, x:x + w].astype(np.int32)
        for colour in ((76, 114, 176), (221, 132, 82)):
            near = (np.abs(area - np.array(colour)).max(axis=2) < 40).sum()
            assert near > 30, (colour, near)
        seen["slices_area"] = (w, h)

        ctx.item_click("**/Save .npz##paper")
        assert paper.saved is not None and paper.saved.suffix == ".npz"
        back = load_paper_spectrum(paper.saved)
        np.testing.assert_array_equal(back.spectrum, ref.spectrum)
        assert back.image_size == ref.image_size and back.num_images == 4

        ctx.item_input_value("**/Images##paper", 5000)
        ctx.item_click("**/Compute##paper")
        assert paper.job.busy
        ctx.item_click("**/Cancel##paper")
        assert wait_until(ctx, lambda: not paper.job.busy, 30)
        ctx.yield_()
        assert paper.job.error == "cancelled"
        assert paper.result is not None  # the last result stays on screen

    run_driven(app, drive)
    assert seen["slices_area"][0] > 100
