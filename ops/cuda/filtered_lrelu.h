// filtered_lrelu core, fused per output tile:
//   1. load the input patch the tile depends on (+ bias) into shared memory,
//   2. upsample + correlate with fu (* up^2) into a shared "mid" tile, apply leaky ReLU * gain and clamp,
//   3. correlate the mid tile with fd and keep every down-th sample.
// Equivalent to upfirdn2d(x + b, fu, up, pad, gain=up^2) -> lrelu(slope) * gain -> clamp
// -> upfirdn2d(., fd, down), with filters used as given (plain correlation). A 1-D filter means
// separable (same taps along x and y) and takes two cheap passes instead of one 2-D pass.
//
// Every phase is written as `for (i = tid; i < n; i += nthreads)` followed by a barrier, so running a
// block with tid = 0, nthreads = 1 on the host performs exactly the same arithmetic (host_harness.cpp).
#pragma once

#include "sg3_common.h"

namespace sg3 {

struct FlreluParams {
    int64_t planes;      // N * C
    int channels;        // C, to index the bias
    int in_h, in_w, out_h, out_w;
    int up, down;
    int padx0, pady0;
    int fuw, fuh, fu_sep;  // fu_sep: fu is 1-D of length fuw (== fuh)
    int fdw, fdh, fd_sep;
    int has_bias;
    float up_gain, gain, slope, clamp;  // clamp < 0: none
    // Tiling, filled by flrelu_plan().
    int tile_w, tile_h, tiles_x, tiles_y;
    int mid_w, mid_h;    // up-stage samples one tile needs
    int in_tw, in_th;    // input samples one tile needs
    int smem_floats;     // shared memory per block, in floats
};

inline int flrelu_out_size(int in, int up, int down, int pad0, int pad1, int fu_taps, int fd_taps) {
    int span = in * up + pad0 + pad1 - fu_taps - fd_taps + 1;  // (up-stage length) - fd_taps
    return (span < 0) ? 0 : span / down + 1;
}

// Shared memory layout (floats): [fu][fd][region A][mid], where region A holds the input patch and
// the separable up pass, and is reused by the separable down pass once the mid tile exists.
SG3_HD int flrelu_fu_floats(const FlreluParams& p) { return p.fu_sep ? p.fuw : p.fuw * p.fuh; }
SG3_HD int flrelu_fd_floats(const FlreluParams& p) { return p.fd_sep ? p.fdw : p.fdw * p.fdh; }
SG3_HD int flrelu_region_a(const FlreluParams& p) {
    int up_part = p.in_th * p.in_tw + (p.fu_sep ? p.in_th * p.mid_w : 0);
    int down_part = p.fd_sep ? p.mid_h * p.tile_w : 0;
    return up_part > down_part ? up_part : down_part;
}

inline void flrelu_set_tile(FlreluParams& p, int tile_w, int tile_h) {
    p.tile_w = tile_w;
    p.tile_h = tile_h;
    p.tiles_x = (p.out_w + tile_w - 1) / tile_w;
    p.tiles_y = (p.out_h + tile_h - 1) / tile_h;
    p.mid_w = (tile_w - 1) * p.down + p.fdw;
    p.mid_h = (tile_h - 1) * p.down + p.fdh;
    // Number of multiples of `up` among mid + fu - 1 consecutive up-sampled positions, at most.
    p.in_tw = (p.mid_w + p.fuw - 2) / p.up + 1;
    p.in_th = (p.mid_h + p.fuh - 2) / p.up + 1;
    p.smem_floats = flrelu_fu_floats(p) + flrelu_fd_floats(p) + flrelu_region_a(p) + p.mid_w * p.mid_h;
}

// Pick the largest output tile whose working set fits `smem_bytes`; false if none does (the caller
// then runs the unfused path). Tiles never grow much beyond the output itself.
inline bool flrelu_plan(FlreluParams& p, int smem_bytes) {
    static const int sizes[][2] = {{64, 32}, {32, 32}, {32, 16}, {16, 16}, {16, 8}, {8, 8}, {4, 4}, {2, 2}, {1, 1}};
    const int n = sizeof(sizes) / sizeof(sizes[0]);
    for (int i = 0; i < n; ++i) {
        int tw = sizes[i][0], th = sizes[i][1];
        // Skip tiles far larger than the image: they only waste shared memory and threads.
        if (i + 1 < n && tw >= 2 * p.out_w && th >= 2 * p.out_h) continue;
        flrelu_set_tile(p, tw, th);
        if ((int64_t)p.smem_floats * 4 <= smem_bytes) return true;
    }
    return false;
}

// Parameters from the op's arguments; out_h/out_w <= 0 means the arguments give an empty output.
inline FlreluParams flrelu_make(int64_t planes, int channels, int in_h, int in_w, int up, int down, int padx0,
                                int padx1, int pady0, int pady1, int fuw, int fuh, int fu_sep, int fdw, int fdh,
                                int fd_sep, int has_bias, float gain, float slope, float clamp) {
    FlreluParams p = {};
    p.planes = planes;
    p.channels = channels;
    p.in_h = in_h;
    p.in_w = in_w;
    p.up = up;
    p.down = down;
    p.padx0 = padx0;
    p.pady0 = pady0;
    p.fuw = fuw;
    p.fuh = fu_sep ? fuw : fuh;
    p.fu_sep = fu_sep;
    p.fdw = fdw;
    p.fdh = fd_sep ? fdw : fdh;
    p.fd_sep = fd_sep;
    p.has_bias = has_bias;
    p.up_gain = (float)(up * up);
    p.gain = gain;
    p.slope = slope;
    p.clamp = clamp;
    p.out_w = flrelu_out_size(in_w, up, down, padx0, padx1, p.fuw, p.fdw);
    p.out_h = flrelu_out_size(in_h, up, down, pady0, pady1, p.fuh, p.fdh);
    return p;
}

// Compile-time variants for the layer shapes of StyleGAN3 (a zero means "take it from p"): constant
// factors and tap counts turn divisions into shifts and let the compiler unroll the tap loops.
enum FlreluVariant : int { kGeneric = 0, kUp2Down2Taps12 = 1, kUp4Down2Taps24x12 = 2 };

inline int flrelu_variant(const FlreluParams& p) {
    const bool fu_sq = p.fuw == p.fuh, fd12 = p.fdw == 12 && p.fdh == 12;
    if (p.up == 2 && p.down == 2 && fu_sq && p.fuw == 12 && fd12) return kUp2Down2Taps12;
    if (p.up == 4 && p.down == 2 && fu_sq && p.fuw == 24 && fd12) return kUp4Down2Taps24x12;
    return kGeneric;
}

template <typename T, int UP = 0, int DOWN = 0, int FUT = 0, int FDT = 0>
SG3_HD void flrelu_block(const FlreluParams& p, const T* x, T* y, const float* fu_g, const float* fd_g,
                         const float* bias, int64_t block, int tid, int nthreads, float* smem) {
    const int up = UP ? UP : p.up, down = DOWN ? DOWN : p.down;
    const int fuw = FUT ? FUT : p.fuw, fuh = FUT ? FUT : p.fuh;
    const int fdw = FDT ? FDT : p.fdw, fdh = FDT ? FDT : p.fdh;
    const int64_t tiles = (int64_t)p.tiles_x * p.tiles_y;
    const int64_t plane = block / tiles;
    const int tile = (int)(block % tiles);
    const int oy0 = (tile / p.tiles_x) * p.tile_h;
    const int ox0 = (tile % p.tiles_x) * p.tile_w;
    const int my0 = oy0 * down;  // first up-stage sample of this tile
    const int mx0 = ox0 * down;
    // First input sample the tile touches: smallest i with i * up >= my0 - pady0.
    const int iy_base = -floor_div(-(my0 - p.pady0), up);
    const int ix_base = -floor_div(-(mx0 - p.padx0), up);

    const int nfu = flrelu_fu_floats(p), nfd = flrelu_fd_floats(p);
    float* s_fu = smem;
    float* s_fd = s_fu + nfu;
    float* s_a = s_fd + nfd;
    float* s_in = s_a;
    float* s_h1 = s_a + p.in_th * p.in_tw;  // separable up: rows of the input, columns of mid
    float* s_h2 = s_a;                      // separable down: rows of mid, columns of the output tile
    float* s_mid = s_a + flrelu_region_a(p);

    // Phase 1: filters and input patch (+ bias; zero outside the image, as padding is zeros).
    for (int i = tid; i < nfu; i += nthreads) s_fu[i] = fu_g[i];
    for (int i = tid; i < nfd; i += nthreads) s_fd[i] = fd_g[i];
    const float b = p.has_bias ? bias[plane % p.channels] : 0.f;
    const T* x_plane = x + plane * (int64_t)p.in_h * p.in_w;
    const int n_in = p.in_th * p.in_tw;
    for (int i = tid; i < n_in; i += nthreads) {
        const int iy = iy_base + i / p.in_tw;
        const int ix = ix_base + i % p.in_tw;
        float v = 0.f;
        if (iy >= 0 && iy < p.in_h && ix >= 0 && ix < p.in_w) v = load_f(x_plane + (int64_t)iy * p.in_w + ix) + b;
        s_in[i] = v;
    }
    block_sync();

    // Phase 2: up-stage samples of the tile, then the nonlinearity.
    const int n_mid = p.mid_h * p.mid_w;
    if (p.fu_sep) {
        // 2a: horizontal pass on the input rows.
        const int n_h1 = p.in_th * p.mid_w;
        for (int i = tid; i < n_h1; i += nthreads) {
            const int r = i / p.mid_w, mxl = i % p.mid_w;
            const int ux0 = mx0 + mxl - p.padx0;
            float acc = 0.f;
            for (int fx = pos_mod(-ux0, up); fx < fuw; fx += up) acc += s_fu[fx] * s_in[r * p.in_tw + (ux0 + fx) / up - ix_base];
            s_h1[i] = acc;
        }
        block_sync();
    }
    for (int i = tid; i < n_mid; i += nthreads) {
        const int myl = i / p.mid_w, mxl = i % p.mid_w;
        const int uy0 = my0 + myl - p.pady0;
        float acc = 0.f;
        if (p.fu_sep) {
            for (int fy = pos_mod(-uy0, up); fy < fuh; fy += up)
                acc += s_fu[fy] * s_h1[((uy0 + fy) / up - iy_base) * p.mid_w + mxl];
        } else {
            const int ux0 = mx0 + mxl - p.padx0;
            const int fx_start = pos_mod(-ux0, up);
            for (int fy = pos_mod(-uy0, up); fy < fuh; fy += up) {
                const float* row = s_in + ((uy0 + fy) / up - iy_base) * p.in_tw;
                const float* frow = s_fu + fy * fuw;
                for (int fx = fx_start; fx < fuw; fx += up) acc += frow[fx] * row[(ux0 + fx) / up - ix_base];
            }
        }
        float v = acc * p.up_gain;
        v = (v < 0.f) ? v * p.slope : v;
        v *= p.gain;
        if (p.clamp >= 0.f) v = (v > p.clamp) ? p.clamp : ((v < -p.clamp) ? -p.clamp : v);
        s_mid[i] = v;
    }
    block_sync();

    // Phase 3: down-stage filter at every down-th sample; only in-image outputs are written.
    T* y_plane = y + plane * (int64_t)p.out_h * p.out_w;
    const int n_out = p.tile_h * p.tile_w;
    if (p.fd_sep) {
        const int n_h2 = p.mid_h * p.tile_w;
        for (int i = tid; i < n_h2; i += nthreads) {
            const int myl = i / p.tile_w, oxl = i % p.tile_w;
            const float* row = s_mid + myl * p.mid_w + oxl * down;
            float acc = 0.f;
            for (int fx = 0; fx < fdw; ++fx) acc += s_fd[fx] * row[fx];
            s_h2[i] = acc;
        }
        block_sync();
    }
    for (int i = tid; i < n_out; i += nthreads) {
        const int oyl = i / p.tile_w, oxl = i % p.tile_w;
        const int oy = oy0 + oyl, ox = ox0 + oxl;
        if (oy >= p.out_h || ox >= p.out_w) continue;
        float acc = 0.f;
        if (p.fd_sep) {
            for (int fy = 0; fy < fdh; ++fy) acc += s_fd[fy] * s_h2[(oyl * down + fy) * p.tile_w + oxl];
        } else {
            for (int fy = 0; fy < fdh; ++fy) {
                const float* row = s_mid + (oyl * down + fy) * p.mid_w + oxl * down;
                const float* frow = s_fd + fy * fdw;
                for (int fx = 0; fx < fdw; ++fx) acc += frow[fx] * row[fx];
            }
        }
        store_f(y_plane + (int64_t)oy * p.out_w + ox, acc);
    }
}

}  // namespace sg3
