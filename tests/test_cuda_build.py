"""CPU-side tests of the CUDA kernel package: cache key, fallback reason, one warning, and the kernels'
own tiling/indexing code run on the host (host_harness.cpp) against the reference ops."""

from __future__ import annotations

import ctypes
import json
import shutil
import subprocess
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import ops.cuda as cuda_ops
from ops.cuda import build

# ---------------------------------------------------------------------------------------------------
# Fallback and reason.


@pytest.fixture
def fresh_state():
    cuda_ops.reset()
    yield
    cuda_ops.reset()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only fallback")
def test_kernels_none_with_reason_on_cpu(fresh_state):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no CUDA device: nothing to fall back from, so no warning
        assert cuda_ops.kernels() is None
    reason = cuda_ops.unavailable_reason()
    assert reason and "\n" not in reason
    assert "CPU-only" in reason or "no CUDA device" in reason
    info = cuda_ops.status()
    assert info["active"] == "ref" and info["built_kernels"] == [] and info["reason"] == reason


def test_disable_env_gives_reason(fresh_state, monkeypatch):
    monkeypatch.setenv(build.DISABLE_ENV, "0")
    assert cuda_ops.kernels() is None
    assert cuda_ops.unavailable_reason() == f"disabled by {build.DISABLE_ENV}=0"


def test_fallback_warns_once_when_a_gpu_exists(fresh_state, monkeypatch):
    calls = []

    def failing_build(verbose=False):
        calls.append(1)
        raise build.BuildUnavailable("nvcc not found (install the CUDA toolkit or set CUDA_HOME)")

    monkeypatch.setattr(build, "load_or_build", failing_build)
    monkeypatch.setattr(cuda_ops, "_cuda_device_present", lambda: True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cuda_ops.kernels() is None
        assert cuda_ops.kernels() is None
    assert len(calls) == 1
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert messages == ["sg3-explorer: CUDA kernels unavailable, using the slower reference ops: nvcc not found "
                        "(install the CUDA toolkit or set CUDA_HOME)"]


def test_unexpected_exception_never_escapes(fresh_state, monkeypatch):
    def broken(verbose=False):
        raise ValueError("boom")

    monkeypatch.setattr(build, "load_or_build", broken)
    assert cuda_ops.kernels() is None
    assert cuda_ops.unavailable_reason() == "unexpected ValueError: boom"


def test_build_runs_once_across_threads(fresh_state, monkeypatch):
    calls = []
    sentinel = object()

    def slow_build(verbose=False):
        calls.append(1)
        time.sleep(0.05)
        return sentinel

    monkeypatch.setattr(build, "load_or_build", slow_build)
    results = []
    threads = [threading.Thread(target=lambda: results.append(cuda_ops.kernels())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and results == [sentinel] * 8


# ---------------------------------------------------------------------------------------------------
# Cache location and key.


def test_cache_root_precedence(tmp_path):
    assert build.cache_root({"SG3_EXPLORER_CACHE": str(tmp_path / "a"), "XDG_CACHE_HOME": "/x"}) == tmp_path / "a"
    assert build.cache_root({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "sg3-explorer"
    assert build.cache_root({}) == Path.home() / ".cache" / "sg3-explorer"
    assert build.build_dir_for("abc", tmp_path) == tmp_path / "extensions" / "abc"


def test_cache_key_changes_with_sources(tmp_path):
    for name in build.SOURCES + build.HEADERS:
        shutil.copy(build.SOURCE_DIR / name, tmp_path / name)
    digest = build.source_digest(tmp_path)
    assert digest == build.source_digest(build.SOURCE_DIR)
    key = build.cache_key("2.11.0", "13.0", "9.0", digest)
    assert len(key) == 16 and key == build.cache_key("2.11.0", "13.0", "9.0", digest)

    with open(tmp_path / "filtered_lrelu.cu", "a") as fh:
        fh.write("\n// edited\n")
    changed = build.source_digest(tmp_path)
    assert changed != digest
    assert build.cache_key("2.11.0", "13.0", "9.0", changed) != key
    # Torch, CUDA and GPU architecture each give their own build folder too.
    assert build.cache_key("2.12.0", "13.0", "9.0", digest) != key
    assert build.cache_key("2.11.0", "12.8", "9.0", digest) != key
    assert build.cache_key("2.11.0", "13.0", "8.6", digest) != key


def test_import_built_needs_marker(tmp_path):
    (tmp_path / "sg3_cuda_ops_x.so").write_bytes(b"not a library")
    assert build._import_built(tmp_path, "sg3_cuda_ops_x") is None  # no build.json: never imported


def test_first_error_line():
    log = "ninja: build stopped\n[1/4] nvcc ...\nfoo.cu(12): error: identifier \"bar\" is undefined\nmore"
    assert build.first_error_line(log) == 'foo.cu(12): error: identifier "bar" is undefined'
    assert build.first_error_line("") == "no output"


def test_tools_are_reported_without_raising():
    for tool in (build.find_nvcc(), build.find_ninja(), build.find_cxx()):
        text = tool.describe()
        assert isinstance(text, str) and text
        assert (tool.path is None) == (text == "not found")


# ---------------------------------------------------------------------------------------------------
# The kernels' code on the host.

CXX = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")


@pytest.fixture(scope="module")
def harness(tmp_path_factory) -> ctypes.CDLL:
    if CXX is None:
        pytest.skip("no C++ compiler to build the host harness")
    out = tmp_path_factory.mktemp("harness") / "harness.so"
    cmd = [CXX, "-O1", "-std=c++17", "-shared", "-fPIC", str(build.SOURCE_DIR / "host_harness.cpp"), "-o", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return ctypes.CDLL(str(out))


FP = ctypes.POINTER(ctypes.c_float)
I, LL, F = ctypes.c_int, ctypes.c_longlong, ctypes.c_float


def _ptr(a: np.ndarray | None):
    return None if a is None else a.ctypes.data_as(FP)


def host_upfirdn2d(lib, x, f, up, down, pad, gain):
    n, c, h, w = x.shape
    fw = f.shape[-1]
    fh = f.shape[0]
    hw = (I * 2)()
    args = [LL(n * c), I(h), I(w), I(up[0]), I(up[1]), I(down[0]), I(down[1]), *map(I, pad), I(fw), I(fh),
            I(int(f.ndim == 1)), F(gain), hw]
    lib.sg3h_upfirdn2d(_ptr(x), _ptr(f), None, *args)
    y = np.full((n, c, hw[0], hw[1]), np.nan, np.float32)  # poisoned: every element must be written
    assert lib.sg3h_upfirdn2d(_ptr(x), _ptr(f), _ptr(y), *args) == 0
    return y


def host_filtered_lrelu(lib, x, fu, fd, b, up, down, pad, gain, slope, clamp, smem_bytes, specialize=1):
    n, c, h, w = x.shape
    info = (I * 6)()
    args = [LL(n * c), I(c), I(h), I(w), I(up), I(down), *map(I, pad), I(fu.shape[-1]), I(fu.shape[0]),
            I(int(fu.ndim == 1)), I(fd.shape[-1]), I(fd.shape[0]), I(int(fd.ndim == 1)), I(int(b is not None)),
            F(gain), F(slope), F(clamp), I(smem_bytes), I(specialize), info]
    assert lib.sg3h_filtered_lrelu(_ptr(x), _ptr(fu), _ptr(fd), _ptr(b), None, *args) == 0
    y = np.full((n, c, info[0], info[1]), np.nan, np.float32)
    assert lib.sg3h_filtered_lrelu(_ptr(x), _ptr(fu), _ptr(fd), _ptr(b), _ptr(y), *args) == 0
    return y, (info[2], info[3]), info[5]


def rel_err(a: np.ndarray, ref: torch.Tensor) -> float:
    r = ref.double().numpy()
    return float(np.abs(a.astype(np.float64) - r).max() / max(np.abs(r).max(), 1e-30))


UPFIRDN_CASES = [
    # (h, w, up, down, filter shape, padding x0 x1 y0 y1)
    (7, 9, (1, 1), (1, 1), (3, 3), (1, 1, 1, 1)),
    (8, 8, (2, 2), (1, 1), (4,), (2, 1, 2, 1)),
    (10, 6, (1, 2), (2, 1), (6, 5), (-1, 3, 2, -2)),
    (16, 16, (1, 1), (2, 2), (4,), (1, 1, 1, 1)),
    (5, 5, (3, 3), (2, 2), (7, 7), (0, 0, 0, 0)),
    (12, 12, (4, 4), (1, 1), (24,), (12, 11, 12, 11)),
    (1, 1, (2, 2), (1, 1), (1, 1), (0, 1, 0, 1)),
]


@pytest.mark.parametrize("case", UPFIRDN_CASES)
def test_host_upfirdn2d_matches_reference(harness, case):
    from stylegan3.ops import upfirdn2d_ref

    h, w, up, down, fshape, pad = case
    rng = np.random.default_rng(h * 100 + w)
    x = rng.standard_normal((2, 3, h, w)).astype(np.float32)
    f = rng.standard_normal(fshape).astype(np.float32)
    y = host_upfirdn2d(harness, x, f, up, down, pad, 1.7)
    ref = upfirdn2d_ref(torch.from_numpy(x).double(), torch.from_numpy(f).double(), up=up, down=down, padding=pad,
                        flip_filter=True, gain=1.7)
    assert y.shape == tuple(ref.shape)
    assert not np.isnan(y).any()
    assert rel_err(y, ref) < 1e-5


FLRELU_CASES = [
    # (h, w, up, down, fu shape, fd shape, padding, shared-memory budget in bytes); the first four hit the
    # compile-time variants (up 2 / down 2 / 12 taps and up 4 / down 2 / 24 and 12 taps), the rest the generic code.
    (36, 36, 2, 2, (12,), (12,), (11, 10, 11, 10), 48 * 1024),
    (20, 20, 2, 2, (12, 12), (12, 12), (11, 10, 11, 10), 8 * 1024),
    (17, 13, 4, 2, (24,), (12, 12), (3, -2, 5, 1), 4 * 1024),
    (21, 19, 4, 2, (24,), (12,), (13, 12, 13, 12), 48 * 1024),
    (9, 9, 1, 1, (1, 1), (1, 1), (0, 0, 0, 0), 1024),
    (30, 30, 2, 1, (12,), (1,), (6, 5, 6, 5), 6000),
    (11, 11, 1, 2, (1, 1), (12, 12), (10, 9, 10, 9), 3000),
]


@pytest.mark.parametrize("specialize", [1, 0], ids=["variant", "generic"])
@pytest.mark.parametrize("case", FLRELU_CASES)
def test_host_filtered_lrelu_matches_reference(harness, case, specialize):
    from stylegan3.ops import filtered_lrelu_ref

    h, w, up, down, fus, fds, pad, smem = case
    rng = np.random.default_rng(h * 100 + w + up)
    x = rng.standard_normal((2, 3, h, w)).astype(np.float32)
    fu = rng.standard_normal(fus).astype(np.float32)
    fd = rng.standard_normal(fds).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    y, tile, variant = host_filtered_lrelu(harness, x, fu, fd, b, up, down, pad, 1.4, 0.2, 2.5, smem, specialize)
    expected_variant = (1 if up == 2 else 2) if specialize and FLRELU_CASES.index(case) < 4 else 0
    assert variant == expected_variant
    ref = filtered_lrelu_ref(*(torch.from_numpy(a).double() for a in (x, fu, fd, b)), up=up, down=down, padding=pad,
                             gain=1.4, slope=0.2, clamp=2.5, flip_filter=True)
    assert y.shape == tuple(ref.shape)
    assert not np.isnan(y).any()
    assert rel_err(y, ref) < 1e-5
    assert tile[0] * tile[1] >= 1


def test_host_filtered_lrelu_tiles_shrink_with_budget(harness):
    x = np.ones((1, 1, 64, 64), np.float32)
    f = np.ones(12, np.float32) / 12
    _, big, _ = host_filtered_lrelu(harness, x, f, f, None, 2, 2, (11, 10, 11, 10), 1.0, 0.2, -1.0, 48 * 1024)
    _, small, _ = host_filtered_lrelu(harness, x, f, f, None, 2, 2, (11, 10, 11, 10), 1.0, 0.2, -1.0, 8 * 1024)
    assert big == (32, 32) and small[0] * small[1] < 32 * 32


@pytest.mark.parametrize("act,code", [("linear", 0), ("relu", 1), ("lrelu", 2)])
@pytest.mark.parametrize("shape,dim", [((3, 5, 4, 6), 1), ((7, 9), 1), ((4, 5, 6), 2), ((2, 3, 4, 5), 0)])
def test_host_bias_act_matches_reference(harness, act, code, shape, dim):
    from stylegan3.ops import bias_act_ref

    rng = np.random.default_rng(len(shape) + dim)
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    b = rng.standard_normal(shape[dim]).astype(np.float32)
    y = np.full_like(x, np.nan)
    step = int(np.prod(shape[dim + 1 :]))
    harness.sg3h_bias_act(_ptr(x), _ptr(b), _ptr(y), LL(x.size), LL(step), I(shape[dim]), I(code), F(0.3), F(1.5),
                          F(2.0))
    ref = bias_act_ref(torch.from_numpy(x), torch.from_numpy(b), dim=dim, act=act, alpha=0.3, gain=1.5, clamp=2.0)
    np.testing.assert_allclose(y, ref.numpy(), rtol=1e-6, atol=1e-6)
    assert np.abs(y).max() <= 2.0


# ---------------------------------------------------------------------------------------------------
# Benchmark CPU mode (the GPU table is produced by benchmarks/gpu_check.sh).


def test_benchmark_cpu_mode_prints_table(capsys, tmp_path):
    from benchmarks import bench_synthesis

    out_json = tmp_path / "rows.json"
    argv = ["--device", "cpu", "--tiny", "--nets", "SG3-T,SG2", "--warmup", "0", "--iters", "1"]
    argv += ["--json", str(out_json)]
    assert bench_synthesis.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("# synthesis benchmark: 16x16 (tiny channels), CPU")
    assert lines[1].split() == ["net", "prec", "ops", "mapping", "ms", "synthesis", "ms", "frame", "ms", "vs", "ref",
                                "target"]
    rows = [line.split() for line in lines[3:]]
    assert [r[:3] for r in rows] == [["SG3-T", "fp32", "ref"], ["SG2", "fp32", "ref"]]
    for r in rows:
        assert all(float(v) > 0 for v in r[3:6])
    saved = json.loads(out_json.read_text())
    assert [r["net"] for r in saved["rows"]] == ["SG3-T", "SG2"] and saved["resolution"] == 16


def test_benchmark_configs_are_the_official_ffhq_ones():
    from benchmarks.bench_synthesis import official_config

    kind, t = official_config("SG3-T")
    assert kind == "sg3" and t["channel_base"] == 32768 and t["channel_max"] == 512 and t["img_resolution"] == 1024
    assert t["mapping_kwargs"] == {"num_layers": 2} and t["num_fp16_res"] == 4 and t["conv_clamp"] == 256
    kind, r = official_config("SG3-R")
    assert kind == "sg3" and r["conv_kernel"] == 1 and r["use_radial_filters"] is True
    assert r["channel_base"] == 65536 and r["channel_max"] == 1024
    kind, s = official_config("SG2")
    assert kind == "sg2" and s["mapping_kwargs"] == {"num_layers": 8} and s["channel_base"] == 32768
