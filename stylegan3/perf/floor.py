"""Performance floor of one synthesis frame: multiply-adds and bytes counted from our network classes.

Issue 4 asks for SG3-T <= 3 ms, SG3-R <= 5 ms and SG2 <= 6 ms per 1024x1024 frame (batch 1, synthesis
only) on one H100. Before timing anything we count what a frame must do, so that a measured time can be
read as "x times the floor" and the larger term says whether arithmetic or memory traffic is the limit
(see benchmarks/NOTES.md). Everything here runs on the CPU; the ceilings default to H100 SXM datasheet
values and can be replaced by measured ones (`--bw-gbs`, `--fp16-tflops`, ...).

Conventions:
- 1 MAC = one multiply-add = 2 FLOPs (datasheet TFLOPS count an FMA as 2). Elementwise work (bias,
  leaky ReLU, clamp, noise, sin) is counted in "ops", one op per instruction, which costs the same
  issue slot as one MAC on the CUDA cores.
- Counts come from the layer attributes (sizes, channels, kernel, up/down factors, filter taps),
  not from tracing. Filters follow our CUDA kernels: the up stage visits only the taps that hit a
  non-inserted sample (taps/up per dimension), the down filter is evaluated only at every down-th
  sample, no tile halos. "as built" = 1-D filters separable, 2-D (radial, SG2's 4x4) filters 2-D.
- Units: "tc16" fp16 tensor cores; "mm32" fp32 matmul/conv, which runs on tf32 tensor cores if TF32 is
  allowed, else on the fp32 CUDA cores (both shown: bench_synthesis turns TF32 off); "cuda" fp32 CUDA
  cores (our filter kernels compute in float32). Time on different units adds up: a layer-by-layer
  implementation does not overlap them.
- Bytes: (a) strict = every weight read once in the dtype it is used in + the output image written;
  (b) practical = (a) + each activation written once and read once per consumer at every kernel
  boundary our implementation has, + the modulated weights written and read once (one fused
  modulation kernel); (c) = (b) with the modulation done as the torch code does it today (about 15
  passes over each weight tensor).

The model lives in the package because `sg3-explorer bench` prints the floor next to its measured
times; the tables, the command line and measured-ceiling files are benchmarks/floor.py's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from stylegan3.networks.configs import TARGETS_MS, official_config, tiny_config

# Official code with its CUDA plugins, fp16, synthesis only, H100 (issue 4).
OFFICIAL_MS = {"SG3-T": 13.8, "SG3-R": 21.5, "SG2": 24.3}

BYTES = {"fp16": 2, "fp32": 4}

# Elementwise ops per element (one instruction each; gains folded into filters / weights).
OPS_LRELU_CLAMP = 4  # leaky ReLU as mul + max, clamp as min + max
OPS_BIAS_ACT_LRELU = 5  # bias add + leaky ReLU (2) + clamp (2); the gain folds into the slope
OPS_BIAS_ACT_LINEAR = 3  # bias add + clamp (2)
OPS_FOURIER = 3  # phase add, sin, amplitude

# Passes over one modulated weight tensor in the torch code today, in units of "elements moved"
# (read or written) per weight element, keyed by (network kind, demodulate): fp32 moves, before the cast.
# SG3 modulate_weights (prenormalize, demodulate, input gain): square W+R, mean R, scale R+W,
# * styles R+W, square R+W, sum R, * dcoefs R+W, * input gain R+W = 14 fp32 moves; fp16 adds the cast
# (fp32 R, fp16 W); the conv then reads the result in its dtype.
# SG2 modulated_conv2d: fp16 adds inf-norm R and rescale R+W; then * styles R+W, square R+W, sum R,
# * dcoefs R+W (no demodulation for toRGB: * styles only), cast in fp16.
TORCH_MOD_MOVES = {
    ("sg3", True): 14,
    ("sg2", True): 7,
    ("sg2", False): 2,
}
TORCH_MOD_FP16_PRENORM = 3  # SG2 in fp16 only: inf-norm read + rescale read/write


@dataclass
class Ceilings:
    """Peak rates of the machine; datasheet values of an H100 SXM unless overridden with measured ones."""

    bw_gbs: float = 3350.0  # HBM3
    fp16_tflops: float = 989.0  # dense fp16 tensor cores
    tf32_tflops: float = 494.0  # dense tf32 tensor cores
    fp32_tflops: float = 67.0  # fp32 CUDA cores (FMA = 2 FLOPs)
    hfma2_tflops: float = 134.0  # fp16 CUDA cores, packed half2 FMA

    def ms(self, macs: float, rate: str) -> float:
        tflops = {
            "fp16": self.fp16_tflops,
            "tf32": self.tf32_tflops,
            "fp32": self.fp32_tflops,
            "hfma2": self.hfma2_tflops,
        }[rate]
        return macs / (tflops * 1e12 / 2) * 1e3

    def bytes_ms(self, nbytes: float) -> float:
        return nbytes / (self.bw_gbs * 1e9) * 1e3


@dataclass
class Work:
    """Arithmetic of one kind in one layer. For filters, macs is 'as built' and macs_2d / macs_sep the
    two pure alternatives (every filter as a 2-D stencil / every filter separable)."""

    kind: str
    unit: str  # tc16 | mm32 | cuda
    dtype: str  # dtype of the layer's data (fp16 / fp32)
    macs: float
    macs_2d: float | None = None
    macs_sep: float | None = None


@dataclass
class LayerCount:
    name: str
    dtype: str
    desc: str
    work: list[Work] = field(default_factory=list)
    weight_bytes: float = 0.0  # (a): parameters/buffers read once in the dtype they are used in
    out_bytes: float = 0.0  # (a): the final image, for the last layer only
    act_bytes: float = 0.0  # (b) - (a): activation and modulated-weight traffic at kernel boundaries
    mod_fused_bytes: float = 0.0  # part of act_bytes: modulated weights written + read once
    mod_torch_bytes: float = 0.0  # the same traffic as the torch code does it (replaces the line above)
    synthesis: bool = True  # False for the mapping network (not part of the targets)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def bytes_a(self) -> float:
        return self.weight_bytes + self.out_bytes

    @property
    def bytes_b(self) -> float:
        return self.bytes_a + self.act_bytes

    @property
    def bytes_c(self) -> float:
        return self.bytes_b - self.mod_fused_bytes + self.mod_torch_bytes

    def macs(self, kind: str | None = None) -> float:
        return sum(w.macs for w in self.work if kind is None or w.kind == kind)


# --------------------------------------------------------------------------------------------------
# Filter counting, shared by SG3's filtered_lrelu and SG2's upfirdn2d (same loop structure as the kernels)


def _phase_taps(length: int, pad0: int, taps: int, up: int) -> int:
    """Sum over `length` up-stage positions of the taps that land on a non-inserted input sample."""
    total = 0
    for m in range(length):
        start = (-(m - pad0)) % up
        if start < taps:
            total += (taps - start + up - 1) // up
    return total


def _rows_touched(length: int, pad0: int, taps: int, up: int) -> int:
    """Input rows (zero padding included) that the taps of `length` up-stage positions land on."""
    rows = [(m - pad0 + fy) // up for m in range(length) for fy in range((-(m - pad0)) % up, taps, up)]
    return max(rows) - min(rows) + 1 if rows else 0


def up_stage_macs(mid: tuple[int, int], pad0: tuple[int, int], taps: int, up: int) -> dict[str, float]:
    """Per channel: the up stage producing a mid_w x mid_h region from the zero-inserted input.

    mid and pad0 are (x, y). Separable: a horizontal pass over every input row the region touches,
    then a vertical pass per mid sample (what the kernel's phase 2a/2 do for a tile covering all).
    """
    sx = _phase_taps(mid[0], pad0[0], taps, up)
    sy = _phase_taps(mid[1], pad0[1], taps, up)
    in_rows = _rows_touched(mid[1], pad0[1], taps, up)
    return {"2d": float(sx * sy), "sep": float(in_rows * sx + sy * mid[0])}


def down_stage_macs(mid: tuple[int, int], out: tuple[int, int], taps: int) -> dict[str, float]:
    """Per channel: the down filter evaluated only at the kept (every down-th) samples."""
    return {"2d": float(out[0] * out[1] * taps * taps), "sep": float(mid[1] * out[0] * taps + out[0] * out[1] * taps)}


def _as_built(counts: dict[str, float], filt: torch.Tensor | None) -> float:
    """A 1-D filter runs separably, a 2-D (or absent: a 1x1 identity) one as a 2-D stencil."""
    return counts["sep"] if filt is not None and filt.ndim == 1 else counts["2d"]


# --------------------------------------------------------------------------------------------------
# Per-network counters


def _nbytes(t: torch.Tensor | None, dtype: str = "fp32") -> float:
    return 0.0 if t is None else float(t.numel() * BYTES[dtype])


def _fc_work(fc: torch.nn.Module, kind: str) -> Work:
    return Work(kind, "mm32", "fp32", float(fc.in_features * fc.out_features))


def _fc_bytes(fc: torch.nn.Module) -> float:
    return _nbytes(fc.weight) + _nbytes(fc.bias)


def count_mapping(G: torch.nn.Module) -> LayerCount:
    m = G.mapping
    lc = LayerCount("mapping", "fp32", f"{m.num_layers} FC layers", synthesis=False)
    fcs = [getattr(m, f"fc{i}") for i in range(m.num_layers)] + ([m.embed] if m.c_dim > 0 else [])
    for fc in fcs:
        lc.work.append(_fc_work(fc, "mapping"))
        lc.weight_bytes += _fc_bytes(fc)
    return lc


def _mod_bytes(kind: str, demod: bool, dtype: str, numel: int) -> tuple[float, float]:
    """(fused: write + read of the modulated weights, torch today: all its passes incl. the conv's read)."""
    fused = 2.0 * numel * BYTES[dtype]
    moves = TORCH_MOD_MOVES[(kind, demod)] * 4
    if dtype == "fp16":
        moves += 4 + 2  # cast: fp32 read, fp16 write
        if kind == "sg2" and demod:
            moves += TORCH_MOD_FP16_PRENORM * 4
    moves += BYTES[dtype]  # the conv reads the result
    return fused, float(moves * numel)


def count_sg3(G: torch.nn.Module, precision: str) -> list[LayerCount]:
    syn = G.synthesis
    layers = [count_mapping(G)]

    # Fourier input: small fp32 matmuls + sin, written once as the first layer's input.
    inp = syn.input
    c = inp.channels
    w, h = int(inp.size[0]), int(inp.size[1])
    lc = LayerCount("input", "fp32", f"Fourier {w}x{h}x{c}")
    lc.work.append(_fc_work(inp.affine, "affine"))
    # 3x3 transform products (2 x 27), phases (2c), frequencies (4c), grid x freqs (2 per sample), 1x1 mix.
    lc.work.append(Work("fourier", "mm32", "fp32", float(54 + 6 * c + 2 * w * h * c + w * h * c * c)))
    lc.work.append(Work("elementwise", "cuda", "fp32", float(OPS_FOURIER * w * h * c)))
    lc.weight_bytes = _fc_bytes(inp.affine) + sum(
        _nbytes(t) for t in (inp.weight, inp.freqs, inp.phases, inp.transform)
    )
    lc.act_bytes = w * h * c * 4.0  # written (read by L0)
    layers.append(lc)

    prev_dtype = "fp32"
    names = list(syn.layer_names)
    for idx, name in enumerate(names):
        L = getattr(syn, name)
        dtype = "fp16" if L.use_fp16 and precision == "fp16" else "fp32"
        b = BYTES[dtype]
        cin, cout, k = L.in_channels, L.out_channels, L.conv_kernel
        in_w, in_h = int(L.in_size[0]), int(L.in_size[1])
        out_w, out_h = int(L.out_size[0]), int(L.out_size[1])
        conv_w, conv_h = in_w + k - 1, in_h + k - 1  # padding k-1: a "full" convolution
        up, down, fu, fd = L.up_factor, L.down_factor, L.up_taps, L.down_taps
        mid = ((out_w - 1) * down + fd, (out_h - 1) * down + fd)
        px0, _, py0, _ = L.padding
        lc = LayerCount(
            name,
            dtype,
            f"{in_w}->{out_w} {cin}->{cout} k{k} up{up} down{down} taps{fu}/{fd}{' radial' if L.down_radial else ''}",
            info=dict(
                in_size=[in_w, in_h], out_size=[out_w, out_h], conv_out=[conv_w, conv_h], mid=list(mid),
                in_channels=cin, out_channels=cout, conv_kernel=k, up=up, down=down, up_taps=fu,
                down_taps=fd, down_radial=bool(L.down_radial),
            ),
        )  # fmt: skip
        wnum = cout * cin * k * k
        lc.work.append(_fc_work(L.affine, "affine"))
        lc.work.append(Work("modconv", "tc16" if dtype == "fp16" else "mm32", dtype, float(conv_w * conv_h * wnum)))
        lc.work.append(Work("mod/demod", "cuda", "fp32", 3.0 * wnum))  # * style, sum of squares, * (dcoef * gain)
        upc = up_stage_macs(mid, (px0, py0), fu, up)
        dnc = down_stage_macs(mid, (out_w, out_h), fd)
        lc.work.append(
            Work(
                "filtered_lrelu",
                "cuda",
                dtype,
                cout * (_as_built(upc, L.up_filter) + _as_built(dnc, L.down_filter)),
                macs_2d=cout * (upc["2d"] + dnc["2d"]),
                macs_sep=cout * (upc["sep"] + dnc["sep"]),
            )
        )
        ops = conv_w * conv_h + OPS_LRELU_CLAMP * mid[0] * mid[1]  # bias per input sample, lrelu/clamp per mid
        lc.work.append(Work("elementwise", "cuda", dtype, float(cout * ops)))
        lc.info.update(filtered_lrelu_up=upc, filtered_lrelu_down=dnc)

        lc.weight_bytes = _fc_bytes(L.affine) + wnum * b + _nbytes(L.bias) + _nbytes(L.magnitude_ema)
        lc.weight_bytes += _nbytes(L.up_filter) + _nbytes(L.down_filter)
        act = 0.0
        if dtype != prev_dtype:  # x.to(dtype) is its own kernel: read the old dtype, write the new one
            act += in_w * in_h * cin * (BYTES[prev_dtype] + b)
        act += in_w * in_h * cin * b  # conv reads its input
        act += 2.0 * conv_w * conv_h * cout * b  # conv output written, read by filtered_lrelu
        act += out_w * out_h * cout * b  # filtered_lrelu output written
        lc.mod_fused_bytes, lc.mod_torch_bytes = _mod_bytes("sg3", True, dtype, wnum)
        act += lc.mod_fused_bytes
        if idx == len(names) - 1:
            # Epilogue: x * output_scale (read, write) then .to(float32) (read fp16, write fp32 = the image).
            n = out_w * out_h * cout
            lc.out_bytes = n * 4.0
            act += n * b + (2 * n * b if dtype == "fp16" else 0)
        lc.act_bytes = float(act)
        layers.append(lc)
        prev_dtype = dtype
    return layers


def _sg2_layer(
    lc: LayerCount, layer: torch.nn.Module, dtype: str, res: int, cin: int, cout: int, up: int, f: torch.Tensor
) -> float:
    """Adds one modulated conv layer (+ blur, noise, bias_act) to lc; returns its activation bytes."""
    b = BYTES[dtype]
    k = layer.weight.shape[-1]
    wnum = cout * cin * k * k
    unit = "tc16" if dtype == "fp16" else "mm32"
    lc.work.append(_fc_work(layer.affine, "affine"))
    lc.work.append(Work("mod/demod", "cuda", "fp32", 3.0 * wnum))
    lc.weight_bytes += _fc_bytes(layer.affine) + wnum * b + _nbytes(layer.bias)
    act = 0.0
    if up == 1:
        lc.work.append(Work("modconv", unit, dtype, float(res * res * wnum)))
        act += res * res * cin * b  # input read
        act += 2.0 * res * res * cout * b  # conv output written, read by the noise add
    else:
        # Transposed conv at the input resolution, then the 4x4 blur (upfirdn2d) at the output one.
        r = res // up
        fw, fh = int(f.shape[-1]), int(f.shape[0])
        pad = layer.padding
        px0 = pad + (fw + up - 1) // 2 - (k - 1)
        px1 = pad + (fw - up) // 2 - (k - up)
        pxt = max(min(-px0, -px1), 0)
        t = (r - 1) * up + k - 2 * pxt
        lc.work.append(Work("modconv", unit, dtype, float(r * r * wnum)))
        # upfirdn2d on t x t with (px0 + pxt) padding -> res x res; no up/down: a plain stencil.
        blur_2d = res * res * fw * fh
        blur_sep = t * res * fw + res * res * fh
        built = blur_sep if f.ndim == 1 else blur_2d
        lc.work.append(
            Work("upfirdn2d blur", "cuda", dtype, float(cout * built), float(cout * blur_2d), float(cout * blur_sep))
        )
        act += r * r * cin * b
        act += 2.0 * t * t * cout * b  # transposed-conv output written, read by upfirdn2d
        act += 2.0 * res * res * cout * b  # blur output written, read by the noise add
        lc.info["conv_transpose_out"] = t
    if layer.use_noise:
        # noise_const * strength (fp32), cast in fp16, x + noise, then bias_act.
        lc.weight_bytes += res * res * 4.0 + 4.0
        lc.work.append(Work("elementwise", "cuda", dtype, float(res * res + res * res * cout)))
        act += res * res * 4.0 + (res * res * (4 + 2.0) if dtype == "fp16" else 0)  # product written (+cast)
        act += res * res * b  # read by the add
        act += 2.0 * res * res * cout * b  # sum written, read by bias_act
    lc.work.append(Work("elementwise", "cuda", dtype, float(OPS_BIAS_ACT_LRELU * res * res * cout)))
    act += res * res * cout * b  # bias_act output written (reads are counted by the consumers)
    fused, torch_today = _mod_bytes("sg2", True, dtype, wnum)
    lc.mod_fused_bytes += fused
    lc.mod_torch_bytes += torch_today
    return act + fused


def count_sg2(G: torch.nn.Module, precision: str) -> list[LayerCount]:
    syn = G.synthesis
    layers = [count_mapping(G)]
    prev_dtype = "fp32"
    for res in syn.block_resolutions:
        blk = getattr(syn, f"b{res}")
        if blk.architecture == "resnet":
            raise ValueError("the floor counts the 'skip' and 'orig' StyleGAN2 architectures only")
        dtype = "fp16" if blk.use_fp16 and precision == "fp16" else "fp32"
        b = BYTES[dtype]
        f = blk.resample_filter
        cout = blk.conv1.out_channels
        lc = LayerCount(f"b{res}", dtype, f"{res}x{res} {blk.in_channels}->{cout}", info=dict(resolution=res))
        act = 0.0
        if blk.in_channels == 0:
            lc.weight_bytes += _nbytes(blk.const)
            act += 2.0 * res * res * cout * b if dtype == "fp16" else 0  # const.to(fp16)
            act += res * res * cout * b  # repeat: a copy the conv reads
        else:
            r = res // 2
            cin = blk.in_channels
            if dtype != prev_dtype:
                act += r * r * cin * (BYTES[prev_dtype] + b)
            act += _sg2_layer(lc, blk.conv0, dtype, res, cin, cout, 2, blk.conv0.resample_filter)
        act += _sg2_layer(lc, blk.conv1, dtype, res, cout, cout, 1, f)
        if blk.is_last or blk.architecture == "skip":
            rgb = blk.torgb
            c_img = rgb.out_channels
            wnum = c_img * cout
            unit = "tc16" if dtype == "fp16" else "mm32"
            lc.work.append(_fc_work(rgb.affine, "affine"))
            lc.work.append(Work("mod/demod", "cuda", "fp32", float(wnum)))  # * style only
            lc.work.append(Work("torgb", unit, dtype, float(res * res * wnum)))
            lc.work.append(Work("elementwise", "cuda", dtype, float(OPS_BIAS_ACT_LINEAR * res * res * c_img)))
            lc.weight_bytes += _fc_bytes(rgb.affine) + wnum * b + _nbytes(rgb.bias)
            fused, torch_today = _mod_bytes("sg2", False, dtype, wnum)
            lc.mod_fused_bytes += fused
            lc.mod_torch_bytes += torch_today
            act += fused
            act += res * res * cout * b  # second read of the features
            act += 2.0 * res * res * c_img * b  # conv output written, read by bias_act
            act += res * res * c_img * b  # bias_act output written
            if dtype == "fp16":
                act += res * res * c_img * (2 + 4.0)  # .to(float32)
            act += res * res * c_img * 4.0  # read by the img add (or used as img)
        if res > syn.block_resolutions[0]:
            # img = upsample2d(img) then img + y (fp32, 3 channels).
            r = res // 2
            c_img = syn.img_channels
            fw = int(f.shape[-1])
            pad0 = (fw + 1) // 2  # upsample2d's leading padding for up=2
            upc = up_stage_macs((res, res), (pad0, pad0), fw, 2)
            built = upc["sep"] if f.ndim == 1 else upc["2d"]
            lc.work.append(Work("img upsample", "cuda", "fp32", c_img * built, c_img * upc["2d"], c_img * upc["sep"]))
            lc.work.append(Work("elementwise", "cuda", "fp32", float(res * res * c_img)))
            lc.weight_bytes += _nbytes(f)
            act += r * r * c_img * 4.0 + res * res * c_img * 4.0 * 2  # read img, write img_up, read by the add
            if not blk.is_last:
                act += res * res * c_img * 4.0  # img written (the last one is the output, counted in (a))
        if blk.is_last:
            lc.out_bytes = res * res * syn.img_channels * 4.0
        lc.act_bytes = float(act)
        layers.append(lc)
        prev_dtype = dtype
    return layers


# --------------------------------------------------------------------------------------------------
# Times and floors

KIND_ORDER = ["mapping (not synthesis)", "fourier", "affine", "mod/demod", "modconv", "torgb", "filtered_lrelu",
              "upfirdn2d blur", "img upsample", "elementwise"]  # fmt: skip
FP32_ONLY_KINDS = ("mapping (not synthesis)", "fourier", "affine", "mod/demod")


def layer_compute_ms(lc: LayerCount, ceil: Ceilings, mm32: str) -> float:
    """Time on the units that do the layer's work, added (mm32 = 'tf32' or 'fp32')."""
    rate = {"tc16": "fp16", "mm32": mm32, "cuda": "fp32"}
    return sum(ceil.ms(w.macs, rate[w.unit]) for w in lc.work)


def summarize(net: str, precision: str, layers: list[LayerCount], ceil: Ceilings) -> dict[str, Any]:
    """Parts (MACs per kind and unit, times at each eligible ceiling), bytes and floors of one frame."""
    syn = [lc for lc in layers if lc.synthesis]
    groups: dict[tuple[str, str, str], dict[str, float]] = {}
    order: list[tuple[str, str, str]] = []

    def add(key: tuple[str, str, str], w: Work) -> None:
        if key not in groups:
            groups[key] = {"macs": 0.0, "macs_2d": 0.0, "macs_sep": 0.0}
            order.append(key)
        g = groups[key]
        g["macs"] += w.macs
        g["macs_2d"] += w.macs_2d if w.macs_2d is not None else w.macs
        g["macs_sep"] += w.macs_sep if w.macs_sep is not None else w.macs

    for lc in layers:
        for w in lc.work:
            kind = "mapping (not synthesis)" if not lc.synthesis else w.kind
            dtype = "" if kind in FP32_ONLY_KINDS else w.dtype
            add((kind, w.unit, dtype), w)

    def rank(key: tuple[str, str, str]) -> tuple[int, str]:
        kind = key[0]
        return (KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER), key[2])

    parts = []
    for key in sorted(order, key=rank):
        kind, unit, dtype = key
        g = groups[key]
        times = {}
        if unit == "tc16":
            times["fp16"] = ceil.ms(g["macs"], "fp16")
        elif unit == "mm32":
            times["tf32"] = ceil.ms(g["macs"], "tf32")
            times["fp32"] = ceil.ms(g["macs"], "fp32")
        else:
            times["fp32"] = ceil.ms(g["macs"], "fp32")
            if dtype == "fp16":
                times["hfma2"] = ceil.ms(g["macs"], "hfma2")
        part = dict(
            kind=kind, unit=unit, dtype=dtype, macs=g["macs"], ms=times, synthesis=not kind.startswith("mapping")
        )
        if g["macs_2d"] != g["macs"] or g["macs_sep"] != g["macs"]:
            part.update(macs_2d=g["macs_2d"], macs_sep=g["macs_sep"])
        parts.append(part)

    bytes_a = sum(lc.bytes_a for lc in syn)
    bytes_b = sum(lc.bytes_b for lc in syn)
    bytes_c = sum(lc.bytes_c for lc in syn)
    floors = {}
    for mm32 in ("tf32", "fp32"):
        compute = sum(layer_compute_ms(lc, ceil, mm32) for lc in syn)
        floors[mm32] = dict(
            compute_ms=compute,
            strict_ms=max(compute, ceil.bytes_ms(bytes_a)),
            practical_ms=max(compute, ceil.bytes_ms(bytes_b)),
            layerwise_ms=sum(max(layer_compute_ms(lc, ceil, mm32), ceil.bytes_ms(lc.bytes_b)) for lc in syn),
        )
    # SG3-R's radial down filters cannot be made separable: report them on their own.
    radial = sum(
        lc.info["out_channels"] * lc.info["filtered_lrelu_down"]["2d"] for lc in syn if lc.info.get("down_radial")
    )
    radial_samples = sum(
        lc.info["out_channels"] * lc.info["out_size"][0] * lc.info["out_size"][1]
        for lc in syn
        if lc.info.get("down_radial")
    )
    layer_rows = []
    for lc in layers:
        row = dict(
            name=lc.name, dtype=lc.dtype, desc=lc.desc, synthesis=lc.synthesis,
            macs={k: lc.macs(k) for k in dict.fromkeys(w.kind for w in lc.work)},
            work=[asdict(w) for w in lc.work],
            bytes_a=lc.bytes_a, bytes_b=lc.bytes_b, bytes_c=lc.bytes_c,
            compute_ms={m: layer_compute_ms(lc, ceil, m) for m in ("tf32", "fp32")},
            bytes_b_ms=ceil.bytes_ms(lc.bytes_b), info=lc.info,
        )  # fmt: skip
        layer_rows.append(row)
    return dict(
        net=net,
        precision=precision,
        fp16_layers=sum(lc.dtype == "fp16" for lc in syn),
        layers_total=len([lc for lc in syn if lc.name != "input"]),
        parts=parts,
        bytes=dict(
            a=bytes_a,
            b=bytes_b,
            c=bytes_c,
            a_ms=ceil.bytes_ms(bytes_a),
            b_ms=ceil.bytes_ms(bytes_b),
            c_ms=ceil.bytes_ms(bytes_c),
        ),  # fmt: skip
        floors=floors,
        radial_down=dict(
            macs=radial, out_samples=radial_samples, ms_fp32=ceil.ms(radial, "fp32"), ms_hfma2=ceil.ms(radial, "hfma2")
        ),
        target_ms=TARGETS_MS.get(net),
        official_ms=OFFICIAL_MS.get(net) if precision == "fp16" else None,
        layers=layer_rows,
    )


def count_network(G: torch.nn.Module, precision: str) -> list[LayerCount]:
    """Per-layer counts of a built generator; precision 'fp16' = the network's mixed precision on CUDA."""
    if precision not in BYTES:
        raise ValueError(f"precision must be fp16 or fp32, not {precision!r}")
    if getattr(G, "kind", None) == "sg3":
        return count_sg3(G, precision)
    if getattr(G, "kind", None) == "sg2":
        return count_sg2(G, precision)
    raise ValueError("not a StyleGAN2/3 generator of ours")


def build(net: str, tiny: bool = False, resolution: int | None = None) -> torch.nn.Module:
    """The official config of `net` with random weights, on the meta device where it builds there."""
    from stylegan3.networks import build_generator

    kind, kwargs = tiny_config(net, resolution or 16) if tiny else official_config(net, resolution or 1024)
    try:
        with torch.device("meta"):  # shapes only: no memory, no random numbers
            return build_generator(kind, kwargs)
    except (NotImplementedError, RuntimeError):
        torch.manual_seed(0)
        return build_generator(kind, kwargs)
