"""The CPU kernel's hand-vectorized nonlinearity with codes (`flrelu_host_act_codes`, AVX2) against its portable
loop: the two are compiled from the same header, with and without AVX2, and must write the same bits (values and
code bytes) on the samples where conventions could split: both sides of zero, signed zeros, the clamp's edges,
NaN and infinities, with and without a clamp."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sg3_explorer.ops.cuda import build
from tests.support.host_kernels import CXX

PROGRAM = r"""
#include <cmath>
#include <cstdio>
#include <cstring>
#include "filtered_lrelu_host.h"

int main() {
    const float edge[] = {0.f, -0.f, 1.f, -1.f, 0.5f, -0.5f, 2.5f, -2.5f, 2.4999f, -12.5f, 12.5f, 1e-30f, -1e-30f,
                          NAN, -NAN, INFINITY, -INFINITY, 3.f, -7.f, 0.25f, -0.125f, 100.f, -100.f, 1.f / 3.f};
    const int n = sizeof(edge) / sizeof(edge[0]);
    for (float cut : {INFINITY, 2.5f, 0.f}) {
        for (int i0 = 0; i0 < n; i0 += sg3::kSepRun) {
            float a[sg3::kSepRun], dst[sg3::kSepRun];
            uint8_t code[sg3::kSepRun];
            for (int q = 0; q < sg3::kSepRun; ++q) a[q] = edge[(i0 + q) % n];
            sg3::flrelu_host_act_codes(a, 2.f, 0.2f, 1.25f, cut, dst, code);
            for (int q = 0; q < sg3::kSepRun; ++q) {
                uint32_t bits;
                std::memcpy(&bits, &dst[q], 4);
                std::printf("%08x %d\n", bits, code[q]);
            }
        }
    }
    return 0;
}
"""


def _run(tmp_path, flags: list[str]) -> str:
    src = tmp_path / "simd.cpp"
    src.write_text(PROGRAM)
    exe = tmp_path / ("simd" + "".join(f.strip("-=") for f in flags))
    cmd = [CXX, "-O2", "-std=c++17", *flags, f"-I{build.SOURCE_DIR}", str(src), "-o", str(exe)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        pytest.skip(f"cannot build with {flags}: {done.stderr.strip()[-300:]}")
    return subprocess.run([str(exe)], capture_output=True, text=True, timeout=60, check=True).stdout


def _cpu_has_avx2_fma() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx2" in flags and "fma" in flags


def test_avx2_nonlinearity_with_codes_equals_the_portable_loop(tmp_path):
    if CXX is None:
        pytest.skip("no C++ compiler")
    if not _cpu_has_avx2_fma():
        pytest.skip("this CPU cannot run AVX2 + FMA code")
    portable = _run(tmp_path, ["-mno-avx2"])
    avx2 = _run(tmp_path, ["-mavx2", "-mfma"])
    lines = portable.splitlines()
    assert len(lines) == 3 * 24 and avx2.splitlines() == lines
    codes = [int(line.split()[1]) for line in lines]
    assert codes[:24].count(0) == 0 and 0 in codes[24:48]  # no clamp: no cut; clamp 2.5: some cut
    assert set(codes) == {0, 1, 2}
