// upfirdn2d CUDA kernel: one thread per output element (grid-stride), filter staged in shared memory.
#include "launchers.h"

namespace sg3 {

namespace {

constexpr int kThreads = 256;
constexpr int kMaxBlocks = 8192;
constexpr int kMaxSmemFilterFloats = 8192;  // 32 KiB; larger filters are read from global memory

template <typename T>
__global__ void __launch_bounds__(kThreads) upfirdn2d_kernel(UpfirdnParams p, const T* __restrict__ x,
                                                             const float* __restrict__ f, T* __restrict__ y,
                                                             int64_t total, int nf, int stage_filter) {
    extern __shared__ float s_f[];
    const float* filt = f;
    if (stage_filter) {
        for (int i = threadIdx.x; i < nf; i += blockDim.x) s_f[i] = f[i];
        __syncthreads();
        filt = s_f;
    }
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride)
        upfirdn_store(p, x, y, filt, i);
}

template <typename T>
int launch(const UpfirdnParams& p, const T* x, const float* f, T* y, cudaStream_t stream) {
    const int64_t total = p.planes * p.out_h * p.out_w;
    if (total <= 0) return kOk;
    const int nf = upfirdn_filter_floats(p);
    const int stage = nf <= kMaxSmemFilterFloats ? 1 : 0;
    int64_t blocks = (total + kThreads - 1) / kThreads;
    if (blocks > kMaxBlocks) blocks = kMaxBlocks;
    const size_t smem = stage ? (size_t)nf * sizeof(float) : 0;
    upfirdn2d_kernel<T><<<(unsigned)blocks, kThreads, smem, stream>>>(p, x, f, y, total, nf, stage);
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
