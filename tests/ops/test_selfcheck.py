"""The self-check: a wrong kernel is found and switched off with its reason; a bad graph replay means eager.

The kernels under test are the extension's own code served by the host harness on CPU tensors
(tests/support/host_kernels.py), checked exactly as the CUDA kernels are on a GPU: through `selfcheck.ensure`
with an explicit kernels module, identity and cache folder.
"""

from __future__ import annotations

import io
import json

import pytest
import torch

from stylegan3.ops import backend, bias_act, selfcheck
from stylegan3.render import graphs
from tests.support.host_kernels import CXX, HostKernels, build_harness
from tests.support.nets import tiny_net

needs_cxx = pytest.mark.skipif(CXX is None, reason="no C++ compiler to build the host harness")
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def harness_lib(tmp_path_factory):
    if CXX is None:
        pytest.skip("no C++ compiler")
    return build_harness(tmp_path_factory.mktemp("selfcheck"))


pytestmark = pytest.mark.usefixtures("clean_selfcheck_state")


class ShiftedFilteredLrelu(HostKernels):
    """The kernels with one deliberate bug: filtered_lrelu reads its input one pixel to the left."""

    def filtered_lrelu(self, x, fu, fd, b, up, down, padx0, padx1, pady0, pady1, gain, slope, clamp):
        return super().filtered_lrelu(x, fu, fd, b, up, down, padx0 + 1, padx1 - 1, pady0, pady1, gain, slope, clamp)


class WrongFilteredLreluGradient(HostKernels):
    """The kernels with a bug in the backward only: the nonlinearity's gradient factor is 1.5x too large."""

    def filtered_lrelu_act_grad(self, da, code, gain, slope):
        return super().filtered_lrelu_act_grad(da, code, gain * 1.5, slope)


def _net(kind: str = "SG3-T") -> torch.nn.Module:
    return tiny_net(kind, res=32, official=True)


def _serve_everywhere(monkeypatch, kernels) -> None:
    """As on a GPU: the dispatch's automatic choice hands every float CPU tensor to `kernels`."""
    monkeypatch.setattr(backend, "cuda_kernels_for", lambda x: kernels if x.dtype in (torch.float16, torch.float32)
                        else None)


def _frames(G):
    ws = torch.randn(1, G.num_ws, G.w_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        got = G.synthesis(ws, noise_mode="const")
        backend.force_impl("ref")
        try:
            want = G.synthesis(ws, noise_mode="const")
        finally:
            backend.force_impl(None)
    return got, want


@pytest.mark.slow  # about 10 s of CPU: the harness runs each kernel block on one thread
@needs_cxx
def test_correct_kernels_pass_on_the_networks_own_calls(harness_lib, tmp_path):
    G = _net("SG3-T")
    out = io.StringIO()
    v = selfcheck.ensure(G, CPU, kernels=HostKernels(harness_lib), identity={"device": "host"}, folder=tmp_path,
                         replay=lambda G, ws, fp32: G.synthesis(ws, noise_mode="const", force_fp32=fp32), stream=out)
    assert v.off == {} and backend.disabled(CPU) == {}
    # Every op met: both precisions and several shapes per distinct call of the network.
    assert v.ops["filtered_lrelu"]["cases"] >= 30 and v.ops["bias_act"]["cases"] >= 6, v.ops
    assert v.ops["upfirdn2d"]["cases"] == 0  # StyleGAN3 makes no upfirdn2d call (SG2 does, below)
    for op in ("filtered_lrelu", "bias_act"):  # the backward too, on the same calls
        assert v.ops[f"{op}:backward"]["cases"] >= 3 and v.ops[f"{op}:backward"]["worst"]["fp32"] < 1e-5, v.ops
    for op in ("filtered_lrelu", "bias_act"):
        assert v.ops[op]["worst"]["fp32"] < 1e-5 and 0 < v.ops[op]["worst"]["fp16"] < 1e-2, v.ops
    assert v.frame["fp32"] < 1e-5 and v.graphs.startswith("agree")
    text = out.getvalue()
    assert "bias_act, filtered_lrelu agree with the reference; upfirdn2d not used by this network" in text
    assert "gradients of bias_act, filtered_lrelu agree" in text
    assert "saved in" in text and (tmp_path / selfcheck.FILE_NAME).is_file()


@pytest.mark.slow  # about 12 s of CPU; the proof that a wrong kernel never renders
@needs_cxx
def test_wrong_kernel_is_switched_off_with_its_reason(harness_lib, tmp_path, monkeypatch):
    G = _net("SG3-T")
    wrong = ShiftedFilteredLrelu(harness_lib)
    _serve_everywhere(monkeypatch, wrong)
    got, want = _frames(G)
    assert float((got - want).abs().max()) > 1e-2  # the bug shows in the picture before the check

    out = io.StringIO()
    v = selfcheck.ensure(G, CPU, kernels=wrong, identity={"device": "host"}, folder=tmp_path, stream=out)
    reason = v.off["filtered_lrelu"]
    assert reason.startswith("filtered_lrelu differs from the reference by") and "pad [" in reason
    assert set(v.off) == {"filtered_lrelu"}  # the other ops agreed and stay on
    assert backend.disabled(CPU) == {"filtered_lrelu": reason}
    assert "filtered_lrelu switched off on host: filtered_lrelu differs" in out.getvalue()
    assert any("filtered_lrelu switched off" in line for line in selfcheck.status_lines(CPU))

    calls = dict(wrong.calls)
    got, want = _frames(G)
    assert float((got - want).abs().max()) < 1e-5  # now right, through the reference for that op only
    assert wrong.calls["filtered_lrelu"] == calls["filtered_lrelu"]
    with torch.no_grad():
        bias_act(torch.randn(2, 5), torch.randn(5), act="lrelu")
    assert wrong.calls["bias_act"] == calls["bias_act"] + 1  # the ops that agreed still run on the kernels

    # Cached with the build: a new process (reset) reads the verdict instead of checking again...
    selfcheck.reset()
    assert backend.disabled(CPU) == {}
    monkeypatch.setattr(selfcheck, "check", lambda *a, **k: pytest.fail("the cached verdict must be used"))
    again = selfcheck.ensure(G, CPU, kernels=wrong, identity={"device": "host"}, folder=tmp_path, stream=io.StringIO())
    assert again.cached and backend.disabled(CPU) == {"filtered_lrelu": reason}
    stored = json.loads((tmp_path / selfcheck.FILE_NAME).read_text())
    assert stored["identity"] == {"device": "host"} and len(stored["networks"]) == 1
    # ...and checks again when any part of its key changes.
    selfcheck.reset()
    ran = []
    monkeypatch.setattr(selfcheck, "check", lambda *a, **k: ran.append(k["identity"]) or selfcheck.Verdict(
        identity=k["identity"], network="x"))
    selfcheck.ensure(G, CPU, kernels=wrong, identity={"device": "host", "driver": "2"}, folder=tmp_path,
                     stream=io.StringIO())
    assert ran == [{"device": "host", "driver": "2"}] and backend.disabled(CPU) == {}


@needs_cxx
def test_graph_replay_that_differs_falls_back_to_eager(harness_lib):
    G = _net("SG2")

    def bad_replay(G, ws, force_fp32):
        return G.synthesis(ws, noise_mode="const", force_fp32=force_fp32) + 1e-3

    v = selfcheck.ensure(G, CPU, kernels=HostKernels(harness_lib), identity={"device": "host"}, replay=bad_replay,
                         stream=io.StringIO())
    assert set(v.off) == {"graphs"} and v.off["graphs"].startswith("self-check: a CUDA graph replay differs from eager")
    assert v.ops["upfirdn2d"]["cases"] >= 6 and v.ops["upfirdn2d"]["worst"]["fp32"] < 1e-5
    ws = torch.randn(1, G.num_ws, G.w_dim)
    assert graphs.eager_reason(G, ws, "const") == v.off["graphs"]
    with torch.no_grad():
        img, why = graphs.synthesize(G, ws)
        assert why == v.off["graphs"] and torch.equal(img, G.synthesis(ws, noise_mode="const"))


def test_nothing_to_check_without_kernels(no_cpu_kernels):
    """On a device the dispatch serves with the reference ops there is nothing to check (and no cost)."""
    G = _net("SG2")
    assert backend.kernels_module(CPU) is None
    assert selfcheck.ensure(G, CPU, stream=io.StringIO()) is None


def test_error_measure():
    want = torch.tensor([0.5, -2.0, 0.0])
    assert selfcheck.error(want + 1e-3, want) == pytest.approx(5e-4, rel=1e-3)  # relative to max |want| = 2
    assert selfcheck.error(torch.tensor([0.0, 0.0, 1e-3]), torch.zeros(3)) == pytest.approx(1e-3)  # absolute
    assert selfcheck.error(torch.tensor([float("nan"), 0, 0]), want) == float("inf")
    assert selfcheck.error(torch.zeros(2), want) == float("inf")


def test_doctor_shows_what_the_self_check_switched_off(monkeypatch, capsys):
    import stylegan3
    from stylegan3.cli.main import main

    monkeypatch.setattr(backend, "kernels_module", lambda device: object())  # kernels exist for the CPU here
    monkeypatch.setattr(stylegan3, "load_network", lambda *a, **k: backend.disable(CPU, "filtered_lrelu", "why"))
    assert main(["doctor", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "self-check: filtered_lrelu switched off: why" in out.splitlines()
    monkeypatch.undo()
    monkeypatch.setattr(backend, "_cpu_module", lambda: None)  # no kernels for the CPU (no compiler)
    assert main(["doctor", "--device", "cpu"]) == 0
    assert "self-check: not needed (reference ops: nothing to check)" in capsys.readouterr().out


@pytest.mark.slow  # about 15 s of CPU: the harness runs the forward and the backward kernels block by block
@needs_cxx
def test_wrong_backward_is_switched_off_alone_with_its_reason(harness_lib, tmp_path, monkeypatch):
    G = _net("SG3-T")
    wrong = WrongFilteredLreluGradient(harness_lib)
    _serve_everywhere(monkeypatch, wrong)
    ws = torch.randn(1, G.num_ws, G.w_dim, generator=torch.Generator().manual_seed(3))

    def ws_grad():
        w = ws.clone().requires_grad_(True)
        return torch.autograd.grad(G.synthesis(w, noise_mode="const", force_fp32=True).square().mean(), w)[0]

    def ws_grad_ref():
        backend.force_impl("ref")
        try:
            return ws_grad()
        finally:
            backend.force_impl(None)

    want = ws_grad_ref()
    assert float((ws_grad() - want).abs().max()) > 1e-3 * float(want.abs().max())  # the bug shows before the check

    out = io.StringIO()
    v = selfcheck.ensure(G, CPU, kernels=wrong, identity={"device": "host"}, folder=tmp_path, stream=out)
    key = "filtered_lrelu:backward"
    reason = v.off[key]
    assert set(v.off) == {key}  # the forward of every op agreed and stays on
    assert reason.startswith("filtered_lrelu backward differs from the reference by") and "pad [" in reason
    assert v.ops[key]["cases"] >= 15 and v.ops["bias_act:backward"]["worst"]["fp32"] < 1e-5
    assert backend.disabled(CPU) == {key: reason}
    assert f"{key} switched off on host: filtered_lrelu backward differs" in out.getvalue()

    # Gradients are right again (the op's gradient path takes the reference), inference stays on the kernels.
    calls = dict(wrong.calls)
    got = ws_grad()
    assert float((got - want).abs().max()) <= 1e-4 * float(want.abs().max())
    assert wrong.calls.get("filtered_lrelu_act_grad") == calls.get("filtered_lrelu_act_grad")
    with torch.no_grad():
        G.synthesis(ws, noise_mode="const")
    assert wrong.calls["filtered_lrelu"] > calls["filtered_lrelu"]
