// bias_act CUDA kernel: elementwise, grid-stride. The body is bias_act_block (bias_act.h), which the host
// harness runs too.
#include "launchers.h"

namespace sg3 {

namespace {

template <typename T>
__global__ void __launch_bounds__(kBiasActThreads) bias_act_kernel(BiasActParams p, const T* __restrict__ x,
                                                                   const float* __restrict__ b, T* __restrict__ y) {
    bias_act_block(p, x, b, y, (int64_t)blockIdx.x, (int64_t)gridDim.x, (int)threadIdx.x, (int)blockDim.x);
}

template <typename T>
int launch(const BiasActParams& p, const T* x, const float* b, T* y, cudaStream_t stream) {
    if (p.numel <= 0) return kOk;
    const int64_t blocks = bias_act_blocks(p, kBiasActThreads, kBiasActMaxBlocks);
    bias_act_kernel<T><<<(unsigned)blocks, kBiasActThreads, 0, stream>>>(p, x, b, y);
    return launch_status(cudaGetLastError());
}

}  // namespace

int launch_bias_act(const BiasActParams& p, int dtype, const void* x, const float* b, void* y, cudaStream_t stream) {
    if (p.act < kLinear || p.act > kLrelu || (p.bias_size > 0 && p.step <= 0)) return kBadArgument;
    if (dtype == kFloat32) return launch(p, static_cast<const float*>(x), b, static_cast<float*>(y), stream);
    if (dtype == kFloat16) return launch(p, static_cast<const __half*>(x), b, static_cast<__half*>(y), stream);
    return kBadArgument;
}

}  // namespace sg3
