"""CUDA-graph replay of synthesis (stylegan3.render.graphs).

On the CPU: the fallback rules, and the property that makes capture possible at all: synthesis never
touches host memory once the network is on a device. That is checked by running the networks on the
`meta` device under a dispatch mode that records every CPU tensor an op receives or makes (a host
tensor created in `forward` would become a host->device copy each frame, and a failed capture).
On a GPU (marked gpu): replays equal eager synthesis and follow new ws and input transforms.
"""

from __future__ import annotations

import gc

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from stylegan3.networks.cancel import RenderCancelled
from stylegan3.networks.configs import build_config_net
from stylegan3.networks.transform import set_input_transform
from stylegan3.render import graphs
from tests.support.nets import tiny_net

NETS = ("SG3-T", "SG3-R", "SG2")


class HostTensorSpy(TorchDispatchMode):
    """Records ops that take or return a non-scalar CPU tensor while everything should be on `meta`."""

    def __init__(self) -> None:
        super().__init__()
        self.hits: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        flat_in, _ = tree_flatten((args, kwargs or {}))
        flat_out, _ = tree_flatten(out)
        for t in (*flat_in, *flat_out):
            if isinstance(t, torch.Tensor) and t.device.type == "cpu" and t.dim() > 0:
                self.hits.append(f"{func} {list(t.shape)}")
                break
        return out


def _tiny(net: str) -> torch.nn.Module:
    return tiny_net(net, res=16, official=True)


@pytest.mark.parametrize("net", NETS)
@pytest.mark.parametrize("force_fp32", [False, True])
def test_synthesis_touches_no_host_memory(net, force_fp32):
    G = _tiny(net)
    set_input_transform(G, (0.1, -0.05), 0.03)  # a non-identity transform must not change that
    G = G.to("meta")
    ws = torch.randn(2, G.num_ws, G.w_dim, device="meta")
    modes = ("const", "none") if net == "SG2" else ("const",)
    for noise_mode in modes:
        spy = HostTensorSpy()
        with torch.no_grad(), spy:
            img = G.synthesis(ws, noise_mode=noise_mode, force_fp32=force_fp32)
        assert img.device.type == "meta" and list(img.shape) == [2, 3, 16, 16]
        assert spy.hits == [], f"{net} {noise_mode}: host tensors in synthesis: {spy.hits[:5]}"


def test_spy_catches_a_host_tensor():
    """The check above can fail: a forward that builds a host tensor is reported."""

    class Bad(torch.nn.Module):
        def forward(self, x):
            return x + torch.ones(x.shape[-1]).to(x.device)

    spy = HostTensorSpy()
    with spy:
        Bad()(torch.zeros(2, 3, device="meta"))
    assert any("ones" in h or "_to_copy" in h for h in spy.hits), spy.hits


def test_cpu_runs_eagerly_and_says_why():
    G = _tiny("SG3-T")
    ws = torch.randn(1, G.num_ws, G.w_dim)
    img, reason = graphs.synthesize(G, ws)
    assert reason == "not on CUDA"
    torch.testing.assert_close(img, G.synthesis(ws), rtol=0, atol=0)
    assert graphs.graphs_for(G).captured_keys == []


def test_eager_reasons(monkeypatch):
    G = _tiny("SG2")
    ws = torch.randn(1, G.num_ws, G.w_dim)
    assert graphs.eager_reason(G, ws, "const") == "not on CUDA"
    monkeypatch.setenv(graphs.DISABLE_ENV, "0")
    assert graphs.eager_reason(G, ws, "const") == f"disabled by {graphs.DISABLE_ENV}=0"
    monkeypatch.delenv(graphs.DISABLE_ENV)
    fake_cuda = torch.empty(0)
    monkeypatch.setattr(torch.Tensor, "is_cuda", property(lambda self: True))
    assert graphs.eager_reason(G, fake_cuda, "const") is None
    assert graphs.eager_reason(G, fake_cuda, "random") == "random noise is drawn anew each frame"
    handle = G.synthesis.b4.register_forward_hook(lambda *a: None)
    assert graphs.eager_reason(G, fake_cuda, "const") == "forward hooks on the network (a replay would skip them)"
    handle.remove()
    assert graphs.eager_reason(G, fake_cuda, "const") is None


def test_registry_does_not_keep_networks_alive():
    G = _tiny("SG3-T")
    runner = graphs.graphs_for(G)
    assert graphs.graphs_for(G) is runner
    count = len(graphs._RUNNERS)
    del G
    gc.collect()
    assert len(graphs._RUNNERS) == count - 1
    with pytest.raises(RuntimeError, match="released"):
        _ = runner.G


def test_renderer_reports_eager_on_cpu():
    from sg3_explorer.visualizer.renderer import timed_render
    from stylegan3.documents.request import RenderRequest

    G = _tiny("SG3-T")
    result = timed_render(G, RenderRequest())
    from stylegan3.ops import backend

    assert result.error is None and result.impl == backend.active_impl("cpu") and "+graph" not in result.impl
    assert "graph" not in result.extras  # graphs are only tried on CUDA


# ---------------------------------------------------------------------------------------------------
# On a GPU.


@pytest.mark.gpu
@pytest.mark.parametrize("net", NETS)
@pytest.mark.parametrize("force_fp32", [False, True])
def test_replay_matches_eager_and_follows_inputs(net, force_fp32):
    torch.manual_seed(1)
    G = build_config_net(net, 256, "cuda")
    runner = graphs.SynthesisGraphs(G)
    for step in range(3):
        ws = torch.randn(1, G.num_ws, G.w_dim, device="cuda")
        if net != "SG2":
            set_input_transform(G, (0.05 * step, 0.0), 0.02 * step)
        with torch.no_grad():
            replayed = runner(ws, force_fp32=force_fp32)
            assert runner.last_reason is None, runner.last_reason
            eager = G.synthesis(ws, force_fp32=force_fp32)
        err = float((replayed - eager).abs().max() / eager.abs().max())
        assert err < 1e-5, f"step {step}: replay differs from eager by {err:.2e}"
    assert len(runner.captured_keys) == 1  # one capture, then replays


@pytest.mark.gpu
@pytest.mark.parametrize("net", ["SG3-T", "SG3-R"])
def test_transform_is_a_static_input_like_ws(net):
    """A transform passed as an argument is copied into the graph's static input each replay; the buffer
    stays untouched."""
    from stylegan3.networks.transform import input_transform

    torch.manual_seed(2)
    G = build_config_net(net, 256, "cuda")
    version = G.synthesis.input.transform._version
    runner = graphs.SynthesisGraphs(G)
    for step in range(3):
        ws = torch.randn(1, G.num_ws, G.w_dim, device="cuda")
        t = input_transform((0.05 * step, -0.02), 0.03 * step)
        with torch.no_grad():
            replayed = runner(ws, transform=t)
            assert runner.last_reason is None, runner.last_reason
            eager = G.synthesis(ws, transform=torch.from_numpy(t).float().cuda())
        err = float((replayed - eager).abs().max() / eager.abs().max())
        assert err < 1e-5, f"step {step}: replay differs from eager by {err:.2e}"
    assert len(runner.captured_keys) == 1
    assert G.synthesis.input.transform._version == version


def test_capture_and_cancel_on_the_cpu_run_eagerly_and_equal_synthesis():
    G = _tiny("SG2")
    ws = torch.randn(1, G.num_ws, G.w_dim)
    with torch.no_grad():
        (img, layers), reason = graphs.synthesize(G, ws, capture=["b8.conv0"])
        eager_img, eager_layers = G.synthesis(ws, capture=["b8.conv0"])
    assert reason == "not on CUDA" and list(layers) == ["b8.conv0"]
    assert torch.equal(img, eager_img) and torch.equal(layers["b8.conv0"], eager_layers["b8.conv0"])
    with pytest.raises(RenderCancelled):
        graphs.synthesize(G, ws, should_stop=lambda: True)


def test_transform_argument_on_the_cpu_runs_eagerly_and_equals_synthesis():
    from stylegan3.networks.transform import input_transform

    G = tiny_net("SG3-T", res=16, official=True)
    ws = torch.randn(1, G.num_ws, G.w_dim)
    t = input_transform((0.1, 0.0), 0.05)
    img, reason = graphs.synthesize(G, ws, transform=t)
    assert reason == "not on CUDA"
    assert torch.equal(img, G.synthesis(ws, transform=torch.from_numpy(t).float()))


@pytest.mark.gpu
def test_capture_under_inference_mode_then_replay_under_no_grad():
    G = tiny_net("SG3-T", res=16, official=True).cuda()
    runner = graphs.SynthesisGraphs(G)
    ws = torch.randn(1, G.num_ws, G.w_dim, device="cuda")
    with torch.inference_mode():
        first = runner(ws)
    with torch.no_grad():
        second = runner(ws * 1.0)
    assert runner.last_reason is None
    torch.testing.assert_close(first, second, rtol=0, atol=0)


@pytest.mark.gpu
@pytest.mark.parametrize("net", NETS)
def test_captured_layers_are_replayed_from_the_graph_and_equal_eager(net):
    """Layer capture is an argument of synthesis, so the captured layers are static outputs of the graph: a
    layer view replays instead of running eagerly, one graph per capture list, sharing one memory pool."""
    torch.manual_seed(3)
    G = build_config_net(net, 256, "cuda")
    from stylegan3.networks.layers import list_layers

    layers = list_layers(G)
    names = [layers[3].name, layers[-1].name]
    runner = graphs.SynthesisGraphs(G)
    for step in range(3):
        ws = torch.randn(1, G.num_ws, G.w_dim, device="cuda")
        with torch.no_grad():
            for capture in (names[:1], names, None):  # three graphs, replayed in turn from one pool
                replayed = runner(ws, force_fp32=True, capture=capture)
                assert runner.last_reason is None, runner.last_reason
                eager = G.synthesis(ws, force_fp32=True, capture=capture)
                if capture is None:
                    replayed, eager = (replayed, {}), (eager, {})
                assert list(replayed[1]) == list(eager[1]) == list(capture or [])
                for a, b in [(replayed[0], eager[0]), *((replayed[1][n], eager[1][n]) for n in capture or [])]:
                    err = float((a.float() - b.float()).abs().max() / b.float().abs().max().clamp(min=1e-12))
                    assert err < 1e-5, f"step {step} {capture}: replay differs from eager by {err:.2e}"
    assert len(runner.captured_keys) == 3


@pytest.mark.gpu
def test_cancel_on_gpu_is_asked_before_a_replay():
    G = tiny_net("SG3-T", res=16, official=True).cuda()
    ws = torch.randn(1, G.num_ws, G.w_dim, device="cuda")
    runner = graphs.SynthesisGraphs(G)
    with torch.no_grad():
        runner(ws)  # captured
        calls = []
        runner(ws, should_stop=lambda: calls.append(1) or False)
        assert runner.last_reason is None and calls == [1]
        with pytest.raises(RenderCancelled):
            runner(ws, should_stop=lambda: True)


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["sg3-t", "sg3-r", "sg2"])
def test_app_render_on_gpu_uses_graphs_and_matches_cpu(kind):
    """The app's render path on a GPU (kernels + graph replay, force_fp32) shows the CPU's image."""
    import numpy as np

    from sg3_explorer.visualizer.renderer import render_image, timed_render
    from stylegan3.documents.request import Latent, RenderRequest, Synthesis, Transform, Truncation
    from stylegan3.loading.demo import demo_network

    state = RenderRequest(latent=Latent(3.0), truncation=Truncation(0.7), transform=Transform((0.05, -0.02), 0.01),
                          synthesis=Synthesis(force_fp32=True))
    cpu = render_image(demo_network(kind, "cpu"), state)
    G = demo_network(kind, "cuda")
    old = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False  # compare float32 with float32
    try:
        first = timed_render(G, state)
        second = timed_render(G, state.edit("latent", x=4.0))
        again = timed_render(G, state)
    finally:
        torch.backends.cudnn.allow_tf32 = old
    for r in (first, second, again):
        assert r.error is None and r.impl.endswith("+graph"), (r.impl, r.error, r.extras.get("graph_reason"))
    assert np.abs(again.image.astype(int) - cpu.astype(int)).max() <= 2
    assert np.abs(second.image.astype(int) - cpu.astype(int)).mean() > 1  # another seed: another image
