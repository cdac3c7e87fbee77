"""Gradients on the kernels: `torch.autograd.Function`s whose forward and backward are kernel calls.

Why: everything that optimizes a latent (projection, drag-to-edit) differentiates through synthesis. Without
these, autograd sent every op to the reference path, which on the CPU spends most of a projection step in
depthwise convolution backward passes. The Functions take the kernels' API arguments (`ops/cuda/binding.cpp`:
filters already in correlation order, four paddings, clamp < 0 for none, an empty bias for none), so any
kernels module (the CUDA build, the CPU build, the host harness in tests) serves them, and the dispatch
(`stylegan3/ops/{upfirdn2d,bias_act,filtered_lrelu}.py`) calls `run` where it called the kernel before.

The backward passes, derived from each op's definition:
- upfirdn2d is linear in x: its gradient is its transpose, which is again an upfirdn2d, of the incoming gradient
  with the filter flipped, up and down swapped and the padding `(taps - 1 - pad0, in * up - out * down + pad0 -
  up + 1)` per axis (`grad_padding`); filters are constants (no filter gradient).
- bias_act: dy times the activation's slope times gain, zero where the clamp cut the output off
  (`bias_act_grad` kernel); the bias gradient is that summed over every other dimension.
- filtered_lrelu (bias -> up x `up` with fu -> lrelu * gain -> clamp -> fd, down x `down`): the forward runs the
  same steps as kernels (up pass, the nonlinearity that also writes one code byte per upsampled sample, down
  pass) and keeps only the codes; the backward is the down pass's transpose, the factor the code says (gain,
  gain * slope or 0), and the up pass's transpose; the bias gradient is the sum of the last. Where a build offers
  them (the CPU build), `filtered_lrelu_codes` does the forward as the fused kernel that also writes the codes, and
  `filtered_lrelu_grad_rows` the whole backward streamed by rows: the same values in fewer passes over the
  upsampled tensor.
First order only: a backward asked to build a graph of itself (`create_graph=True`, the first step of any double
backward) raises one clear RuntimeError instead of returning gradients that would silently differentiate to zero;
`backend.force_impl("ref")` (or `SG3_OPS=ref`) runs the reference ops, which support higher derivatives.
"""

from __future__ import annotations

from typing import Any

import torch

from stylegan3.ops.derived import DerivedCache

__all__ = ["run", "supports", "grad_padding", "needs_grad", "BACKWARD_NEEDS", "DOUBLE_BACKWARD"]

# What each op's forward-with-gradient and backward call on a kernels module.
BACKWARD_NEEDS: dict[str, tuple[str, ...]] = {
    "upfirdn2d": ("upfirdn2d", "upfirdn2d_rows"),
    "bias_act": ("bias_act", "bias_act_grad"),
    "filtered_lrelu": ("upfirdn2d", "upfirdn2d_rows", "bias_act", "filtered_lrelu_act", "filtered_lrelu_act_grad"),
}


def supports(kernels: Any, op: str) -> bool:
    """Whether `kernels` has every function `op`'s gradient path calls (an older build may not)."""
    return all(hasattr(kernels, name) for name in BACKWARD_NEEDS[op])


def needs_grad(*tensors: torch.Tensor | None) -> bool:
    """Autograd is recording and one of `tensors` asks for a gradient."""
    return torch.is_grad_enabled() and any(isinstance(t, torch.Tensor) and t.requires_grad for t in tensors)


DOUBLE_BACKWARD = (
    "{op}: double backward (create_graph=True) is not supported on the kernels; use the reference ops for it "
    "(stylegan3.ops.backend.force_impl('ref') or SG3_OPS=ref)"
)


def _first_order_only(ctx) -> None:
    if torch.is_grad_enabled():  # backward runs with grad mode on only under create_graph=True
        raise RuntimeError(DOUBLE_BACKWARD.format(op=ctx.op_name))


def _flip(f: torch.Tensor) -> torch.Tensor:
    return f.flip(list(range(f.ndim)))


def _passes(
    kernels: Any,
    x: torch.Tensor,
    f: torch.Tensor,
    upx: int,
    upy: int,
    downx: int,
    downy: int,
    px0: int,
    px1: int,
    py0: int,
    py1: int,
    gain: float,
) -> torch.Tensor:
    """One upfirdn2d on the kernels, through `upfirdn2d_rows` for any filter with more than one tap.

    `upfirdn2d` applies a 1-D filter as its 2-D outer product (taps^2 / up^2 multiply-adds per output), one output
    at a time; `upfirdn2d_rows` makes it two 1-D passes (2 * taps / up) and, on the CPU, runs every pass (2-D
    filters too) as row loops that vectorize. These passes are most of a step with gradients.
    """
    if f.numel() > 1:
        return kernels.upfirdn2d_rows(x, _separable(f), upx, upy, downx, downy, px0, px1, py0, py1, gain)
    return kernels.upfirdn2d(x, f, upx, upy, downx, downy, px0, px1, py0, py1, gain)


_SEPARABLE: DerivedCache[torch.Tensor] = DerivedCache()


def _separable(f: torch.Tensor) -> torch.Tensor:
    """A square 2-D filter that is the outer product of one 1-D filter with itself (StyleGAN2's [1, 3, 3, 1] blur,
    built 2-D) as that 1-D filter, so its passes cost 2 * taps instead of taps^2; any other filter as it is.

    For f = v v^T the row sums are v * sum(v) and their total is sum(v)^2, so v = rowsums / sqrt(total) when
    sum(v) > 0 (a low-pass filter); the outer product is checked before the 1-D form is used. Cached per filter.
    """
    if f.ndim != 2 or f.shape[0] != f.shape[1] or f.shape[0] < 2:
        return f

    def make() -> torch.Tensor:
        rows = f.double().sum(dim=1)
        total = float(rows.sum())
        if not total > 0:
            return f
        v = rows / total**0.5
        scale = float(f.abs().max())
        if float((torch.outer(v, v) - f.double()).abs().max()) > 1e-6 * scale:
            return f
        return v.to(f.dtype).contiguous()

    return _SEPARABLE.get(f, "separable", make)


def grad_padding(in_size: int, out_size: int, up: int, down: int, taps: int, pad0: int) -> tuple[int, int]:
    """Padding of the transposed pass along one axis.

    Forward: out[o] = sum_k f[k] * P[o * down + k], with P the input upsampled by `up` (zeros between samples)
    and shifted by `pad0`, so input sample i sits at P index i * up + pad0. Hence
    dx[i] = sum_k f[k] * Z[i * up + pad0 - k], Z = dy upsampled by `down`; with the flipped filter g[k'] =
    f[taps - 1 - k'] that is a correlation of Z padded by `taps - 1 - pad0` in front, taken at every `up`-th
    sample: an upfirdn2d with up = down, down = up. The trailing pad makes exactly `in_size` outputs.
    """
    return taps - 1 - pad0, in_size * up - out_size * down + pad0 - up + 1


def _upfirdn_grad(
    kernels: Any,
    dy: torch.Tensor,
    f: torch.Tensor,
    upx: int,
    upy: int,
    downx: int,
    downy: int,
    px0: int,
    py0: int,
    gain: float,
    in_h: int,
    in_w: int,
) -> torch.Tensor:
    fw, fh = int(f.shape[-1]), int(f.shape[0])
    gx0, gx1 = grad_padding(in_w, int(dy.shape[3]), upx, downx, fw, px0)
    gy0, gy1 = grad_padding(in_h, int(dy.shape[2]), upy, downy, fh, py0)
    return _passes(kernels, dy.contiguous(), _flip(f), downx, downy, upx, upy, gx0, gx1, gy0, gy1, gain)


class _Upfirdn2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernels, f, upx, upy, downx, downy, px0, px1, py0, py1, gain):  # noqa: D102
        ctx.op_name, ctx.kernels, ctx.f, ctx.in_hw = "upfirdn2d", kernels, f, (int(x.shape[2]), int(x.shape[3]))
        ctx.args = (upx, upy, downx, downy, px0, py0, gain)
        return _passes(kernels, x.contiguous(), f, upx, upy, downx, downy, px0, px1, py0, py1, gain)

    @staticmethod
    def backward(ctx, dy):  # noqa: D102
        _first_order_only(ctx)
        dx = _upfirdn_grad(ctx.kernels, dy, ctx.f, *ctx.args, *ctx.in_hw)
        return (dx,) + (None,) * 11


def _bias_grad(dt: torch.Tensor, b: torch.Tensor, dim: int) -> torch.Tensor:
    dim = dim % dt.ndim
    acc = torch.float64 if dt.dtype == torch.float64 else torch.float32  # float16 gradients sum in float32
    return dt.sum([d for d in range(dt.ndim) if d != dim], dtype=acc).to(b.dtype)


class _BiasAct(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, b, kernels, dim, act, alpha, gain, clamp):  # noqa: D102
        x = x.contiguous()
        ctx.save_for_backward(x, b)
        ctx.op_name, ctx.kernels, ctx.args = "bias_act", kernels, (dim, act, alpha, gain, clamp)
        return kernels.bias_act(x, b, dim, act, alpha, gain, clamp)

    @staticmethod
    def backward(ctx, dy):  # noqa: D102
        _first_order_only(ctx)
        x, b = ctx.saved_tensors
        dx = ctx.kernels.bias_act_grad(dy.contiguous(), x, b, *ctx.args)
        db = _bias_grad(dx, b, ctx.args[0]) if ctx.needs_input_grad[1] and b.numel() else None
        return (dx if ctx.needs_input_grad[0] else None, db) + (None,) * 6


def _fused_with_codes(kernels: Any, x, b, fu, fd, up, down, px0, px1, py0, py1, gain, slope, clamp):
    """(output, codes) from the fused kernel that keeps the nonlinearity's codes (`filtered_lrelu_codes`, CPU
    build), or (None, None) where it does not serve the call (another build, fp16, a layer without a blocked
    variant): the same codes as the unfused forward's, in one pass instead of five over the upsampled tensor."""
    fused = getattr(kernels, "filtered_lrelu_codes", None)
    if fused is None:
        return None, None
    y, code = fused(x, fu, fd, b, up, down, px0, px1, py0, py1, gain, slope, clamp)
    return (y, code) if code.numel() else (None, None)


def _streamed_backward(kernels: Any, dy, fd, fu, up, down, px0, py0, code, gain, slope, in_h, in_w):
    """dt of filtered_lrelu's backward in one call, streamed by rows (`filtered_lrelu_grad_rows`, CPU build: the
    upsampled-size gradients stay in cache), or None where the build lacks it or the call is not float32 with a
    separable up filter, or the build declines it (an empty result: filters longer than its row passes take); then
    the passes run one by one."""
    fused = getattr(kernels, "filtered_lrelu_grad_rows", None)
    f2 = _separable(_flip(fu))
    if fused is None or dy.dtype != torch.float32 or f2.ndim != 1 or fd.numel() <= 1 or fu.numel() <= 1:
        return None
    f1 = _separable(_flip(fd))
    uh, uw = int(code.shape[2]), int(code.shape[3])
    g1x0, _ = grad_padding(uw, int(dy.shape[3]), 1, down, int(fd.shape[-1]), 0)
    g1y0, _ = grad_padding(uh, int(dy.shape[2]), 1, down, int(fd.shape[0]), 0)
    g2x0, _ = grad_padding(in_w, uw, up, 1, int(fu.shape[-1]), px0)
    g2y0, _ = grad_padding(in_h, uh, up, 1, int(fu.shape[0]), py0)
    dt = fused(dy.contiguous(), f1, down, g1x0, g1y0, code, gain, slope, f2, up, g2x0, g2y0, float(up * up), in_h,
               in_w)  # fmt: skip
    return dt if dt.numel() else None


class _FilteredLrelu(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, b, kernels, fu, fd, up, down, px0, px1, py0, py1, gain, slope, clamp):  # noqa: D102
        y, code = _fused_with_codes(kernels, x, b, fu, fd, up, down, px0, px1, py0, py1, gain, slope, clamp)
        if y is None:
            t = x.contiguous()
            if b.numel():
                t = kernels.bias_act(t, b, 1, "linear", 0.0, 1.0, -1.0)
            u = _passes(kernels, t, fu, up, up, 1, 1, px0, px1, py0, py1, float(up * up))
            a, code = kernels.filtered_lrelu_act(u, gain, slope, clamp)
            del u
            y = _passes(kernels, a, fd, 1, 1, down, down, 0, 0, 0, 0, 1.0)
        ctx.save_for_backward(code)
        ctx.op_name, ctx.kernels, ctx.fu, ctx.fd = "filtered_lrelu", kernels, fu, fd
        ctx.args = (
            up,
            down,
            px0,
            py0,
            gain,
            slope,
            (int(x.shape[2]), int(x.shape[3])),
            b.numel() > 0,
            b.new_empty([0]),
        )
        return y

    @staticmethod
    def backward(ctx, dy):  # noqa: D102
        _first_order_only(ctx)
        (code,) = ctx.saved_tensors
        up, down, px0, py0, gain, slope, (in_h, in_w), has_bias, b_like = ctx.args
        k = ctx.kernels
        dt = _streamed_backward(k, dy, ctx.fd, ctx.fu, up, down, px0, py0, code, gain, slope, in_h, in_w)
        if dt is None:
            da = _upfirdn_grad(k, dy, ctx.fd, 1, 1, down, down, 0, 0, 1.0, int(code.shape[2]), int(code.shape[3]))
            du = k.filtered_lrelu_act_grad(da, code, gain, slope)
            del da
            dt = _upfirdn_grad(k, du, ctx.fu, up, up, 1, 1, px0, py0, float(up * up), in_h, in_w)
            del du
        db = _bias_grad(dt, b_like, 1) if ctx.needs_input_grad[1] and has_bias else None
        return (dt if ctx.needs_input_grad[0] else None, db) + (None,) * 12


def run(kernels: Any, op: str, x: torch.Tensor, *args: Any) -> torch.Tensor:
    """`kernels.<op>(x, *args)`, through the op's autograd Function when a gradient is asked for.

    `args` are the kernels' API arguments after x (see the module docstring); a bias tensor among them may ask
    for a gradient too. The bias gradient comes back in the bias's dtype (autograd casts it through the
    dispatch's `.to(x.dtype)`).
    """
    if not needs_grad(x, *args):
        return getattr(kernels, op)(x, *args)
    if op == "upfirdn2d":
        return _Upfirdn2d.apply(x, kernels, *args)
    if op == "bias_act":
        b, rest = args[0], args[1:]
        return _BiasAct.apply(x, b, kernels, *rest)
    if op == "filtered_lrelu":
        fu, fd, b, rest = args[0], args[1], args[2], args[3:]
        return _FilteredLrelu.apply(x, b, kernels, fu, fd, *rest)
    raise ValueError(f"no gradient path for op {op!r}")
