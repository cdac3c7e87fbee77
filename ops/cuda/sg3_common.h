// Shared helpers of the SG3 Explorer kernels. Torch-free and CUDA-optional on purpose: the same
// headers compile with nvcc for the GPU and with a plain C++ compiler for the host harness
// (host_harness.cpp), which runs the exact tiling/indexing code on the CPU so CI can test it.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#define SG3_HD __host__ __device__ __forceinline__
#else
#define SG3_HD inline
#endif

namespace sg3 {

#if !defined(__CUDACC__)
// Host-only hook (plain C++ builds, never nvcc): the host harness emulates a block with several host
// threads and points this, per thread, at its barrier. Null (the default) means the block runs as a
// single thread, for which a barrier has nothing to wait for.
struct HostBarrierHook {
    void (*wait)(void* ctx);
    void* ctx;
};
inline thread_local HostBarrierHook host_barrier_hook = {nullptr, nullptr};
#endif

// Block-wide barrier: exactly __syncthreads() on the device; the harness's barrier on the host.
SG3_HD void block_sync() {
#if defined(__CUDA_ARCH__)
    __syncthreads();
#elif !defined(__CUDACC__)
    if (host_barrier_hook.wait != nullptr) host_barrier_hook.wait(host_barrier_hook.ctx);
#endif
}

// Load/store of the tensor element types; arithmetic always runs in float.
SG3_HD float load_f(const float* p) { return *p; }
SG3_HD void store_f(float* p, float v) { *p = v; }
#if defined(__CUDACC__)
SG3_HD float load_f(const __half* p) { return __half2float(*p); }
SG3_HD void store_f(__half* p, float v) { *p = __float2half_rn(v); }
#endif

// Floor division and non-negative modulo for possibly negative numerators (C++ truncates).
SG3_HD int floor_div(int a, int b) { return (a >= 0) ? (a / b) : -((-a + b - 1) / b); }
SG3_HD int pos_mod(int a, int b) { int r = a % b; return (r < 0) ? r + b : r; }

// Status codes returned by the launchers (0 = launched).
enum Status : int {
    kOk = 0,
    kBadArgument = 1,
    kTooLarge = 2,      // tile/filter does not fit in shared memory: caller uses an unfused path
    kLaunchFailed = 100,  // + the cudaError_t value (see launchers.h)
};

}  // namespace sg3
