"""The kernels built for the CPU (ops/cuda/cpu_binding.cpp + the CUDA kernels' own headers) against the
reference ops, op by op on random shapes and on whole networks (ours and NVIDIA's fixtures), plus the
dispatch, the fallback reason and the cache key. Skips cleanly where no C++ compiler / ninja exists.

One build serves the whole session (tests/conftest.py builds or loads it before the first test).
"""

from __future__ import annotations

import itertools
import random

import pytest
import torch

from sg3_explorer.ops.cuda import build
from sg3_explorer.ops.cuda import cpu as cpu_ops
from stylegan3.ops import backend, bias_act, filtered_lrelu, upfirdn2d
from stylegan3.ops.bias_act import bias_act_ref
from stylegan3.ops.filtered_lrelu import filtered_lrelu_ref
from tests.support.dispatch import fixture_worst_diffs, reference, synthesis_vs_reference

TOL = 1e-4  # the project's bar for float32 outputs; the kernels reach ~1e-6


@pytest.fixture(scope="module")
def kernels():
    module = cpu_ops.kernels()
    if module is None:
        pytest.skip(f"CPU kernels unavailable: {cpu_ops.unavailable_reason()}")
    return module


class Counting:
    """The CPU module with a call count per op, so a test proves the kernels (not the reference) ran."""

    def __init__(self, module) -> None:
        self.module, self.calls = module, {"upfirdn2d": 0, "bias_act": 0, "filtered_lrelu": 0}

    def __getattr__(self, name):
        fn = getattr(self.module, name)
        if name not in self.calls:
            return fn

        def counted(*args):
            self.calls[name] += 1
            return fn(*args)

        return counted


@pytest.fixture
def counting(kernels, monkeypatch):
    spy = Counting(kernels)
    monkeypatch.setattr(backend, "_cpu_module", lambda: spy)
    return spy



def _check(got: torch.Tensor, want: torch.Tensor, what) -> float:
    assert got.shape == want.shape, (what, got.shape, want.shape)
    assert got.dtype == want.dtype, what
    scale = max(1.0, float(want.double().abs().max()))
    err = float((got.double() - want.double()).abs().max()) / scale
    assert err < TOL, (what, err)
    return err


# ---------------------------------------------------------------------------------------------------
# Op by op, through the dispatch (flip, gains, 1-D filters, padding conventions) on random shapes.


def test_upfirdn2d_random_shapes(counting):
    rng = random.Random(11)
    torch.manual_seed(11)
    worst = 0.0
    for case in range(40):
        up = (rng.randint(1, 4), rng.randint(1, 4))
        down = (rng.randint(1, 3), rng.randint(1, 3))
        n, c, h, w = rng.randint(1, 3), rng.randint(1, 5), rng.randint(3, 23), rng.randint(3, 23)
        if rng.random() < 0.5:
            f = torch.rand(rng.randint(1, 9)) + 0.1  # 1-D: separable
        else:
            f = torch.rand(rng.randint(1, 7), rng.randint(1, 7)) + 0.1
        pad = [rng.randint(-3, 6) for _ in range(4)]
        flip, gain = rng.random() < 0.5, rng.choice([1.0, 2.5])
        x = torch.randn(n, c, h, w)
        kwargs = dict(up=up, down=down, padding=pad, flip_filter=flip, gain=gain)
        try:
            want = reference(upfirdn2d, x, f, **kwargs)
        except RuntimeError:
            continue  # the padded input is smaller than the filter: no output to compare
        if min(want.shape) == 0:
            continue
        with torch.no_grad():
            got = upfirdn2d(x, f, **kwargs)
        worst = max(worst, _check(got, want, (case, kwargs, tuple(f.shape), tuple(x.shape))))
    assert counting.calls["upfirdn2d"] >= 30
    print("upfirdn2d worst relative error", worst)


def test_bias_act_random_shapes(counting):
    rng = random.Random(5)
    torch.manual_seed(5)
    for case, act in itertools.product(range(8), ("linear", "relu", "lrelu")):
        shape = [rng.randint(1, 9) for _ in range(rng.randint(1, 4))]
        x = torch.randn(shape) * 3
        dim = rng.randrange(len(shape))
        b = torch.randn(shape[dim]) if rng.random() < 0.7 else None
        kwargs = dict(dim=dim, act=act, alpha=rng.choice([None, 0.1]), gain=rng.choice([None, 0.5]),
                      clamp=rng.choice([None, 1.5]))
        with torch.no_grad():
            got = bias_act(x, b, **kwargs)
        _check(got, bias_act_ref(x, b, **kwargs), (case, shape, kwargs))
    # Long rows of one channel (the vectorized path) and a float16 tensor.
    x = torch.randn(2, 7, 33, 35)
    b = torch.randn(7)
    with torch.no_grad():
        _check(bias_act(x, b, act="lrelu", clamp=1.0), bias_act_ref(x, b, act="lrelu", clamp=1.0), "rows")
        half = bias_act(x.half(), b.half(), act="lrelu")
    want = bias_act_ref(x.half().float(), b.half().float(), act="lrelu").half()
    assert half.dtype == torch.float16
    assert float((half.float() - want.float()).abs().max()) <= 2e-3  # one float16 rounding apart at most
    assert counting.calls["bias_act"] >= 25


FLRELU_CASES = [
    # (fu shape, fd shape, up, down, padding): SG3's shapes (blocked kernel), radial 2-D down, generic ones.
    ((12,), (12,), 2, 2, [9, 8, 9, 8]),
    ((24,), (12,), 4, 2, [-6, -9, -6, -9]),
    ((12,), (12, 12), 2, 2, [9, 8, 9, 8]),
    ((24,), (12, 12), 4, 2, [-6, -9, -6, -9]),
    ((12,), (12,), 2, 2, [-11, -12, -11, -12]),
    ((5, 3), (3,), 3, 1, [2, 2, 2, 2]),
    ((6,), (4, 4), 2, 2, [3, 4, 1, 0]),
    ((7,), (5,), 1, 3, [1, -1, 2, 0]),
    (None, None, 1, 1, [0, 0, 0, 0]),
]


@pytest.mark.parametrize("mode", [0, 1, 2], ids=["blocked", "generic", "blocked-gpu-layout"])
def test_filtered_lrelu_shapes(counting, kernels, mode):
    torch.manual_seed(3)
    kernels.set_filtered_lrelu_mode(mode)
    try:
        for i, (fu_shape, fd_shape, up, down, pad) in enumerate(FLRELU_CASES):
            n, c, h, w = 1 + i % 2, 3, 27 + i, 31 - i  # odd sizes, batch > 1 every other case
            x = torch.randn(n, c, h, w)
            fu = torch.rand(fu_shape) + 0.1 if fu_shape else None
            fd = torch.rand(fd_shape) + 0.1 if fd_shape else None
            b = torch.randn(c)
            for flip, clamp in ((False, None), (True, 0.7)):
                kwargs = dict(up=up, down=down, padding=pad, gain=1.3, slope=0.2, clamp=clamp, flip_filter=flip)
                with torch.no_grad():
                    got = filtered_lrelu(x, fu, fd, b, **kwargs)
                _check(got, filtered_lrelu_ref(x, fu, fd, b, **kwargs), (i, mode, kwargs))
    finally:
        kernels.set_filtered_lrelu_mode(0)
    assert counting.calls["filtered_lrelu"] == 2 * len(FLRELU_CASES)


@pytest.mark.parametrize("smem", [48 * 1024, 8 * 1024, 200 * 1024], ids=["32px", "small-tiles", "64px"])
def test_host_layout_equals_the_gpu_layout(kernels, smem):
    """The CPU's blocked kernel (filtered_lrelu_host.h) sums every output's taps in the order of the GPU's
    (flrelu_sep_block, proven on the host harness): same values, for every tile size, edge tile and dtype."""
    torch.manual_seed(5)
    kernels.set_filtered_lrelu_smem_bytes(smem)
    try:
        for i, (fu_shape, fd_shape, up, down, pad) in enumerate(FLRELU_CASES[:5]):
            x = torch.randn(1 + i % 2, 5, 29 + 3 * i, 41 - 2 * i)
            fu, fd, b = torch.rand(fu_shape) + 0.1, torch.rand(fd_shape) + 0.1, torch.randn(5)
            for dtype, clamp in ((torch.float32, -1.0), (torch.float32, 0.8), (torch.float16, 0.8)):
                args = (x.to(dtype), fu, fd, b.to(dtype), up, down, *pad, 1.3, 0.2, clamp)
                kernels.set_filtered_lrelu_mode(2)
                want = kernels.filtered_lrelu(*args)
                kernels.set_filtered_lrelu_mode(0)
                got = kernels.filtered_lrelu(*args)
                scale = float(want.float().abs().max())
                assert float((got.float() - want.float()).abs().max()) <= 1e-6 * scale, (i, dtype, clamp, smem)
    finally:
        kernels.set_filtered_lrelu_mode(0)
        kernels.set_filtered_lrelu_smem_bytes(48 * 1024)


def test_filtered_lrelu_plan_and_unfused_fallback(kernels):
    """SG3's layers get the blocked kernel's 32x32 tiles (the GPU's plan); with no room for a tile the
    unfused path computes the same result."""
    assert kernels.filtered_lrelu_plan(150, 150, 2, 2, 12, 12, True, 12, 12, True, 9, 8, 9, 8)[::3] == [32, 1]
    torch.manual_seed(4)
    x, fu, fd, b = torch.randn(2, 3, 19, 18), torch.rand(24), torch.rand(12, 12), torch.randn(3)
    args = (x, fu, fd, b, 4, 2, -6, -9, -6, -9, 1.41, 0.2, 2.0)
    fused = kernels.filtered_lrelu(*args)
    assert kernels.set_filtered_lrelu_smem_bytes(1024) == 1024
    try:
        assert kernels.filtered_lrelu_plan(19, 18, 4, 2, 24, 24, True, 12, 12, False, -6, -9, -6, -9) == [0, 0, 0, 0]
        unfused = kernels.filtered_lrelu(*args)
    finally:
        kernels.set_filtered_lrelu_smem_bytes(48 * 1024)
    # The kernels correlate (no flip); the reference with flip_filter=True does the same.
    want = filtered_lrelu_ref(x, fu, fd, b, up=4, down=2, padding=[-6, -9, -6, -9], gain=1.41, clamp=2.0,
                              flip_filter=True)
    _check(fused, want, "fused")
    _check(unfused, want, "unfused")


def test_kernel_argument_errors_are_clear(kernels):
    x = torch.randn(1, 2, 8, 8)
    with pytest.raises(RuntimeError, match="up/down factors"):
        kernels.upfirdn2d(x, torch.ones(3), 0, 1, 1, 1, 0, 0, 0, 0, 1.0)
    with pytest.raises(RuntimeError, match="larger than"):
        kernels.upfirdn2d(x, torch.ones(20), 1, 1, 1, 1, 0, 0, 0, 0, 1.0)
    with pytest.raises(RuntimeError, match="unsupported activation"):
        kernels.bias_act(x, torch.empty(0), 1, "tanh", 0.0, 1.0, -1.0)
    with pytest.raises(RuntimeError, match="float16 or float32"):
        kernels.bias_act(x.double(), torch.empty(0), 1, "relu", 0.0, 1.0, -1.0)


# ---------------------------------------------------------------------------------------------------
# Whole networks.


@pytest.mark.parametrize("kind", ["sg3-t", "sg3-r", "sg2"])
def test_our_networks_match_the_reference_path(counting, kind):
    net = {"sg3-t": "SG3-T", "sg3-r": "SG3-R", "sg2": "SG2"}[kind]
    got, want = synthesis_vs_reference(net, seed=8)
    assert counting.calls["filtered_lrelu" if net != "SG2" else "bias_act"] > 0
    _check(got, want, net)
    assert float((got - want).abs().max()) < 1e-5


def test_app_networks_use_the_cpu_kernels(counting):
    from tests.support.nets import tiny_net

    for kind in ("sg2", "sg3"):
        G = tiny_net(kind, c_dim=2 if kind == "sg2" else 0)
        z = torch.randn(3, G.z_dim, generator=torch.Generator().manual_seed(1))
        c = torch.eye(2)[[0, 1, 1]] if kind == "sg2" else None
        with torch.no_grad():
            got = G(z, c, truncation_psi=0.7, noise_mode="const")
        want = reference(G, z, c, truncation_psi=0.7, noise_mode="const")
        _check(got, want, kind)
    assert all(counting.calls[k] > 0 for k in ("bias_act", "filtered_lrelu", "upfirdn2d"))


@pytest.mark.slow
@pytest.mark.fixtures
def test_nvidia_fixtures_through_the_cpu_kernels(counting, fixtures_dir, fixture_cases):
    worst = fixture_worst_diffs(fixtures_dir, fixture_cases, TOL)
    assert counting.calls["filtered_lrelu"] > 0 and counting.calls["upfirdn2d"] > 0
    print("worst abs diff through the CPU kernels:", worst)


# ---------------------------------------------------------------------------------------------------
# Dispatch, fallback, cache key.


def test_dispatch_rules_for_cpu_tensors(kernels, monkeypatch):
    backend.enable_all("cpu")  # verdicts other tests' networks left (e.g. a call shape the reference was faster at)
    x = torch.randn(1, 2, 4, 4)
    assert backend.cuda_kernels_for(x) is kernels
    assert backend.active_impl("cpu") == "cpu"
    assert backend.describe("cpu") == f"CPU kernels ({torch.get_num_threads()} threads)"
    assert backend.cuda_kernels_for(x.double()) is None
    xg = x.clone().requires_grad_(True)
    assert backend.cuda_kernels_for(xg) is kernels  # autograd too (tests/ops/test_autograd.py)
    for forced, want in (("ref", None), ("cuda", None), ("cpu", kernels)):
        backend.force_impl(forced)
        try:
            assert backend.cuda_kernels_for(x) is want, forced
        finally:
            backend.force_impl(None)
    monkeypatch.setenv("SG3_OPS", "ref")
    assert backend.cuda_kernels_for(x) is None and backend.active_impl("cpu") == "ref"
    assert backend.describe("cpu") == "reference ops on CPU (forced)"


@pytest.fixture
def fresh_cpu_state():
    cpu_ops.reset()
    yield
    cpu_ops.reset()  # the next kernels() loads the session's build again (already imported: instant)


def test_failed_build_falls_back_with_one_line_reason(fresh_cpu_state, monkeypatch, capsys):
    def failing(verbose=False):
        raise build.BuildUnavailable("no C++ compiler found (c++, g++ or clang++)")

    monkeypatch.setattr(build, "load_or_build_cpu", failing)
    x = torch.randn(1, 2, 6, 6)
    with torch.no_grad():
        y = upfirdn2d(x, torch.ones(3) / 3, padding=1)  # renders on the reference path, no exception
    assert y.shape == x.shape
    assert cpu_ops.unavailable_reason() == "no C++ compiler found (c++, g++ or clang++)"
    assert backend.active_impl("cpu") == "ref"
    assert backend.describe("cpu") == "reference ops on CPU (no C++ compiler found (c++, g++ or clang++))"
    from stylegan3.cli.main import main

    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "CPU kernels   none: no C++ compiler found (c++, g++ or clang++)" in out.splitlines()
    assert "ops in use: reference ops on CPU (no C++ compiler found (c++, g++ or clang++))" in out.splitlines()


def test_unexpected_build_error_never_raises(fresh_cpu_state, monkeypatch):
    def broken(verbose=False):
        raise OSError("disk full")

    monkeypatch.setattr(build, "load_or_build_cpu", broken)
    assert cpu_ops.kernels() is None
    assert cpu_ops.unavailable_reason() == "unexpected OSError: disk full"
    assert cpu_ops.status()["active"] == "ref"


def test_disable_env_gives_reason(fresh_cpu_state, monkeypatch):
    monkeypatch.setenv(build.CPU_DISABLE_ENV, "0")
    assert cpu_ops.kernels() is None
    assert cpu_ops.unavailable_reason() == f"disabled by {build.CPU_DISABLE_ENV}=0"


def test_doctor_reports_the_cpu_kernels(kernels, capsys):
    from stylegan3.cli.main import main

    assert main(["doctor", "--json"]) == 0
    import json

    info = json.loads(capsys.readouterr().out)
    assert info["cpu"]["active"] == "cpu" and info["cpu"]["built_kernels"] == list(build.KERNEL_NAMES)
    assert info["cpu"]["build_dir"] == str(build.cpu_build_dir())
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "ops in use: CPU kernels (" in out and f"CPU cache     {build.cpu_build_dir()}" in out.splitlines()


def test_cpu_cache_key_covers_sources_flags_and_cpu(tmp_path):
    import shutil

    for name in build.CPU_SOURCES + build.CPU_HEADERS:
        shutil.copy(build.SOURCE_DIR / name, tmp_path / name)
    digest = build.cpu_source_digest(tmp_path)
    assert digest == build.cpu_source_digest() and digest != build.source_digest()
    with open(tmp_path / "filtered_lrelu_sep.h", "a") as fh:
        fh.write("\n// edited\n")
    assert build.cpu_source_digest(tmp_path) != digest
    a = build.cpu_signature("model name : CPU A\nflags : fpu avx2\n")
    assert a == build.cpu_signature("flags : fpu avx2\nmodel name : CPU A\n")
    assert a != build.cpu_signature("model name : CPU A\nflags : fpu avx2 avx512f\n")
    assert build.module_name("0123456789abcdef", "sg3_cpu_ops") == "sg3_cpu_ops_0123456789ab"
    assert build.cpu_build_dir().parent == build.cache_root() / "extensions"


def test_cpu_benchmark_table_reports_ratios_and_estimates():
    from benchmarks.bench_cpu import Result, Run, format_table

    r = Result("SG3-T", {"ref": [Run(70.0, 25.0, 11.0, 4_500_000, 9.8), Run(60.8, 22.7, 10.8, 4_481_000, 9.0)],
                         "cpu": [Run(29.4, 9.7, 0.5, 207_000, 9.5)]}, 6e-7)
    row = format_table([r], 256, 2).splitlines()[-1].split()
    # min ref 60.8 s, cpu 29.4 s: 2.07x; idle estimate 13.2 * 29.4 / 60.8 = 6.38 s <= 7.6; NVIDIA 19.0 / 6.38.
    assert row[:4] == ["SG3-T", "60.80", "29.40", "2.07x"]
    assert row[4:10] == ["19.00", "<=", "7.6", "6.38", "2.98x", "no/yes"]
    assert row[10:] == ["6.0e-07", "22.7/10.8", "9.7/0.5", "4481k/207k", "9.0-9.8"]


def test_a_build_leaves_the_flags_and_so_the_cache_key_as_they_were(tmp_path, monkeypatch):
    """torch's cpp_extension.load appends its libraries to the flag lists it is given; were those our module's
    own lists, every key computed after a first build in the same process would name another folder."""
    from torch.utils import cpp_extension

    def load(**kwargs):
        kwargs["extra_ldflags"].append("-ltorch")  # what cpp_extension does to the caller's list
        kwargs["extra_cflags"].append("-DEXTRA")
        return object()

    before = build.cpu_build_dir()
    monkeypatch.setattr(cpp_extension, "load", load)
    build._compile("probe", build.CPU_SOURCES, tmp_path, build.CPU_BUILD_FLAGS, verbose=False)
    build._compile("probe", build.SOURCES, tmp_path, build.BUILD_FLAGS, verbose=False)
    assert build.CPU_BUILD_FLAGS == {"cflags": ["-O3", "-march=native", "-fopenmp"], "ldflags": ["-fopenmp"]}
    assert build.BUILD_FLAGS == {"cflags": ["-O3"], "cuda_cflags": ["-O3"]}
    assert build.cpu_build_dir() == before
