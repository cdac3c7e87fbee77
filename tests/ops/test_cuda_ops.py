"""CUDA kernels against the reference ops, on a GPU (all tests here are marked gpu and skip without CUDA).

Each kernel is compared with the reference computed in float64 on the same inputs: relative error
(max |ours - ref| / max |ref|) below 1e-5 in float32, and within float16 rounding in float16. Outputs are
checked for unwritten elements by filling the allocator's cache with NaN before each call. Whole
networks must agree between `SG3_OPS=ref` and the kernels. Set SG3_REQUIRE_CUDA_KERNELS=1 (gpu_check.sh
does) to fail instead of skip when the kernels do not build.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.gpu

FP32_TOL = 1e-5
FP16_TOL = 2e-3  # a few float16 ulps (2**-11) of the largest value


@pytest.fixture(scope="module")
def ext():
    import sg3_explorer.ops.cuda as cuda_ops

    module = cuda_ops.kernels()
    if module is None:
        reason = cuda_ops.unavailable_reason()
        if os.environ.get("SG3_REQUIRE_CUDA_KERNELS") == "1":
            pytest.fail(f"CUDA kernels did not build: {reason}")
        pytest.skip(f"CUDA kernels unavailable: {reason}")
    return module


@pytest.fixture(autouse=True)
def exact_math():
    """TF32 would make the reference path (cuDNN convs) itself inexact."""
    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


def poison_cache(numel: int, dtype: torch.dtype) -> None:
    """Leave a NaN-filled block of this size in the caching allocator, so an output the kernel forgets
    to write shows up as NaN (the allocator hands the same block to the next same-size request)."""
    block = torch.full([max(numel, 1)], float("nan"), dtype=dtype, device="cuda")
    del block


def rel_err(y: torch.Tensor, ref: torch.Tensor) -> float:
    ref = ref.double()
    return float((y.double() - ref).abs().max() / ref.abs().max().clamp_min(1e-30))


def check(y: torch.Tensor, ref: torch.Tensor, dtype: torch.dtype) -> None:
    assert y.shape == ref.shape, (tuple(y.shape), tuple(ref.shape))
    assert y.dtype == dtype and y.is_cuda
    assert torch.isfinite(y).all(), "unwritten (NaN) or overflowing output elements"
    err = rel_err(y, ref)
    assert err < (FP32_TOL if dtype == torch.float32 else FP16_TOL), err


def rand(shape, dtype, seed, scale=1.0):
    g = torch.Generator(device="cuda").manual_seed(seed)
    return (torch.randn(shape, generator=g, device="cuda") * scale).to(dtype)


DTYPES = [torch.float32, torch.float16]

# (batch, channels, h, w, up (x, y), down (x, y), filter shape, padding x0 x1 y0 y1)
UPFIRDN_CASES = [
    (1, 3, 16, 16, (1, 1), (1, 1), (3, 3), (1, 1, 1, 1)),
    (2, 5, 17, 9, (2, 2), (1, 1), (4, 4), (2, 1, 2, 1)),  # SG2 upsample2d
    (3, 4, 32, 32, (1, 1), (2, 2), (4, 4), (1, 1, 1, 1)),  # SG2 downsample2d
    (1, 8, 20, 24, (2, 2), (1, 1), (4,), (2, 1, 2, 1)),  # separable 1-D filter
    (2, 2, 10, 6, (1, 2), (2, 1), (6, 5), (-1, 3, 2, -2)),  # anisotropic, negative padding (crop)
    (1, 3, 12, 12, (4, 4), (1, 1), (24, 24), (12, 11, 12, 11)),
    (4, 16, 64, 64, (2, 2), (2, 2), (12,), (5, 5, 5, 5)),
    (1, 1, 1, 1, (2, 2), (1, 1), (1, 1), (0, 1, 0, 1)),
    (1, 2, 7, 7, (1, 1), (1, 1), (100, 100), (50, 49, 50, 49)),  # filter too big for shared memory
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["fp32", "fp16"])
@pytest.mark.parametrize("case", UPFIRDN_CASES)
def test_upfirdn2d(ext, case, dtype):
    from stylegan3.ops import upfirdn2d_ref

    n, c, h, w, up, down, fshape, pad = case
    x = rand([n, c, h, w], dtype, seed=h * w + c)
    f = rand(list(fshape), torch.float32, seed=7)
    ref = upfirdn2d_ref(x.double(), f.double(), up=up, down=down, padding=pad, flip_filter=True, gain=1.5)
    poison_cache(ref.numel(), dtype)
    y = ext.upfirdn2d(x, f, up[0], up[1], down[0], down[1], *pad, 1.5)
    check(y, ref, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["fp32", "fp16"])
@pytest.mark.parametrize("act", ["linear", "relu", "lrelu"])
@pytest.mark.parametrize(
    "shape,dim,clamp", [((2, 8, 5, 7), 1, 1.5), ((3, 512), 1, -1.0), ((4, 6, 9), 2, 0.5), ((5, 3), 0, -1.0)]
)
def test_bias_act(ext, act, shape, dim, clamp, dtype):
    from stylegan3.ops import bias_act_ref

    x = rand(list(shape), dtype, seed=len(shape) + dim, scale=2.0)
    b = rand([shape[dim]], dtype, seed=3)
    clamp_ref = None if clamp < 0 else clamp
    ref = bias_act_ref(x.double(), b.double(), dim=dim, act=act, alpha=0.3, gain=1.7, clamp=clamp_ref)
    poison_cache(ref.numel(), dtype)
    check(ext.bias_act(x, b, dim, act, 0.3, 1.7, clamp), ref, dtype)
    # Without a bias (empty tensor) as the dispatch passes it.
    ref = bias_act_ref(x.double(), None, act=act, alpha=0.3, gain=1.7)
    check(ext.bias_act(x, x.new_empty([0]), dim, act, 0.3, 1.7, -1.0), ref, dtype)


# (batch, channels, h, w, up, down, fu shape, fd shape, padding, clamp)
FLRELU_CASES = [
    (1, 4, 36, 36, 2, 2, (12,), (12,), (11, 10, 11, 10), 256.0),  # SG3 layer, separable filters
    (2, 3, 20, 20, 2, 2, (12, 12), (12, 12), (11, 10, 11, 10), 256.0),  # as the dispatch passes them (2-D)
    (1, 2, 17, 13, 4, 2, (24,), (12, 12), (3, -2, 5, 1), -1.0),  # up 4, radial-like 2-D down filter
    (3, 5, 9, 9, 1, 1, (1, 1), (1, 1), (0, 0, 0, 0), 0.7),  # ToRGB-like: no filters
    (1, 3, 30, 30, 2, 1, (12,), (1, 1), (6, 5, 6, 5), -1.0),
    (1, 3, 11, 11, 1, 2, (1, 1), (12, 12), (10, 9, 10, 9), 2.0),
    (1, 64, 148, 148, 2, 2, (12,), (12,), (11, 10, 11, 10), 256.0),  # many tiles
    (1, 2, 8, 8, 2, 2, (64, 64), (64, 64), (60, 60, 60, 60), -1.0),  # too big to fuse: unfused path
    # The four register-blocked instantiations (up 2/4, 1-D or 2-D 12-tap down filter), odd sizes.
    (2, 3, 52, 47, 4, 2, (24,), (12,), (27, 26, 25, 28), 256.0),
    (1, 3, 40, 33, 2, 2, (12,), (12, 12), (11, 10, 9, 12), -1.0),
    (1, 5, 84, 84, 4, 2, (24,), (12, 12), (27, 26, 27, 26), 256.0),
    (2, 2, 7, 9, 2, 2, (12,), (12,), (15, 14, 13, 16), 0.5),  # output smaller than one tile
]


@pytest.fixture(params=[0, 1], ids=["auto", "generic"])
def flrelu_mode(ext, request):
    """Every filtered_lrelu case through the register-blocked kernel (where it applies) and the generic one."""
    ext.set_filtered_lrelu_mode(request.param)
    yield request.param
    ext.set_filtered_lrelu_mode(0)


@pytest.mark.parametrize("dtype", DTYPES, ids=["fp32", "fp16"])
@pytest.mark.parametrize("case", FLRELU_CASES)
def test_filtered_lrelu(ext, case, dtype, flrelu_mode):
    from stylegan3.ops import filtered_lrelu_ref

    n, c, h, w, up, down, fus, fds, pad, clamp = case
    x = rand([n, c, h, w], dtype, seed=h + c)
    fu = rand(list(fus), torch.float32, seed=11)
    fd = rand(list(fds), torch.float32, seed=12)
    b = rand([c], dtype, seed=13)
    ref = filtered_lrelu_ref(x.double(), fu.double(), fd.double(), b.double(), up=up, down=down, padding=pad,
                             gain=1.4, slope=0.2, clamp=None if clamp < 0 else clamp, flip_filter=True)
    poison_cache(ref.numel(), dtype)
    y = ext.filtered_lrelu(x, fu, fd, b, up, down, *pad, 1.4, 0.2, clamp)
    check(y, ref, dtype)


def test_filtered_lrelu_small_tiles(ext):
    """Force many small tiles (tile edges everywhere) through the shared-memory budget."""
    from stylegan3.ops import filtered_lrelu_ref

    x = rand([2, 3, 40, 40], torch.float32, seed=5)
    fu, fd = rand([12], torch.float32, 1), rand([12, 12], torch.float32, 2)
    ref = filtered_lrelu_ref(x.double(), fu.double(), fd.double(), None, up=2, down=2, padding=[11, 10, 11, 10],
                             flip_filter=True)
    try:
        ext.set_filtered_lrelu_smem_bytes(6 * 1024)
        tile = ext.filtered_lrelu_plan(40, 40, 2, 2, 12, 12, True, 12, 12, False, 11, 10, 11, 10)
        assert 0 < tile[0] * tile[1] < 32 * 32
        poison_cache(ref.numel(), torch.float32)
        y = ext.filtered_lrelu(x, fu, fd, x.new_empty([0]), 2, 2, 11, 10, 11, 10, float(np.sqrt(2)), 0.2, -1.0)
    finally:
        ext.set_filtered_lrelu_smem_bytes(48 * 1024)
    check(y, ref, torch.float32)


@pytest.mark.parametrize("smem_kib", [48, 160])
def test_blocked_kernel_plans_and_large_tiles(ext, smem_kib):
    """SG3 shapes take the blocked kernel (1) unless the generic one is forced; beyond 48 KiB of shared
    memory (opt-in) it takes larger tiles and must still be exact."""
    from stylegan3.ops import filtered_lrelu_ref

    args = (148, 148, 4, 2, 24, 24, True, 12, 12, True, 27, 26, 27, 26)
    x = rand([1, 6, 148, 148], torch.float32, seed=21)
    fu, fd = rand([24], torch.float32, 3), rand([12], torch.float32, 4)
    b = rand([6], torch.float32, seed=5)
    ref = filtered_lrelu_ref(x.double(), fu.double(), fd.double(), b.double(), up=4, down=2,
                             padding=[27, 26, 27, 26], gain=1.4, clamp=256.0, flip_filter=True)
    try:
        granted = ext.set_filtered_lrelu_smem_bytes(smem_kib * 1024)
        plan = ext.filtered_lrelu_plan(*args)
        assert plan[3] == 1, plan
        if granted >= 160 * 1024:
            assert plan[0] * plan[1] > 32 * 32 and plan[2] > 48 * 1024, plan
        poison_cache(ref.numel(), torch.float32)
        check(ext.filtered_lrelu(x, fu, fd, b, 4, 2, 27, 26, 27, 26, 1.4, 0.2, 256.0), ref, torch.float32)
        ext.set_filtered_lrelu_mode(1)
        assert ext.filtered_lrelu_plan(*args)[3] == 0
    finally:
        ext.set_filtered_lrelu_mode(0)
        ext.set_filtered_lrelu_smem_bytes(48 * 1024)


def test_non_contiguous_and_second_stream(ext):
    from stylegan3.ops import bias_act_ref

    x = rand([4, 6, 8, 8], torch.float32, seed=9).transpose(2, 3)  # not contiguous
    b = rand([6], torch.float32, seed=10)
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        y = ext.bias_act(x, b, 1, "lrelu", 0.2, 1.0, -1.0)
    stream.synchronize()
    check(y, bias_act_ref(x.double(), b.double(), act="lrelu", gain=1.0), torch.float32)


def test_rejects_bad_input(ext):
    with pytest.raises(RuntimeError, match="float16 or float32"):
        ext.bias_act(torch.zeros(3, 4, device="cuda", dtype=torch.float64), torch.zeros(0, device="cuda"), 1,
                     "linear", 0.0, 1.0, -1.0)
    with pytest.raises(RuntimeError, match="unsupported activation"):
        ext.bias_act(torch.zeros(3, 4, device="cuda"), torch.zeros(0, device="cuda"), 1, "tanh", 0.0, 1.0, -1.0)
    with pytest.raises(RuntimeError, match="CUDA tensor"):
        ext.upfirdn2d(torch.zeros(1, 1, 4, 4), torch.ones(1, 1), 1, 1, 1, 1, 0, 0, 0, 0, 1.0)


# ---------------------------------------------------------------------------------------------------
# Through the library's dispatch: the exact arguments the networks pass.


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("dtype", DTYPES, ids=["fp32", "fp16"])
def test_dispatch_matches_reference(ext, flip, dtype):
    from stylegan3.ops import backend, filtered_lrelu, upfirdn2d

    x = rand([2, 8, 24, 24], dtype, seed=21)
    fu = rand([12], torch.float32, 22)  # 1-D, as SG3 layers store them
    fd = rand([12, 12], torch.float32, 23)  # 2-D, as radial filters are
    b = rand([8], dtype, 24)
    outs = {}
    for impl in ("ref", "cuda"):
        backend.force_impl(impl)
        try:
            with torch.no_grad():
                y1 = filtered_lrelu(x, fu, fd, b, up=2, down=2, padding=[11, 10, 11, 10], clamp=256.0, flip_filter=flip)
                y2 = upfirdn2d(x, fu, up=2, padding=[2, 1, 2, 1], gain=4.0, flip_filter=flip)
            outs[impl] = (y1, y2)
        finally:
            backend.force_impl(None)
    for ours, ref in zip(outs["cuda"], outs["ref"], strict=True):
        assert ours.shape == ref.shape
        # The reference itself rounds in float16, so compare at float16 level there.
        assert rel_err(ours, ref) < (1e-5 if dtype == torch.float32 else 1e-2)


# ---------------------------------------------------------------------------------------------------
# Whole networks.

NET_CONFIGS = {
    "SG3-T": dict(channel_base=2048, channel_max=64),
    "SG3-R": dict(channel_base=4096, channel_max=128),
    "SG2": dict(channel_base=2048, channel_max=64),
}


@pytest.mark.parametrize("net", list(NET_CONFIGS))
@pytest.mark.parametrize("force_fp32", [True, False], ids=["fp32", "fp16"])
def test_networks_agree_with_reference(ext, net, force_fp32):
    from stylegan3.ops import backend
    from tests.support.nets import tiny_net

    G = tiny_net(net, res=64, z_dim=64, w_dim=64, num_layers=None, noise=None, num_fp16_res=4, conv_clamp=256,
                 **NET_CONFIGS[net]).cuda()
    z = torch.randn([3, G.z_dim], device="cuda")
    c = torch.zeros([3, G.c_dim], device="cuda")
    imgs = {}
    for impl in ("ref", "cuda"):
        backend.force_impl(impl)
        try:
            with torch.inference_mode():
                ws = G.mapping(z, c, truncation_psi=0.7)
                imgs[impl] = G.synthesis(ws, noise_mode="const", force_fp32=force_fp32).float()
        finally:
            backend.force_impl(None)
    assert torch.isfinite(imgs["cuda"]).all()
    err = rel_err(imgs["cuda"], imgs["ref"])
    assert err < (1e-4 if force_fp32 else 2e-2), err


@pytest.mark.slow
@pytest.mark.parametrize("net", ["SG3-T", "SG3-R", "SG2"])
@pytest.mark.parametrize("force_fp32", [True, False], ids=["fp32", "fp16"])
def test_full_size_networks_agree_with_reference(ext, net, force_fp32):
    """The official FFHQ configs at 1024x1024 (random weights), kernels and CUDA graph against the reference."""
    from stylegan3.networks.configs import build_config_net
    from stylegan3.ops import backend
    from stylegan3.render.graphs import SynthesisGraphs

    G = build_config_net(net, 1024, "cuda")
    ws = G.mapping(torch.randn([1, G.z_dim], device="cuda"), None, truncation_psi=0.7)
    imgs = {}
    for impl in ("ref", "cuda"):
        backend.force_impl(impl)
        try:
            with torch.inference_mode():
                imgs[impl] = G.synthesis(ws, noise_mode="const", force_fp32=force_fp32).float()
                if impl == "cuda":
                    runner = SynthesisGraphs(G)
                    imgs["graph"] = runner(ws, noise_mode="const", force_fp32=force_fp32).float()
                    assert runner.last_reason is None, runner.last_reason
        finally:
            backend.force_impl(None)
    assert imgs["cuda"].shape == (1, 3, 1024, 1024) and torch.isfinite(imgs["cuda"]).all()
    err = rel_err(imgs["cuda"], imgs["ref"])
    assert err < (1e-4 if force_fp32 else 2e-2), err
    assert rel_err(imgs["graph"], imgs["cuda"]) < 1e-6


@pytest.mark.fixtures
def test_official_fixtures_with_kernels(ext, fixtures_dir, fixture_cases):
    """NVIDIA's float32 outputs, reproduced through our kernels (same 1e-4 as the reference path)."""
    from stylegan3.loading import load_network
    from stylegan3.networks.transform import set_input_transform
    from stylegan3.ops import backend

    seen = set()
    for case in fixture_cases:
        net = case["pickle"]
        if net in seen or case.get("cutoff") is not None:
            continue
        seen.add(net)
        G = load_network(str(fixtures_dir / net), device="cuda")
        ws = torch.from_numpy(np.load(fixtures_dir / case["ws"])).cuda()
        if hasattr(G.synthesis, "input"):
            set_input_transform(G, translate=tuple(case["translate"]), rotate=case["rotate"])
        backend.force_impl("cuda")
        try:
            with torch.inference_mode():
                img = G.synthesis(ws, noise_mode=case["noise_mode"], force_fp32=True)
        finally:
            backend.force_impl(None)
        expected = torch.from_numpy(np.load(fixtures_dir / case["output"])).cuda()
        assert (img - expected).abs().max().item() < 1e-4, net
    assert seen
