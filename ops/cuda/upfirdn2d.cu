// upfirdn2d CUDA kernel: one thread per output element (grid-stride), filter staged in shared memory.
// The body is upfirdn_block (upfirdn2d.h), which the host harness runs too.
#include "launchers.h"

namespace sg3 {

namespace {

template <typename T>
__global__ void __launch_bounds__(kUpfirdnThreads) upfirdn2d_kernel(UpfirdnParams p, const T* __restrict__ x,
                                                                    const float* __restrict__ f, T* __restrict__ y,
                                                                    int stage_filter) {
    extern __shared__ float s_f[];
    upfirdn_block(p, x, f, y, stage_filter, (int64_t)blockIdx.x, (int64_t)gridDim.x, (int)threadIdx.x,
                  (int)blockDim.x, s_f);
}

template <typename T>
int launch(const UpfirdnParams& p, const T* x, const float* f, T* y, cudaStream_t stream) {
    if (upfirdn_total(p) <= 0) return kOk;
    const int stage = upfirdn_stage_filter(p) ? 1 : 0;
    const int64_t blocks = upfirdn_blocks(p, kUpfirdnThreads, kUpfirdnMaxBlocks);
    const size_t smem = stage ? (size_t)upfirdn_filter_floats(p) * sizeof(float) : 0;
    upfirdn2d_kernel<T><<<(unsigned)blocks, kUpfirdnThreads, smem, stream>>>(p, x, f, y, stage);
    return launch_status(cudaGetLastError());
}

}  // namespace

int launch_upfirdn2d(const UpfirdnParams& p, int dtype, const void* x, const float* f, void* y, cudaStream_t stream) {
    if (p.upx < 1 || p.upy < 1 || p.downx < 1 || p.downy < 1 || p.fw < 1 || p.fh < 1) return kBadArgument;
    if (dtype == kFloat32) return launch(p, static_cast<const float*>(x), f, static_cast<float*>(y), stream);
    if (dtype == kFloat16) return launch(p, static_cast<const __half*>(x), f, static_cast<__half*>(y), stream);
    return kBadArgument;
}

}  // namespace sg3
