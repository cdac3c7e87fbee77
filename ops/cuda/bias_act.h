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

template <typename T>
SG3_HD void bias_act_store(const BiasActParams& p, const T* x, const float* b, T* y, int64_t i) {
    float v = load_f(x + i);
    if (p.bias_size > 0) v += b[(i / p.step) % p.bias_size];
    if (p.act == kRelu) {
        v = (v > 0.f) ? v : 0.f;
    } else if (p.act == kLrelu) {
        v = (v > 0.f) ? v : v * p.alpha;
    }
    v *= p.gain;
    if (p.clamp >= 0.f) v = (v > p.clamp) ? p.clamp : ((v < -p.clamp) ? -p.clamp : v);
    store_f(y + i, v);
}

}  // namespace sg3
