"""The self-check's speed step: on the network's own calls, the reference computes a call shape where it is faster.

The kernels are a fake module (the reference ops behind the binding's API: always correct) and the timings are
injected through the check's `timer`, so nothing here depends on the machine's speed or load.
"""

from __future__ import annotations

import io

import pytest
import torch

from stylegan3.ops import backend, selfcheck
from stylegan3.ops.reference_kernels import ReferenceKernels
from tests.support.nets import tiny_net

CPU = torch.device("cpu")


pytestmark = pytest.mark.usefixtures("clean_selfcheck_state")


class FakeKernels(ReferenceKernels):
    """A kernels module with correct results; how fast it is comes from the injected timer."""


def _flrelu_keys(G) -> list[str]:
    calls, _ = selfcheck.record_calls(G, CPU)
    keys = []
    for call in calls:
        key = backend.call_key(call.op, call.x_shape, torch.float32)
        if call.op == "filtered_lrelu" and key not in keys:
            keys.append(key)
    return keys


def _timer(slow_key: str, factor: float):
    """Reference calls take 10 ms; kernel calls 5 ms, except those with `slow_key`: `factor` x 10 ms."""

    def timer(impl, op, x, run):
        out = run()
        timer.calls[(impl, backend.call_key(op, x.shape, x.dtype))] = (
            timer.calls.get((impl, backend.call_key(op, x.shape, x.dtype)), 0) + 1
        )
        if impl == "reference":
            return out, 1e-2
        return out, (factor if backend.call_key(op, x.shape, x.dtype) == slow_key else 0.5) * 1e-2

    timer.calls = {}  # (impl, call key) -> calls timed
    return timer


def test_reference_takes_the_call_shape_where_it_is_faster(monkeypatch, tmp_path):
    G = tiny_net("SG3-T", res=32, official=True)
    keys = _flrelu_keys(G)
    assert len(keys) >= 3
    slow = keys[1]
    fake = FakeKernels()
    monkeypatch.setattr(backend, "_cpu_module", lambda: fake)  # the dispatch's automatic choice on the CPU
    out = io.StringIO()
    timer = _timer(slow, 3.0)
    v = selfcheck.ensure(G, CPU, kernels=fake, identity={"device": "fake"}, folder=tmp_path, stream=out, timer=timer)
    assert not v.off  # correct kernels: nothing switched off
    n = timer.calls[("reference", slow)] - selfcheck.SPEED_CONFIRM_RUNS  # calls with that shape in one frame
    # One timed frame each way (the kernels' warm-up frame is not timed), then the slower-looking shape again.
    assert timer.calls[("kernels", slow)] == n + selfcheck.SPEED_CONFIRM_RUNS
    assert timer.calls[("reference", slow)] == n + selfcheck.SPEED_CONFIRM_RUNS
    why = f"reference faster on this network's calls ({10 * n:g} ms vs {30 * n:g} ms)"
    assert v.slower == {slow: why}
    assert "reference faster at 1 call shape(s) of filtered_lrelu, used there" in out.getvalue()
    # The dispatch: that shape goes to the reference, every other shape (and op) to the kernels.
    x_slow = torch.zeros([1, *eval(slow.split(" ", 1)[1].rsplit(" ", 1)[0])])
    x_fast = torch.zeros([1, *eval(keys[0].split(" ", 1)[1].rsplit(" ", 1)[0])])
    with torch.no_grad():
        assert backend.kernels_for(x_slow, "filtered_lrelu") is None
        assert backend.kernels_for(x_slow.repeat(2, 1, 1, 1), "filtered_lrelu") is None  # batch keeps the choice
        assert backend.kernels_for(x_fast, "filtered_lrelu") is fake
        assert backend.kernels_for(x_slow, "bias_act") is fake
    # Where the verdict is shown: the Performance panel / doctor line and the self-check's status lines.
    assert backend.describe(CPU).endswith(", reference where faster: filtered_lrelu at 1 shape (self-check timing)")
    assert f"reference used for {slow}: {why}" in selfcheck.status_lines(CPU)
    # The cached verdict (same build, same network) brings the same choice back without timing anything.
    selfcheck.reset()
    backend.enable_all()
    assert backend.kernels_for(x_slow, "filtered_lrelu") is fake

    def no_timing(*_a):
        raise AssertionError("a cached verdict must not time again")

    again = selfcheck.ensure(
        G, CPU, kernels=fake, identity={"device": "fake"}, folder=tmp_path, stream=io.StringIO(), timer=no_timing
    )
    assert again.cached and again.slower == v.slower
    assert backend.kernels_for(x_slow, "filtered_lrelu") is None


def test_within_the_margin_the_kernels_stay():
    G = tiny_net("SG3-T", res=32, official=True)
    slow = _flrelu_keys(G)[0]
    fake, ws = FakeKernels(), selfcheck.first_frame_ws(G, CPU)
    assert selfcheck.compare_speed(fake, CPU, G, ws, set(), _timer(slow, 1.1)) == {}  # 10 % slower: noise
    assert list(selfcheck.compare_speed(fake, CPU, G, ws, set(), _timer(slow, 1.2))) == [slow]
    # Under a millisecond per frame nothing is gained, whatever the ratio: the kernels stay.
    tiny = lambda impl, op, x, run: (run(), 1e-5 if impl == "reference" else 5e-5)  # noqa: E731
    assert selfcheck.compare_speed(fake, CPU, G, ws, set(), tiny) == {}
    assert backend.reference_faster(CPU) == {}  # compare_speed / check decide, ensure / apply switch


def test_a_stall_in_the_frame_is_not_confirmed():
    """A call that looked slow once (a thread waiting for a core) but is not when run again keeps the kernels."""
    G = tiny_net("SG3-T", res=32, official=True)
    slow = _flrelu_keys(G)[0]
    seen = {"kernels": 0}

    def timer(impl, op, x, run):
        out = run()
        if impl == "reference":
            return out, 1e-2
        if backend.call_key(op, x.shape, x.dtype) == slow:
            seen["kernels"] += 1
            return out, 1.0 if seen["kernels"] == 1 else 5e-3  # the first (frame) call stalls, the repeats do not
        return out, 5e-3

    fake, ws = FakeKernels(), selfcheck.first_frame_ws(G, CPU)
    assert selfcheck.compare_speed(fake, CPU, G, ws, set(), timer) == {}
    assert seen["kernels"] > selfcheck.SPEED_CONFIRM_RUNS  # it was timed again


def test_switched_off_ops_are_not_timed():
    G = tiny_net("SG2", res=32, official=True)  # upfirdn2d and bias_act calls
    timed: list[tuple[str, str]] = []

    def timer(impl, op, x, run):
        timed.append((impl, op))
        return run(), (1.0 if impl == "kernels" else 1e-3)  # kernels slower everywhere

    ws = selfcheck.first_frame_ws(G, CPU)
    v = selfcheck.compare_speed(FakeKernels(), CPU, G, ws, {"upfirdn2d"}, timer)
    assert v and all(key.startswith("bias_act ") for key in v)
    assert ("kernels", "upfirdn2d") not in timed and ("reference", "upfirdn2d") in timed


# The gradient path (projection, drag): timed forward + backward per call shape, its own verdict.


def test_the_gradient_path_is_timed_per_call_shape_and_dispatched_apart(monkeypatch, tmp_path):
    from tests.ops.test_autograd import Float64Kernels  # the kernels' API with the backward functions

    G = tiny_net("SG3-T", res=32, official=True)
    keys = _flrelu_keys(G)
    fwd_slow, grad_slow = keys[0], backend.call_key("filtered_lrelu:backward", (1, *_shape_of(keys[1])), torch.float32)
    seen: dict[tuple[str, str], int] = {}

    def timer(impl, op, x, run):
        """Reference 10 ms everywhere; kernels 5 ms, except 30 ms at `fwd_slow` inference and `grad_slow` with
        gradients."""
        out = run()
        key = backend.call_key(op, x.shape, x.dtype)
        seen[(impl, key)] = seen.get((impl, key), 0) + 1
        if op.endswith(":backward"):
            assert torch.is_grad_enabled()  # a real forward + backward ran
        if impl == "reference":
            return out, 1e-2
        return out, 3e-2 if key in (fwd_slow, grad_slow) else 5e-3

    fake = Float64Kernels()
    monkeypatch.setattr(backend, "_cpu_module", lambda: fake)
    out = io.StringIO()
    v = selfcheck.ensure(G, CPU, kernels=fake, identity={"device": "fake"}, folder=tmp_path, stream=out, timer=timer)
    assert not v.off
    assert set(v.slower) == {fwd_slow, grad_slow}
    # Every call shape of the synthesis frame was timed with gradients too, both ways; the slow one confirmed.
    for impl in ("kernels", "reference"):
        timed = {k for i, k in seen if i == impl and ":backward" not in k}
        assert timed and {k.replace(":backward", "") for i, k in seen if i == impl and ":backward" in k} == timed
    n = seen[("reference", keys[1])]  # calls of that shape per frame (its inference was not timed again)
    assert seen[("kernels", grad_slow)] == seen[("reference", grad_slow)] == 2 + selfcheck.SPEED_CONFIRM_RUNS
    assert v.slower[grad_slow] == (
        f"reference faster with gradients on this network's calls ({10 * n:g} ms vs {30 * n:g} ms forward + backward)"
    )
    # The dispatch: with a gradient only the gradient verdict counts, without one only the inference verdict.
    x_fwd = torch.zeros([1, *_shape_of(fwd_slow)])
    x_grad = torch.zeros([1, *_shape_of(keys[1])])
    assert backend.kernels_for(x_grad, "filtered_lrelu") is fake  # inference: the kernels
    assert backend.kernels_for(x_grad.requires_grad_(True), "filtered_lrelu") is None  # with a gradient: reference
    assert backend.kernels_for(x_fwd, "filtered_lrelu") is None  # inference: reference
    assert backend.kernels_for(x_fwd.requires_grad_(True), "filtered_lrelu") is fake  # its gradient path is faster
    with torch.no_grad():
        assert backend.kernels_for(x_grad, "filtered_lrelu") is fake
    # Shown where the forward's reasons are, and kept in the cached verdict.
    assert backend.describe(CPU).endswith(
        ", reference where faster: filtered_lrelu at 1 shape, filtered_lrelu gradients at 1 shape (self-check timing)"
    )
    assert f"reference used for {grad_slow}: {v.slower[grad_slow]}" in selfcheck.status_lines(CPU)
    assert "reference faster at 2 call shape(s) of filtered_lrelu, filtered_lrelu:backward, used there" in (
        out.getvalue()
    )
    selfcheck.reset()
    backend.enable_all()
    again = selfcheck.ensure(G, CPU, kernels=fake, identity={"device": "fake"}, folder=tmp_path, stream=io.StringIO())
    assert again.cached and again.slower == v.slower
    assert backend.kernels_for(torch.zeros([2, *_shape_of(keys[1])], requires_grad=True), "filtered_lrelu") is None


def test_the_gradient_path_within_the_margin_or_unsupported_keeps_the_kernels():
    from tests.ops.test_autograd import Float64Kernels

    G = tiny_net("SG3-T", res=32, official=True)
    ws = selfcheck.first_frame_ws(G, CPU)

    def slower_grads(factor):
        return lambda impl, op, x, run: (run(), 1e-2 * (factor if impl == "kernels" and ":" in op else 1.0))

    assert selfcheck.compare_speed(Float64Kernels(), CPU, G, ws, set(), slower_grads(1.1)) == {}  # noise
    found = selfcheck.compare_speed(Float64Kernels(), CPU, G, ws, set(), slower_grads(1.3))
    assert found and all(k.split(" ", 1)[0].endswith(":backward") for k in found)
    # A gradient path switched off (or a build without backward kernels) is not timed: the reference runs it anyway.
    off = {backend.backward_key(op) for op in ("filtered_lrelu", "bias_act", "upfirdn2d")}
    assert selfcheck.compare_speed(Float64Kernels(), CPU, G, ws, off, slower_grads(3.0)) == {}
    assert selfcheck.compare_speed(FakeKernels(), CPU, G, ws, set(), slower_grads(3.0)) == {}


def _shape_of(key: str) -> list[int]:
    """[channels, h, w] of a call key 'op [c, h, w] dtype'."""
    return eval(key.split(" ", 1)[1].rsplit(" ", 1)[0])
