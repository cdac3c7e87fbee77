"""What TensorFlow's StyleGAN2 computes, written straight from its variables in TF's own layouts.

An independent check of the loader's conversion (transposes, flips, the style bias's +1, noise
order): no variable is converted to our layout here; the operations follow TF's definitions
instead (dense weights `[in, out]`, conv weights `[kh, kw, in, out]` with a run-time gain of
1/sqrt(fan_in), `tf.nn.conv2d` is a correlation, `upsample_conv_2d` is a transposed convolution of
the spatially flipped kernel, i.e. zero insertion followed by a correlation with the kernel itself,
then the low-pass FIR; `upsample_2d` is zero insertion then the FIR with gain 4).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

SQRT2 = float(np.sqrt(2))


def _t(value) -> torch.Tensor:
    return torch.as_tensor(np.asarray(value, dtype=np.float32))


def _act(x: torch.Tensor, act: str) -> torch.Tensor:
    if act == "lrelu":
        return F.leaky_relu(x, 0.2) * SQRT2
    if act == "relu":
        return F.relu(x) * SQRT2
    return x


def _normalize(x: torch.Tensor) -> torch.Tensor:
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)


def tf_mapping(v: dict, z: torch.Tensor, c: torch.Tensor | None, *, layers: int, lrmul: float = 0.01,
               act: str = "lrelu") -> torch.Tensor:
    """G_mapping (StyleGAN2-ADA's LabelEmbed for labels): z -> w [N, w_dim]."""

    def dense(x, scope, lr=1.0):
        w = _t(v[f"{scope}/weight"])
        return x @ (w * (lr / np.sqrt(w.shape[0]))) + _t(v[f"{scope}/bias"]) * lr

    x = _normalize(z)
    if c is not None and "mapping/LabelEmbed/weight" in v:
        x = torch.cat([x, _normalize(dense(c, "mapping/LabelEmbed"))], dim=1)
    for i in range(layers):
        x = _act(dense(x, f"mapping/Dense{i}", lrmul), act)
    return x


def _fir(x: torch.Tensor, pad: tuple[int, int], gain: float) -> torch.Tensor:
    k = np.outer([1, 3, 3, 1], [1, 3, 3, 1]).astype(np.float32)
    k = torch.from_numpy(k / k.sum() * gain)
    channels = x.shape[1]
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    return F.conv2d(x, k[None, None].repeat(channels, 1, 1, 1), groups=channels)


def _zero_insert(x: torch.Tensor, trailing: bool) -> torch.Tensor:
    n, c, h, w = x.shape
    size = (2 * h, 2 * w) if trailing else (2 * h - 1, 2 * w - 1)
    out = x.new_zeros([n, c, *size])
    out[:, :, ::2, ::2] = x
    return out


def upsample_2d(x: torch.Tensor) -> torch.Tensor:
    """TF upsample_2d with [1,3,3,1]: up=2 (zeros after every sample), pad (2, 1), FIR, gain 4."""
    return _fir(_zero_insert(x, trailing=True), (2, 1), 4.0)


def upsample_conv_2d(x: torch.Tensor, w_kkio: torch.Tensor) -> torch.Tensor:
    """TF upsample_conv_2d (factor 2, [1,3,3,1]) for one sample's kernel [k, k, in, out]."""
    k = w_kkio.shape[0]
    u = F.pad(_zero_insert(x, trailing=False), [k - 1] * 4)
    y = F.conv2d(u, w_kkio.permute(3, 2, 0, 1))  # correlation with the kernel as stored
    p = (4 - 2) - (k - 1)
    return _fir(y, ((p + 1) // 2 + 1, p // 2 + 1), 4.0)


def modulated_conv(x, dlatent, v, scope, *, up=False, demodulate=True):
    w = _t(v[f"{scope}/weight"])
    k, _, c_in, _ = w.shape
    w = w / np.sqrt(k * k * c_in)
    mod_w = _t(v[f"{scope}/mod_weight"])
    s = dlatent @ (mod_w / np.sqrt(mod_w.shape[0])) + _t(v[f"{scope}/mod_bias"]) + 1  # [N, I]
    ww = w[None] * s[:, None, None, :, None]  # [N, k, k, I, O]
    if demodulate:
        ww = ww * torch.rsqrt(ww.square().sum(dim=[1, 2, 3]) + 1e-8)[:, None, None, None, :]
    out = []
    for b in range(x.shape[0]):
        xb = x[b : b + 1]
        if up:
            out.append(upsample_conv_2d(xb, ww[b]))
        else:
            out.append(F.conv2d(xb, ww[b].permute(3, 2, 0, 1), padding=k // 2))
    return torch.cat(out)


def tf_synthesis(v: dict, dlatents: torch.Tensor, *, resolution: int, architecture: str, revised: bool = False,
                 use_noise: bool = True, act: str = "lrelu", conv_clamp: float | None = None) -> torch.Tensor:
    """G_synthesis_stylegan2 / G_synthesis (or the revised one at lod 0) with randomize_noise=False."""
    log2 = int(np.log2(resolution))

    def bias_act(x, scope, a):
        x = _act(x + _t(v[f"{scope}/bias"])[None, :, None, None], a)
        return x.clamp(-conv_clamp, conv_clamp) if conv_clamp is not None else x

    def layer(x, idx, scope, up=False):
        x = modulated_conv(x, dlatents[:, idx], v, f"synthesis/{scope}", up=up)
        if use_noise:
            x = x + _t(v[f"synthesis/noise{idx}"]) * float(v[f"synthesis/{scope}/noise_strength"])
        return bias_act(x, f"synthesis/{scope}", act)

    def torgb(x, y, res, scope):
        t = modulated_conv(x, dlatents[:, res * 2 - 3], v, f"synthesis/{scope}", demodulate=False)
        t = bias_act(t, f"synthesis/{scope}", "linear")
        return t if y is None else y + t

    const = _t(v["synthesis/4x4/Const/const"])
    x = const.repeat(dlatents.shape[0], 1, 1, 1)
    x = layer(x, 0, "4x4/Conv")
    y = torgb(x, None, 2, "4x4/ToRGB") if architecture == "skip" and not revised else None
    for res in range(3, log2 + 1):
        scope = f"{2**res}x{2**res}"
        t = x
        x = layer(x, res * 2 - 5, f"{scope}/Conv0_up", up=True)
        x = layer(x, res * 2 - 4, f"{scope}/Conv1")
        if architecture == "resnet":
            skip = _t(v[f"synthesis/{scope}/Skip/weight"])
            t = upsample_conv_2d(t, skip / np.sqrt(skip.shape[2]))
            x = (x + t) * (1 / SQRT2)
        if architecture == "skip":
            y = upsample_2d(y)
        if architecture == "skip" or res == log2:
            y = torgb(x, y, res, "ToRGB_lod0" if revised else f"{scope}/ToRGB")
    return y
