"""stylegan3.perf.floor: the per-frame counts checked against independent counts on tiny networks.

Convolutions and matmuls are checked against torch's FlopCounterMode (which counts what the reference
code actually launches), the filter stages against brute-force loops over samples and taps written
here from the op's definition, and the down stage also against FlopCounterMode on the reference op.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks import floor as floor_script
from stylegan3.networks import sg3
from stylegan3.ops.filtered_lrelu import output_size
from stylegan3.ops.upfirdn2d import upfirdn2d_ref
from stylegan3.perf import floor
from tests.support.nets import tiny_net


@pytest.fixture(autouse=True)
def reference_ops(monkeypatch):
    """torch's flop counter sees torch ops only, so the counts here are those of the reference path (the
    CPU kernels, used for CPU tensors where they built, are opaque to it)."""
    monkeypatch.setenv("SG3_OPS", "ref")


def _tiny(net: str) -> torch.nn.Module:
    return tiny_net(net, res=16, official=True)


def _flops(counter: FlopCounterMode, module: str) -> dict[str, int]:
    return {str(op).split(".")[-1]: n for op, n in counter.get_flop_counts().get(module, {}).items()}


def _layer(layers: list[floor.LayerCount], name: str) -> floor.LayerCount:
    return next(lc for lc in layers if lc.name == name)


@pytest.mark.parametrize("net", ["SG3-T", "SG3-R"])
def test_sg3_conv_and_matmul_macs_match_flop_counter(net: str, monkeypatch: pytest.MonkeyPatch) -> None:
    G = _tiny(net)

    def shape_only(x, fu=None, fd=None, b=None, up=1, down=1, padding=0, **_):
        w, h = output_size((x.shape[3], x.shape[2]), fu, fd, up, down, padding)
        return x.new_zeros([x.shape[0], x.shape[1], h, w])

    # Filters are checked separately; here the counter must see only the convolutions and matmuls.
    monkeypatch.setattr(sg3, "filtered_lrelu", shape_only)
    ws = torch.randn([1, G.num_ws, G.w_dim])
    with FlopCounterMode(display=False, depth=None) as counter, torch.no_grad():
        G.synthesis(ws)
    layers = floor.count_network(G, "fp32")
    for name in G.synthesis.layer_names:
        lc = _layer(layers, name)
        got = _flops(counter, f"SynthesisNetwork.{name}")
        assert got["convolution"] == 2 * lc.macs("modconv")
        assert got["addmm"] == 2 * lc.macs("affine")
    inp = _layer(layers, "input")
    got = _flops(counter, "SynthesisNetwork.input")
    assert sum(got.values()) == 2 * (inp.macs("fourier") + inp.macs("affine"))

    with FlopCounterMode(display=False, depth=None) as counter, torch.no_grad():
        G.mapping(torch.randn([1, G.z_dim]), None)
    assert sum(_flops(counter, "MappingNetwork").values()) == 2 * _layer(layers, "mapping").macs("mapping")


def test_sg2_conv_blur_and_upsample_macs_match_flop_counter() -> None:
    G = _tiny("SG2")
    ws = torch.randn([1, G.num_ws, G.w_dim])
    with FlopCounterMode(display=False, depth=None) as counter, torch.no_grad():
        G.synthesis(ws, noise_mode="const")
    layers = floor.count_network(G, "fp32")
    for res in G.synthesis.block_resolutions:
        lc = _layer(layers, f"b{res}")
        blur = sum(w.macs_2d for w in lc.work if w.kind == "upfirdn2d blur")
        convs = 0
        for part in ("conv0", "conv1", "torgb"):
            got = _flops(counter, f"SynthesisNetwork.b{res}.{part}")
            if got:
                convs += got["convolution"]
        # The reference path runs the 4x4 blur as a 2-D stencil: conv MACs + 2-D blur MACs.
        assert convs == 2 * (lc.macs("modconv") + lc.macs("torgb") + blur)
        assert _flops(counter, f"SynthesisNetwork.b{res}")["addmm"] == 2 * lc.macs("affine")
        block = _flops(counter, f"SynthesisNetwork.b{res}")["convolution"]
        assert block - convs == 2 * sum(w.macs_2d for w in lc.work if w.kind == "img upsample")
    with FlopCounterMode(display=False, depth=None) as counter, torch.no_grad():
        G.mapping(torch.randn([1, G.z_dim]), None)
    assert sum(_flops(counter, "MappingNetwork").values()) == 2 * _layer(layers, "mapping").macs("mapping")


def _brute_up(mid: tuple[int, int], pad: tuple[int, int], taps: int, up: int) -> tuple[int, int]:
    """(2-D, separable) up-stage MACs per channel, by visiting every sample and tap."""
    tx = [[fx for fx in range(taps) if (m - pad[0] + fx) % up == 0] for m in range(mid[0])]
    ty = [[fy for fy in range(taps) if (m - pad[1] + fy) % up == 0] for m in range(mid[1])]
    n2d = sum(len(a) * len(b) for a in ty for b in tx)
    # Separable: a horizontal pass for every input row the vertical taps touch, then the vertical pass.
    rows = {(m - pad[1] + fy) // up for m in range(mid[1]) for fy in ty[m]}
    nsep = (max(rows) - min(rows) + 1) * sum(len(a) for a in tx) + mid[0] * sum(len(b) for b in ty)
    return n2d, nsep


@pytest.mark.parametrize("net", ["SG3-T", "SG3-R"])
def test_sg3_filtered_lrelu_macs_by_brute_force(net: str) -> None:
    G = floor.build(net, tiny=True)
    layers = floor.count_network(G, "fp16")
    seen_radial = False
    for name in G.synthesis.layer_names:
        L = getattr(G.synthesis, name)
        lc = _layer(layers, name)
        info = lc.info
        k = L.conv_kernel
        conv = (int(L.in_size[0]) + k - 1, int(L.in_size[1]) + k - 1)
        fu = 1 if L.up_filter is None else L.up_filter.shape[-1]
        fd = 1 if L.down_filter is None else L.down_filter.shape[-1]
        # The op's own output size for the conv output must be the layer's out_size.
        out = output_size(conv, L.up_filter, L.down_filter, L.up_factor, L.down_factor, L.padding)
        assert list(out) == [int(L.out_size[0]), int(L.out_size[1])]
        mid = ((out[0] - 1) * L.down_factor + fd, (out[1] - 1) * L.down_factor + fd)
        up2d, upsep = _brute_up(mid, (L.padding[0], L.padding[2]), fu, L.up_factor)
        down2d = out[0] * out[1] * fd * fd
        downsep = mid[1] * out[0] * fd + out[0] * out[1] * fd
        (w,) = [w for w in lc.work if w.kind == "filtered_lrelu"]
        c = L.out_channels
        assert w.macs_2d == c * (up2d + down2d)
        assert w.macs_sep == c * (upsep + downsep)
        up_built = upsep if L.up_filter is not None and L.up_filter.ndim == 1 else up2d
        down_built = downsep if L.down_filter is not None and L.down_filter.ndim == 1 else down2d
        assert w.macs == c * (up_built + down_built)
        assert info["down_radial"] == (L.down_filter is not None and L.down_filter.ndim == 2)
        seen_radial |= info["down_radial"]
        if L.up_factor > 1 and not L.is_torgb:
            assert up2d == mid[0] * mid[1] * (fu // L.up_factor) ** 2  # taps/up per dimension, every sample
    assert seen_radial == (net == "SG3-R")


def test_one_layer_by_hand() -> None:
    """SG3-T 1024's L13 (1044 -> 1024, 32 channels, up 2 / down 2, 12-tap filters) counted by hand."""
    G = floor.build("SG3-T")
    (lc,) = [lc for lc in floor.count_network(G, "fp16") if lc.name == "L13_1024_32"]
    mid = (1024 - 1) * 2 + 12  # 2058 up-stage samples per row
    up2d = mid * mid * 6 * 6  # 12 taps / up 2 = 6 per dimension
    down2d = 1024 * 1024 * 12 * 12  # evaluated at every 2nd sample only
    (w,) = [w for w in lc.work if w.kind == "filtered_lrelu"]
    assert w.macs_2d == 32 * (up2d + down2d)
    # Padding -11 crops: up-stage sample m reads zero-inserted positions m + 11 .. m + 22, i.e. 11 .. 2079,
    # whose even ones are input rows 6 .. 1039.
    assert lc.info["mid"] == [mid, mid] and G.synthesis.L13_1024_32.padding[2] == -11
    in_rows = 1039 - 6 + 1
    assert w.macs_sep == 32 * (in_rows * mid * 6 + mid * mid * 6 + mid * 1024 * 12 + 1024 * 1024 * 12)
    assert lc.macs("modconv") == 1046 * 1046 * 32 * 32 * 9  # 3x3 "full" conv on 1044x1044


@pytest.mark.parametrize("separable", [False, True])
def test_down_stage_matches_flop_counter_on_reference_op(separable: bool) -> None:
    mid, out, taps, down, c = (30, 26), (10, 8), 12, 2, 5
    assert (out[0] - 1) * down + taps == mid[0] and (out[1] - 1) * down + taps == mid[1]
    f = torch.rand(taps) if separable else torch.rand(taps, taps)
    x = torch.randn(1, c, mid[1], mid[0])
    with FlopCounterMode(display=False) as counter:
        y = upfirdn2d_ref(x, f, down=down)
    assert tuple(y.shape[2:]) == (out[1], out[0])
    expect = floor.down_stage_macs(mid, out, taps)["sep" if separable else "2d"]
    assert counter.get_total_flops() == 2 * c * expect


def test_fp16_halves_only_fp16_conv_weights_and_activations() -> None:
    G = floor.build("SG3-T", tiny=True)
    l16 = {lc.name: lc for lc in floor.count_network(G, "fp16")}
    l32 = {lc.name: lc for lc in floor.count_network(G, "fp32")}
    fp16_weights = 0
    for name in G.synthesis.layer_names:
        L = getattr(G.synthesis, name)
        if L.use_fp16:
            fp16_weights += L.weight.numel()
            assert l16[name].dtype == "fp16"
    assert fp16_weights > 0
    diff_a = sum(lc.bytes_a for lc in l32.values()) - sum(lc.bytes_a for lc in l16.values())
    assert diff_a == 2 * fp16_weights
    assert sum(lc.macs() for lc in l32.values()) == sum(lc.macs() for lc in l16.values())
    # Activations of fp16 layers move half the bytes (casts add a little): (b) well below the fp32 one.
    b16 = sum(lc.bytes_b for lc in l16.values())
    b32 = sum(lc.bytes_b for lc in l32.values())
    assert 0.5 * b32 < b16 < 0.8 * b32


def test_full_size_totals() -> None:
    """The 1024x1024 numbers quoted in docs/CUDA.md and benchmarks/NOTES.md."""
    expect = {"SG3-T": (285.2, 92.8, 22.3, 22.3), "SG3-R": (123.8, 185.3, 44.6, 98.4)}
    for net, (conv, f2d, fsep, fbuilt) in expect.items():
        s = floor.summarize(net, "fp32", floor.count_network(floor.build(net), "fp32"), floor.Ceilings())
        parts = {p["kind"]: p for p in s["parts"]}
        assert parts["modconv"]["macs"] / 1e9 == pytest.approx(conv, abs=0.05)
        assert parts["filtered_lrelu"]["macs_2d"] / 1e9 == pytest.approx(f2d, abs=0.05)
        assert parts["filtered_lrelu"]["macs_sep"] / 1e9 == pytest.approx(fsep, abs=0.05)
        assert parts["filtered_lrelu"]["macs"] / 1e9 == pytest.approx(fbuilt, abs=0.05)
    # SG3-R's radial down filters: 12x12 = 144 MACs per output sample.
    s = floor.summarize("SG3-R", "fp16", floor.count_network(floor.build("SG3-R"), "fp16"), floor.Ceilings())
    assert s["radial_down"]["macs"] == 144 * s["radial_down"]["out_samples"]


def test_floor_is_max_of_added_units_and_bytes() -> None:
    G = floor.build("SG3-T", tiny=True)
    ceil = floor.Ceilings(bw_gbs=1.0)  # absurdly slow memory: bytes must dominate
    s = floor.summarize("SG3-T", "fp16", floor.count_network(G, "fp16"), ceil)
    assert s["floors"]["fp32"]["practical_ms"] == s["bytes"]["b_ms"] > s["floors"]["fp32"]["compute_ms"]
    fast = floor.Ceilings(bw_gbs=1e12)
    s = floor.summarize("SG3-T", "fp16", floor.count_network(G, "fp16"), fast)
    units = sum(p["ms"]["fp16" if p["unit"] == "tc16" else "fp32"] for p in s["parts"] if p["synthesis"])
    assert s["floors"]["fp32"]["compute_ms"] == pytest.approx(units)
    assert s["floors"]["fp32"]["strict_ms"] == pytest.approx(units)


def test_cli_prints_tables_and_writes_json(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "floor.json"
    argv = ["--tiny", "--nets", "SG3-R,SG2", "--layers", "--json", str(out), "--bw-gbs", "2000", "--fp32-tflops", "50"]
    assert floor_script.main(argv) == 0
    text = capsys.readouterr().out
    assert "1 MAC = 1 FMA = 2 FLOPs" in text and "2000 GB/s" in text and "fp32 50" in text
    for needle in ("## SG3-R fp16", "## SG3-R fp32", "## SG2 fp16", "## SG2 fp32", "floor practical", "target"):
        assert needle in text
    assert "### SG3-R fp16 per layer" in text and "L14_16_3" in text and "b16" in text
    doc = json.loads(out.read_text())
    assert doc["ceilings"]["bw_gbs"] == 2000 and doc["ceilings"]["fp32_tflops"] == 50
    assert [(r["net"], r["precision"]) for r in doc["results"]] == [
        ("SG3-R", "fp16"), ("SG3-R", "fp32"), ("SG2", "fp16"), ("SG2", "fp32"),
    ]  # fmt: skip
    r = doc["results"][0]
    assert r["target_ms"] == 5.0 and r["official_ms"] == 21.5
    assert r["bytes"]["a"] < r["bytes"]["b"] and r["floors"]["tf32"]["compute_ms"] > 0
    assert [lay["name"] for lay in r["layers"]][:2] == ["mapping", "input"]
    assert len(r["layers"]) == 2 + len(floor.build("SG3-R", tiny=True).synthesis.layer_names)


def test_measured_ceilings_replace_datasheet_rates(tmp_path):
    path = tmp_path / "ceilings.json"
    path.write_text(
        json.dumps(
            {
                "bw_gbs": 3000.0,
                "fp16_tflops": 600.0,
                "tf32_tflops": float("nan"),
                "fp32_fma_tflops": 50.0,
                "device": "H100",
            }
        )
    )
    base = floor.Ceilings()
    got = floor_script.measured_ceilings(str(path), base)
    assert (got.bw_gbs, got.fp16_tflops, got.fp32_tflops) == (3000.0, 600.0, 50.0)
    assert got.tf32_tflops == base.tf32_tflops and got.hfma2_tflops == base.hfma2_tflops  # NaN / missing: kept
