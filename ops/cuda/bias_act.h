// bias_act core: y = clamp(act(x + b[c]) * gain) elementwise, the order of the official op.
#pragma once

#include "sg3_common.h"

namespace sg3 {

enum Act : int { kLinear = 0, kRelu = 1, kLrelu = 2 };

struct BiasActParams {
    int64_t numel;
    int64_t step;       // product of the sizes after the bias dimension
    int bias_size;      // size of the bias dimension (0 = no bias)
    int act;
    float alpha, gain, clamp;  // clamp < 0: no clamping
};

// Activation, gain and clamp of one value that already has its bias: the CPU build applies it along a
// row of one channel, where the bias is a constant and the loop vectorizes.
SG3_HD float bias_act_value(const BiasActParams& p, float v) {
    if (p.act == kRelu) {
        v = (v > 0.f) ? v : 0.f;
    } else if (p.act == kLrelu) {
        v = (v > 0.f) ? v : v * p.alpha;
    }
    v *= p.gain;
    if (p.clamp >= 0.f) v = (v > p.clamp) ? p.clamp : ((v < -p.clamp) ? -p.clamp : v);
    return v;
}

template <typename T>
SG3_HD void bias_act_store(const BiasActParams& p, const T* x, const float* b, T* y, int64_t i) {
    float v = load_f(x + i);
    if (p.bias_size > 0) v += b[(i / p.step) % p.bias_size];
    store_f(y + i, bias_act_value(p, v));
}

constexpr int kBiasActThreads = 256;
constexpr int64_t kBiasActMaxBlocks = 16384;

// Blocks of the grid-stride launch: enough to cover numel, capped (each thread then loops).
inline int64_t bias_act_blocks(const BiasActParams& p, int threads, int64_t cap) {
    const int64_t blocks = (p.numel + threads - 1) / threads;
    return blocks > cap ? cap : blocks;
}

// The kernel body: thread `tid` of block `block` (of `blocks`, `nthreads` threads each), grid-stride.
template <typename T>
SG3_HD void bias_act_block(const BiasActParams& p, const T* x, const float* b, T* y, int64_t block, int64_t blocks,
                           int tid, int nthreads) {
    const int64_t stride = blocks * nthreads;
    for (int64_t i = block * nthreads + tid; i < p.numel; i += stride) bias_act_store(p, x, b, y, i);
}

}  // namespace sg3
