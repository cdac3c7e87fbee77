// bias_act CUDA kernel: elementwise, grid-stride.
#include "launchers.h"

namespace sg3 {

namespace {

constexpr int kThreads = 256;
constexpr int kMaxBlocks = 16384;

template <typename T>
__global__ void __launch_bounds__(kThreads) bias_act_kernel(BiasActParams p, const T* __restrict__ x,
                                                            const float* __restrict__ b, T* __restrict__ y) {
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < p.numel; i += stride)
        bias_act_store(p, x, b, y, i);
}

template <typename T>
int launch(const BiasActParams& p, const T* x, const float* b, T* y, cudaStream_t stream) {
    if (p.numel <= 0) return kOk;
    int64_t blocks = (p.numel + kThreads - 1) / kThreads;
    if (blocks > kMaxBlocks) blocks = kMaxBlocks;
    bias_act_kernel<T><<<(unsigned)blocks, kThreads, 0, stream>>>(p, x, b, y);
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
