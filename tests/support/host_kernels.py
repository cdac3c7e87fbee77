"""The CUDA extension's Python API, served by the host harness (ops/cuda/host_harness.cpp) on CPU tensors.

A test double of `binding.cpp`: same functions, same argument order and meaning (filters float32 and used as
given, 1-D = separable, bias float32 or empty, clamp < 0 = none, the unfused fallback when no tile fits), but
the kernels' block code runs on the CPU. Patched into `stylegan3.ops.backend`, it lets whole networks run
through the dispatch *and* the kernel code without a GPU, so a wrong flip, gain, padding or bias convention
in the dispatch shows up in CI instead of on the first GPU.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np
import torch

from sg3_explorer.ops.cuda import build

CXX = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
I, LL, F, VP = ctypes.c_int, ctypes.c_longlong, ctypes.c_float, ctypes.c_void_p
TOO_LARGE = 2  # sg3::kTooLarge
ACT_CODES = {"linear": 0, "relu": 1, "lrelu": 2}  # sg3::Act


def build_harness(out_dir: Path) -> ctypes.CDLL:
    """Compile host_harness.cpp into a shared library in `out_dir` and load it."""
    if CXX is None:
        raise FileNotFoundError("no C++ compiler")
    out = Path(out_dir) / "harness.so"
    src = str(build.SOURCE_DIR / "host_harness.cpp")
    cmd = [CXX, "-O1", "-std=c++17", "-pthread", "-shared", "-fPIC", src, "-o", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=180)
    lib = ctypes.CDLL(str(out))
    lib.sg3h_last_error.restype = ctypes.c_char_p
    return lib


def _np(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy())


def _ptr(a: np.ndarray | None) -> ctypes.c_void_p | None:
    return None if a is None else VP(a.ctypes.data)


def _dtype_code(a: np.ndarray) -> int:
    return {np.dtype(np.float32): 0, np.dtype(np.float16): 1}[a.dtype]


class HostKernels:
    """upfirdn2d / bias_act / filtered_lrelu with the extension's signatures, on CPU tensors.

    `specialize` picks the filtered_lrelu kernel like the binding's mode: 2 = register-blocked where it
    applies (the default), 1 = generic. `calls` counts calls per op, so tests can prove the kernels ran.
    """

    def __init__(self, lib: ctypes.CDLL, specialize: int = 2, smem_bytes: int = 48 * 1024) -> None:
        self.lib, self.specialize, self.smem_bytes = lib, specialize, smem_bytes
        self.calls: dict[str, int] = {"upfirdn2d": 0, "bias_act": 0, "filtered_lrelu": 0, "unfused": 0}

    def _check(self, rc: int, op: str) -> None:
        if rc != 0:
            raise RuntimeError(f"{op}: harness returned {rc}: {self.lib.sg3h_last_error().decode()}")

    def upfirdn2d(self, x, f, upx, upy, downx, downy, padx0, padx1, pady0, pady1, gain) -> torch.Tensor:
        self.calls["upfirdn2d"] += 1
        xa, fa = _np(x), _np(f.to(torch.float32))
        n, c, h, w = xa.shape
        hw = (I * 2)()
        args = [
            I(_dtype_code(xa)),
            LL(n * c),
            I(h),
            I(w),
            I(upx),
            I(upy),
            I(downx),
            I(downy),
            I(padx0),
            I(padx1),
            I(pady0),
            I(pady1),
            I(fa.shape[-1]),
            I(fa.shape[0]),
            I(int(fa.ndim == 1)),
            F(gain),
            hw,
        ]
        self.lib.sg3h_upfirdn2d(None, None, None, *args)
        if hw[0] <= 0 or hw[1] <= 0:
            raise RuntimeError("upfirdn2d: the filter is larger than the padded, upsampled input")
        y = np.empty((n, c, hw[0], hw[1]), xa.dtype)
        self._check(self.lib.sg3h_upfirdn2d(_ptr(xa), _ptr(fa), _ptr(y), *args), "upfirdn2d")
        return torch.from_numpy(y)

    def bias_act(self, x, b, dim, act, alpha, gain, clamp) -> torch.Tensor:
        self.calls["bias_act"] += 1
        xa = _np(x)
        ba = _np(b.to(torch.float32)) if b.numel() else None
        dim = dim % xa.ndim if xa.ndim else 0
        step = int(np.prod(xa.shape[dim + 1 :]))
        y = np.empty_like(xa)
        rc = self.lib.sg3h_bias_act(
            _ptr(xa),
            _ptr(ba),
            _ptr(y),
            I(_dtype_code(xa)),
            LL(xa.size),
            LL(step),
            I(0 if ba is None else xa.shape[dim]),
            I(ACT_CODES[act]),
            F(alpha),
            F(gain),
            F(clamp),
        )
        self._check(rc, "bias_act")
        return torch.from_numpy(y)

    def filtered_lrelu(self, x, fu, fd, b, up, down, padx0, padx1, pady0, pady1, gain, slope, clamp) -> torch.Tensor:
        self.calls["filtered_lrelu"] += 1
        xa, fua, fda = _np(x), _np(fu.to(torch.float32)), _np(fd.to(torch.float32))
        ba = _np(b.to(torch.float32)) if b.numel() else None
        n, c, h, w = xa.shape
        info = (I * 6)()
        args = [
            I(_dtype_code(xa)),
            LL(n * c),
            I(max(c, 1)),
            I(h),
            I(w),
            I(up),
            I(down),
            I(padx0),
            I(padx1),
            I(pady0),
            I(pady1),
            I(fua.shape[-1]),
            I(fua.shape[0]),
            I(int(fua.ndim == 1)),
            I(fda.shape[-1]),
            I(fda.shape[0]),
            I(int(fda.ndim == 1)),
            I(int(ba is not None)),
            F(gain),
            F(slope),
            F(clamp),
            I(self.smem_bytes),
            I(self.specialize),
            info,
        ]
        rc = self.lib.sg3h_filtered_lrelu(None, None, None, None, None, *args)
        if info[0] <= 0 or info[1] <= 0:
            raise RuntimeError("filtered_lrelu: the filters are larger than the padded, upsampled input")
        if rc == TOO_LARGE:  # as the binding: the unfused kernels in float32
            self.calls["unfused"] += 1
            t = x.to(torch.float32)
            if ba is not None:
                t = self.bias_act(t, b.to(torch.float32), 1, "linear", 0.0, 1.0, -1.0)
            t = self.upfirdn2d(t, fu, up, up, 1, 1, padx0, padx1, pady0, pady1, float(up * up))
            t = self.bias_act(t, torch.empty(0), 1, "lrelu", slope, gain, clamp)
            return self.upfirdn2d(t, fd, 1, 1, down, down, 0, 0, 0, 0, 1.0).to(x.dtype)
        y = np.empty((n, c, info[0], info[1]), xa.dtype)
        rc = self.lib.sg3h_filtered_lrelu(_ptr(xa), _ptr(fua), _ptr(fda), _ptr(ba), _ptr(y), *args)
        self._check(rc, "filtered_lrelu")
        return torch.from_numpy(y)

    # --- the backward kernels (bias_act_grad.h, filtered_lrelu_grad.h) and the separable pass, as binding.cpp

    def upfirdn2d_rows(self, x, f, upx, upy, downx, downy, padx0, padx1, pady0, pady1, gain) -> torch.Tensor:
        """As binding.cpp: a 1-D filter as a horizontal then a vertical upfirdn2d launch (float32 between)."""
        if f.ndim != 1:
            return self.upfirdn2d(x, f, upx, upy, downx, downy, padx0, padx1, pady0, pady1, gain)
        t = self.upfirdn2d(x.float(), f.reshape(1, -1), upx, 1, downx, 1, padx0, padx1, 0, 0, gain)
        return self.upfirdn2d(t, f.reshape(-1, 1), 1, upy, 1, downy, 0, 0, pady0, pady1, 1.0).to(x.dtype)

    def bias_act_grad(self, dy, x, b, dim, act, alpha, gain, clamp) -> torch.Tensor:
        self.calls["bias_act_grad"] = self.calls.get("bias_act_grad", 0) + 1
        xa, dya = _np(x), _np(dy.to(x.dtype))
        ba = _np(b.to(torch.float32)) if b.numel() else None
        dim = dim % xa.ndim if xa.ndim else 0
        dx = np.empty_like(xa)
        rc = self.lib.sg3h_bias_act_grad(
            _ptr(dya), _ptr(xa), _ptr(ba), _ptr(dx), I(_dtype_code(xa)), LL(xa.size),
            LL(int(np.prod(xa.shape[dim + 1 :]))), I(0 if ba is None else xa.shape[dim]), I(ACT_CODES[act]),
            F(alpha), F(gain), F(clamp),
        )  # fmt: skip
        self._check(rc, "bias_act_grad")
        return torch.from_numpy(dx)

    def filtered_lrelu_act(self, u, gain, slope, clamp) -> list[torch.Tensor]:
        self.calls["filtered_lrelu_act"] = self.calls.get("filtered_lrelu_act", 0) + 1
        ua = _np(u)
        a, code = np.empty_like(ua), np.empty(ua.shape, np.uint8)
        rc = self.lib.sg3h_filtered_lrelu_act(
            _ptr(ua), _ptr(a), _ptr(code), I(_dtype_code(ua)), LL(ua.size), F(gain), F(slope), F(clamp)
        )
        self._check(rc, "filtered_lrelu_act")
        return [torch.from_numpy(a), torch.from_numpy(code)]

    def filtered_lrelu_act_grad(self, da, code, gain, slope) -> torch.Tensor:
        self.calls["filtered_lrelu_act_grad"] = self.calls.get("filtered_lrelu_act_grad", 0) + 1
        daa, ca = _np(da), _np(code)
        du = np.empty_like(daa)
        rc = self.lib.sg3h_filtered_lrelu_act_grad(
            _ptr(daa), _ptr(ca), _ptr(du), I(_dtype_code(daa)), LL(daa.size), F(gain), F(slope)
        )
        self._check(rc, "filtered_lrelu_act_grad")
        return torch.from_numpy(du)
