// filtered_lrelu with gradients, built from kernels (derived from the op's definition, StyleGAN3 paper):
//   t = x + b;  u = upfirdn2d(t, fu, up, pad, gain up^2);  a = clamp(lrelu(u, slope) * gain);
//   y = upfirdn2d(a, fd, down).
// The forward keeps one byte per upsampled sample u (its "code"), which is all the backward needs of the
// nonlinearity:  kCut: the clamp cut the value off (no gradient), kNeg: u <= 0 (gain * slope), kPos: u > 0
// (gain). Backward: da = upfirdn2d's transpose applied to dy (fd flipped, down becomes up), du = da * factor(code),
// dt = the transpose of the up pass applied to du (fu flipped, up becomes down); dx = dt, db = sum of dt.
// This header holds the two elementwise steps around the filter passes; the passes are upfirdn2d itself.
#pragma once

#include "sg3_common.h"

namespace sg3 {

enum FlreluCode : uint8_t { kFlreluCut = 0, kFlreluNeg = 1, kFlreluPos = 2 };

struct FlreluActParams {
    int64_t numel;
    float gain, slope, clamp;  // clamp < 0: none
};

// The nonlinearity of one upsampled sample and its code; same arithmetic order as the fused forward
// (slope on the non-positive side, * gain, clamp) and the reference autograd's kink conventions.
SG3_HD float flrelu_act_value(const FlreluActParams& p, float u, uint8_t* code) {
    const bool pos = u > 0.f;
    float a = (pos ? u : u * p.slope) * p.gain;
    uint8_t c = pos ? kFlreluPos : kFlreluNeg;
    if (p.clamp >= 0.f && (a > p.clamp || a < -p.clamp)) {
        a = (a > 0.f) ? p.clamp : -p.clamp;
        c = kFlreluCut;
    }
    *code = c;
    return a;
}

// d a / d u from the stored code.
SG3_HD float flrelu_code_factor(const FlreluActParams& p, uint8_t code) {
    return code == kFlreluPos ? p.gain : (code == kFlreluNeg ? p.gain * p.slope : 0.f);
}

// Kernel bodies, grid-stride (launch geometry: flrelu_act_blocks).
template <typename T>
SG3_HD void flrelu_act_block(const FlreluActParams& p, const T* u, T* a, uint8_t* code, int64_t block, int64_t blocks,
                             int tid, int nthreads) {
    const int64_t stride = blocks * nthreads;
    for (int64_t i = block * nthreads + tid; i < p.numel; i += stride) store_f(a + i, flrelu_act_value(p, load_f(u + i), code + i));
}

template <typename T>
SG3_HD void flrelu_act_grad_block(const FlreluActParams& p, const T* da, const uint8_t* code, T* du, int64_t block,
                                  int64_t blocks, int tid, int nthreads) {
    const int64_t stride = blocks * nthreads;
    for (int64_t i = block * nthreads + tid; i < p.numel; i += stride)
        store_f(du + i, load_f(da + i) * flrelu_code_factor(p, code[i]));
}

constexpr int kFlreluActThreads = 256;
constexpr int64_t kFlreluActMaxBlocks = 16384;

inline int64_t flrelu_act_blocks(int64_t numel, int threads, int64_t cap) {
    const int64_t blocks = (numel + threads - 1) / threads;
    return blocks > cap ? cap : blocks;
}

}  // namespace sg3
