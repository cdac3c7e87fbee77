"""Gradients on the kernels (stylegan3/ops/autograd.py): the derivation in float64, the kernels against the
reference's autograd, the networks' own calls, the dispatch under autograd, and double backward refused.

The kernels compute in float32 (float16 storage), so `torch.autograd.gradcheck` runs the autograd Functions in
float64 on `Float64Kernels` (the kernels' API computed by torch in float64): that proves the composition (flipped
filters, up/down swapped, the derived padding, the code bytes, the bias sums) exactly. The compiled kernels are
then compared, in float32, with torch autograd of the reference ops in float64 at tight tolerances (relative
error < 1e-5 of the largest gradient; they reach ~1e-7).
"""

from __future__ import annotations

import itertools
import random

import pytest
import torch

from sg3_explorer.ops.cuda import cpu as cpu_ops
from stylegan3.ops import autograd, backend, bias_act, filtered_lrelu, selfcheck, upfirdn2d
from stylegan3.ops.bias_act import bias_act_ref
from stylegan3.ops.filtered_lrelu import filtered_lrelu_ref
from stylegan3.ops.reference_kernels import ReferenceKernels
from stylegan3.ops.upfirdn2d import upfirdn2d_ref
from tests.support.nets import tiny_net

TOL = 1e-5  # float32 kernels vs float64 reference, relative to the largest reference value
CPU = torch.device("cpu")


class Float64Kernels(ReferenceKernels):
    """The kernels' API including the backward functions, computed by torch in any dtype (float64 here)."""

    def upfirdn2d_rows(self, x, f, upx, upy, downx, downy, px0, px1, py0, py1, gain):
        if f.ndim != 1:
            return self.upfirdn2d(x, f, upx, upy, downx, downy, px0, px1, py0, py1, gain)
        t = self.upfirdn2d(x, f.reshape(1, -1), upx, 1, downx, 1, px0, px1, 0, 0, gain)
        return self.upfirdn2d(t, f.reshape(-1, 1), 1, upy, 1, downy, 0, 0, py0, py1, 1.0)

    def bias_act_grad(self, dy, x, b, dim, act, alpha, gain, clamp):
        x = x.detach().requires_grad_(True)
        with torch.enable_grad():
            y = self.bias_act(x, b.detach(), dim, act, alpha, gain, clamp)
            return torch.autograd.grad(y, x, dy)[0]

    def filtered_lrelu_act(self, u, gain, slope, clamp):
        a = torch.where(u > 0, u, u * slope) * gain
        code = torch.where(u > 0, 2, 1).to(torch.uint8)
        if clamp >= 0:
            cut = (a > clamp) | (a < -clamp)
            code = torch.where(cut, torch.zeros_like(code), code)
            a = a.clamp(-clamp, clamp)
        return [a, code]

    def filtered_lrelu_act_grad(self, da, code, gain, slope):
        factor = torch.tensor([0.0, gain * slope, gain], dtype=da.dtype)[code.long()]
        return da * factor


@pytest.fixture(scope="module")
def kernels():
    module = cpu_ops.kernels()
    if module is None:
        pytest.skip(f"CPU kernels unavailable: {cpu_ops.unavailable_reason()}")
    return module


def _rel(got: torch.Tensor, want: torch.Tensor) -> float:
    assert got.shape == want.shape
    return float((got.double() - want.double()).abs().max()) / max(float(want.abs().max()), 1e-12)


def _grads(fn, x, b=None, seed=0):
    """(y, dx, db) of fn(x, b) for a fixed random upstream gradient."""
    x = x.detach().requires_grad_(True)
    leaves = [x] + ([b.detach().requires_grad_(True)] if b is not None else [])
    y = fn(*leaves)
    dy = torch.randn(y.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(y.dtype)
    grads = torch.autograd.grad(y, leaves, dy)
    return (y, *grads)


def _compare(mine, ref, x, b=None, seed=0) -> float:
    """Worst relative error of output and gradients: `mine` in float32 through the dispatch, `ref` in float64."""
    got = _grads(mine, x.float(), None if b is None else b.float(), seed)
    want = _grads(ref, x.double(), None if b is None else b.double(), seed)
    return max(_rel(g, w) for g, w in zip(got, want, strict=True))


# ---------------------------------------------------------------------------------------------------
# The derivation, in float64 (torch.autograd.gradcheck on the Functions themselves).


@pytest.mark.parametrize(
    "up, down, pad, f_shape",
    [
        ((2, 2), (1, 1), (6, 5, 6, 5), (12,)),
        ((1, 1), (2, 2), (5, 4, 5, 4), (12,)),
        ((4, 4), (1, 1), (3, 2, 1, 4), (8,)),
        ((1, 1), (4, 4), (1, 2, 2, 1), (5,)),
        ((2, 1), (1, 3), (-1, 3, 2, -2), (3, 4)),
        ((1, 1), (1, 1), (1, 1, 1, 1), (3, 3)),
        ((3, 3), (2, 2), (2, 1, 0, 3), (7,)),
    ],
)
def test_upfirdn2d_gradcheck_float64(up, down, pad, f_shape):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 2, 7, 6, dtype=torch.float64, generator=gen, requires_grad=True)
    f = torch.randn(f_shape, dtype=torch.float64, generator=gen)
    k = Float64Kernels()
    assert torch.autograd.gradcheck(
        lambda x: autograd.run(k, "upfirdn2d", x, f, *up, *down, *pad, 1.3), (x,), fast_mode=True
    )


@pytest.mark.parametrize("act, clamp, dim", [("linear", -1.0, 1), ("relu", -1.0, 1), ("lrelu", 0.5, 1),
                                             ("lrelu", -1.0, 0), ("linear", 0.4, 2)])  # fmt: skip
def test_bias_act_gradcheck_float64(act, clamp, dim):
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(3, 4, 5, dtype=torch.float64, generator=gen, requires_grad=True)
    b = torch.randn(x.shape[dim], dtype=torch.float64, generator=gen, requires_grad=True)
    k = Float64Kernels()
    fn = lambda x, b: autograd.run(k, "bias_act", x, b, dim, act, 0.2, 1.4, clamp)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, b), fast_mode=True)
    if clamp >= 0:  # the clamp really cut something off, so its zero gradient was checked
        assert bool((fn(x, b).abs() >= clamp).any())


@pytest.mark.parametrize(
    "up, down, pad, fu_shape, fd_shape, clamp",
    [
        (2, 2, (6, 5, 6, 5), (12,), (12,), 0.6),
        (4, 2, (13, 12, 11, 13), (24,), (12,), -1.0),
        (2, 2, (4, 3, 3, 4), (8,), (6, 6), 0.8),
        (1, 1, (1, 1, 1, 1), (1, 1), (1, 1), 0.5),
        (2, 1, (2, 1, 1, 2), (4, 4), (3,), -1.0),
    ],
)
def test_filtered_lrelu_gradcheck_float64(up, down, pad, fu_shape, fd_shape, clamp):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(1, 2, 6, 7, dtype=torch.float64, generator=gen, requires_grad=True)
    b = torch.randn(2, dtype=torch.float64, generator=gen, requires_grad=True)
    fu = torch.randn(fu_shape, dtype=torch.float64, generator=gen)
    fd = torch.randn(fd_shape, dtype=torch.float64, generator=gen)
    k = Float64Kernels()
    fn = lambda x, b: autograd.run(k, "filtered_lrelu", x, fu, fd, b, up, down, *pad, 1.4, 0.2, clamp)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, b), fast_mode=True)
    # ...and the Functions equal the reference op's own autograd (same definition, same kink conventions).
    ref = lambda x, b: filtered_lrelu_ref(x, fu, fd, b, up, down, list(pad), 1.4, 0.2, None if clamp < 0 else clamp,  # noqa: E731
                                          flip_filter=True)  # fmt: skip
    for g, w in zip(_grads(fn, x, b), _grads(ref, x, b), strict=True):
        assert torch.allclose(g, w, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    "in_size, up, down, taps, pad0, pad1",
    [(7, 2, 1, 12, 6, 5), (9, 1, 2, 12, 5, 4), (5, 4, 1, 24, 13, 11), (11, 1, 4, 5, -2, 3)],
)
def test_grad_padding_gives_the_input_size(in_size, up, down, taps, pad0, pad1):
    out = (in_size * up + pad0 + pad1 - taps) // down + 1
    g0, g1 = autograd.grad_padding(in_size, out, up, down, taps, pad0)
    assert (out * down + g0 + g1 - taps) // up + 1 == in_size


# ---------------------------------------------------------------------------------------------------
# The CPU kernels against the reference's autograd.


def test_upfirdn2d_backward_on_kernels(kernels):
    rng = random.Random(4)
    worst, n = 0.0, 0
    for up, down, f_kind in itertools.product((1, 2, 4), (1, 2, 4), ("1d", "2d")):
        taps = rng.choice([1, 3, 4, 12, 24]) if f_kind == "1d" else rng.choice([2, 3, 5])
        f = torch.randn([taps] if f_kind == "1d" else [taps, rng.choice([1, 2, 4])])
        for pad in ([taps // 2, (taps - 1) // 2] * 2, [rng.randint(-2, 6) for _ in range(4)]):
            x = torch.randn(rng.randint(1, 2), rng.randint(1, 4), rng.randint(taps, 19), rng.randint(taps, 17))
            flip = rng.random() < 0.5
            kw = dict(up=up, down=down, padding=pad, flip_filter=flip, gain=rng.choice([1.0, up * up, 0.7]))
            try:
                upfirdn2d_ref(x, f, **kw)
            except RuntimeError:
                continue  # empty output for this draw
            worst = max(
                worst,
                _compare(
                    lambda x, f=f, kw=kw: upfirdn2d(x, f, **kw),
                    lambda x, f=f, kw=kw: upfirdn2d_ref(x, f.double(), **kw),
                    x,
                ),
            )
            n += 1
    assert n >= 25 and worst < TOL, (n, worst)


def test_bias_act_backward_on_kernels(kernels):
    worst = 0.0
    gen = torch.Generator().manual_seed(5)
    for act, clamp, dim, shape in [("linear", None, 1, (2, 5, 3, 4)), ("relu", None, 1, (3, 7)),
                                   ("lrelu", 0.3, 1, (2, 6, 5, 7)), ("lrelu", None, 0, (9, 4)),
                                   ("linear", 0.5, 2, (2, 3, 11)), ("lrelu", 256.0, 1, (1, 33, 9, 9))]:  # fmt: skip
        x = torch.randn(shape, generator=gen)
        b = torch.randn(shape[dim], generator=gen)
        kw = dict(dim=dim, act=act, clamp=clamp)
        worst = max(
            worst,
            _compare(lambda x, b, kw=kw: bias_act(x, b, **kw), lambda x, b, kw=kw: bias_act_ref(x, b, **kw), x, b),
        )
        worst = max(
            worst, _compare(lambda x, kw=kw: bias_act(x, None, **kw), lambda x, kw=kw: bias_act_ref(x, None, **kw), x)
        )
    assert worst < TOL


def test_filtered_lrelu_backward_on_kernels(kernels):
    torch.manual_seed(6)  # the same tensors every run (a clamp boundary met by chance moves the worst case)
    rng = random.Random(6)
    worst, n = 0.0, 0
    for up, down, fu_kind, fd_kind in itertools.product((1, 2, 4), (1, 2), ("1d", "2d"), ("1d", "2d")):
        fu = torch.randn([rng.choice([2 * up, 6 * up])] if fu_kind == "1d" else [up * 2, up * 2])
        fd = torch.randn([rng.choice([4, 12])] if fd_kind == "1d" else [5, 5])
        pad = [rng.randint(0, 8) for _ in range(4)]
        x = torch.randn(rng.randint(1, 2), rng.randint(1, 4), rng.randint(11, 17), rng.randint(11, 17))
        b = torch.randn(x.shape[1])
        clamp = rng.choice([None, 0.5])
        kw = dict(up=up, down=down, padding=pad, gain=1.4, slope=0.2, clamp=clamp, flip_filter=rng.random() < 0.5)

        def mine(x, b, fu=fu, fd=fd, kw=kw):
            return filtered_lrelu(x, fu, fd, b, **kw)

        def ref(x, b, fu=fu, fd=fd, kw=kw):
            return filtered_lrelu_ref(x, fu.double(), fd.double(), b, **kw)

        worst = max(worst, _compare(mine, ref, x, b))
        n += 1
    assert n == 24 and worst < TOL, worst


# What filtered_lrelu's backward may call for the code factor: the streamed backward, or the factor alone.
BACKWARD_CALLS = ("filtered_lrelu_grad_rows", "filtered_lrelu_act_grad")
HOST_VARIANTS = [(2, 12, "1d"), (4, 24, "1d"), (2, 12, "2d"), (4, 24, "2d")]  # up, fu taps, fd: the SG3 layers


@pytest.mark.parametrize("up, fu_taps, fd_kind", HOST_VARIANTS)
@pytest.mark.parametrize("clamp", [-1.0, 0.5])
def test_fused_forward_keeps_the_codes_of_the_unfused_one(kernels, up, fu_taps, fd_kind, clamp):
    """`filtered_lrelu_codes` (the gradient path's forward in one pass): the same output as the unfused passes and,
    on every upsampled sample an output reads, the same code byte as `filtered_lrelu_act`."""
    g = torch.Generator().manual_seed(up + fu_taps + (fd_kind == "2d"))
    x, b = torch.randn(2, 3, 41, 47, generator=g), torch.randn(3, generator=g)  # several 32x32 output tiles
    fu = torch.randn(fu_taps, generator=g) / 4
    fd = torch.randn(12, 12, generator=g) / 12 if fd_kind == "2d" else torch.randn(12, generator=g) / 4
    pads = (11, 10, 9, 12)
    y, code = kernels.filtered_lrelu_codes(x, fu, fd, b, up, 2, *pads, 1.4, 0.2, clamp)
    t = kernels.bias_act(x, b, 1, "linear", 0.0, 1.0, -1.0)
    u = autograd._passes(kernels, t, fu, up, up, 1, 1, *pads, float(up * up))
    a, want_code = kernels.filtered_lrelu_act(u, 1.4, 0.2, clamp)
    want_y = autograd._passes(kernels, a, fd, 1, 1, 2, 2, 0, 0, 0, 0, 1.0)
    assert code.dtype == torch.uint8 and code.shape == want_code.shape
    assert _rel(y, want_y) < 1e-5
    used_h, used_w = (y.shape[2] - 1) * 2 + 12, (y.shape[3] - 1) * 2 + 12
    assert y.shape[2] > 32 and y.shape[3] > 32  # tiles overlap in what they compute: each writes what it owns
    assert torch.equal(code[..., :used_h, :used_w], want_code[..., :used_h, :used_w])
    assert set(code.unique().tolist()) == ({1, 2} if clamp < 0 else {0, 1, 2})  # both sides (and the clamp) met


@pytest.mark.parametrize("up, fu_taps, fd_kind", HOST_VARIANTS)
def test_gradient_through_the_fused_forward_equals_reference(kernels, up, fu_taps, fd_kind, monkeypatch):
    g = torch.Generator().manual_seed(3 * up + fu_taps)
    x, b = torch.randn(1, 4, 19, 26, generator=g), torch.randn(4, generator=g)
    fu = torch.randn(fu_taps, generator=g) / 4
    fd = torch.randn(12, 12, generator=g) / 12 if fd_kind == "2d" else torch.randn(12, generator=g) / 4
    kw = dict(up=up, down=2, padding=[11, 10, 9, 12], gain=1.4, slope=0.2, clamp=0.7)
    spy = Counting(kernels)
    monkeypatch.setattr(backend, "_cpu_module", lambda: spy)
    worst = _compare(lambda x, b: filtered_lrelu(x, fu, fd, b, **kw),
                     lambda x, b: filtered_lrelu_ref(x, fu.double(), fd.double(), b, **kw), x, b)
    assert worst < TOL
    assert spy.calls.get("filtered_lrelu_codes") == 1 and "filtered_lrelu_act" not in spy.calls
    assert spy.calls.get("filtered_lrelu_grad_rows") == 1  # and the streamed backward


@pytest.mark.parametrize("up, down, fd_kind, fu_taps", [(2, 2, "1d", 12), (4, 2, "1d", 24), (2, 2, "2d", 12),
                                                    (4, 2, "2d", 24), (1, 1, "1d", 6), (2, 1, "1d", 8)])
def test_streamed_backward_equals_the_passes_one_by_one(kernels, up, down, fd_kind, fu_taps):
    """`filtered_lrelu_grad_rows` (du rows made on demand in a ring, the transposed up pass streaming over them)
    against the same gradient pass by pass, on several planes and odd sizes, with the clamp's zero codes."""
    g = torch.Generator().manual_seed(up * 10 + down + (fd_kind == "2d"))
    fu = torch.randn(fu_taps, generator=g) / 4
    fd = torch.randn(12, 12, generator=g) / 12 if fd_kind == "2d" else torch.randn(12 if down > 1 else 4, generator=g)
    in_h, in_w, (px0, px1, py0, py1) = 19, 26, (11, 10, 9, 12)
    uh = in_h * up + py0 + py1 - (fu_taps - 1)
    uw = in_w * up + px0 + px1 - (fu_taps - 1)
    taps = fd.shape[0]
    dy = torch.randn(2, 3, (uh - taps + down) // down, (uw - taps + down) // down, generator=g)
    code = torch.randint(0, 3, (2, 3, uh, uw), generator=g).to(torch.uint8)
    got = autograd._streamed_backward(kernels, dy, fd, fu, up, down, px0, py0, code, 1.4, 0.2, in_h, in_w)
    da = autograd._upfirdn_grad(kernels, dy, fd, 1, 1, down, down, 0, 0, 1.0, uh, uw)
    du = kernels.filtered_lrelu_act_grad(da, code, 1.4, 0.2)
    want = autograd._upfirdn_grad(kernels, du, fu, up, up, 1, 1, px0, py0, float(up * up), in_h, in_w)
    assert got is not None and got.shape == want.shape == (2, 3, in_h, in_w)
    assert _rel(got, want) < 1e-6


def test_row_passes_hand_filters_longer_than_their_limit_elsewhere(kernels):
    """The row passes keep their filter rows on the stack (64 taps per axis): a longer filter still gives the
    general kernel's result through upfirdn2d_rows, and the streamed backward declines it (the passes run)."""
    g = torch.Generator().manual_seed(7)
    x, f = torch.randn(1, 2, 90, 90, generator=g), torch.randn(70, generator=g) / 8
    got = kernels.upfirdn2d_rows(x, f, 1, 1, 2, 1, 40, 40, 40, 40, 2.0)  # 70 taps in one horizontal sum
    want = kernels.upfirdn2d(x, torch.outer(f, f), 1, 1, 2, 1, 40, 40, 40, 40, 2.0)
    assert got.shape == want.shape == (1, 2, 90 + 80 - 69, (90 + 80 - 70) // 2 + 1) and _rel(got, want) < 1e-5
    dy, code = torch.randn(1, 2, 10, 10, generator=g), torch.ones(1, 2, 30, 30, dtype=torch.uint8)
    assert autograd._streamed_backward(kernels, dy, torch.randn(12), f, 2, 2, 30, 30, code, 1.4, 0.2, 5, 5) is None


def test_fused_forward_declines_what_it_does_not_serve(kernels):
    x, fu, fd, b = torch.randn(1, 2, 12, 12), torch.randn(12), torch.randn(12), torch.randn(2)
    y, code = kernels.filtered_lrelu_codes(x.half(), fu, fd, b.half(), 2, 2, 11, 10, 11, 10, 1.4, 0.2, -1.0)
    assert y.numel() == 0 and code.numel() == 0  # float16: the unfused path keeps its codes
    y, code = kernels.filtered_lrelu_codes(x, torch.randn(6), fd, b, 1, 2, 5, 5, 5, 5, 1.4, 0.2, -1.0)
    assert y.numel() == 0 and code.numel() == 0  # no register-blocked variant for up 1


@pytest.mark.parametrize("kind", ["SG3-T", "SG3-R", "SG2"])
def test_backward_on_the_official_configs_calls(kernels, kind):
    """Every distinct call the official architecture makes (recorded as the self-check does), on its own size and
    randomized odd ones: gradients wrt input and bias within 1e-5 of the float64 reference."""
    G = tiny_net(kind, res=32, official=True)
    calls, _ = selfcheck.record_calls(G, CPU)
    results = selfcheck.check_backward(kernels, CPU, calls)
    used = {"SG3-T": ("bias_act", "filtered_lrelu"), "SG3-R": ("bias_act", "filtered_lrelu"),
            "SG2": ("upfirdn2d", "bias_act")}[kind]  # fmt: skip
    for op in used:
        assert results[op].cases >= 3 and results[op].problem is None, (op, results[op])
        assert 0 < results[op].worst["fp32"] < TOL, (op, results[op].worst)


class Counting:
    def __init__(self, module) -> None:
        self.module, self.calls = module, {}

    def __getattr__(self, name):
        fn = getattr(self.module, name)

        def counted(*args):
            self.calls[name] = self.calls.get(name, 0) + 1
            return fn(*args)

        return counted


@pytest.mark.parametrize("kind", ["SG3-T", "SG3-R", "SG2"])
def test_synthesis_gradient_on_kernels_equals_reference(kernels, kind, monkeypatch):
    """What projection does: d loss / d ws through the whole synthesis, kernels vs reference ops."""
    G = tiny_net(kind, res=32, official=True)
    spy = Counting(kernels)
    monkeypatch.setattr(backend, "_cpu_module", lambda: spy)
    ws = torch.randn(1, G.num_ws, G.w_dim, generator=torch.Generator().manual_seed(7))
    target = torch.randn(1, G.img_channels, 32, 32, generator=torch.Generator().manual_seed(8))

    def grad_of_ws() -> torch.Tensor:
        w = ws.clone().requires_grad_(True)
        loss = (G.synthesis(w, noise_mode="const", force_fp32=True) - target).square().mean()
        return torch.autograd.grad(loss, w)[0]

    got = grad_of_ws()
    backend.force_impl("ref")
    try:
        want = grad_of_ws()
    finally:
        backend.force_impl(None)
    assert _rel(got, want) < 1e-4
    if kind == "SG2":  # the backward ran on the kernels
        assert spy.calls.get("bias_act_grad", 0) > 0 and spy.calls.get("upfirdn2d_rows", 0) > 0
    else:
        forward = spy.calls.get("filtered_lrelu_act", 0) + spy.calls.get("filtered_lrelu_codes", 0)
        backward = sum(spy.calls.get(name, 0) for name in BACKWARD_CALLS)
        assert forward > 0 and backward > 0
        assert "filtered_lrelu" not in spy.calls  # with autograd the fused inference kernel is not used


@pytest.mark.slow  # two short projections of a tiny network
def test_projection_runs_on_the_kernels_and_ends_where_the_reference_does(kernels, monkeypatch):
    """`project` (the CLI's and the Projection panel's optimizer) needs nothing special: the dispatch serves its
    forward and backward on the kernels, and the result matches the reference path's (same target, steps)."""
    from stylegan3.explore.projection import project, psnr

    G = tiny_net("SG3-T", res=32, official=True)
    target = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(9)) * 2 - 1

    def final():
        *_, last = project(G, target, steps=4, init_samples=50)
        return last

    spy = Counting(kernels)
    monkeypatch.setattr(backend, "_cpu_module", lambda: spy)
    got = final()
    backward_calls = sum(spy.calls.get(name, 0) for name in BACKWARD_CALLS)
    assert backward_calls >= 4 * 5  # every step's backward, every layer
    backend.force_impl("ref")
    try:
        want = final()
    finally:
        backend.force_impl(None)
    assert abs(psnr(got.image, target) - psnr(want.image, target)) < 0.01
    assert _rel(got.ws, want.ws) < 1e-3


# ---------------------------------------------------------------------------------------------------
# Dispatch and double backward.


def test_dispatch_under_autograd(kernels, monkeypatch):
    monkeypatch.setattr(backend, "_cpu_module", lambda: kernels)
    x = torch.randn(1, 2, 6, 6)
    xg = x.clone().requires_grad_(True)
    b = torch.randn(2, requires_grad=True)
    assert backend.kernels_for(xg, "filtered_lrelu") is kernels  # forward and backward on the kernels
    assert backend.kernels_for(x, "bias_act", b) is kernels  # a bias that wants a gradient counts too
    backend.disable(CPU, backend.backward_key("filtered_lrelu"), "why")
    try:
        assert backend.kernels_for(xg, "filtered_lrelu") is None  # its gradient path is off...
        assert backend.kernels_for(x, "filtered_lrelu") is kernels  # ...its inference path is not
        assert backend.kernels_for(xg, "bias_act") is kernels
        with torch.no_grad():
            assert backend.kernels_for(xg, "filtered_lrelu") is kernels
    finally:
        backend.enable_all()

    class Inference:  # a build without the backward kernels (older cache) serves inference only
        upfirdn2d = bias_act = filtered_lrelu = staticmethod(lambda *a: None)

    monkeypatch.setattr(backend, "_cpu_module", lambda: Inference())
    assert backend.kernels_for(xg, "bias_act") is None and isinstance(backend.kernels_for(x, "bias_act"), Inference)


def test_double_backward_is_refused_with_a_clear_error(kernels):
    x = torch.randn(1, 2, 8, 8, requires_grad=True)
    f = torch.randn(4)
    y = upfirdn2d(x, f, up=2, padding=[2, 1, 2, 1])
    with pytest.raises(RuntimeError, match=r"upfirdn2d: double backward \(create_graph=True\) is not supported on the"):
        torch.autograd.grad(y.square().sum(), x, create_graph=True)
    backend.force_impl("ref")  # the documented way to second derivatives: the reference ops
    try:
        y = upfirdn2d(x, f, up=2, padding=[2, 1, 2, 1])
        (g,) = torch.autograd.grad(y.square().sum(), x, create_graph=True)
        assert float(torch.autograd.grad(g.sum(), x)[0].abs().max()) > 0
    finally:
        backend.force_impl(None)


# ---------------------------------------------------------------------------------------------------
# CUDA: the same comparisons on the CUDA build (never run here: no GPU).


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["SG3-T", "SG3-R", "SG2"])
def test_cuda_backward_on_the_official_configs_calls(kind):
    import sg3_explorer.ops.cuda as cuda_ops

    module = cuda_ops.kernels()
    if module is None:
        pytest.skip(f"CUDA kernels unavailable: {cuda_ops.unavailable_reason()}")
    dev = torch.device("cuda")
    G = tiny_net(kind, res=32, official=True).to(dev)
    calls, _ = selfcheck.record_calls(G, dev)
    for op, res in selfcheck.check_backward(module, dev, calls).items():
        assert res.problem is None, (op, res.problem)


@pytest.mark.gpu
def test_cuda_synthesis_gradient_equals_reference():
    import sg3_explorer.ops.cuda as cuda_ops

    if cuda_ops.kernels() is None:
        pytest.skip(f"CUDA kernels unavailable: {cuda_ops.unavailable_reason()}")
    G = tiny_net("SG3-R", res=32, official=True).cuda()
    ws = torch.randn(1, G.num_ws, G.w_dim, device="cuda")

    def grad_of_ws() -> torch.Tensor:
        w = ws.clone().requires_grad_(True)
        return torch.autograd.grad(G.synthesis(w, noise_mode="const", force_fp32=True).square().mean(), w)[0]

    got = grad_of_ws()
    backend.force_impl("ref")
    try:
        want = grad_of_ws()
    finally:
        backend.force_impl(None)
    assert _rel(got, want) < 1e-4
