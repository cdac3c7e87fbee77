// Row sums for the CPU build's kernels (cpu_binding.cpp, filtered_lrelu_host.h): host code only.
#pragma once

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace sg3 {

// out[x] = sum_j w[j] * src[j][x] for x in [0, n), j ascending. Why this shape: a loop over rows outside the loop
// over x loads and stores the accumulator row once per filter tap (two loads and a store per multiply-add, the
// load/store ports' limit); here each run of outputs sums every row in registers and is stored once, with four
// independent accumulators (32 outputs) to cover the FMA latency. Explicit AVX2: written as plain loops, the
// compiler vectorized over the rows with gathers instead. Same sums in the same order as the row-by-row loop.
inline void weighted_rows(const float* const* src, const float* w, int count, int n, float* out) {
    int x0 = 0;
#if defined(__AVX2__) && defined(__FMA__)
    for (; x0 + 32 <= n; x0 += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int j = 0; j < count; ++j) {
            const __m256 t = _mm256_set1_ps(w[j]);
            const float* sr = src[j] + x0;
            a0 = _mm256_fmadd_ps(t, _mm256_loadu_ps(sr), a0);
            a1 = _mm256_fmadd_ps(t, _mm256_loadu_ps(sr + 8), a1);
            a2 = _mm256_fmadd_ps(t, _mm256_loadu_ps(sr + 16), a2);
            a3 = _mm256_fmadd_ps(t, _mm256_loadu_ps(sr + 24), a3);
        }
        _mm256_storeu_ps(out + x0, a0);
        _mm256_storeu_ps(out + x0 + 8, a1);
        _mm256_storeu_ps(out + x0 + 16, a2);
        _mm256_storeu_ps(out + x0 + 24, a3);
    }
    for (; x0 + 8 <= n; x0 += 8) {
        __m256 a0 = _mm256_setzero_ps();
        for (int j = 0; j < count; ++j) a0 = _mm256_fmadd_ps(_mm256_set1_ps(w[j]), _mm256_loadu_ps(src[j] + x0), a0);
        _mm256_storeu_ps(out + x0, a0);
    }
#endif
    for (; x0 < n; ++x0) {
        float a = 0.f;
        for (int j = 0; j < count; ++j) a += w[j] * src[j][x0];
        out[x0] = a;
    }
}

}  // namespace sg3
