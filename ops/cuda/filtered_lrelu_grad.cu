// The elementwise kernels of filtered_lrelu with gradients (filtered_lrelu_grad.h): the nonlinearity that
// also writes one code byte per upsampled sample, and the backward factor read from those bytes. The filter
// passes around them are upfirdn2d launches (upfirdn2d.cu).
#include "launchers_grad.h"

namespace sg3 {

namespace {

template <typename T>
__global__ void __launch_bounds__(kFlreluActThreads)
    flrelu_act_kernel(FlreluActParams p, const T* __restrict__ u, T* __restrict__ a, uint8_t* __restrict__ code) {
    flrelu_act_block(p, u, a, code, (int64_t)blockIdx.x, (int64_t)gridDim.x, (int)threadIdx.x, (int)blockDim.x);
}

template <typename T>
__global__ void __launch_bounds__(kFlreluActThreads)
    flrelu_act_grad_kernel(FlreluActParams p, const T* __restrict__ da, const uint8_t* __restrict__ code,
                           T* __restrict__ du) {
    flrelu_act_grad_block(p, da, code, du, (int64_t)blockIdx.x, (int64_t)gridDim.x, (int)threadIdx.x,
                          (int)blockDim.x);
}

template <typename T>
int launch_act(const FlreluActParams& p, const T* u, T* a, uint8_t* code, cudaStream_t stream) {
    if (p.numel <= 0) return kOk;
    const int64_t blocks = flrelu_act_blocks(p.numel, kFlreluActThreads, kFlreluActMaxBlocks);
    flrelu_act_kernel<T><<<(unsigned)blocks, kFlreluActThreads, 0, stream>>>(p, u, a, code);
    return launch_status(cudaGetLastError());
}

template <typename T>
int launch_grad(const FlreluActParams& p, const T* da, const uint8_t* code, T* du, cudaStream_t stream) {
    if (p.numel <= 0) return kOk;
    const int64_t blocks = flrelu_act_blocks(p.numel, kFlreluActThreads, kFlreluActMaxBlocks);
    flrelu_act_grad_kernel<T><<<(unsigned)blocks, kFlreluActThreads, 0, stream>>>(p, da, code, du);
    return launch_status(cudaGetLastError());
}

}  // namespace

int launch_filtered_lrelu_act(const FlreluActParams& p, int dtype, const void* u, void* a, uint8_t* code,
                              cudaStream_t stream) {
    if (dtype == kFloat32) return launch_act(p, static_cast<const float*>(u), static_cast<float*>(a), code, stream);
    if (dtype == kFloat16) return launch_act(p, static_cast<const __half*>(u), static_cast<__half*>(a), code, stream);
    return kBadArgument;
}

int launch_filtered_lrelu_act_grad(const FlreluActParams& p, int dtype, const void* da, const uint8_t* code, void* du,
                                   cudaStream_t stream) {
    if (dtype == kFloat32)
        return launch_grad(p, static_cast<const float*>(da), code, static_cast<float*>(du), stream);
    if (dtype == kFloat16)
        return launch_grad(p, static_cast<const __half*>(da), code, static_cast<__half*>(du), stream);
    return kBadArgument;
}

}  // namespace sg3
