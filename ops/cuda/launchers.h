// Launch functions of the CUDA cores (upfirdn2d.cu, bias_act.cu, filtered_lrelu.cu). Torch-free: the
// binding (binding.cpp) passes raw device pointers and the current stream. Each returns an sg3::Status.
#pragma once

#include <cuda_runtime.h>

#include "bias_act.h"
#include "filtered_lrelu.h"
#include "upfirdn2d.h"

namespace sg3 {

enum DType : int { kFloat32 = 0, kFloat16 = 1 };

// Launch failures are reported as kLaunchFailed + the CUDA error code, so the binding can name it.
inline int launch_status(cudaError_t err) { return err == cudaSuccess ? kOk : kLaunchFailed + (int)err; }
inline cudaError_t launch_error(int status) { return status >= kLaunchFailed ? (cudaError_t)(status - kLaunchFailed) : cudaSuccess; }

int launch_upfirdn2d(const UpfirdnParams& p, int dtype, const void* x, const float* f, void* y, cudaStream_t stream);

int launch_bias_act(const BiasActParams& p, int dtype, const void* x, const float* b, void* y, cudaStream_t stream);

// Plans the tiling into `p` (see flrelu_plan) within `smem_bytes` of shared memory per block;
// returns kTooLarge without launching when no tile fits.
int launch_filtered_lrelu(FlreluParams& p, int dtype, const void* x, const float* fu, const float* fd,
                          const float* b, void* y, int smem_bytes, cudaStream_t stream);

// The register-blocked kernel (filtered_lrelu_sep.h) for StyleGAN3's layer shapes; returns kTooLarge
// without launching when it does not apply to these parameters or no tile fits `smem_bytes`.
int launch_filtered_lrelu_sep(const FlreluParams& p, int dtype, const void* x, const float* fu, const float* fd,
                              const float* b, void* y, int smem_bytes, cudaStream_t stream);

}  // namespace sg3
