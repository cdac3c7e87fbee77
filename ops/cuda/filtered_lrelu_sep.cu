// Register-blocked filtered_lrelu kernel for StyleGAN3's layer shapes; see filtered_lrelu_sep.h.
#include "filtered_lrelu_sep.h"
#include "launchers.h"

namespace sg3 {

namespace {

template <typename T, int UP, int DOWN, int FUT, int FDT, bool FD2D>
__global__ void __launch_bounds__(kSepThreads)
    filtered_lrelu_sep_kernel(FlreluParams p, FlreluSepGeom g, const T* __restrict__ x, T* __restrict__ y,
                              const float* __restrict__ fu, const float* __restrict__ fd,
                              const float* __restrict__ b) {
    extern __shared__ float smem[];
    flrelu_sep_block<T, UP, DOWN, FUT, FDT, FD2D>(p, g, x, y, fu, fd, b, (int64_t)blockIdx.x, (int)threadIdx.x,
                                                  (int)blockDim.x, smem);
}

template <typename T, int UP, int DOWN, int FUT, int FDT, bool FD2D>
int launch(const FlreluParams& p, const FlreluSepGeom& g, const T* x, const float* fu, const float* fd,
           const float* b, T* y, cudaStream_t stream) {
    const int64_t blocks = p.planes * g.tiles_x * g.tiles_y;
    if (blocks <= 0) return kOk;
    if (blocks > 0x7fffffffLL) return kTooLarge;
    const size_t smem = (size_t)g.smem_floats * sizeof(float);
    auto kernel = filtered_lrelu_sep_kernel<T, UP, DOWN, FUT, FDT, FD2D>;
    if (smem > 48 * 1024) {
        if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem) != cudaSuccess) {
            cudaGetLastError();
            return kTooLarge;
        }
    }
    kernel<<<(unsigned)blocks, kSepThreads, smem, stream>>>(p, g, x, y, fu, fd, b);
    return launch_status(cudaGetLastError());
}

template <typename T>
int launch_variant(int variant, const FlreluParams& p, const FlreluSepGeom& g, const T* x, const float* fu,
                   const float* fd, const float* b, T* y, cudaStream_t stream) {
    switch (variant) {
        case kSepUp2Down2Taps12: return launch<T, 2, 2, 12, 12, false>(p, g, x, fu, fd, b, y, stream);
        case kSepUp4Down2Taps24x12: return launch<T, 4, 2, 24, 12, false>(p, g, x, fu, fd, b, y, stream);
        case kSepUp2Down2Taps12Fd2d: return launch<T, 2, 2, 12, 12, true>(p, g, x, fu, fd, b, y, stream);
        case kSepUp4Down2Taps24x12Fd2d: return launch<T, 4, 2, 24, 12, true>(p, g, x, fu, fd, b, y, stream);
        default: return kTooLarge;
    }
}

}  // namespace

int launch_filtered_lrelu_sep(const FlreluParams& p, int dtype, const void* x, const float* fu, const float* fd,
                              const float* b, void* y, int smem_bytes, cudaStream_t stream) {
    const int variant = flrelu_sep_variant(p);
    if (variant == kSepNone) return kTooLarge;
    FlreluSepGeom g;
    if (!flrelu_sep_plan(p, !p.fd_sep, smem_bytes, g)) return kTooLarge;
    if (dtype == kFloat32)
        return launch_variant(variant, p, g, static_cast<const float*>(x), fu, fd, b, static_cast<float*>(y), stream);
    if (dtype == kFloat16)
        return launch_variant(variant, p, g, static_cast<const __half*>(x), fu, fd, b, static_cast<__half*>(y),
                              stream);
    return kBadArgument;
}

}  // namespace sg3
