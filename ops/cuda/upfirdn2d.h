// upfirdn2d core: zero-insertion upsample, pad (negative = crop), correlate with f * gain, keep every
// down-th sample. out[oy][ox] = gain * sum_{fy,fx} f[fy][fx] * U[oy*down + fy][ox*down + fx], where U
// is the upsampled input shifted by the leading padding. The filter is used exactly as given (plain
// correlation); flipping is the caller's business.
#pragma once

#include "sg3_common.h"

namespace sg3 {

struct UpfirdnParams {
    int64_t planes;     // N * C
    int in_h, in_w;
    int out_h, out_w;
    int upx, upy, downx, downy;
    int padx0, pady0;   // only the leading pads matter once the output size is known
    int fw, fh;         // filter width/height (separable: both equal the 1-D length)
    int separable;      // 1: f holds one 1-D filter applied along x and y; 0: f is [fh][fw]
    float gain;
};

inline int upfirdn_out_size(int in, int up, int down, int pad0, int pad1, int taps) {
    int span = in * up + pad0 + pad1 - taps;
    return (span < 0) ? 0 : span / down + 1;
}

inline UpfirdnParams upfirdn_make(int64_t planes, int in_h, int in_w, int upx, int upy, int downx, int downy,
                                  int padx0, int padx1, int pady0, int pady1, int fw, int fh, int separable,
                                  float gain) {
    UpfirdnParams p = {};
    p.planes = planes;
    p.in_h = in_h;
    p.in_w = in_w;
    p.upx = upx;
    p.upy = upy;
    p.downx = downx;
    p.downy = downy;
    p.padx0 = padx0;
    p.pady0 = pady0;
    p.fw = fw;
    p.fh = separable ? fw : fh;
    p.separable = separable;
    p.gain = gain;
    p.out_w = upfirdn_out_size(in_w, upx, downx, padx0, padx1, p.fw);
    p.out_h = upfirdn_out_size(in_h, upy, downy, pady0, pady1, p.fh);
    return p;
}

// One output element. Only the taps that land on a non-inserted sample are visited (polyphase), so
// the cost is taps / (upx * upy) multiply-adds.
template <typename T>
SG3_HD float upfirdn_element(const UpfirdnParams& p, const T* x_plane, const float* f, int oy, int ox) {
    const int uy0 = oy * p.downy - p.pady0;
    const int ux0 = ox * p.downx - p.padx0;
    const int fy_start = pos_mod(-uy0, p.upy);
    const int fx_start = pos_mod(-ux0, p.upx);
    float acc = 0.f;
    for (int fy = fy_start; fy < p.fh; fy += p.upy) {
        const int iy = (uy0 + fy) / p.upy;  // exact: uy0 + fy is a multiple of upy
        if (iy < 0 || iy >= p.in_h) continue;
        const T* row = x_plane + (int64_t)iy * p.in_w;
        const float wy = p.separable ? f[fy] : 1.f;
        const float* frow = p.separable ? f : f + (int64_t)fy * p.fw;
        float racc = 0.f;
        for (int fx = fx_start; fx < p.fw; fx += p.upx) {
            const int ix = (ux0 + fx) / p.upx;
            if (ix < 0 || ix >= p.in_w) continue;
            racc += frow[fx] * load_f(row + ix);
        }
        acc += wy * racc;
    }
    return acc * p.gain;
}

template <typename T>
SG3_HD void upfirdn_store(const UpfirdnParams& p, const T* x, T* y, const float* f, int64_t index) {
    const int ox = (int)(index % p.out_w);
    const int64_t t = index / p.out_w;
    const int oy = (int)(t % p.out_h);
    const int64_t plane = t / p.out_h;
    const T* x_plane = x + plane * (int64_t)p.in_h * p.in_w;
    store_f(y + index, upfirdn_element(p, x_plane, f, oy, ox));
}

SG3_HD int upfirdn_filter_floats(const UpfirdnParams& p) { return p.separable ? p.fw : p.fw * p.fh; }

constexpr int kUpfirdnThreads = 256;
constexpr int64_t kUpfirdnMaxBlocks = 8192;
constexpr int kUpfirdnMaxSmemFilterFloats = 8192;  // 32 KiB; larger filters are read from global memory

SG3_HD int64_t upfirdn_total(const UpfirdnParams& p) { return p.planes * p.out_h * p.out_w; }
inline bool upfirdn_stage_filter(const UpfirdnParams& p) { return upfirdn_filter_floats(p) <= kUpfirdnMaxSmemFilterFloats; }
inline int64_t upfirdn_blocks(const UpfirdnParams& p, int threads, int64_t cap) {
    const int64_t blocks = (upfirdn_total(p) + threads - 1) / threads;
    return blocks > cap ? cap : blocks;
}

// The kernel body: stage the filter in shared memory (when it fits), barrier, then a grid-stride loop
// over output elements. Thread `tid` of block `block` (of `blocks`, `nthreads` threads each).
template <typename T>
SG3_HD void upfirdn_block(const UpfirdnParams& p, const T* x, const float* f, T* y, int stage_filter, int64_t block,
                          int64_t blocks, int tid, int nthreads, float* s_f) {
    const float* filt = f;
    if (stage_filter) {
        const int nf = upfirdn_filter_floats(p);
        for (int i = tid; i < nf; i += nthreads) s_f[i] = f[i];
        block_sync();
        filt = s_f;
    }
    const int64_t total = upfirdn_total(p);
    const int64_t stride = blocks * nthreads;
    for (int64_t i = block * nthreads + tid; i < total; i += stride) upfirdn_store(p, x, y, filt, i);
}

}  // namespace sg3
