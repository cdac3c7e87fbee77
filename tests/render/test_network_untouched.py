"""The network a backend holds is never modified by a render, a layer capture, a cancel or an analysis.

Cancel and layer capture are arguments of synthesis (like the transform), not hooks put on the shared module,
so a render thread, comparison panes and analysis jobs may share one module with no private copy and no lock,
and a captured layer can come out of a CUDA graph. Checked two ways: the version counter of every parameter and
buffer (bumped by any in-place write) is the same before and after, and no module has a hook of its own at any
moment of the work (seen by a process-wide forward pre-hook, a test instrument that is not on the module).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import torch

from stylegan3.analyses import ANALYSES, EqParams, NoParams, RecordParams, SpectraParams, StickingParams, run
from stylegan3.analyses.spectra import PaperSpectrumParams
from stylegan3.documents.request import FFTView, Latent, LayerView, RenderRequest, Transform, Untransform
from stylegan3.networks.info import describe
from stylegan3.networks.layers import capture_layers
from stylegan3.render.pipeline import render_request
from tests.support.nets import KINDS, tiny_net


def versions(G: torch.nn.Module) -> dict[str, int]:
    """The version counter of every parameter and buffer: any in-place write bumps it."""
    out = {f"p:{n}": t._version for n, t in G.named_parameters()}
    out.update({f"b:{n}": t._version for n, t in G.named_buffers()})
    return out


def hook_keys(G: torch.nn.Module) -> dict[str, tuple]:
    return {name: (tuple(m._forward_pre_hooks), tuple(m._forward_hooks)) for name, m in G.named_modules()}


@contextlib.contextmanager
def watched(G: torch.nn.Module) -> Iterator[list[str]]:
    """Yields the list of modules of `G` that were called while carrying hooks of their own; on exit asserts
    that G's parameters, buffers and hook dicts are as they were."""
    names = {id(m): n for n, m in G.named_modules()}
    hooked: list[str] = []

    def spy(module: torch.nn.Module, _inputs) -> None:
        if id(module) in names and (module._forward_pre_hooks or module._forward_hooks):
            hooked.append(names[id(module)])

    before_v, before_h = versions(G), hook_keys(G)
    handle = torch.nn.modules.module.register_module_forward_pre_hook(spy)
    try:
        yield hooked
    finally:
        handle.remove()
    assert versions(G) == before_v, "a parameter or buffer was written"
    assert hook_keys(G) == before_h, "hooks were left on the network"


def _layer(G: torch.nn.Module, i: int = 2) -> str:
    return describe(G, "t").layers[i].name


@pytest.mark.parametrize("kind", KINDS)
def test_render_with_layer_capture_and_cancel_check_leaves_the_network_alone(kind):
    G = tiny_net(kind, res=16)
    info = describe(G, kind)
    calls = []
    request = RenderRequest(layer=LayerView(layer=_layer(G)))
    if info.capabilities.input_transform:
        request = request.replace(transform=Transform((0.1, 0.05), 0.02),
                                  untransform=Untransform(enabled=False))
    with watched(G) as hooked:
        out = render_request(G, request, info, should_stop=lambda: calls.append(1) or False)
        fft = render_request(G, request.replace(fft=FFTView(enabled=True)), info, should_stop=lambda: False)
    assert out.error is None and fft.error is None and not out.cancelled
    assert hooked == []
    # asked once before the mapping and once per synthesis layer (SG3: input and layers) or block (SG2)
    per_synthesis = len(G.synthesis.layer_names) + (1 if kind != "SG2" else 0)
    assert len(calls) == 1 + per_synthesis
    # the layer shown is the one a capture returns
    assert out.stats.layer_shape is not None


@pytest.mark.parametrize("kind", KINDS)
def test_cancelled_render_returns_cancelled_and_leaves_the_network_alone(kind):
    G = tiny_net(kind, res=16)
    info = describe(G, kind)
    calls = []

    def stop_at_fourth() -> bool:
        calls.append(1)
        return len(calls) >= 4

    with watched(G) as hooked:
        out = render_request(G, RenderRequest(layer=LayerView(layer=_layer(G, 1))), info, should_stop=stop_at_fourth)
    assert out.cancelled and out.image is None and out.error is None
    assert len(calls) == 4  # stopped at the first check that said so
    assert hooked == []
    # the next render of the same module is unaffected
    again = render_request(G, RenderRequest(), info)
    assert again.error is None and not again.cancelled
    assert torch.equal(torch.from_numpy(again.image), torch.from_numpy(render_request(G, RenderRequest(), info).image))


@pytest.mark.parametrize("kind", KINDS)
def test_capture_layers_leaves_the_network_alone(kind):
    G = tiny_net(kind, res=16)
    ws = G.mapping(torch.randn(1, G.z_dim), None)
    with watched(G) as hooked, torch.no_grad():
        img, layers = capture_layers(G, ws, noise_mode="const")
    assert hooked == []
    assert set(layers) == set(describe(G, kind).layer_names)
    assert torch.equal(img, G.synthesis(ws, noise_mode="const"))


def test_trace_leaves_the_network_alone():
    import numpy as np

    from stylegan3.metrics.trace import record_trace

    G = tiny_net("SG3-T", res=16)
    ws = G.mapping(torch.randn(3, G.z_dim), None)
    with watched(G) as hooked:
        trace = record_trace(G, ws, transforms=np.array([[0.0, 0.0, 0.0], [0.1, 0.0, 0.0], [0.2, 0.0, 0.01]]),
                             batch_size=2)
    assert hooked == [] and trace.shape == (3, 3, 16)


def _small_params(G: torch.nn.Module) -> dict[str, object]:
    return {
        "eq_metrics": EqParams(seed=1),
        "spectra": SpectraParams(layers=("output", _layer(G)), samples=2),
        "paper_spectrum": PaperSpectrumParams(samples=2, interp=1, noise_mode="random"),
        "sticking": StickingParams(samples=2, batch_size=2),
        "record": RecordParams(frames=2, count=2, format="raw"),
        "fingerprint": NoParams(),
        **_timeline_params(G),
        **_exploration_params(G),
    }


def _timeline_params(G: torch.nn.Module) -> dict[str, object]:
    from stylegan3.analyses.timeline import TimelineFramesParams, TimelineParams
    from stylegan3.analyses.trace import TraceParams
    from stylegan3.analyses.walk import WalkParams
    from stylegan3.documents.timeline import Keyframe, Timeline

    doc = Timeline(keyframes=[Keyframe.of_seed(3, duration=0.25), Keyframe.of_seed(4, duration=0.25)],
                   fps=8.0).to_dict()
    return {
        "timeline_keys": TimelineParams(timeline=doc),
        "timeline_frames": TimelineFramesParams(timeline=doc, count=2, format="raw"),
        "trace": TraceParams(frames=2),
        "video_walk": WalkParams(frames_per_seed=1, count=2, batch_size=2),
    }


def _exploration_params(G: torch.nn.Module) -> dict[str, object]:
    from stylegan3.analyses import directions, drag, equivariance, latents, project

    return {
        "ws": latents.WsParams(),
        "pca": directions.PcaParams(samples=20, components=3),
        "seed_set_direction": directions.SeedSetParams(seeds_a=(1,), seeds_b=(2, 3)),
        "user_direction": directions.UserDirectionParams(to=RenderRequest(latent=Latent(5.0))),
        "project": project.ProjectParams(steps=2, loss="offline", init_samples=10),
        "equivariance_terms": equivariance.TermsParams(count=1),
        "drag": drag.DragParams(points=((5.0, 8.0, 9.0, 8.0),), steps=2),
    }


def _attachment(name: str, G: torch.nn.Module) -> bytes | None:
    """The bytes an analysis takes beside its params: a projection's target (any image of the right size), a
    drag's mask (the left half may change)."""
    import numpy as np

    from stylegan3.analyses.drag import encode_mask
    from stylegan3.analyses.project import encode_target

    if not ANALYSES[name].attachment:
        return None
    res, channels = int(G.img_resolution), int(G.img_channels)
    if name == "drag":
        return encode_mask(np.arange(res)[None].repeat(res, 0) < res // 2, res)
    return encode_target(np.random.default_rng(0).integers(0, 256, (res, res, 3), dtype=np.uint8), res, channels)


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_every_analysis_leaves_the_network_alone(kind):
    G = tiny_net(kind, res=16)
    info = describe(G, kind)
    params = _small_params(G)
    assert set(params) == set(ANALYSES), "a new analysis: give it small params here"
    request = RenderRequest(layer=LayerView(layer=_layer(G)))
    for name, p in params.items():
        if name in ("eq_metrics", "equivariance_terms") and not info.capabilities.input_transform:
            continue
        progress_seen = []
        with watched(G) as hooked:
            result = run(name, G, request, info, lambda d, t, seen=progress_seen: seen.append((d, t)), params=p,
                         attachment=_attachment(name, G))
        assert hooked == [], name
        assert result and progress_seen, name
