// filtered_lrelu for the CPU build only: the register-blocked kernel's tile (filtered_lrelu_sep.h: same tiles,
// same polyphase groups, the same sums in the same order for every output), laid out for a CPU core.
//
// Why a host layout: the GPU kernel gives each thread a run of 8 outputs down a column and gathers that column
// into registers one value at a time; a CPU core runs the whole block alone, and there the vertical passes and
// the stride-2 down passes cost shuffles and scalar loads per multiply-add (2-5 G MAC/s per core measured, about
// 1/20 of the core's FMA rate). Here every pass is vectorized along x over contiguous memory:
//   - the horizontal up pass writes its output split by column parity (h1 even / odd columns), which with an
//     even up factor is its polyphase split, so the stores are contiguous;
//   - the vertical up pass (+ nonlinearity) runs along a row of the mid tile, reading rows of h1, and writes the
//     mid tile split by column parity as well;
//   - the down passes read the parity halves, so a stride-2 tap becomes a contiguous, unaligned load.
// Each output sums its taps in ascending order exactly as flrelu_sep_block does (lanes are independent), so both
// give the same values up to the compiler's FMA contraction.
#pragma once

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "host_rows.h"

#include "filtered_lrelu_grad.h"
#include "filtered_lrelu_sep.h"

namespace sg3 {

// Scratch layout of one host tile (floats), from the blocked kernel's geometry.
struct FlreluHostGeom {
    int st_in, st_h1, st_mid, st_h2;  // row strides: input patch, h1 half, mid half, h2
    int off_h1e, off_h1o, off_mide, off_mido, off_h2;
    int off_code;  // CODES only: bytes of the current mid row, even columns then odd (st_mid each)
    int floats;
};

inline int host_round16(int n) { return (n + 15) / 16 * 16; }

inline FlreluHostGeom flrelu_host_geom(const FlreluSepGeom& g, int up) {
    FlreluHostGeom h = {};
    h.st_in = host_round16(g.in_w + 1);
    h.st_h1 = host_round16(g.ngx * up / 2 + 1);
    h.st_mid = host_round16((g.mid_w + 1) / 2 + 1);
    h.st_h2 = host_round16(g.tile_w);
    h.off_h1e = g.in_h * h.st_in;
    h.off_h1o = h.off_h1e + g.in_h * h.st_h1;
    h.off_mide = h.off_h1o + g.in_h * h.st_h1;
    h.off_mido = h.off_mide + g.mid_h * h.st_mid;
    h.off_h2 = h.off_mido + g.mid_h * h.st_mid;
    h.off_code = h.off_h2 + g.mid_h * h.st_h2 + 64;  // + reads past the last row by a run's unused lanes
    h.floats = h.off_code + (2 * h.st_mid + 3) / 4;  // one mid row's code bytes per column parity
    return h;
}

// 2-D down pass for R consecutive output rows of a tile (from row oyl), two runs of S outputs at a time.
// Every output sums its taps row by row (fy), each row's taps in ascending order, as sep_down_run_row does.
template <typename T, int R, int DOWN, int FDT>
inline void flrelu_host_down2d_rows(const FlreluHostGeom& h, float* const (&s_mid)[2], const float* fd, int oyl,
                                    int runs_x, int nx, T* yr, int64_t out_w) {
    constexpr int S = kSepRun;
    for (int run = 0; run < runs_x; run += 2) {
        float a[R][2][S];
SG3_UNROLL
        for (int r = 0; r < R; ++r) {
SG3_UNROLL
            for (int u = 0; u < 2; ++u) {
SG3_VEC
                for (int q = 0; q < S; ++q) a[r][u][q] = 0.f;
            }
        }
SG3_NO_UNROLL
        for (int fy = 0; fy < FDT; ++fy) {
            const float* frow = fd + fy * FDT;
SG3_UNROLL
            for (int k = 0; k < FDT; ++k) {
                const float tap = frow[k];
SG3_UNROLL
                for (int r = 0; r < R; ++r) {
                    const float* sr = s_mid[k & 1] + ((oyl + r) * DOWN + fy) * h.st_mid + run * S + (k >> 1);
SG3_UNROLL
                    for (int u = 0; u < 2; ++u) {
SG3_VEC
                        for (int q = 0; q < S; ++q) a[r][u][q] += tap * sr[u * S + q];
                    }
                }
            }
        }
SG3_UNROLL
        for (int r = 0; r < R; ++r) {
SG3_UNROLL
            for (int u = 0; u < 2; ++u) {
                const int o0 = (run + u) * S;
                const int n = std::min(S, nx - o0);
                for (int q = 0; q < n; ++q) store_f(yr + r * out_w + o0 + q, a[r][u][q]);
            }
        }
    }
}

// The nonlinearity of S upsampled samples and their codes (as flrelu_act_value: u > 0 takes the positive side,
// else the slope's; the clamp `cut` (infinity for none) cuts and gives kFlreluCut). Why explicit AVX: written as
// plain loops, the compiler neither vectorized the byte codes next to the float values nor removed the branch on
// each sample's sign, which mispredicts on half the samples: the kernel took 3x its inference time.
inline void flrelu_host_act_codes(const float* a, float up_gain, float slope, float gain, float cut,
                                  float* dst, uint8_t* code) {
#if defined(__AVX2__)
    static_assert(kSepRun == 8, "one AVX vector per run");
    const __m256 u = _mm256_mul_ps(_mm256_loadu_ps(a), _mm256_set1_ps(up_gain));
    const __m256 pos = _mm256_cmp_ps(u, _mm256_setzero_ps(), _CMP_GT_OQ);
    const __m256 v = _mm256_mul_ps(_mm256_blendv_ps(_mm256_mul_ps(u, _mm256_set1_ps(slope)), u, pos),
                                   _mm256_set1_ps(gain));
    const __m256 hi = _mm256_cmp_ps(v, _mm256_set1_ps(cut), _CMP_GT_OQ);
    const __m256 lo = _mm256_cmp_ps(v, _mm256_set1_ps(-cut), _CMP_LT_OQ);
    const __m256 vc = _mm256_blendv_ps(_mm256_blendv_ps(v, _mm256_set1_ps(cut), hi), _mm256_set1_ps(-cut), lo);
    _mm256_storeu_ps(dst, vc);
    // kFlreluNeg (1) - pos (all ones = -1 where u > 0) = kFlreluPos (2); cleared to kFlreluCut (0) where cut.
    static_assert(kFlreluCut == 0 && kFlreluNeg == 1 && kFlreluPos == 2, "code arithmetic");
    __m256i c = _mm256_sub_epi32(_mm256_set1_epi32(kFlreluNeg), _mm256_castps_si256(pos));
    c = _mm256_andnot_si256(_mm256_castps_si256(_mm256_or_ps(hi, lo)), c);
    const __m128i c16 = _mm_packs_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(code), _mm_packus_epi16(c16, c16));
#else
    for (int q = 0; q < kSepRun; ++q) {
        const float u = a[q] * up_gain;
        const float v = (u > 0.f ? u : u * slope) * gain;
        const bool cutoff = v > cut || v < -cut;
        dst[q] = v > cut ? cut : (v < -cut ? -cut : v);
        code[q] = cutoff ? uint8_t(kFlreluCut) : (u > 0.f ? uint8_t(kFlreluPos) : uint8_t(kFlreluNeg));
    }
#endif
}

// Where tile `block` lies: its plane, its first output (oy0, ox0), its input patch's first sample (g0y, g0x) and the
// offset of its first upsampled sample within that sample's polyphase group (offy, offx).
struct FlreluHostTile {
    int64_t plane;
    int oy0, ox0, g0y, g0x, offy, offx;
};

template <int UP, int DOWN>
inline FlreluHostTile flrelu_host_tile(const FlreluParams& p, const FlreluSepGeom& g, int64_t block) {
    FlreluHostTile t;
    const int64_t tiles = (int64_t)g.tiles_x * g.tiles_y;
    t.plane = block / tiles;
    const int tile = (int)(block % tiles);
    t.oy0 = (tile / g.tiles_x) * g.tile_h;
    t.ox0 = (tile % g.tiles_x) * g.tile_w;
    const int u0x = t.ox0 * DOWN - p.padx0, u0y = t.oy0 * DOWN - p.pady0;
    t.g0x = floor_div(u0x, UP);
    t.g0y = floor_div(u0y, UP);
    t.offx = u0x - t.g0x * UP;
    t.offy = u0y - t.g0y * UP;
    return t;
}

// Asks for the input patch of `block` (as flrelu_host_block's phase 1 reads it) to be brought into cache.
template <typename T, int UP, int DOWN>
inline void flrelu_host_prefetch_input(const FlreluParams& p, const FlreluSepGeom& g, const T* x, int64_t block) {
    const FlreluHostTile t = flrelu_host_tile<UP, DOWN>(p, g, block);
    const int c0 = std::max(t.g0x, 0), c1 = std::min(t.g0x + g.in_w, p.in_w);
    if (c1 <= c0) return;
    const T* x_plane = x + t.plane * (int64_t)p.in_h * p.in_w;
    const int r0 = std::max(t.g0y, 0), r1 = std::min(t.g0y + g.in_h, p.in_h);
    constexpr int kLine = 64 / int(sizeof(T));
    for (int r = r0; r < r1; ++r) {
        const T* row = x_plane + (int64_t)r * p.in_w;
        for (int c = c0; c < c1; c += kLine) __builtin_prefetch(row + c, 0, 3);
        __builtin_prefetch(row + c1 - 1, 0, 3);
    }
}

// Where the forward of autograd keeps the nonlinearity's code of each upsampled sample (filtered_lrelu_grad.h): the
// [planes, h, w] bytes of the unfused up pass's output. Tiles overlap in the mid samples they compute; each writes
// only the ones it owns (from its first output's sample up to the next tile's, the last tile to the end), so no byte
// is written twice (no race between threads), and every sample an output reads is written once. A sample that no
// tile computes keeps the caller's zero: no output reads it, so its gradient is zero whatever the code.
struct FlreluCodes {
    uint8_t* code;
    int h, w;
};

template <typename T, int UP, int DOWN, int FUT, int FDT, bool FD2D, bool CODES = false>
void flrelu_host_block(const FlreluParams& p, const FlreluSepGeom& g, const FlreluHostGeom& h, const T* x, T* y,
                       const float* fu, const float* fd, const float* bias, int64_t block, float* smem,
                       FlreluCodes codes = {nullptr, 0, 0}) {
    constexpr int S = kSepRun;
    constexpr int NU = FUT / UP;
    static_assert(FUT % UP == 0, "up filter length must be a multiple of the up factor");
    static_assert(UP % 2 == 0 && DOWN == 2, "host layout: even up factor, down 2");

    const FlreluHostTile t = flrelu_host_tile<UP, DOWN>(p, g, block);
    const int64_t plane = t.plane;
    const int oy0 = t.oy0, ox0 = t.ox0, g0x = t.g0x, g0y = t.g0y, offx = t.offx, offy = t.offy;

    float* s_in = smem;
    float* s_h1[2] = {smem + h.off_h1e, smem + h.off_h1o};
    float* s_mid[2] = {smem + h.off_mide, smem + h.off_mido};
    float* s_h2 = smem + h.off_h2;

    // Phase 1: input patch (+ bias; zero outside the image).
    const float b = p.has_bias ? bias[plane % p.channels] : 0.f;
    const T* x_plane = x + plane * (int64_t)p.in_h * p.in_w;
    for (int r = 0; r < g.in_h; ++r) {
        const int iy = g0y + r;
        float* dst = s_in + r * h.st_in;
        const bool row_in = iy >= 0 && iy < p.in_h;
        // Columns j_lo <= j < j_hi lie inside the image; the rest is zero padding.
        const int j_lo = row_in ? std::min(std::max(-g0x, 0), g.in_w) : g.in_w;
        const int j_hi = row_in ? std::max(std::min(p.in_w - g0x, g.in_w), j_lo) : g.in_w;
        const T* src = x_plane + (int64_t)iy * p.in_w + g0x;
        for (int j = 0; j < j_lo; ++j) dst[j] = 0.f;
SG3_VEC
        for (int j = j_lo; j < j_hi; ++j) dst[j] = load_f(src + j) + b;
        for (int j = j_hi; j < g.in_w; ++j) dst[j] = 0.f;
    }

    // Phase 2a: horizontal up pass, one input row at a time; output column c = group * UP + ph goes to
    // half (c & 1) at index c >> 1.
    const float(&fu_a)[FUT] = *reinterpret_cast<const float(*)[FUT]>(fu);
    for (int r = 0; r < g.in_h; ++r) {
        const float* row = s_in + r * h.st_in;
        float* he = s_h1[0] + r * h.st_h1;
        float* ho = s_h1[1] + r * h.st_h1;
        for (int run = 0; run < g.ngx / S; ++run) {
            float acc[UP][S];
            sep_up_run<UP, NU, FUT>(fu_a, row + run * S, acc);
SG3_UNROLL
            for (int ph = 0; ph < UP; ++ph) {
                float* dst = (ph & 1) ? ho : he;
SG3_UNROLL
                for (int q = 0; q < S; ++q) dst[((run * S + q) * UP + ph) >> 1] = acc[ph][q];
            }
        }
    }

    // Phase 2b: vertical up pass (weighted_rows over the h1 rows) and the nonlinearity, along rows of the mid tile
    // (mid column m = 2j + par).
    const int halves[2] = {(g.mid_w + 1) / 2, g.mid_w / 2};
    const float up_gain = p.up_gain, slope = p.slope, gain = p.gain, clamp = p.clamp;
    [[maybe_unused]] const int code_row_end = (oy0 + g.tile_h >= p.out_h) ? codes.h : (oy0 + g.tile_h) * DOWN;
    [[maybe_unused]] const int code_col_end = (ox0 + g.tile_w >= p.out_w) ? codes.w : (ox0 + g.tile_w) * DOWN;
    // With CODES, each sample's code is made in the same vector loop as its value, into the row's parity halves,
    // and the row's owned samples are then interleaved into the code tensor with contiguous stores.
    uint8_t* s_code[2] = {reinterpret_cast<uint8_t*>(smem + h.off_code),
                          reinterpret_cast<uint8_t*>(smem + h.off_code) + h.st_mid};
    const float cut = clamp >= 0.f ? clamp : INFINITY;
    for (int gy = 0; gy < g.ngy; ++gy) {
SG3_NO_UNROLL
        for (int ph = 0; ph < UP; ++ph) {
            const int row = gy * UP + ph - offy;
            if (row < 0 || row >= g.mid_h) continue;
            float taps[NU];
SG3_UNROLL
            for (int k = 0; k < NU; ++k) taps[k] = fu[(UP - ph) % UP + UP * k];
            const int r0 = gy + (ph > 0 ? 1 : 0);
            for (int par = 0; par < 2; ++par) {
                const int c = par + offx;  // h1 column of mid column par; + 2 per j
                const float* src = s_h1[c & 1] + r0 * h.st_h1 + (c >> 1);
                float* dst = s_mid[par] + row * h.st_mid;
                [[maybe_unused]] uint8_t* cdst = s_code[par];
                // Whole runs (the last may compute a few unused columns inside the row's stride).
                const int n = (halves[par] + S - 1) / S * S;
                const float* rows[NU];
SG3_UNROLL
                for (int k = 0; k < NU; ++k) rows[k] = src + k * h.st_h1;
                weighted_rows(rows, taps, NU, n, dst);
                for (int j0 = 0; j0 < n; j0 += S) {
                    if constexpr (CODES) {
                        flrelu_host_act_codes(dst + j0, up_gain, slope, gain, cut, dst + j0, cdst + j0);
                    } else {
SG3_VEC
                        for (int q = 0; q < S; ++q) {
                            float v = dst[j0 + q] * up_gain;
                            v = (v < 0.f) ? v * slope : v;
                            v *= gain;
                            if (clamp >= 0.f) v = (v > clamp) ? clamp : ((v < -clamp) ? -clamp : v);
                            dst[j0 + q] = v;
                        }
                    }
                }
            }
            if constexpr (CODES) {
                const int uy = oy0 * DOWN + row;
                const int n = std::min(g.mid_w, code_col_end - ox0 * DOWN);
                if (uy < code_row_end && n > 0) {
                    uint8_t* crow = codes.code + (plane * codes.h + uy) * (int64_t)codes.w + ox0 * DOWN;
                    const uint8_t* ce = s_code[0];
                    const uint8_t* co = s_code[1];
SG3_VEC
                    for (int j = 0; j < n / 2; ++j) {
                        crow[2 * j] = ce[j];
                        crow[2 * j + 1] = co[j];
                    }
                    if (n & 1) crow[n - 1] = ce[n / 2];
                }
            }
        }
    }

    // Phase 3: down passes; mid column 2 * o + k lives in half (k & 1) at index o + (k >> 1).
    T* y_plane = y + plane * (int64_t)p.out_h * p.out_w;
    const int nx = std::min(g.tile_w, p.out_w - ox0);
    const int ny = std::min(g.tile_h, p.out_h - oy0);
    const int runs_x = (nx + S - 1) / S;
    if (!FD2D) {
        float f[FDT];
SG3_UNROLL
        for (int k = 0; k < FDT; ++k) f[k] = fd[k];
        const int rows = std::min(g.mid_h, (ny - 1) * DOWN + FDT);
        const float* taps[FDT];
        for (int r = 0; r < rows; ++r) {  // horizontal, whole runs
SG3_UNROLL
            for (int k = 0; k < FDT; ++k) taps[k] = s_mid[k & 1] + r * h.st_mid + (k >> 1);
            weighted_rows(taps, f, FDT, runs_x * S, s_h2 + r * h.st_h2);
        }
        for (int oyl = 0; oyl < ny; ++oyl) {  // vertical, straight into the output row where it is float32
SG3_UNROLL
            for (int k = 0; k < FDT; ++k) taps[k] = s_h2 + (oyl * DOWN + k) * h.st_h2;
            T* yr = y_plane + (int64_t)(oy0 + oyl) * p.out_w + ox0;
            if constexpr (std::is_same_v<T, float>) {
                weighted_rows(taps, f, FDT, nx, yr);
            } else {  // float16 output: through a float row chunk
                constexpr int kChunk = 64;
                float out[kChunk];
                for (int c0 = 0; c0 < nx; c0 += kChunk) {
                    const int n = std::min(kChunk, nx - c0);
                    const float* shifted[FDT];
SG3_UNROLL
                    for (int k = 0; k < FDT; ++k) shifted[k] = taps[k] + c0;
                    weighted_rows(shifted, f, FDT, n, out);
                    for (int q = 0; q < n; ++q) store_f(yr + c0 + q, out[q]);
                }
            }
        }
    } else {
        // R output rows x 2 runs at a time: 2 R independent accumulator chains (one chain of 144 dependent FMAs
        // per run would leave the FMA units waiting on their latency).
        constexpr int R = 4;
        T* y_tile = y_plane + (int64_t)oy0 * p.out_w + ox0;
        int oyl = 0;
        for (; oyl + R <= ny; oyl += R)
            flrelu_host_down2d_rows<T, R, DOWN, FDT>(h, s_mid, fd, oyl, runs_x, nx, y_tile + oyl * p.out_w, p.out_w);
        for (; oyl < ny; ++oyl)
            flrelu_host_down2d_rows<T, 1, DOWN, FDT>(h, s_mid, fd, oyl, runs_x, nx, y_tile + oyl * p.out_w, p.out_w);
    }
}

}  // namespace sg3
