// filtered_lrelu CUDA kernel: one block per (plane, output tile); see filtered_lrelu.h for the phases.
#include "launchers.h"

namespace sg3 {

namespace {

constexpr int kThreads = 256;

template <typename T, int UP, int DOWN, int FUT, int FDT>
__global__ void __launch_bounds__(kThreads) filtered_lrelu_kernel(FlreluParams p, const T* __restrict__ x,
                                                                  T* __restrict__ y, const float* __restrict__ fu,
                                                                  const float* __restrict__ fd,
                                                                  const float* __restrict__ b) {
    extern __shared__ float smem[];
    flrelu_block<T, UP, DOWN, FUT, FDT>(p, x, y, fu, fd, b, (int64_t)blockIdx.x, (int)threadIdx.x, (int)blockDim.x, smem);
}

template <typename T, int UP, int DOWN, int FUT, int FDT>
int launch(const FlreluParams& p, const T* x, const float* fu, const float* fd, const float* b, T* y,
           cudaStream_t stream) {
    const int64_t blocks = p.planes * p.tiles_x * p.tiles_y;
    if (blocks <= 0) return kOk;
    if (blocks > 0x7fffffffLL) return kTooLarge;
    const size_t smem = (size_t)p.smem_floats * sizeof(float);
    if (smem > 48 * 1024) {
        // Beyond the default 48 KiB a kernel must opt in (Volta and later).
        if (cudaFuncSetAttribute(filtered_lrelu_kernel<T, UP, DOWN, FUT, FDT>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem) !=
            cudaSuccess) {
            cudaGetLastError();
            return kTooLarge;
        }
    }
    filtered_lrelu_kernel<T, UP, DOWN, FUT, FDT><<<(unsigned)blocks, kThreads, smem, stream>>>(p, x, y, fu, fd, b);
    return launch_status(cudaGetLastError());
}

template <typename T>
int launch_variant(const FlreluParams& p, const T* x, const float* fu, const float* fd, const float* b, T* y,
                   cudaStream_t stream) {
    switch (flrelu_variant(p)) {
        case kUp2Down2Taps12: return launch<T, 2, 2, 12, 12>(p, x, fu, fd, b, y, stream);
        case kUp4Down2Taps24x12: return launch<T, 4, 2, 24, 12>(p, x, fu, fd, b, y, stream);
        default: return launch<T, 0, 0, 0, 0>(p, x, fu, fd, b, y, stream);
    }
}

}  // namespace

int launch_filtered_lrelu(FlreluParams& p, int dtype, const void* x, const float* fu, const float* fd,
                          const float* b, void* y, int smem_bytes, cudaStream_t stream) {
    if (p.up < 1 || p.down < 1 || p.fuw < 1 || p.fuh < 1 || p.fdw < 1 || p.fdh < 1 || p.channels < 1)
        return kBadArgument;
    if (p.out_h <= 0 || p.out_w <= 0 || p.planes <= 0) return kOk;
    if (!flrelu_plan(p, smem_bytes)) return kTooLarge;
    if (dtype == kFloat32)
        return launch_variant(p, static_cast<const float*>(x), fu, fd, b, static_cast<float*>(y), stream);
    if (dtype == kFloat16)
        return launch_variant(p, static_cast<const __half*>(x), fu, fd, b, static_cast<__half*>(y), stream);
    return kBadArgument;
}

}  // namespace sg3
