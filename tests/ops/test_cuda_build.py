"""CPU-side tests of the CUDA kernel package: cache key, fallback reason, one warning, and the kernels'
own tiling/indexing code run on the host (host_harness.cpp) against the reference ops."""

from __future__ import annotations

import ctypes
import functools
import json
import shutil
import subprocess
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

import sg3_explorer.ops.cuda as cuda_ops
from sg3_explorer.ops.cuda import build
from tests.support.host_kernels import CXX, build_harness

# ---------------------------------------------------------------------------------------------------
# Fallback and reason.


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only fallback")
def test_kernels_none_with_reason_on_cpu(fresh_cuda_state):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no CUDA device: nothing to fall back from, so no warning
        assert cuda_ops.kernels() is None
    reason = cuda_ops.unavailable_reason()
    assert reason and "\n" not in reason
    assert "CPU-only" in reason or "no CUDA device" in reason
    info = cuda_ops.status()
    assert info["active"] == "ref" and info["built_kernels"] == [] and info["reason"] == reason


def test_disable_env_gives_reason(fresh_cuda_state, monkeypatch):
    monkeypatch.setenv(build.DISABLE_ENV, "0")
    assert cuda_ops.kernels() is None
    assert cuda_ops.unavailable_reason() == f"disabled by {build.DISABLE_ENV}=0"


def test_fallback_warns_once_when_a_gpu_exists(fresh_cuda_state, monkeypatch):
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


def test_unexpected_exception_never_escapes(fresh_cuda_state, monkeypatch):
    def broken(verbose=False):
        raise ValueError("boom")

    monkeypatch.setattr(build, "load_or_build", broken)
    assert cuda_ops.kernels() is None
    assert cuda_ops.unavailable_reason() == "unexpected ValueError: boom"


def test_build_runs_once_across_threads(fresh_cuda_state, monkeypatch):
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
# The kernels' code on the host (ops/cuda/host_harness.cpp). Each block runs on T host threads that
# call the kernels' own block code with their tid, block_sync() is a real barrier, shared memory and
# outputs are poisoned with NaN (with guard zones), inputs sit between NaN guards, and float16
# load/store is emulated bit-exactly. The "baton" schedule runs a block's threads one at a time,
# handing over only at barriers, which makes a missing barrier show up deterministically.

EMULATION_ERROR = 90  # host_harness.cpp: kEmulationError


@pytest.fixture(scope="module")
def harness(tmp_path_factory) -> ctypes.CDLL:
    if CXX is None:
        pytest.skip("no C++ compiler to build the host harness")
    return build_harness(tmp_path_factory.mktemp("harness"))


I, LL, F, VP = ctypes.c_int, ctypes.c_longlong, ctypes.c_float, ctypes.c_void_p
GUARD = 64  # elements of poison either side of every buffer the harness reads or writes
POISON = {np.dtype(np.float32): (np.uint32, 0x7FBADBAD), np.dtype(np.float16): (np.uint16, 0x7D5A)}


@dataclass(frozen=True)
class Emu:
    """How the harness runs a block: `threads` host threads, concurrent ("free") or one at a time
    ("baton", ascending or descending tid order); `max_blocks` caps the grid of the grid-stride
    kernels so that their loops wrap; `drop_barrier` skips that barrier in every thread (fault injection)."""

    threads: int = 1
    schedule: str = "free"
    descending: bool = False
    max_blocks: int = 0
    jitter: bool = False
    drop_barrier: int = -1

    def __str__(self) -> str:
        parts = [f"t{self.threads}", self.schedule]
        parts += ["desc"] * self.descending + [f"grid{self.max_blocks}"] * bool(self.max_blocks)
        parts += ["jitter"] * self.jitter + [f"drop{self.drop_barrier}"] * (self.drop_barrier >= 0)
        return "-".join(parts)

    def apply(self, lib: ctypes.CDLL) -> None:
        args = (self.threads, int(self.schedule == "baton"), self.drop_barrier, int(self.descending), self.max_blocks,
                int(self.jitter))
        assert lib.sg3h_configure(*map(I, args)) == 0


SINGLE = Emu()
EMUS = [SINGLE, Emu(3, "baton"), Emu(7, "baton", descending=True, max_blocks=3), Emu(32, "free", jitter=True)]
FULL_BLOCK = Emu(256, "free")  # the kernels' real block size; slower on 2 cores, so on fewer cases


class _Buffer:
    """A copy of an array (or a poisoned output) between poisoned guard zones: an out-of-bounds read then
    gives NaN instead of a plausible neighbour, and an out-of-bounds write changes a guard."""

    def __init__(self, shape: tuple[int, ...], dtype, data: np.ndarray | None = None):
        self.dtype, self.shape = np.dtype(dtype), tuple(shape)
        self.n = int(np.prod(self.shape))
        ubits, self.pattern = POISON[self.dtype]
        self.bits = np.full(self.n + 2 * GUARD, self.pattern, ubits)
        self.values = self.bits.view(self.dtype)
        if data is not None:
            self.values[GUARD : GUARD + self.n] = data.ravel()

    @classmethod
    def of(cls, a: np.ndarray | None) -> _Buffer | None:
        return None if a is None else cls(a.shape, a.dtype, a)

    @property
    def ptr(self) -> ctypes.c_void_p:
        return VP(self.values.ctypes.data + GUARD * self.dtype.itemsize)

    def result(self) -> np.ndarray:
        guards = np.concatenate([self.bits[:GUARD], self.bits[GUARD + self.n :]])
        assert (guards == self.pattern).all(), "written out of bounds"
        return self.values[GUARD : GUARD + self.n].reshape(self.shape).copy()


def _ptr(buf: _Buffer | None) -> ctypes.c_void_p | None:
    return None if buf is None else buf.ptr


def _dtype_code(a: np.ndarray) -> int:
    return {np.dtype(np.float32): 0, np.dtype(np.float16): 1}[a.dtype]


@dataclass
class Run:
    """One harness call: output, return code, what the emulation caught, barriers per block."""

    y: np.ndarray
    rc: int
    error: str
    barriers: int
    info: tuple[int, ...] = ()

    def checked(self) -> np.ndarray:
        assert self.rc == 0, f"harness returned {self.rc}: {self.error}"
        assert not np.isnan(self.y).any(), "an output element was never written or read poisoned memory"
        return self.y


def _finish(lib: ctypes.CDLL, out: _Buffer, rc: int, info: tuple[int, ...] = ()) -> Run:
    return Run(out.result(), rc, lib.sg3h_last_error().decode(), lib.sg3h_last_barriers(), info)


def host_upfirdn2d(lib, x, f, up, down, pad, gain, emu: Emu = SINGLE) -> Run:
    n, c, h, w = x.shape
    hw = (I * 2)()
    args = [I(_dtype_code(x)), LL(n * c), I(h), I(w), I(up[0]), I(up[1]), I(down[0]), I(down[1]), *map(I, pad),
            I(f.shape[-1]), I(f.shape[0]), I(int(f.ndim == 1)), F(gain), hw]
    lib.sg3h_upfirdn2d(None, None, None, *args)
    xb, fb, out = _Buffer.of(x), _Buffer.of(f), _Buffer((n, c, hw[0], hw[1]), x.dtype)
    emu.apply(lib)
    return _finish(lib, out, lib.sg3h_upfirdn2d(xb.ptr, fb.ptr, out.ptr, *args))


def host_bias_act(lib, x, b, dim, code, alpha, gain, clamp, emu: Emu = SINGLE) -> Run:
    step = int(np.prod(x.shape[dim + 1 :]))
    xb, bb, out = _Buffer.of(x), _Buffer.of(b), _Buffer(x.shape, x.dtype)
    emu.apply(lib)
    rc = lib.sg3h_bias_act(xb.ptr, _ptr(bb), out.ptr, I(_dtype_code(x)), LL(x.size), LL(step),
                           I(0 if b is None else x.shape[dim]), I(code), F(alpha), F(gain), F(clamp))
    return _finish(lib, out, rc)


def host_filtered_lrelu(lib, x, fu, fd, b, up, down, pad, gain, slope, clamp, smem_bytes, specialize=1,
                        emu: Emu = SINGLE) -> Run:
    """Run.info = (tile_w, tile_h, variant)."""
    n, c, h, w = x.shape
    info = (I * 6)()
    args = [I(_dtype_code(x)), LL(n * c), I(c), I(h), I(w), I(up), I(down), *map(I, pad), I(fu.shape[-1]),
            I(fu.shape[0]), I(int(fu.ndim == 1)), I(fd.shape[-1]), I(fd.shape[0]), I(int(fd.ndim == 1)),
            I(int(b is not None)), F(gain), F(slope), F(clamp), I(smem_bytes), I(specialize), info]
    assert lib.sg3h_filtered_lrelu(None, None, None, None, None, *args) == 0
    xb, fub, fdb, bb = (_Buffer.of(a) for a in (x, fu, fd, b))
    out = _Buffer((n, c, info[0], info[1]), x.dtype)
    emu.apply(lib)
    rc = lib.sg3h_filtered_lrelu(xb.ptr, fub.ptr, fdb.ptr, _ptr(bb), out.ptr, *args)
    return _finish(lib, out, rc, (info[2], info[3], info[5]))


def _t64(a: np.ndarray | None) -> torch.Tensor | None:
    return None if a is None else torch.from_numpy(a.astype(np.float64))


def rel_err(a: np.ndarray, ref: torch.Tensor) -> float:
    r = ref.double().numpy()
    return float(np.abs(a.astype(np.float64) - r).max() / max(np.abs(r).max(), 1e-30))


def ulp_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance in float16 units in the last place (+0 and -0 are the same point)."""

    def key(h: np.ndarray) -> np.ndarray:
        bits = h.astype(np.float16).view(np.uint16).astype(np.int32)
        return np.where(bits & 0x8000, -(bits & 0x7FFF), bits)

    return np.abs(key(a) - key(b))


def assert_fp16_rounds_once(y16: np.ndarray, y32: np.ndarray, ref: torch.Tensor) -> None:
    """The kernels compute in float32 and round once on store, so the float16 run must be, bit for bit, the
    float32 run on the same (widened) inputs rounded to nearest even. Against the exact result rounded to
    float16 that gives at most 1 ulp wherever float32 itself is within half a float16 ulp of exact; where
    cancellation makes the float32 error larger (random filters, outputs far below the largest one), the
    float32 relative error bound is what holds, and such elements must stay rare."""
    assert y16.dtype == np.float16 and not np.isnan(y16).any()
    np.testing.assert_array_equal(y16.view(np.uint16), y32.astype(np.float16).view(np.uint16))
    exact = ref.double().numpy()
    exact16 = exact.astype(np.float16)
    assert rel_err(y32, ref) < 1e-5
    clean = np.abs(y32.astype(np.float64) - exact) <= np.spacing(np.abs(exact16)).astype(np.float64) / 2
    assert clean.mean() > 0.99
    assert int(ulp_diff(y16, exact16)[clean].max()) <= 1


def radial_filter(taps: int) -> np.ndarray:
    """2-D low-pass that depends only on the distance to the centre, like SG3-R's down filters."""
    r = np.hypot(*np.meshgrid(np.arange(taps) - (taps - 1) / 2, np.arange(taps) - (taps - 1) / 2))
    f = np.sinc(r / 2) * np.kaiser(2 * taps + 1, 4)[taps + np.minimum(np.round(r * 2).astype(int), taps)]
    return (f / f.sum()).astype(np.float32)


def test_host_half_conversion_is_exact(harness):
    """The emulated __half2float / __float2half_rn against numpy's IEEE binary16 (round to nearest even)."""
    bits = np.arange(1 << 16, dtype=np.uint16)
    widened = np.empty(bits.size, np.float32)
    harness.sg3h_float_from_half(VP(bits.ctypes.data), VP(widened.ctypes.data), LL(bits.size))
    expect = bits.view(np.float16).astype(np.float32)
    nan = np.isnan(expect)
    assert (np.isnan(widened) == nan).all() and nan.sum() == 2046
    np.testing.assert_array_equal(widened.view(np.uint32)[~nan], expect.view(np.uint32)[~nan])

    # Every finite half, every midpoint between neighbours (the ties, exact in float32) and the floats
    # either side of each midpoint, the overflow and underflow edges, and random bit patterns.
    halves = np.unique(expect[~nan & np.isfinite(expect)].astype(np.float64))
    mids = ((halves[:-1] + halves[1:]) / 2).astype(np.float32)
    assert (mids.astype(np.float64) == (halves[:-1] + halves[1:]) / 2).all()
    edges = np.array([65504, 65519.99, 65520, 65536, 1e30, np.inf, 2.0**-25, 2.0**-24, 1.5 * 2.0**-25, 1e-30, 0],
                     np.float32)
    rand = np.random.default_rng(0).integers(0, 1 << 32, 500_000, dtype=np.uint64).astype(np.uint32)
    src = np.concatenate([expect[~nan], mids, np.nextafter(mids, np.float32(np.inf)),
                          np.nextafter(mids, np.float32(-np.inf)), edges, -edges, np.float32([np.nan]),
                          rand.view(np.float32)])
    narrowed = np.empty(src.size, np.uint16)
    harness.sg3h_half_from_float(VP(src.ctypes.data), VP(narrowed.ctypes.data), LL(src.size))
    with np.errstate(over="ignore", invalid="ignore"):
        expect16 = src.astype(np.float16)
    nan16 = np.isnan(expect16)
    assert (np.isnan(narrowed.view(np.float16)) == nan16).all()
    np.testing.assert_array_equal(narrowed[~nan16], expect16.view(np.uint16)[~nan16])


UPFIRDN_CASES = [
    # (batch, channels, h, w, up, down, filter shape, padding x0 x1 y0 y1)
    (2, 3, 7, 9, (1, 1), (1, 1), (3, 3), (1, 1, 1, 1)),
    (2, 3, 8, 8, (2, 2), (1, 1), (4,), (2, 1, 2, 1)),
    (2, 3, 10, 6, (1, 2), (2, 1), (6, 5), (-1, 3, 2, -2)),
    (2, 3, 16, 16, (1, 1), (2, 2), (4,), (1, 1, 1, 1)),
    (2, 3, 5, 5, (3, 3), (2, 2), (7, 7), (0, 0, 0, 0)),
    (2, 3, 12, 12, (4, 4), (1, 1), (24,), (12, 11, 12, 11)),
    (2, 3, 1, 1, (2, 2), (1, 1), (1, 1), (0, 1, 0, 1)),
    (1, 2, 33, 31, (2, 2), (1, 1), (12,), (6, 5, 6, 5)),  # SG3 upsampling: 12 taps, separable
    (2, 1, 24, 20, (1, 1), (2, 2), "radial12", (5, 5, 5, 5)),  # SG3-R: radial 2-D 12x12 down filter
    (3, 2, 9, 13, (3, 1), (1, 3), (5, 7), (-2, 4, 3, -1)),  # anisotropic factors, cropping
    (1, 1, 5, 4, (1, 1), (1, 1), (91, 91), (45, 45, 45, 45)),  # 8281 taps: too large to stage, read from global
]


def _filter(rng: np.random.Generator, shape) -> np.ndarray:
    return radial_filter(12) if shape == "radial12" else rng.standard_normal(shape).astype(np.float32)


@functools.cache
def _upfirdn_data(case, fp16: bool) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """Inputs and float64 reference of a case, computed once and shared by the thread configurations."""
    from stylegan3.ops import upfirdn2d_ref

    n, c, h, w, up, down, fshape, pad = case
    rng = np.random.default_rng(h * 100 + w + fp16)
    x = rng.standard_normal((n, c, h, w)).astype(np.float16 if fp16 else np.float32)
    f = _filter(rng, fshape)
    return x, f, upfirdn2d_ref(_t64(x), _t64(f), up=up, down=down, padding=pad, flip_filter=True, gain=1.7)


@pytest.mark.parametrize("emu", [*EMUS, FULL_BLOCK], ids=str)
@pytest.mark.parametrize("case", UPFIRDN_CASES, ids=str)
def test_host_upfirdn2d_matches_reference(harness, case, emu):
    x, f, ref = _upfirdn_data(case, False)
    up, down, pad = case[4], case[5], case[7]
    run = host_upfirdn2d(harness, x, f, up, down, pad, 1.7, emu)
    assert run.y.shape == tuple(ref.shape)
    assert rel_err(run.checked(), ref) < 1e-5
    assert run.barriers == (1 if f.size <= 8192 else 0)  # the filter-staging barrier


@pytest.mark.parametrize("emu", [SINGLE, Emu(5, "baton", max_blocks=2)], ids=str)
@pytest.mark.parametrize("case", UPFIRDN_CASES[:-1], ids=str)
def test_host_upfirdn2d_float16(harness, case, emu):
    x16, f, ref = _upfirdn_data(case, True)
    up, down, pad = case[4], case[5], case[7]
    y16 = host_upfirdn2d(harness, x16, f, up, down, pad, 1.7, emu).checked()
    y32 = host_upfirdn2d(harness, x16.astype(np.float32), f, up, down, pad, 1.7, emu).checked()
    assert_fp16_rounds_once(y16, y32, ref)


FLRELU_CASES = [
    # (batch, channels, h, w, up, down, fu shape, fd shape, padding, shared-memory budget in bytes, variant the
    # launcher picks: 1 = up 2 / down 2 / 12 taps, 2 = up 4 / down 2 / 24 and 12 taps, 0 = generic)
    (2, 3, 36, 36, 2, 2, (12,), (12,), (11, 10, 11, 10), 48 * 1024, 1),
    (2, 3, 20, 20, 2, 2, (12, 12), (12, 12), (11, 10, 11, 10), 8 * 1024, 1),
    (2, 3, 17, 13, 4, 2, (24,), (12, 12), (3, -2, 5, 1), 4 * 1024, 2),
    (2, 3, 21, 19, 4, 2, (24,), (12,), (13, 12, 13, 12), 48 * 1024, 2),
    (1, 2, 37, 29, 2, 2, (12,), "radial12", (11, 10, 11, 10), 48 * 1024, 1),  # SG3-R layer, 29x37 output
    (3, 1, 23, 27, 4, 2, (24,), "radial12", (13, 12, 13, 12), 16 * 1024, 2),
    (2, 3, 9, 9, 1, 1, (1, 1), (1, 1), (0, 0, 0, 0), 1024, 0),
    (2, 3, 30, 30, 2, 1, (12,), (1,), (6, 5, 6, 5), 6000, 0),
    (2, 3, 11, 11, 1, 2, (1, 1), (12, 12), (10, 9, 10, 9), 3000, 0),
    (1, 1, 15, 13, 2, 2, (6, 5), (3,), (-1, 2, 1, -2), 2048, 0),  # non-square 2-D up filter, cropping
    (2, 2, 19, 17, 3, 2, (9,), (5, 4), (4, 3, 2, 5), 6000, 0),  # up 3, tiles that do not divide the output
]
FLRELU_RUNS = [(case, 1) for case in FLRELU_CASES] + [(case, 0) for case in FLRELU_CASES if case[-1]]
FLRELU_EMU_RUNS = [(case, spec, emu) for case, spec in FLRELU_RUNS for emu in EMUS]
FLRELU_EMU_RUNS += [(FLRELU_CASES[i], 1, FULL_BLOCK) for i in (0, 2, 4, 9, 10)]


@functools.cache
def _flrelu_data(case, fp16: bool = False):
    """(x, fu, fd, b, float64 reference) of a case, computed once and shared by the thread configurations.
    In float16, x is float16 and b holds float16 values (the dispatch casts b to x's dtype)."""
    from stylegan3.ops import filtered_lrelu_ref

    n, c, h, w, up, down, fus, fds, pad, smem, variant = case
    rng = np.random.default_rng(h * 100 + w + up + fp16)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    fu, fd, b = _filter(rng, fus), _filter(rng, fds), rng.standard_normal(c).astype(np.float32)
    if fp16:
        x, b = x.astype(np.float16), b.astype(np.float16).astype(np.float32)
    ref = filtered_lrelu_ref(_t64(x), _t64(fu), _t64(fd), _t64(b), up=up, down=down, padding=pad, gain=1.4,
                             slope=0.2, clamp=2.5, flip_filter=True)
    return x, fu, fd, b, ref


def _flrelu_run(lib, case, x, fu, fd, b, specialize=1, emu=SINGLE) -> Run:
    up, down, pad, smem = case[4], case[5], case[8], case[9]
    return host_filtered_lrelu(lib, x, fu, fd, b, up, down, pad, 1.4, 0.2, 2.5, smem, specialize, emu)


@pytest.mark.parametrize("case,specialize,emu", FLRELU_EMU_RUNS, ids=str)
def test_host_filtered_lrelu_matches_reference(harness, case, specialize, emu):
    x, fu, fd, b, ref = _flrelu_data(case)
    run = _flrelu_run(harness, case, x, fu, fd, b, specialize, emu)
    assert run.y.shape == tuple(ref.shape)
    assert rel_err(run.checked(), ref) < 1e-5
    tile_w, tile_h, variant = run.info
    assert variant == (case[-1] if specialize else 0)
    assert tile_w * tile_h >= 1
    assert run.barriers == 2 + (fu.ndim == 1) + (fd.ndim == 1)


def test_host_filtered_lrelu_tiles_do_not_divide_the_output(harness):
    case = FLRELU_CASES[4]
    x, fu, fd, b, _ = _flrelu_data(case)
    tile_w, tile_h, _ = _flrelu_run(harness, case, x, fu, fd, b).info
    assert (29 % tile_w, 37 % tile_h) != (0, 0)


@pytest.mark.parametrize("emu", [SINGLE, Emu(5, "baton", descending=True)], ids=str)
@pytest.mark.parametrize("case,specialize", FLRELU_RUNS, ids=str)
def test_host_filtered_lrelu_float16(harness, case, specialize, emu):
    x16, fu, fd, b16, ref = _flrelu_data(case, True)
    y16 = _flrelu_run(harness, case, x16, fu, fd, b16, specialize, emu).checked()
    y32 = _flrelu_run(harness, case, x16.astype(np.float32), fu, fd, b16, specialize, emu).checked()
    assert_fp16_rounds_once(y16, y32, ref)


def test_host_filtered_lrelu_tiles_shrink_with_budget(harness):
    x = np.ones((1, 1, 64, 64), np.float32)
    f = np.ones(12, np.float32) / 12
    big = host_filtered_lrelu(harness, x, f, f, None, 2, 2, (11, 10, 11, 10), 1.0, 0.2, -1.0, 48 * 1024)
    small = host_filtered_lrelu(harness, x, f, f, None, 2, 2, (11, 10, 11, 10), 1.0, 0.2, -1.0, 8 * 1024)
    assert big.info[:2] == (32, 32) and small.info[0] * small.info[1] < 32 * 32
    np.testing.assert_allclose(big.checked(), small.checked(), rtol=1e-5)


BIAS_ACT_CASES = [((3, 5, 4, 6), 1), ((7, 9), 1), ((4, 5, 6), 2), ((2, 3, 4, 5), 0)]


@pytest.mark.parametrize("emu", [SINGLE, Emu(3, "baton", max_blocks=2), FULL_BLOCK], ids=str)
@pytest.mark.parametrize("act,code", [("linear", 0), ("relu", 1), ("lrelu", 2)])
@pytest.mark.parametrize("shape,dim", BIAS_ACT_CASES)
def test_host_bias_act_matches_reference(harness, act, code, shape, dim, emu):
    from stylegan3.ops import bias_act_ref

    rng = np.random.default_rng(len(shape) + dim)
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    b = rng.standard_normal(shape[dim]).astype(np.float32)
    y = host_bias_act(harness, x, b, dim, code, 0.3, 1.5, 2.0, emu).checked()
    ref = bias_act_ref(torch.from_numpy(x), torch.from_numpy(b), dim=dim, act=act, alpha=0.3, gain=1.5, clamp=2.0)
    np.testing.assert_allclose(y, ref.numpy(), rtol=1e-6, atol=1e-6)
    assert np.abs(y).max() <= 2.0


@pytest.mark.parametrize("with_bias,clamp", [(True, 2.0), (False, -1.0)])
@pytest.mark.parametrize("act,code", [("linear", 0), ("relu", 1), ("lrelu", 2)])
@pytest.mark.parametrize("shape,dim", BIAS_ACT_CASES)
def test_host_bias_act_float16(harness, act, code, shape, dim, with_bias, clamp):
    from stylegan3.ops import bias_act_ref

    rng = np.random.default_rng(len(shape) + dim + 7)
    x16 = (rng.standard_normal(shape) * 3).astype(np.float16)
    b = rng.standard_normal(shape[dim]).astype(np.float16).astype(np.float32) if with_bias else None
    emu = Emu(4, "baton", max_blocks=3)
    y16 = host_bias_act(harness, x16, b, dim, code, 0.3, 1.5, clamp, emu).checked()
    y32 = host_bias_act(harness, x16.astype(np.float32), b, dim, code, 0.3, 1.5, clamp, emu).checked()
    ref = bias_act_ref(_t64(x16), _t64(b), dim=dim, act=act, alpha=0.3, gain=1.5, clamp=None if clamp < 0 else clamp)
    assert_fp16_rounds_once(y16, y32, ref)


# Fault injection: the harness can skip one barrier in every thread. One thread per block performs the
# phases in order anyway and cannot notice; with several threads on the baton schedule, the first
# thread runs into the next phase before the others have written their part and reads poisoned shared
# memory (NaN in the output) or, where the region was written earlier in the block (the separable down
# pass reuses the input patch's space), stale values (a wrong output), every time. A thread count
# whose stride makes every thread read only what it wrote itself (e.g. 3 threads and an 18-wide mid
# tile) has no race to find, so the counts here are coprime to the tile widths.

# fu/fd: 2-D/2-D, separable/2-D (variant 2), separable/separable, separable/radial 2-D (variant 1), 2-D/separable
# and separable/2-D in the generic code (up 3). Not
# FLRELU_CASES[7]: with a 1-tap down filter and down 1 each thread's second down pass reads only the
# element it wrote in the first, so that barrier is not needed there.
BARRIER_CASES = [FLRELU_CASES[i] for i in (1, 2, 3, 4, 9, 10)]


@pytest.mark.parametrize("case", BARRIER_CASES, ids=str)
def test_dropped_barrier_is_caught_only_by_the_threaded_harness(harness, case):
    x, fu, fd, b, ref = _flrelu_data(case)
    barriers = 2 + (fu.ndim == 1) + (fd.ndim == 1)
    assert _flrelu_run(harness, case, x, fu, fd, b, emu=Emu(3, "baton")).barriers == barriers
    for k in range(barriers):
        single = _flrelu_run(harness, case, x, fu, fd, b, emu=Emu(drop_barrier=k))
        assert rel_err(single.checked(), ref) < 1e-5  # the single-thread harness misses it
        for emu in (Emu(5, "baton", drop_barrier=k), Emu(7, "baton", descending=True, drop_barrier=k)):
            run = _flrelu_run(harness, case, x, fu, fd, b, emu=emu)
            assert run.rc == 0 and run.error == ""  # every thread skipped the same barrier: no divergence
            detected = np.isnan(run.y).any() or rel_err(run.y, ref) > 1e-3
            assert detected, f"missing barrier {k} not detected with {emu}"


def test_dropped_upfirdn2d_staging_barrier_is_caught(harness):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 2, 9, 9)).astype(np.float32)
    f = rng.standard_normal((12,)).astype(np.float32)
    single = host_upfirdn2d(harness, x, f, (2, 2), (1, 1), (6, 5, 6, 5), 1.0, Emu(drop_barrier=0))
    assert not np.isnan(single.checked()).any()
    for emu in (Emu(4, "baton", drop_barrier=0), Emu(4, "baton", descending=True, drop_barrier=0)):
        assert np.isnan(host_upfirdn2d(harness, x, f, (2, 2), (1, 1), (6, 5, 6, 5), 1.0, emu).y).any()


@pytest.mark.parametrize("schedule", ["free", "baton"])
def test_emulation_catches_divergent_barriers_and_smem_overflow(harness, schedule):
    Emu(3, schedule).apply(harness)
    assert harness.sg3h_selftest(I(1)) == EMULATION_ERROR  # a barrier only the even threads reach
    assert "reached" in harness.sg3h_last_error().decode()
    assert harness.sg3h_selftest(I(2)) == EMULATION_ERROR  # a write one past the end of shared memory
    assert "out of bounds" in harness.sg3h_last_error().decode()
    Emu(1, schedule).apply(harness)
    assert harness.sg3h_selftest(I(1)) == 0  # a single thread cannot diverge from itself
    assert harness.sg3h_last_error() == b""


def test_threadsanitizer_sees_no_race_with_the_barriers_and_one_without(tmp_path):
    """The free schedule under ThreadSanitizer: with every barrier in place the block code has no data race
    (each shared-memory access is ordered by a barrier); dropping one gives reported races."""
    if CXX is None:
        pytest.skip("no C++ compiler")
    exe = tmp_path / "race"
    src = str(build.SOURCE_DIR / "host_harness.cpp")
    cmd = [CXX, "-O1", "-std=c++17", "-pthread", "-fsanitize=thread", "-DSG3H_RACE_MAIN", src, "-o", str(exe)]
    if subprocess.run(cmd, capture_output=True, timeout=120).returncode != 0:
        pytest.skip("no ThreadSanitizer runtime for this compiler")

    def run(drop: int) -> subprocess.CompletedProcess:
        done = subprocess.run([str(exe), "6", str(drop)], capture_output=True, text=True, timeout=120)
        if "FATAL: ThreadSanitizer" in done.stderr:
            pytest.skip("ThreadSanitizer cannot run here: " + done.stderr.strip().splitlines()[0])
        return done

    clean = run(-1)
    assert clean.returncode == 0 and "ThreadSanitizer" not in clean.stderr, clean.stdout + clean.stderr
    assert clean.stdout.count("rc 0") == 8 and clean.stdout.count("blocked: rc 0") == 2
    for drop in (0, 2):
        racy = run(drop)
        assert "WARNING: ThreadSanitizer: data race" in racy.stderr and racy.returncode != 0


def test_output_guards_catch_out_of_bounds_writes():
    buf = _Buffer((2, 3), np.float16)
    buf.values[GUARD + 6] = 1.0
    with pytest.raises(AssertionError, match="out of bounds"):
        buf.result()


# ---------------------------------------------------------------------------------------------------
# The register-blocked filtered_lrelu kernel (filtered_lrelu_sep.h), chosen by default for SG3's layers.

BLOCKED_CASES = [
    # (batch, channels, h, w, up, down, fu shape, fd shape, padding, shared-memory budget, expected sep variant)
    (2, 3, 36, 36, 2, 2, (12,), (12,), (11, 10, 11, 10), 48 * 1024, 1),
    (2, 3, 21, 19, 4, 2, (24,), (12,), (13, 12, 13, 12), 48 * 1024, 2),
    (1, 2, 37, 29, 2, 2, (12,), "radial12", (11, 10, 11, 10), 48 * 1024, 3),  # SG3-R: 2-D down filter
    (3, 1, 23, 27, 4, 2, (24,), "radial12", (13, 12, 13, 12), 48 * 1024, 4),
    (1, 2, 40, 38, 4, 2, (24,), (12,), (-6, -9, -4, -11), 48 * 1024, 2),  # SG3-T L9/L10 crop (negative pads)
    (1, 2, 36, 33, 4, 2, (24,), "radial12", (-2, -5, -2, -5), 48 * 1024, 4),  # SG3-R L10
    (1, 2, 41, 43, 4, 2, (24,), (12,), (13, 12, 13, 12), 160 * 1024, 2),  # 64x64 tiles (opt-in shared memory)
    (2, 1, 5, 7, 2, 2, (12,), (12,), (9, 8, 11, 6), 48 * 1024, 1),  # output far smaller than one tile
]
BLOCKED_EMUS = [SINGLE, Emu(3, "baton"), Emu(7, "baton", descending=True), Emu(33, "free", jitter=True)]


def _blocked_barriers(fd: np.ndarray) -> int:
    return 3 + (fd.ndim == 1)  # load, up x, up y (+ down x when the down filter is separable)


@pytest.mark.parametrize("emu", BLOCKED_EMUS, ids=str)
@pytest.mark.parametrize("case", BLOCKED_CASES, ids=str)
def test_host_blocked_kernel_matches_reference_and_generic(harness, case, emu):
    x, fu, fd, b, ref = _flrelu_data(case)
    run = _flrelu_run(harness, case, x, fu, fd, b, specialize=2, emu=emu)
    assert run.info[2] == 10 + case[-1], run.info  # the blocked kernel ran
    assert run.barriers == _blocked_barriers(fd)
    y = run.checked()
    assert rel_err(y, ref) < 1e-5
    # Same sums in the same order as the generic kernel's compile-time variants: identical bits.
    generic = _flrelu_run(harness, case, x, fu, fd, b, specialize=1).checked()
    np.testing.assert_array_equal(y, generic)
    if case[9] > 48 * 1024:
        assert run.info[0] * run.info[1] > 32 * 32  # the large budget gives large tiles


def test_host_blocked_kernel_on_a_full_gpu_block(harness):
    """128 threads, the block size the GPU launch uses (kSepThreads)."""
    for case in (BLOCKED_CASES[0], BLOCKED_CASES[3]):
        x, fu, fd, b, ref = _flrelu_data(case)
        run = _flrelu_run(harness, case, x, fu, fd, b, specialize=2, emu=Emu(128, "free"))
        assert rel_err(run.checked(), ref) < 1e-5


@pytest.mark.parametrize("case", BLOCKED_CASES[:4], ids=str)
def test_host_blocked_kernel_float16(harness, case):
    x16, fu, fd, b16, ref = _flrelu_data(case, True)
    emu = Emu(5, "baton", descending=True)
    y16 = _flrelu_run(harness, case, x16, fu, fd, b16, 2, emu).checked()
    y32 = _flrelu_run(harness, case, x16.astype(np.float32), fu, fd, b16, 2, emu).checked()
    assert_fp16_rounds_once(y16, y32, ref)


def test_blocked_kernel_falls_back_where_it_does_not_apply(harness):
    """Shapes outside its instantiations (or a budget no tile fits) take the generic kernel, as on the GPU."""
    for case in (FLRELU_CASES[2], FLRELU_CASES[6], FLRELU_CASES[10]):  # 4 KiB budget, no filters, up 3
        x, fu, fd, b, ref = _flrelu_data(case)
        run = _flrelu_run(harness, case, x, fu, fd, b, specialize=2)
        assert run.info[2] < 10 and rel_err(run.checked(), ref) < 1e-5


@pytest.mark.parametrize("case", BLOCKED_CASES[:4], ids=str)
def test_dropped_barrier_in_blocked_kernel_is_caught(harness, case):
    x, fu, fd, b, ref = _flrelu_data(case)
    for k in range(_blocked_barriers(fd)):
        for emu in (Emu(5, "baton", drop_barrier=k), Emu(7, "baton", descending=True, drop_barrier=k)):
            run = _flrelu_run(harness, case, x, fu, fd, b, specialize=2, emu=emu)
            assert run.rc == 0 and run.error == ""
            detected = np.isnan(run.y).any() or rel_err(run.y, ref) > 1e-3
            assert detected, f"missing barrier {k} not detected with {emu}"


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
