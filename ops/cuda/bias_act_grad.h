// bias_act backward (first order): dx = dy * d/dv clamp(act(v) * gain) with v = x + b[c].
//
// The factor is gain for linear, gain or 0 for relu, gain or gain*alpha for lrelu, and 0 where the clamp
// cut the output off. The conventions at the kinks are the reference autograd's (torch): relu and lrelu take
// the negative side's slope at v == 0, and a clamp passes the gradient while -clamp <= out <= clamp. The bias
// gradient is dx summed over every dimension but the bias's (the caller's reduction).
#pragma once

#include "bias_act.h"

namespace sg3 {

// d out / d v for one pre-activation value v (bias already added); the forward's arithmetic in the same
// order (act, then * gain, then the clamp test), so the clamp decision matches the forward bit for bit.
SG3_HD float bias_act_grad_factor(const BiasActParams& p, float v) {
    float d = p.gain;
    float a = v;
    if (p.act == kRelu) {
        if (!(v > 0.f)) {
            d = 0.f;
            a = 0.f;
        }
    } else if (p.act == kLrelu) {
        if (!(v > 0.f)) {
            d *= p.alpha;
            a = v * p.alpha;
        }
    }
    if (p.clamp >= 0.f) {
        const float out = a * p.gain;
        if (out > p.clamp || out < -p.clamp) d = 0.f;
    }
    return d;
}

template <typename T>
SG3_HD void bias_act_grad_store(const BiasActParams& p, const T* dy, const T* x, const float* b, T* dx, int64_t i) {
    float v = load_f(x + i);
    if (p.bias_size > 0) v += b[(i / p.step) % p.bias_size];
    store_f(dx + i, load_f(dy + i) * bias_act_grad_factor(p, v));
}

// The kernel body, grid-stride like bias_act_block (same launch geometry: bias_act_blocks).
template <typename T>
SG3_HD void bias_act_grad_block(const BiasActParams& p, const T* dy, const T* x, const float* b, T* dx, int64_t block,
                                int64_t blocks, int tid, int nthreads) {
    const int64_t stride = blocks * nthreads;
    for (int64_t i = block * nthreads + tid; i < p.numel; i += stride) bias_act_grad_store(p, dy, x, b, dx, i);
}

}  // namespace sg3
