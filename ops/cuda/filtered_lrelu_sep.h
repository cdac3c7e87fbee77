// filtered_lrelu, register-blocked variant for StyleGAN3's own layer shapes (compile-time up/down
// factors and tap counts, separable up filter; down filter separable or 2-D, e.g. SG3-R's radial one).
//
// Same result as flrelu_block (filtered_lrelu.h), organised for arithmetic instead of shared-memory
// traffic. In the generic kernel every multiply-add reads two shared-memory words (a tap and a sample),
// which caps it near 1/8 of the FMA rate. Here:
//   - the 1-D taps live in registers (loaded once per block; loops fully unrolled, constant indices);
//     a 2-D down filter stays in shared memory but each tap read serves S outputs;
//   - each thread produces a run of S outputs from a register window of consecutive samples, so one
//     sample read serves up to FUT multiply-adds in the up passes;
//   - the up passes work on whole polyphase groups aligned to the input grid: the `UP` up-stage samples
//     of group i all read inputs i .. i + FUT/UP, so no tap ever meets an inserted zero;
//   - row strides are odd, so threads walking different rows of one column hit different banks.
//
// Phases (each ends with a barrier): 1 load input patch (+ bias); 2a horizontal up pass (input rows ->
// h1); 2b vertical up pass + nonlinearity (h1 -> mid); 3a horizontal down pass (mid -> h2, separable
// only); 3b vertical down pass (h2 -> output), or one 2-D pass (mid -> output). Like the generic
// kernel, every phase is `for (i = tid; i < n; i += nthreads)` + barrier, so the host harness runs it.
#pragma once

#include "filtered_lrelu.h"

// Full unrolling is what turns the register arrays below into registers. The CPU build (cpu_binding.cpp)
// asks for it too (SG3_HOST_UNROLL: the window arrays become vector registers); the host harness gets no
// pragma (it builds with -Werror, and unknown pragmas warn).
// SG3_VEC marks the loops over the S outputs of a run: unrolled on the GPU, one vector operation on the
// host (OpenMP simd).
#if defined(__CUDACC__)
#define SG3_UNROLL _Pragma("unroll")
#define SG3_NO_UNROLL _Pragma("unroll 1")
#define SG3_VEC _Pragma("unroll")
#elif defined(SG3_HOST_UNROLL) && defined(__clang__)
#define SG3_UNROLL _Pragma("unroll")
#define SG3_NO_UNROLL _Pragma("nounroll")
#define SG3_VEC _Pragma("omp simd")
#elif defined(SG3_HOST_UNROLL) && defined(__GNUC__)
#define SG3_UNROLL _Pragma("GCC unroll 64")
#define SG3_NO_UNROLL _Pragma("GCC unroll 1")
#define SG3_VEC _Pragma("omp simd")
#else
#define SG3_UNROLL
#define SG3_NO_UNROLL
#define SG3_VEC
#endif

namespace sg3 {

constexpr int kSepRun = 8;       // S: outputs per thread and pass
constexpr int kSepThreads = 128; // threads per block on the GPU

// Tile geometry of the blocked kernel; the same for every tile of a launch.
struct FlreluSepGeom {
    int tile_w, tile_h, tiles_x, tiles_y;
    int mid_w, mid_h;   // up-stage samples one tile needs
    int ngx, ngy;       // polyphase groups per tile along x / y (a multiple of kSepRun)
    int in_w, in_h;     // input patch: ngx + FUT/UP columns, ngy + FUT/UP rows
    int st_in, st_h1, st_mid, st_h2;  // row strides (odd)
    int off_h1, off_mid, off_h2, off_fd;  // offsets into shared memory, floats
    int smem_floats;
};

inline int sep_odd(int n) { return n | 1; }
inline int sep_round_up(int n, int m) { return (n + m - 1) / m * m; }

// Geometry for a tile_w x tile_h output tile (both multiples of kSepRun).
inline FlreluSepGeom flrelu_sep_geom(const FlreluParams& p, int tile_w, int tile_h, bool fd2d) {
    FlreluSepGeom g = {};
    g.tile_w = tile_w;
    g.tile_h = tile_h;
    g.tiles_x = (p.out_w + tile_w - 1) / tile_w;
    g.tiles_y = (p.out_h + tile_h - 1) / tile_h;
    g.mid_w = (tile_w - 1) * p.down + p.fdw;
    g.mid_h = (tile_h - 1) * p.down + p.fdh;
    // Whatever the tile's alignment to the input grid, (mid + up - 2) / up + 1 groups cover it.
    g.ngx = sep_round_up((g.mid_w + p.up - 2) / p.up + 1, kSepRun);
    g.ngy = sep_round_up((g.mid_h + p.up - 2) / p.up + 1, kSepRun);
    const int nu = p.fuw / p.up;
    g.in_w = g.ngx + nu;
    g.in_h = g.ngy + nu;
    g.st_in = sep_odd(g.in_w);
    g.st_h1 = sep_odd(g.ngx * p.up);
    g.st_mid = sep_odd(g.mid_w);
    g.st_h2 = sep_odd(tile_w);
    const int region_up = g.in_h * g.st_in + g.in_h * g.st_h1;
    const int region_down = fd2d ? 0 : g.mid_h * g.st_h2;
    const int region_a = region_up > region_down ? region_up : region_down;
    g.off_h1 = g.in_h * g.st_in;
    g.off_h2 = 0;  // reuses the input patch and h1 once mid is complete
    g.off_mid = region_a;
    g.off_fd = g.off_mid + g.mid_h * g.st_mid;
    g.smem_floats = g.off_fd + (fd2d ? p.fdw * p.fdh : 0);
    return g;
}

// Largest tile (multiples of kSepRun) whose shared memory fits `smem_bytes`; false if none does.
inline bool flrelu_sep_plan(const FlreluParams& p, bool fd2d, int smem_bytes, FlreluSepGeom& out) {
    static const int sizes[][2] = {{64, 64}, {64, 32}, {32, 32}, {32, 16}, {16, 16}, {16, 8}, {8, 8}};
    const int n = sizeof(sizes) / sizeof(sizes[0]);
    for (int i = 0; i < n; ++i) {
        const int tw = sizes[i][0], th = sizes[i][1];
        if (i + 1 < n && tw >= 2 * p.out_w && th >= 2 * p.out_h) continue;  // far larger than the image
        FlreluSepGeom g = flrelu_sep_geom(p, tw, th, fd2d);
        if ((int64_t)g.smem_floats * 4 <= smem_bytes) {
            out = g;
            return true;
        }
    }
    return false;
}

// Which blocked instantiation serves these parameters (0: none, use the generic kernel). The up filter
// must be 1-D; the down filter may be 1-D or 2-D (square).
enum FlreluSepVariant : int {
    kSepNone = 0,
    kSepUp2Down2Taps12 = 1,      // 1-D down
    kSepUp4Down2Taps24x12 = 2,   // 1-D down
    kSepUp2Down2Taps12Fd2d = 3,  // 2-D down
    kSepUp4Down2Taps24x12Fd2d = 4,
};

inline int flrelu_sep_variant(const FlreluParams& p) {
    if (!p.fu_sep || p.fdw != 12 || p.fdh != 12 || p.down != 2) return kSepNone;
    const int base = (p.up == 2 && p.fuw == 12) ? kSepUp2Down2Taps12 : (p.up == 4 && p.fuw == 24) ? kSepUp4Down2Taps24x12 : 0;
    if (base == 0) return kSepNone;
    return p.fd_sep ? base : base + 2;
}

// The arithmetic of one run, tap-major with the S outputs innermost: each output still sums its taps in
// ascending order (the same bits as the generic kernel), and on the host the S-wide inner loop over
// consecutive registers is a vector operation (on the GPU everything is unrolled into registers anyway).
// Up pass: acc[ph][q] = sum_k fu[(UP - ph) % UP + UP k] * win[q + (ph > 0) + k], output q * UP + ph.
// `win` is the register window (an array) or, in the CPU build, a pointer straight into the scratch tile.
template <int UP, int NU, int FUT, typename Window>
SG3_HD void sep_up_run(const float (&fu)[FUT], const Window& win, float (&acc)[UP][kSepRun]) {
    constexpr int S = kSepRun;
SG3_UNROLL
    for (int ph = 0; ph < UP; ++ph) {
SG3_UNROLL
        for (int q = 0; q < S; ++q) acc[ph][q] = 0.f;
SG3_UNROLL
        for (int k = 0; k < NU; ++k) {
            const float tap = fu[(UP - ph) % UP + UP * k];
SG3_VEC
            for (int q = 0; q < S; ++q) acc[ph][q] += tap * win[q + (ph > 0 ? 1 : 0) + k];
        }
    }
}

// Down pass: acc[q] (+)= sum_k fd[k] * win[q * DOWN + k]. The window is split by phase first
// (wph[r][t] = win[t * DOWN + r]), so the S outputs of one tap read consecutive values.
// ACCUMULATE: add to acc (the rows of a 2-D filter), else start from zero.
// The CPU build reads rows straight from the scratch tile instead (sep_down_run_row below).
template <int DOWN, int FDT, int WD, bool ACCUMULATE>
SG3_HD void sep_down_run(const float* fd, const float (&win)[WD], float (&acc)[kSepRun]) {
    constexpr int S = kSepRun;
    constexpr int NT = (WD + DOWN - 1) / DOWN;
    float wph[DOWN][NT];
SG3_UNROLL
    for (int t = 0; t < NT * DOWN; ++t) wph[t % DOWN][t / DOWN] = t < WD ? win[t] : 0.f;
    if (!ACCUMULATE) {
SG3_UNROLL
        for (int q = 0; q < S; ++q) acc[q] = 0.f;
    }
SG3_UNROLL
    for (int k = 0; k < FDT; ++k) {
        const float tap = fd[k];
SG3_VEC
        for (int q = 0; q < S; ++q) acc[q] += tap * wph[k % DOWN][q + k / DOWN];
    }
}

// Down pass over a row that lies in memory (the CPU build): the same sums in the same order, read with
// stride DOWN from the scratch tile, which the compiler turns into vector loads and shuffles. (A window
// copied to the stack first would be read back by vector loads that straddle its scalar stores.)
// Used for the 2-D down pass, where it measured faster than the split window; the separable one keeps the
// window (faster there).
template <int DOWN, int FDT, bool ACCUMULATE>
SG3_HD void sep_down_run_row(const float* fd, const float* src, float (&acc)[kSepRun]) {
    constexpr int S = kSepRun;
    if (!ACCUMULATE) {
SG3_UNROLL
        for (int q = 0; q < S; ++q) acc[q] = 0.f;
    }
SG3_UNROLL
    for (int k = 0; k < FDT; ++k) {
        const float tap = fd[k];
SG3_VEC
        for (int q = 0; q < S; ++q) acc[q] += tap * src[q * DOWN + k];
    }
}

template <typename T, int UP, int DOWN, int FUT, int FDT, bool FD2D>
SG3_HD void flrelu_sep_block(const FlreluParams& p, const FlreluSepGeom& g, const T* x, T* y, const float* fu_g,
                             const float* fd_g, const float* bias, int64_t block, int tid, int nthreads,
                             float* smem) {
    constexpr int S = kSepRun;
    constexpr int NU = FUT / UP;                 // taps per polyphase component
    constexpr int WD = S * DOWN + FDT - DOWN;    // samples behind S down-filtered outputs
    static_assert(FUT % UP == 0, "up filter length must be a multiple of the up factor");

    const int64_t tiles = (int64_t)g.tiles_x * g.tiles_y;
    const int64_t plane = block / tiles;
    const int tile = (int)(block % tiles);
    const int oy0 = (tile / g.tiles_x) * g.tile_h;
    const int ox0 = (tile % g.tiles_x) * g.tile_w;
    // Up-stage coordinate of the tile's first mid sample, its polyphase group and offset in the group.
    const int u0x = ox0 * DOWN - p.padx0, u0y = oy0 * DOWN - p.pady0;
    const int g0x = floor_div(u0x, UP), g0y = floor_div(u0y, UP);
    const int offx = u0x - g0x * UP, offy = u0y - g0y * UP;

    float* s_in = smem;
    float* s_h1 = smem + g.off_h1;
    float* s_mid = smem + g.off_mid;
    float* s_h2 = smem + g.off_h2;
    float* s_fd = smem + g.off_fd;

    float fu[FUT];
SG3_UNROLL
    for (int k = 0; k < FUT; ++k) fu[k] = fu_g[k];

    // Phase 1: input patch (+ bias; zero outside the image) and a 2-D down filter.
    const float b = p.has_bias ? bias[plane % p.channels] : 0.f;
    const T* x_plane = x + plane * (int64_t)p.in_h * p.in_w;
    const int n_in = g.in_h * g.in_w;
    for (int i = tid; i < n_in; i += nthreads) {
        const int r = i / g.in_w, j = i % g.in_w;
        const int iy = g0y + r, ix = g0x + j;
        float v = 0.f;
        if (iy >= 0 && iy < p.in_h && ix >= 0 && ix < p.in_w) v = load_f(x_plane + (int64_t)iy * p.in_w + ix) + b;
        s_in[r * g.st_in + j] = v;
    }
    if (FD2D) {
        for (int i = tid; i < FDT * FDT; i += nthreads) s_fd[i] = fd_g[i];
    }
    block_sync();

    // Phase 2a: horizontal up pass. Item = (input row, run of S groups); rows vary fastest.
    {
        const int runs = g.ngx / S;
        const int n = g.in_h * runs;
        for (int i = tid; i < n; i += nthreads) {
            const int r = i % g.in_h, run = i / g.in_h;
            const float* src = s_in + r * g.st_in + run * S;
#if defined(SG3_HOST_UNROLL)
            const float* win = src;
#else
            float win[S + NU];
SG3_UNROLL
            for (int t = 0; t < S + NU; ++t) win[t] = src[t];
#endif
            float acc[UP][S];
            sep_up_run<UP, NU, FUT>(fu, win, acc);
            float* dst = s_h1 + r * g.st_h1 + run * S * UP;
SG3_UNROLL
            for (int q = 0; q < S; ++q) {
SG3_UNROLL
                for (int ph = 0; ph < UP; ++ph) dst[q * UP + ph] = acc[ph][q];
            }
        }
    }
    block_sync();

    // Phase 2b: vertical up pass and the nonlinearity. Item = (mid column, run of S row groups).
    {
        const int runs = g.ngy / S;
        const int n = g.mid_w * runs;
        for (int i = tid; i < n; i += nthreads) {
            const int m = i % g.mid_w, run = i / g.mid_w;
            const float* src = s_h1 + (run * S) * g.st_h1 + m + offx;
            float win[S + NU];
SG3_UNROLL
            for (int t = 0; t < S + NU; ++t) win[t] = src[t * g.st_h1];
            float acc[UP][S];
            sep_up_run<UP, NU, FUT>(fu, win, acc);
SG3_UNROLL
            for (int q = 0; q < S; ++q) {
SG3_UNROLL
                for (int ph = 0; ph < UP; ++ph) {
                    const int row = (run * S + q) * UP + ph - offy;
                    if (row < 0 || row >= g.mid_h) continue;
                    float v = acc[ph][q] * p.up_gain;
                    v = (v < 0.f) ? v * p.slope : v;
                    v *= p.gain;
                    if (p.clamp >= 0.f) v = (v > p.clamp) ? p.clamp : ((v < -p.clamp) ? -p.clamp : v);
                    s_mid[row * g.st_mid + m] = v;
                }
            }
        }
    }
    block_sync();

    T* y_plane = y + plane * (int64_t)p.out_h * p.out_w;
    if (!FD2D) {
        float fd[FDT];
SG3_UNROLL
        for (int k = 0; k < FDT; ++k) fd[k] = fd_g[k];

        // Phase 3a: horizontal down pass. Item = (mid row, run of S outputs); rows vary fastest.
        const int runs_x = g.tile_w / S;
        const int n_h2 = g.mid_h * runs_x;
        for (int i = tid; i < n_h2; i += nthreads) {
            const int r = i % g.mid_h, run = i / g.mid_h;
            const float* src = s_mid + r * g.st_mid + run * S * DOWN;
            float win[WD];
SG3_UNROLL
            for (int t = 0; t < WD; ++t) win[t] = src[t];
            float acc[S];
            sep_down_run<DOWN, FDT, WD, false>(fd, win, acc);
            float* dst = s_h2 + r * g.st_h2 + run * S;
SG3_UNROLL
            for (int q = 0; q < S; ++q) dst[q] = acc[q];
        }
        block_sync();

        // Phase 3b: vertical down pass. Item = (output column, run of S rows); columns vary fastest.
        const int runs_y = g.tile_h / S;
        const int n_out = g.tile_w * runs_y;
        for (int i = tid; i < n_out; i += nthreads) {
            const int oxl = i % g.tile_w, run = i / g.tile_w;
            const int ox = ox0 + oxl;
            if (ox >= p.out_w) continue;
            const float* src = s_h2 + (run * S * DOWN) * g.st_h2 + oxl;
            float win[WD];
SG3_UNROLL
            for (int t = 0; t < WD; ++t) win[t] = src[t * g.st_h2];
            float acc[S];
            sep_down_run<DOWN, FDT, WD, false>(fd, win, acc);
SG3_UNROLL
            for (int q = 0; q < S; ++q) {
                const int oy = oy0 + run * S + q;
                if (oy < p.out_h) store_f(y_plane + (int64_t)oy * p.out_w + ox, acc[q]);
            }
        }
    } else {
        // Phase 3: 2-D down pass. Item = (output row, run of S outputs); runs vary fastest, so a thread
        // writes S consecutive outputs and neighbouring threads continue the row.
        const int runs_x = g.tile_w / S;
        const int n_out = g.tile_h * runs_x;
        for (int i = tid; i < n_out; i += nthreads) {
            const int run = i % runs_x, oyl = i / runs_x;
            const int oy = oy0 + oyl;
            if (oy >= p.out_h) continue;
            float acc[S];
SG3_UNROLL
            for (int q = 0; q < S; ++q) acc[q] = 0.f;
SG3_NO_UNROLL
            for (int fy = 0; fy < FDT; ++fy) {
                const float* src = s_mid + (oyl * DOWN + fy) * g.st_mid + run * S * DOWN;
#if defined(SG3_HOST_UNROLL)
                sep_down_run_row<DOWN, FDT, true>(s_fd + fy * FDT, src, acc);
#else
                float win[WD];
SG3_UNROLL
                for (int t = 0; t < WD; ++t) win[t] = src[t];
                sep_down_run<DOWN, FDT, WD, true>(s_fd + fy * FDT, win, acc);
#endif
            }
SG3_UNROLL
            for (int q = 0; q < S; ++q) {
                const int ox = ox0 + run * S + q;
                if (ox < p.out_w) store_f(y_plane + (int64_t)oy * p.out_w + ox, acc[q]);
            }
        }
    }
}

}  // namespace sg3
