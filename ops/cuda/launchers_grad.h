// Launch functions of the backward kernels (bias_act_grad.cu, filtered_lrelu_grad.cu). Torch-free like
// launchers.h: raw device pointers and the current stream; each returns an sg3::Status.
#pragma once

#include "bias_act_grad.h"
#include "filtered_lrelu_grad.h"
#include "launchers.h"

namespace sg3 {

// dx = dy * bias_act_grad_factor(x + b); dy, x, dx of one dtype and shape.
int launch_bias_act_grad(const BiasActParams& p, int dtype, const void* dy, const void* x, const float* b, void* dx,
                         cudaStream_t stream);

// a = the nonlinearity of u, code = its byte (filtered_lrelu_grad.h).
int launch_filtered_lrelu_act(const FlreluActParams& p, int dtype, const void* u, void* a, uint8_t* code,
                              cudaStream_t stream);

// du = da * the factor of code.
int launch_filtered_lrelu_act_grad(const FlreluActParams& p, int dtype, const void* da, const uint8_t* code, void* du,
                                   cudaStream_t stream);

}  // namespace sg3
