"""The analysis stages without a window: layer view, FFT view with band-limit marks, untransform, and the
background jobs behind the equivariance and spectra panels.

The layer view must be the captured layer tensor mapped exactly as `stylegan3.render.views` documents; the FFT
view must put energy where the signal has it and draw the marks at the right radii; untransforming an SG3
net's translated render must give back its untranslated render.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sg3_explorer.visualizer import renderer
from sg3_explorer.visualizer.jobs import JobSlot
from sg3_explorer.visualizer.network_jobs import equivariance_job, spectra_job
from sg3_explorer.visualizer.renderer import render_image, timed_render, view_ws
from stylegan3.documents.request import (
    OUTPUT_LAYER,
    FFTView,
    Latent,
    LayerView,
    NetworkRef,
    RenderRequest,
    Synthesis,
    Transform,
    Truncation,
    Untransform,
)
from stylegan3.networks.layers import capture_layers, list_layers
from stylegan3.render import pipeline, views
from tests.support.nets import tiny_net


def layer_info(G, name):
    return pipeline.layer_info(renderer.network_info(G), name)


def fast_sg3(seed: int = 1) -> torch.nn.Module:
    """A tiny SG3 net with 1x1 convolutions: the cheapest SG3 to render on a CPU (32x32)."""
    return tiny_net("SG3-R", seed=seed)


@pytest.fixture(scope="module")
def sg3():
    return fast_sg3()


@pytest.fixture(scope="module")
def sg2():
    return tiny_net("sg2", res=32)


def expected_pixels(t: torch.Tensor, channel, normalize=False, gain_db=0.0) -> np.ndarray:
    """The documented mapping, written out independently with NumPy."""
    x = t[0].double().numpy()
    if channel is None:
        x = x[:3]
    else:
        x = x[channel : channel + 1]
    if normalize:
        x = x / np.abs(x).max()
    x = x * 10 ** (gain_db / 20)
    if x.shape[0] == 1:
        x = np.repeat(x, 3, axis=0)
    return np.clip(x * 127.5 + 128, 0, 255).astype(np.uint8).transpose(1, 2, 0)


def captured(G, state, name):
    with torch.no_grad():
        _, feats = capture_layers(G, view_ws(G, state), [name], noise_mode=state.noise.mode)
    return feats[name]


# -- layer view --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["sg3", "sg2"])
def test_layer_view_is_the_captured_tensor_mapped_as_documented(kind, sg3, sg2):
    G = sg3 if kind == "sg3" else sg2
    name = list_layers(G)[2].name  # L1_52_16 / b8.conv0: 16 channels, not the output size
    base = RenderRequest(latent=Latent(3), layer=LayerView(layer=name))
    t = captured(G, base, name)
    assert t.shape[1] == 16 and t.shape[-1] != G.img_resolution or kind == "sg2"
    for state, args in (
        (base, (None,)),
        (base.edit("layer", channel=7), (7,)),
        (base.edit("layer", channel=2, normalize=True, gain_db=-6.0), (2, True, -6.0)),
        (base.edit("layer", gain_db=12.0), (None, False, 12.0)),
    ):
        got = render_image(G, state)
        want = expected_pixels(t, *args)
        assert got.shape == want.shape == (t.shape[2], t.shape[3], 3)
        diff = np.abs(got.astype(int) - want.astype(int))
        assert diff.max() <= 1 and (diff > 0).mean() < 0.01, (args, diff.max())


def test_layer_statistics_all_and_selected_channels(sg3):
    name = "L2_52_8"
    state = RenderRequest(latent=Latent(1), layer=LayerView(layer=name, channel=4))
    t = captured(sg3, state, name).double()
    res = timed_render(sg3, state)
    assert res.error is None
    stats = res.extras["layer_stats"]
    assert stats["all"]["mean"] == pytest.approx(float(t.mean()), rel=1e-6)
    assert stats["all"]["std"] == pytest.approx(float(t.std()), rel=1e-6)
    assert stats["all"]["max"] == pytest.approx(float(t.abs().max()), rel=1e-6)
    assert stats["selected"]["std"] == pytest.approx(float(t[:, 4].std()), rel=1e-6)
    assert stats["selected"]["max"] == pytest.approx(float(t[:, 4].abs().max()), rel=1e-6)
    assert res.extras["layer_shape"] == (8, 52, 52)
    assert "layer" not in res.extras  # the raw tensor does not travel back to the GUI


def test_few_channel_layers_and_bad_requests(sg3):
    rgb = torch.arange(2 * 4 * 4, dtype=torch.float32).reshape(1, 2, 4, 4)
    sel = views.select_channels(rgb, None)
    assert sel.shape == (1, 3, 4, 4) and torch.equal(sel[:, :2], rgb) and sel[:, 2].abs().max() == 0
    assert views.select_channels(rgb[:, :1], None).shape == (1, 1, 4, 4)
    with pytest.raises(ValueError):
        views.select_channels(rgb, 5)
    # a state naming a layer this net does not have (left over from another net): the image, and a message
    plain = render_image(sg3, RenderRequest(latent=Latent(2)))
    res = timed_render(sg3, RenderRequest(latent=Latent(2), layer=LayerView(layer="b64.conv0")))
    assert np.array_equal(res.image, plain) and "b64.conv0" in res.extras["layer_error"]
    res = timed_render(sg3, RenderRequest(latent=Latent(2), layer=LayerView(layer="L1_52_16", channel=99)))
    assert "out of range" in res.extras["layer_error"] and res.image.shape == (52, 52, 3)
    # no layer chosen: the stage leaves the image alone even with fft / untransform off-axis settings
    assert np.array_equal(render_image(sg3, RenderRequest(latent=Latent(2), fft=FFTView(enabled=True))), plain)


# -- FFT view ----------------------------------------------------------------------------------------------------

def test_fft_of_a_sinusoid_peaks_at_its_frequency():
    n, rate = 36, 16.0
    k = 5  # bins: frequency k * rate / n cycles per unit
    f0 = k * rate / n
    x = torch.arange(n, dtype=torch.float64) / rate
    img = torch.cos(2 * math.pi * f0 * x)[None, :].expand(n, n)[None, None].float()
    db, freqs = views.spectrum_db(img, rate, "kaiser")
    c = n // 2
    assert freqs[c] == 0 and freqs[c + k] == pytest.approx(f0)
    peak = np.unravel_index(np.argmax(db), db.shape)
    assert peak in ((c, c + k), (c, c - k))
    assert db[c, c + k] == pytest.approx(0, abs=0.5) and db[c + 9, c + 9] < -60
    # the FFT image: white at the peak, black far from it (range 80 dB), enlarged to >= 256 px
    view = views.fft_image(img, rate, {}, "kaiser", 80.0)
    scale = math.ceil(256 / n)
    assert view.shape == (1, 3, n * scale, n * scale)
    pix = ((view[0, 0] + 1) / 2).numpy()
    assert pix[c * scale + scale // 2, (c + k) * scale + scale // 2] == pytest.approx(1.0, abs=0.02)
    assert pix[(c + 9) * scale, (c + 9) * scale] < 0.3
    # the dB range maps linearly: at 40 dB the same spectrum clips more of it to black
    narrow = ((views.fft_image(img, rate, {}, "kaiser", 40.0)[0, 0] + 1) / 2).numpy()
    assert (narrow == 0).mean() > (pix == 0).mean()


def test_fft_marks_are_circles_at_the_band_limits():
    n, rate = 36, 16.0
    img = torch.randn(1, 3, n, n, generator=torch.Generator().manual_seed(0))
    marks = {"cutoff": 2.0, "stopband": 5.0, "nyquist": 8.0}
    view = views.fft_image(img, rate, marks)[0].numpy()
    scale = math.ceil(256 / n)
    size = n * scale
    centre = (n // 2 + 0.5) * scale
    yy, xx = np.mgrid[0:size, 0:size] + 0.5 - centre
    r = np.hypot(xx, yy)
    for name, colour in views.MARK_COLOURS.items():
        hit = np.all(np.stack([np.isclose(view[ch], colour[ch]) for ch in range(3)]), axis=0)
        radius = marks[name] * n / rate * scale
        assert hit.sum() > 2 * math.pi * radius * 0.8, name  # a whole ring
        assert np.abs(r[hit] - radius).max() < 0.8, name
    # the Nyquist circle touches the spectrum's edge: rate / 2 is the highest frequency the grid holds
    assert 8.0 * n / rate * scale == pytest.approx(size / 2)
    # coinciding marks (stopband = Nyquist): the later one is dashed over the first, both colours show
    view = views.fft_image(img, rate, {"stopband": 8.0, "nyquist": 8.0})[0].numpy()
    counts = [np.all(np.stack([np.isclose(view[ch], c[ch]) for ch in range(3)]), axis=0).sum()
              for c in (views.MARK_COLOURS["stopband"], views.MARK_COLOURS["nyquist"])]
    assert min(counts) > 0.3 * sum(counts), counts


def test_fft_view_of_the_fourier_input_has_its_energy_inside_the_cutoff(sg3):
    """The SG3 input layer is a bank of sinusoids with |f| <= bandwidth: its power lies inside the cutoff."""
    state = RenderRequest(latent=Latent(0), layer=LayerView(layer="input"))
    t = captured(sg3, state, "input")
    info = layer_info(sg3, "input")
    db, freqs = views.spectrum_db(t, info.sampling_rate, "kaiser")
    power = 10 ** (db / 10)
    r = np.hypot(freqs[None, :], freqs[:, None])
    step = freqs[1] - freqs[0]
    inside = power[r <= info.cutoff + 3 * step].sum() / power.sum()
    assert inside > 0.99, inside
    # and the app shows exactly that picture with the cutoff ring drawn on it
    shown = render_image(sg3, state.edit("fft", enabled=True))
    want = views.fft_image(t, info.sampling_rate, views.layer_marks(info))
    assert np.array_equal(shown, renderer.to_uint8_hwc(want).numpy())
    assert (shown == (0, 255, 0)).all(axis=2).sum() > 50


def test_layer_info_and_marks(sg3, sg2):
    out = layer_info(sg3, OUTPUT_LAYER)
    last = list_layers(sg3)[-1]
    assert (out.width, out.sampling_rate, out.cutoff, out.stopband) == (32, 32.0, last.cutoff, last.stopband)
    assert views.layer_marks(layer_info(sg3, "L0_36_16")) == {"cutoff": 2.0, "stopband": 8.0,
                                                                       "nyquist": 8.0}
    assert views.layer_marks(layer_info(sg2, "b16.conv1")) == {"nyquist": 8.0}
    assert layer_info(sg2, "nope") is None
    # FFT of the generated image itself (pseudo layer "output")
    img = render_image(sg2, RenderRequest(latent=Latent(1), layer=LayerView(OUTPUT_LAYER), fft=FFTView(True)))
    assert img.shape == (256, 256, 3)


# -- untransform -------------------------------------------------------------------------------------------------

def _psnr_uint8(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean(((a.astype(np.float64) - b.astype(np.float64)) / 127.5) ** 2)
    return math.inf if mse == 0 else 20 * math.log10(2) - 10 * math.log10(mse)


@pytest.mark.fixtures
def test_untransform_brings_a_translated_sg3_render_back(fixtures_dir):
    """NVIDIA-made SG3-T (64x64): translated by (6.4, 3.2) px and warped back, it is the plain render."""
    import stylegan3

    G = stylegan3.load_network(str(fixtures_dir / "sg3t.pkl"), device="cpu")
    plain_state = RenderRequest(latent=Latent(0), synthesis=Synthesis(force_fp32=True))
    moved = plain_state.edit("transform", translate=(0.1, 0.05)).edit("untransform", enabled=True)
    from stylegan3.render.inputs import input_transform

    info, req = renderer.network_info(G), moved
    ws = view_ws(G, plain_state)
    with torch.no_grad():
        plain = pipeline.synthesize(G, req, info, ws, None)
        trans = pipeline.synthesize(G, req, info, ws, input_transform(req))
        frame = pipeline.Frame(req, info, ws, trans, lambda t: pipeline.synthesize(G, req, info, ws, t))
        pipeline.untransform_stage(frame)  # the stage's "warped" view
    back = frame.image
    inner = (slice(None), slice(None), slice(12, -12), slice(12, -12))  # beyond the kernel's border band
    err_back = float((back - plain)[inner].abs().mean())
    err_moved = float((trans - plain)[inner].abs().mean())
    assert err_back < err_moved / 50, (err_back, err_moved)
    assert views.residual_psnr(back[inner], plain[inner], torch.ones_like(plain[inner])) > 60


def test_untransform_stage_on_a_tiny_sg3(sg3):
    plain_state = RenderRequest(latent=Latent(4))
    plain = render_image(sg3, plain_state)
    moved = plain_state.edit("transform", translate=(0.0625, -0.03125))  # (2, -1) px: shift + kernel reach < 8 px
    raw = render_image(sg3, moved)
    back = render_image(sg3, moved.edit("untransform", enabled=True))
    inner = (slice(8, -8), slice(8, -8))
    assert _psnr_uint8(back[inner], plain[inner]) > _psnr_uint8(raw[inner], plain[inner]) + 10
    # rotation (45 degrees) too: the band-limited warp turns the content back
    turned = plain_state.edit("transform", rotate=0.125)
    raw, back = render_image(sg3, turned), render_image(sg3, turned.edit("untransform", enabled=True))
    inner = (slice(9, -9), slice(9, -9))
    assert _psnr_uint8(back[inner], plain[inner]) > _psnr_uint8(raw[inner], plain[inner]) + 20
    # difference view: residual PSNR reported, the picture is mostly mid-grey (128 = no difference)
    res = timed_render(sg3, moved.edit("untransform", enabled=True, view="difference", diff_gain_db=0.0))
    assert res.extras["residual_psnr"] > 25
    assert np.abs(res.image.astype(int) - 128).mean() < 4
    # untransform without a transform is the plain image; SG2 has no input transform: untouched
    assert np.abs(render_image(sg3, plain_state.edit("untransform", enabled=True)).astype(int) - plain).max() <= 1


def test_untransform_is_a_no_op_for_sg2(sg2):
    s = RenderRequest(latent=Latent(1), transform=Transform((0.1, 0.0)), untransform=Untransform(True))
    assert np.array_equal(render_image(sg2, s), render_image(sg2, RenderRequest(latent=Latent(1))))


# -- background jobs ---------------------------------------------------------------------------------------------

def test_job_slot_progress_result_error_and_cancel():
    job = JobSlot()
    assert job.poll() == (False, None)

    def work(progress):
        for i in range(3):
            progress(i + 1, 3)
        return "done"

    assert job.start(work, "w") and job.wait(10)
    assert job.poll() == (True, "done") and job.fraction == 1.0 and job.poll() == (False, None)

    def boom(progress):
        raise RuntimeError("bad layer")

    job.start(boom)
    job.wait(10)
    assert job.poll() == (False, None) and job.error == "RuntimeError: bad layer"

    import threading

    gate = threading.Event()

    def slow(progress):
        gate.wait(10)
        progress(1, 2)
        return "never"

    assert job.start(slow)
    assert not job.start(work)  # one at a time
    job.cancel()
    gate.set()
    job.wait(10)
    assert job.poll() == (False, None) and job.error == "cancelled"


def _backend(G):
    """A thread backend whose only network is `G` (whatever the request names)."""
    from stylegan3.service.thread_backend import ThreadBackend

    return ThreadBackend("cpu", loader=lambda ref, device: G)


def test_equivariance_job_asks_the_library_about_the_states_latent(sg3, monkeypatch):
    """The job passes the state's ws to the library on the backend's own network (no copy), one metric and
    seeded draw each.

    (The values themselves are the library's business, tested in test_analysis_equivariance; the GUI test
    runs one real job and compares its EQ-T with the library's.)"""
    import stylegan3.metrics.equivariance as eqmod

    calls = []

    def fake(G, ws, metrics, rng, **kw):
        calls.append((G, ws.clone(), tuple(metrics), tuple(rng), kw))
        return {metrics[0]: 10.0 * len(calls)}

    monkeypatch.setattr(eqmod, "eq_metrics_for_latent", fake)
    state = RenderRequest(latent=Latent(2), truncation=Truncation(0.7), transform=Transform(translate=(0.3, 0.0)))
    seen = []
    with _backend(sg3) as backend:
        out = equivariance_job(state.replace(network=NetworkRef("sg3"))).run(backend, lambda d, t: seen.append((d, t)))
    assert out == {"eqt": 10.0, "eqt_frac": 20.0, "eqr": 30.0}
    assert seen[0] == (0, 4) and seen[-1] == (4, 4)
    assert [c[2] for c in calls] == [("eqt",), ("eqt_frac",), ("eqr",)]
    assert [c[3] for c in calls] == [(0, 0), (0, 1), (0, 2)]
    assert all(c[0] is sg3 and c[4]["noise_mode"] == "const" for c in calls)
    torch.testing.assert_close(calls[0][1], view_ws(sg3, state))


def test_spectra_job_matches_the_library_and_reports_progress(sg3):
    from stylegan3.metrics.spectra import network_spectrum

    seen = []
    with _backend(sg3) as backend:
        job = spectra_job(RenderRequest(network=NetworkRef("sg3")), ["L2_52_8", "output"], 1, seed=5, psi=1.0)
        out = job.run(backend, lambda d, t: seen.append((d, t)))
    assert seen[-1] == (2, 2)
    ref = network_spectrum(sg3, "L2_52_8", num_samples=1, seed=5)
    np.testing.assert_allclose(out["L2_52_8"].power, ref.power)
    assert out["output"].power.shape == (32, 32) and out["output"].marks["nyquist"] == 16.0


# -- panels' pure helpers ----------------------------------------------------------------------------------------

def test_panel_helpers():
    pytest.importorskip("imgui_bundle")
    from sg3_explorer.widgets.equivariance import round_to_pixels
    from sg3_explorer.widgets.layers import fft_toggle
    from sg3_explorer.widgets.spectra import plot_curves

    assert round_to_pixels((0.26, -0.01), 32) == (0.25, 0.0)
    assert fft_toggle(None, True) == OUTPUT_LAYER and fft_toggle(OUTPUT_LAYER, False) is None
    assert fft_toggle("L1", True) == "L1" and fft_toggle("L1", False) == "L1"
    from stylegan3.metrics.spectra import Spectrum, spectrum_frequencies

    power = np.ones((8, 8))
    power[4, 4] = 10.0
    curves = plot_curves({"a": Spectrum(power, spectrum_frequencies(8, 8.0), 8.0)})["a"]
    f, db = curves["radial"]
    assert f[0] == 0 and db[0] == pytest.approx(0) and db[1] == pytest.approx(-10)
    assert set(curves) == {"radial", "slice0", "slice45"}


def test_cancel_drops_a_finished_but_unpolled_result():
    """After a network switch the panel cancels: an old result must not show up as the new network's."""
    job = JobSlot()
    job.start(lambda progress: 42, "x")
    job.wait(10)
    job.cancel()
    assert job.poll() == (False, None)
