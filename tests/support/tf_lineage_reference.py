"""What TensorFlow's StyleGAN (v1) and ProGAN graphs compute, written from their equations on the TF variables.

An independent check of the loaders and of our generators: nothing is converted to our layouts; the
operations follow TF's definitions on TF's layouts. Dense weights `[in, out]`, conv weights
`[kh, kw, in, out]` with the run-time scale gain / sqrt(fan_in) (times lrmul); `tf.nn.conv2d(..., 'SAME')`
is a correlation; the fused up-sampling convolution is TF's recipe (transpose to [k, k, out, in], pad,
sum of four shifts, `conv2d_transpose` with stride 2 and SAME padding), where `conv2d_transpose` is taken
literally as the gradient of the strided SAME `conv2d` with respect to its input (autograd); nearest
up-sampling is TF's reshape + tile; progressive growing uses the *linear* structure (`lerp_clip` per level),
not the recursive one our generators follow, so a saved `lod` is checked against the other formulation.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

SQRT2 = float(np.sqrt(2))


def _t(value) -> torch.Tensor:
    return torch.as_tensor(np.asarray(value, dtype=np.float32))


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return torch.maximum(x, x * 0.2)


def act(x: torch.Tensor, name: str) -> torch.Tensor:
    return lrelu(x) if name == "lrelu" else torch.clamp(x, min=0)


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * torch.rsqrt(torch.mean(x * x, dim=1, keepdim=True) + eps)


def dense(x: torch.Tensor, w, b=None, gain: float = SQRT2, lrmul: float = 1.0, wscale: bool = True) -> torch.Tensor:
    w = _t(w)
    coef = gain / np.sqrt(w.shape[0]) * lrmul if wscale else lrmul
    y = x @ (w * coef)
    return y if b is None else y + _t(b) * lrmul


def conv_same(x: torch.Tensor, w_hwio: torch.Tensor) -> torch.Tensor:
    """tf.nn.conv2d, stride 1, SAME (odd kernel): a correlation with kernel // 2 zeros around."""
    k = w_hwio.shape[0]
    return F.conv2d(F.pad(x, [k // 2] * 4), w_hwio.permute(3, 2, 0, 1))


def upscale_tile(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """TF's upscale2d: reshape to [N, C, H, 1, W, 1], tile, reshape back."""
    if factor == 1:
        return x
    n, c, h, w = x.shape
    x = x.reshape(n, c, h, 1, w, 1).expand(n, c, h, factor, w, factor)
    return x.reshape(n, c, h * factor, w * factor)


def conv2d_transpose_same_s2(x: torch.Tensor, filt_hw_oc_ic: torch.Tensor) -> torch.Tensor:
    """tf.nn.conv2d_transpose(x, filter [h, w, out_c, in_c], stride 2, SAME) = d conv2d(y, filter) / dy applied
    to x, with y of out_c channels and twice x's size. TF's SAME padding of that strided conv2d: total
    (H - 1) * 2 + k - 2H (2 for the 4-tap kernel), the smaller half before."""
    n, _, h, w = x.shape
    kh = filt_hw_oc_ic.shape[0]
    total = max((h - 1) * 2 + kh - 2 * h, 0)
    before, after = total // 2, total - total // 2
    y = torch.zeros([n, filt_hw_oc_ic.shape[2], 2 * h, 2 * w], requires_grad=True)
    forward = F.conv2d(F.pad(y, [before, after, before, after]), filt_hw_oc_ic.permute(3, 2, 0, 1), stride=2)
    (grad,) = torch.autograd.grad(forward, y, grad_outputs=x)
    return grad.detach()


def fused_upscale_conv(x: torch.Tensor, w_stored: torch.Tensor, stored_out_in: bool) -> torch.Tensor:
    """upscale2d_conv2d: w [k, k, in, out] transposed to [k, k, out, in] (or stored so), padded, four shifts."""
    w = w_stored if stored_out_in else w_stored.permute(0, 1, 3, 2)
    w = F.pad(w.permute(2, 3, 0, 1), [1, 1, 1, 1]).permute(2, 3, 0, 1)  # pad the two spatial axes
    w = w[1:, 1:] + w[:-1, 1:] + w[1:, :-1] + w[:-1, :-1]
    return conv2d_transpose_same_s2(x, w)


def blur_same(x: torch.Tensor, taps) -> torch.Tensor:
    if not taps:
        return x
    f = np.asarray(taps, dtype=np.float32)
    f = f[:, None] * f[None, :]
    f = torch.from_numpy(f / f.sum())
    k = f.shape[0]
    x = F.pad(x, [(k - 1) // 2, k // 2, (k - 1) // 2, k // 2])
    return F.conv2d(x, f[None, None].repeat(x.shape[1], 1, 1, 1), groups=x.shape[1])


def lerp_clip(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    return a + (b - a) * float(np.clip(t, 0.0, 1.0))


# --- StyleGAN (v1) ---------------------------------------------------------------------------------


def v1_mapping(v: dict, z: torch.Tensor, c: torch.Tensor | None, kw: dict) -> torch.Tensor:
    """G_mapping: [LabelConcat], pixel norm, Dense layers with lrmul; W [N, dlatent]."""
    x = z
    if kw.get("label_size", 0):
        x = torch.cat([x, c @ _t(v["mapping/LabelConcat/weight"])], dim=1)
    if kw.get("normalize_latents", True):
        x = pixel_norm(x)
    for i in range(kw.get("mapping_layers", 8)):
        x = dense(x, v[f"mapping/Dense{i}/weight"], v[f"mapping/Dense{i}/bias"], lrmul=kw.get("mapping_lrmul", 0.01))
        x = act(x, kw.get("mapping_nonlinearity", "lrelu"))
    return x


def v1_truncate(v: dict, w: torch.Tensor, num_layers: int, psi: float, cutoff: int) -> torch.Tensor:
    """G_style's broadcast and truncation: lerp(dlatent_avg, dlatents, psi where layer < cutoff else 1)."""
    dl = w[:, None].repeat(1, num_layers, 1)
    coefs = torch.where(torch.arange(num_layers)[None, :, None] < cutoff, torch.tensor(psi), torch.tensor(1.0))
    avg = _t(v["dlatent_avg"])
    return avg + (dl - avg) * coefs


def v1_synthesis(v: dict, dlatents: torch.Tensor, kw: dict, lod: float = 0.0) -> torch.Tensor:
    """G_synthesis with randomize_noise=False in the linear structure, at level of detail `lod`."""
    res_log2 = int(np.log2(kw["resolution"]))
    a = kw.get("nonlinearity", "lrelu")
    use_noise = kw.get("use_noise", True)
    taps = kw.get("blur_filter", [1, 2, 1])
    fused_setting = kw.get("fused_scale", "auto")

    def epilogue(x, idx, scope):
        s = f"synthesis/{scope}"
        if use_noise:
            x = x + _t(v[f"synthesis/noise{idx}"]) * _t(v[f"{s}/Noise/weight"]).reshape(1, -1, 1, 1)
        x = act(x + _t(v[f"{s}/bias"]).reshape(1, -1, 1, 1), a)
        if kw.get("use_pixel_norm", False):
            x = pixel_norm(x)
        if kw.get("use_instance_norm", True):
            x = x - x.mean(dim=[2, 3], keepdim=True)
            x = x * torch.rsqrt((x * x).mean(dim=[2, 3], keepdim=True) + 1e-8)
        style = dense(dlatents[:, idx], v[f"{s}/StyleMod/weight"], v[f"{s}/StyleMod/bias"], gain=1)
        style = style.reshape(-1, 2, x.shape[1], 1, 1)
        return x * (style[:, 0] + 1) + style[:, 1]

    def conv(x, scope, gain=SQRT2):
        w = _t(v[f"synthesis/{scope}/weight"])
        return conv_same(x, w * (gain / np.sqrt(np.prod(w.shape[:-1]))))

    def torgb(x, res):
        w = _t(v[f"synthesis/ToRGB_lod{res_log2 - res}/weight"])
        y = conv_same(x, w * (1 / np.sqrt(np.prod(w.shape[:-1]))))
        return y + _t(v[f"synthesis/ToRGB_lod{res_log2 - res}/bias"]).reshape(1, -1, 1, 1)

    def block(x, res):
        scope = f"{2**res}x{2**res}/Conv0_up"
        w = _t(v[f"synthesis/{scope}/weight"])
        w = w * (SQRT2 / np.sqrt(np.prod(w.shape[:-1])))
        fused = fused_setting if fused_setting != "auto" else min(x.shape[2:]) * 2 >= 128
        y = fused_upscale_conv(x, w, stored_out_in=False) if fused else conv_same(upscale_tile(x), w)
        x = epilogue(blur_same(y, taps), res * 2 - 4, scope)
        return epilogue(conv(x, f"{2**res}x{2**res}/Conv1"), res * 2 - 3, f"{2**res}x{2**res}/Conv1")

    const = _t(v["synthesis/4x4/Const/const"])
    x = epilogue(const.repeat(dlatents.shape[0], 1, 1, 1), 0, "4x4/Const")
    x = epilogue(conv(x, "4x4/Conv"), 1, "4x4/Conv")
    images = torgb(x, 2)
    for res in range(3, res_log2 + 1):
        x = block(x, res)
        images = lerp_clip(torgb(x, res), upscale_tile(images), lod - (res_log2 - res))
    return images


# --- ProGAN ------------------------------------------------------------------------------------------


def progan(v: dict, z: torch.Tensor, c: torch.Tensor | None, kw: dict, writer: str, lod: float = 0.0) -> torch.Tensor:
    """G_paper in the linear structure; `writer` says how Conv0_up is stored ('tfutil' [k,k,out,in], 'dnnlib'
    [k,k,in,out]) or that the file uses Conv0 ('theano')."""
    res_log2 = int(np.log2(kw["resolution"]))
    a = "lrelu" if kw.get("use_leakyrelu", True) else "relu"
    pn = kw.get("use_pixelnorm", True)

    def PN(x):
        return pixel_norm(x) if pn else x

    def conv(x, scope):
        w = _t(v[f"{scope}/weight"])
        return conv_same(x, w * (SQRT2 / np.sqrt(np.prod(w.shape[:-1]))))

    def bias(x, scope):
        return x + _t(v[f"{scope}/bias"]).reshape(1, -1, 1, 1)

    def torgb(x, res):
        scope = f"ToRGB_lod{res_log2 - res}"
        w = _t(v[f"{scope}/weight"])
        return bias(conv_same(x, w * (1 / np.sqrt(np.prod(w.shape[:-1])))), scope)

    x = torch.cat([z, c], dim=1) if c is not None else z
    if kw.get("normalize_latents", True):
        x = pixel_norm(x)
    channels0 = _t(v["4x4/Dense/bias"]).shape[0]
    x = dense(x, v["4x4/Dense/weight"], gain=SQRT2 / 4).reshape(-1, channels0, 4, 4)
    x = PN(act(bias(x, "4x4/Dense"), a))
    x = PN(act(bias(conv(x, "4x4/Conv"), "4x4/Conv"), a))
    images = torgb(x, 2)
    for res in range(3, res_log2 + 1):
        scope = f"{2**res}x{2**res}"
        if writer == "theano":
            x = PN(act(bias(conv(upscale_tile(x), f"{scope}/Conv0"), f"{scope}/Conv0"), a))
        else:
            w = _t(v[f"{scope}/Conv0_up/weight"])
            fan_in = 9 * x.shape[1]  # kernel**2 * input feature maps, in both writers
            y = fused_upscale_conv(x, w * (SQRT2 / np.sqrt(fan_in)), stored_out_in=writer == "tfutil")
            x = PN(act(bias(y, f"{scope}/Conv0_up"), a))
        x = PN(act(bias(conv(x, f"{scope}/Conv1"), f"{scope}/Conv1"), a))
        images = lerp_clip(torgb(x, res), upscale_tile(images), lod - (res_log2 - res))
    return images
