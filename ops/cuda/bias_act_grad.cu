// bias_act backward CUDA kernel: elementwise, grid-stride. The body is bias_act_grad_block (bias_act_grad.h),
// which the CPU build and the host harness run too.
#include "launchers_grad.h"

namespace sg3 {

namespace {

template <typename T>
__global__ void __launch_bounds__(kBiasActThreads)
    bias_act_grad_kernel(BiasActParams p, const T* __restrict__ dy, const T* __restrict__ x,
                         const float* __restrict__ b, T* __restrict__ dx) {
    bias_act_grad_block(p, dy, x, b, dx, (int64_t)blockIdx.x, (int64_t)gridDim.x, (int)threadIdx.x, (int)blockDim.x);
}

template <typename T>
int launch(const BiasActParams& p, const T* dy, const T* x, const float* b, T* dx, cudaStream_t stream) {
    if (p.numel <= 0) return kOk;
    const int64_t blocks = bias_act_blocks(p, kBiasActThreads, kBiasActMaxBlocks);
    bias_act_grad_kernel<T><<<(unsigned)blocks, kBiasActThreads, 0, stream>>>(p, dy, x, b, dx);
    return launch_status(cudaGetLastError());
}

}  // namespace

int launch_bias_act_grad(const BiasActParams& p, int dtype, const void* dy, const void* x, const float* b, void* dx,
                         cudaStream_t stream) {
    if (p.act < kLinear || p.act > kLrelu || (p.bias_size > 0 && p.step <= 0)) return kBadArgument;
    if (dtype == kFloat32)
        return launch(p, static_cast<const float*>(dy), static_cast<const float*>(x), b, static_cast<float*>(dx),
                      stream);
    if (dtype == kFloat16)
        return launch(p, static_cast<const __half*>(dy), static_cast<const __half*>(x), b, static_cast<__half*>(dx),
                      stream);
    return kBadArgument;
}

}  // namespace sg3
