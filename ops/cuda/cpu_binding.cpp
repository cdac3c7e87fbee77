// CPU build of the SG3 Explorer kernels: the same kernel bodies as the CUDA extension (upfirdn2d.h,
// bias_act.h, filtered_lrelu.h, filtered_lrelu_sep.h), compiled by the host C++ compiler and run with one
// host thread per block, blocks spread over the cores by OpenMP (torch's own runtime and thread count).
// No barriers are needed: a block run by one thread (tid 0 of 1) does every phase in order, which is the
// "single-thread schedule" the host harness already proves equal to the threaded one.
//
// The Python API is binding.cpp's, function for function (names, argument order and meaning), so the
// dispatch (stylegan3/ops/backend.py) treats either extension as "the kernels module"; two gradient-path
// functions exist here only (filtered_lrelu_codes, filtered_lrelu_grad_rows: stylegan3/ops/autograd.py uses them
// where present). x is float32 or float16 on the CPU, computation in float32.
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/util/Half.h>
#include <torch/csrc/utils/pybind.h>

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <type_traits>
#include <vector>

#define SG3_HOST_UNROLL 1  // full unrolling of the blocked kernel's register windows (filtered_lrelu_sep.h)
#include "sg3_common.h"

namespace sg3 {
// float16 storage on the host: c10::Half converts with round-to-nearest-even, like __float2half_rn.
inline float load_f(const c10::Half* p) { return static_cast<float>(*p); }
inline void store_f(c10::Half* p, float v) { *p = c10::Half(v); }
}  // namespace sg3

#include "bias_act.h"
#include "filtered_lrelu.h"
#include "filtered_lrelu_sep.h"
#include "filtered_lrelu_host.h"
#include "upfirdn2d.h"
#include "bias_act_grad.h"
#include "filtered_lrelu_grad.h"

namespace {

// Scratch per thread that stands in for a block's shared memory, and the budget that sizes tiles: the GPU's
// default 48 KiB, so both builds run the same tiles (it fits a core's L1/L2; larger tiles measured no faster
// on SG3's layer sizes, where a 64-wide tile wastes more on the image border than it saves on halos).
int g_flrelu_smem_bytes = 48 * 1024;
constexpr int kMaxSmemBytes = 16 * 1024 * 1024;
// 0: register-blocked kernel where it applies, in the host layout (filtered_lrelu_host.h); 1: generic only (as
// binding.cpp); 2: the register-blocked kernel in the GPU's layout (flrelu_sep_block; benchmarks, tests).
int g_flrelu_mode = 0;

float* thread_scratch(size_t floats) {
    thread_local std::vector<float> buf;
    if (buf.size() < floats) buf.resize(floats);
    return buf.data();
}

// Runs fn(begin, end) over [0, n) on torch's OpenMP threads, handing out chunks of `chunk` items on demand:
// on a shared machine a thread that gets less CPU time simply takes fewer chunks. fn must not throw.
template <typename F>
void parallel_chunks(int64_t n, int64_t chunk, const F& fn) {
    if (n <= 0) return;
    chunk = std::max<int64_t>(1, chunk);
    if (n <= chunk || at::get_num_threads() <= 1 || omp_in_parallel()) {
        fn(int64_t(0), n);
        return;
    }
    std::atomic<int64_t> next{0};
#pragma omp parallel
    {
        for (;;) {
            const int64_t b = next.fetch_add(chunk);
            if (b >= n) break;
            fn(b, std::min(n, b + chunk));
        }
    }
}

int dtype_code(const at::Tensor& x, const char* op) {
    if (x.scalar_type() == at::kFloat) return 0;
    if (x.scalar_type() == at::kHalf) return 1;
    TORCH_CHECK(false, op, ": float16 or float32 input expected, got ", x.scalar_type());
    return -1;
}

void check_x(const at::Tensor& x, const char* op, int64_t ndim) {
    TORCH_CHECK(x.device().is_cpu(), op, ": x must be a CPU tensor");
    TORCH_CHECK(ndim < 0 || x.dim() == ndim, op, ": x must have ", ndim, " dimensions, got ", x.dim());
    TORCH_CHECK(x.numel() < (int64_t(1) << 40), op, ": x is too large");
}

at::Tensor filter_f32(const at::Tensor& f, const char* op) {
    TORCH_CHECK(f.dim() == 1 || f.dim() == 2, op, ": filters must be 1-D (separable) or 2-D, got ", f.dim(), "-D");
    TORCH_CHECK(f.numel() > 0, op, ": empty filter");
    return f.to(at::kCPU, at::kFloat).contiguous();
}

at::Tensor bias_f32(const at::Tensor& b, int64_t size, const char* op) {
    if (b.numel() == 0) return at::Tensor();
    TORCH_CHECK(b.dim() == 1 && b.numel() == size, op, ": bias must be 1-D with ", size, " elements, got shape ",
                b.sizes());
    return b.to(at::kCPU, at::kFloat).contiguous();
}

int as_int(int64_t v, const char* op, const char* what) {
    TORCH_CHECK(v >= -(int64_t(1) << 30) && v <= (int64_t(1) << 30), op, ": ", what, " out of range");
    return static_cast<int>(v);
}

// The bias of bias_act and of its gradient: float32 values, the stride of consecutive bias elements along `dim`
// and their count (no bias: count 0).
struct BiasLayout {
    at::Tensor values;
    int64_t step = 1;
    int size = 0;
};

BiasLayout bias_layout(const at::Tensor& x, const at::Tensor& b, int64_t dim, const char* op) {
    BiasLayout l;
    if (b.numel() == 0) return l;
    TORCH_CHECK(x.dim() > 0, op, ": a bias needs a tensor with at least one dimension");
    if (dim < 0) dim += x.dim();
    TORCH_CHECK(dim >= 0 && dim < x.dim(), op, ": dim out of range");
    l.values = bias_f32(b, x.size(dim), op);
    for (int64_t i = dim + 1; i < x.dim(); ++i) l.step *= x.size(i);
    l.size = as_int(x.size(dim), op, "bias size");
    return l;
}

int act_code(const std::string& act, const char* op) {
    int code = -1;
    if (act == "linear") code = sg3::kLinear;
    if (act == "relu") code = sg3::kRelu;
    if (act == "lrelu") code = sg3::kLrelu;
    TORCH_CHECK(code >= 0, op, ": unsupported activation '", act, "' (linear, relu, lrelu)");
    return code;
}


// ---------------------------------------------------------------------------------------------------
// upfirdn2d: upfirdn_element per output; work items are output rows. Without upsampling or horizontal
// decimation (StyleGAN2's blur after each up-convolution) the row form below does the same sums, in the
// same order, a whole output row at a time: one filter tap times a run of consecutive inputs vectorizes.

template <typename T>
void upfirdn_row_up1(const sg3::UpfirdnParams& p, const T* x_plane, const float* f, int oy, T* y_row, float* acc,
                     float* racc) {
    const int uy0 = oy * p.downy - p.pady0;
    // Columns whose taps all land inside the input row; the others take the element function.
    const int lo = std::min(p.out_w, std::max(0, p.padx0));
    const int hi = std::max(lo, std::min(p.out_w, p.in_w - p.fw + 1 + p.padx0));
    for (int ox = lo; ox < hi; ++ox) acc[ox] = 0.f;
    for (int fy = 0; fy < p.fh; ++fy) {
        const int iy = uy0 + fy;
        if (iy < 0 || iy >= p.in_h) continue;
        const T* row = x_plane + (int64_t)iy * p.in_w - p.padx0;
        const float wy = p.separable ? f[fy] : 1.f;
        const float* frow = p.separable ? f : f + (int64_t)fy * p.fw;
        for (int ox = lo; ox < hi; ++ox) racc[ox] = 0.f;
        for (int fx = 0; fx < p.fw; ++fx) {
            const float tap = frow[fx];
            const T* src = row + fx;
#pragma omp simd
            for (int ox = lo; ox < hi; ++ox) racc[ox] += tap * sg3::load_f(src + ox);
        }
#pragma omp simd
        for (int ox = lo; ox < hi; ++ox) acc[ox] += wy * racc[ox];
    }
    for (int ox = 0; ox < lo; ++ox) sg3::store_f(y_row + ox, sg3::upfirdn_element(p, x_plane, f, oy, ox));
    for (int ox = lo; ox < hi; ++ox) sg3::store_f(y_row + ox, acc[ox] * p.gain);
    for (int ox = hi; ox < p.out_w; ++ox) sg3::store_f(y_row + ox, sg3::upfirdn_element(p, x_plane, f, oy, ox));
}

template <typename T>
void run_upfirdn2d(const sg3::UpfirdnParams& p, const T* x, const float* f, T* y) {
    const int64_t rows = p.planes * p.out_h;
    const int64_t per_row = std::max<int64_t>(1, int64_t(p.out_w) * p.fw * p.fh / (p.upx * p.upy));
    const bool row_form = p.upx == 1 && p.upy == 1 && p.downx == 1;
    parallel_chunks(rows, std::max<int64_t>(1, 16384 / per_row), [&](int64_t r0, int64_t r1) {
        float* acc = row_form ? thread_scratch(2 * size_t(p.out_w)) : nullptr;
        for (int64_t r = r0; r < r1; ++r) {
            const int64_t plane = r / p.out_h;
            const int oy = static_cast<int>(r % p.out_h);
            const T* x_plane = x + plane * int64_t(p.in_h) * p.in_w;
            T* y_row = y + r * p.out_w;
            if (row_form) {
                upfirdn_row_up1(p, x_plane, f, oy, y_row, acc, acc + p.out_w);
                continue;
            }
            for (int ox = 0; ox < p.out_w; ++ox) sg3::store_f(y_row + ox, sg3::upfirdn_element(p, x_plane, f, oy, ox));
        }
    });
}

at::Tensor upfirdn2d(at::Tensor x, at::Tensor f, int64_t upx, int64_t upy, int64_t downx, int64_t downy,
                     int64_t padx0, int64_t padx1, int64_t pady0, int64_t pady1, double gain) {
    const char* op = "upfirdn2d";
    check_x(x, op, 4);
    const int dtype = dtype_code(x, op);
    TORCH_CHECK(upx >= 1 && upy >= 1 && downx >= 1 && downy >= 1, op, ": up/down factors must be >= 1");
    x = x.contiguous();
    f = filter_f32(f, op);
    const int sep = f.dim() == 1 ? 1 : 0;
    const int fw = as_int(f.size(-1), op, "filter width"), fh = as_int(f.size(0), op, "filter height");
    const sg3::UpfirdnParams p = sg3::upfirdn_make(
        x.size(0) * x.size(1), as_int(x.size(2), op, "height"), as_int(x.size(3), op, "width"), as_int(upx, op, "up"),
        as_int(upy, op, "up"), as_int(downx, op, "down"), as_int(downy, op, "down"), as_int(padx0, op, "padding"),
        as_int(padx1, op, "padding"), as_int(pady0, op, "padding"), as_int(pady1, op, "padding"), fw, fh, sep,
        static_cast<float>(gain));
    TORCH_CHECK(p.out_h > 0 && p.out_w > 0, op, ": the filter is larger than the padded, upsampled input");
    at::Tensor y = at::empty({x.size(0), x.size(1), p.out_h, p.out_w}, x.options());
    if (y.numel() == 0) return y;
    const float* fp = f.data_ptr<float>();
    if (dtype == 0)
        run_upfirdn2d(p, x.data_ptr<float>(), fp, y.data_ptr<float>());
    else
        run_upfirdn2d(p, x.data_ptr<c10::Half>(), fp, y.data_ptr<c10::Half>());
    return y;
}

// ---------------------------------------------------------------------------------------------------
// bias_act: bias_act_value along rows of one bias element (constant bias: the loop vectorizes).

template <typename T>
void run_bias_act(const sg3::BiasActParams& p, const T* x, const float* b, T* y) {
    const int64_t step = p.bias_size > 0 ? p.step : 1;
    const int64_t rows = p.numel / step;
    if (p.bias_size <= 0 || step < 64) {
        // No bias, or rows too short to be worth it: the header's element function as it is.
        parallel_chunks(p.numel, 32768, [&](int64_t i0, int64_t i1) {
            for (int64_t i = i0; i < i1; ++i) sg3::bias_act_store(p, x, b, y, i);
        });
        return;
    }
    parallel_chunks(rows, std::max<int64_t>(1, 32768 / step), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const float bv = b[r % p.bias_size];
            const T* xr = x + r * step;
            T* yr = y + r * step;
            for (int64_t j = 0; j < step; ++j) sg3::store_f(yr + j, sg3::bias_act_value(p, sg3::load_f(xr + j) + bv));
        }
    });
}

at::Tensor bias_act(at::Tensor x, at::Tensor b, int64_t dim, const std::string& act, double alpha, double gain,
                    double clamp) {
    const char* op = "bias_act";
    check_x(x, op, -1);
    const int dtype = dtype_code(x, op);
    const int code = act_code(act, op);
    x = x.contiguous();
    const BiasLayout bl = bias_layout(x, b, dim, op);
    at::Tensor y = at::empty(x.sizes(), x.options());
    if (y.numel() == 0) return y;
    const sg3::BiasActParams p = {x.numel(), bl.step, bl.size, code, static_cast<float>(alpha),
                                  static_cast<float>(gain), static_cast<float>(clamp)};
    const float* bp = bl.size ? bl.values.data_ptr<float>() : nullptr;
    if (dtype == 0)
        run_bias_act(p, x.data_ptr<float>(), bp, y.data_ptr<float>());
    else
        run_bias_act(p, x.data_ptr<c10::Half>(), bp, y.data_ptr<c10::Half>());
    return y;
}

// ---------------------------------------------------------------------------------------------------
// filtered_lrelu: one block = one (plane, tile), run start to end by one thread.

template <typename T, int UP, int DOWN, int FUT, int FDT, bool FD2D>
void run_sep(const sg3::FlreluParams& p, const sg3::FlreluSepGeom& g, const T* x, const float* fu, const float* fd,
             const float* b, T* y) {
    const int64_t blocks = p.planes * g.tiles_x * g.tiles_y;
    parallel_chunks(blocks, 1, [&](int64_t b0, int64_t b1) {
        float* smem = thread_scratch(size_t(g.smem_floats));
        for (int64_t blk = b0; blk < b1; ++blk)
            sg3::flrelu_sep_block<T, UP, DOWN, FUT, FDT, FD2D>(p, g, x, y, fu, fd, b, blk, 0, 1, smem);
    });
}

template <typename T, int UP, int DOWN, int FUT, int FDT, bool FD2D, bool CODES = false>
void run_host(const sg3::FlreluParams& p, const sg3::FlreluSepGeom& g, const T* x, const float* fu, const float* fd,
              const float* b, T* y, sg3::FlreluCodes codes = {nullptr, 0, 0}) {
    const int64_t blocks = p.planes * g.tiles_x * g.tiles_y;
    const sg3::FlreluHostGeom h = sg3::flrelu_host_geom(g, UP);
    // A row of tiles per chunk, the next tile's input patch prefetched while this one runs: its rows are short
    // strided runs that the hardware prefetcher does not follow (the patch copy was a fifth of the kernel's time).
    parallel_chunks(blocks, g.tiles_x, [&](int64_t b0, int64_t b1) {
        float* smem = thread_scratch(size_t(h.floats));
        for (int64_t blk = b0; blk < b1; ++blk) {
            if (blk + 1 < b1) sg3::flrelu_host_prefetch_input<T, UP, DOWN>(p, g, x, blk + 1);
            sg3::flrelu_host_block<T, UP, DOWN, FUT, FDT, FD2D, CODES>(p, g, h, x, y, fu, fd, b, blk, smem, codes);
        }
    });
}

template <typename T, int UP, int DOWN, int FUT, int FDT>
void run_generic(const sg3::FlreluParams& p, const T* x, const float* fu, const float* fd, const float* b, T* y) {
    const int64_t blocks = p.planes * p.tiles_x * p.tiles_y;
    parallel_chunks(blocks, 1, [&](int64_t b0, int64_t b1) {
        float* smem = thread_scratch(size_t(p.smem_floats));
        for (int64_t blk = b0; blk < b1; ++blk)
            sg3::flrelu_block<T, UP, DOWN, FUT, FDT>(p, x, y, fu, fd, b, blk, 0, 1, smem);
    });
}

// Returns false when no fused tile fits the budget (the caller then runs the unfused path).
template <typename T>
bool run_filtered_lrelu(sg3::FlreluParams& p, const T* x, const float* fu, const float* fd, const float* b, T* y) {
    const int variant = g_flrelu_mode != 1 ? sg3::flrelu_sep_variant(p) : sg3::kSepNone;
    sg3::FlreluSepGeom g;
    if (variant != sg3::kSepNone && g_flrelu_mode == 0 && sg3::flrelu_sep_plan(p, !p.fd_sep, g_flrelu_smem_bytes, g)) {
        switch (variant) {
            case sg3::kSepUp2Down2Taps12: run_host<T, 2, 2, 12, 12, false>(p, g, x, fu, fd, b, y); return true;
            case sg3::kSepUp4Down2Taps24x12: run_host<T, 4, 2, 24, 12, false>(p, g, x, fu, fd, b, y); return true;
            case sg3::kSepUp2Down2Taps12Fd2d: run_host<T, 2, 2, 12, 12, true>(p, g, x, fu, fd, b, y); return true;
            case sg3::kSepUp4Down2Taps24x12Fd2d: run_host<T, 4, 2, 24, 12, true>(p, g, x, fu, fd, b, y); return true;
            default: break;
        }
    }
    if (variant != sg3::kSepNone && sg3::flrelu_sep_plan(p, !p.fd_sep, g_flrelu_smem_bytes, g)) {
        switch (variant) {
            case sg3::kSepUp2Down2Taps12: run_sep<T, 2, 2, 12, 12, false>(p, g, x, fu, fd, b, y); return true;
            case sg3::kSepUp4Down2Taps24x12: run_sep<T, 4, 2, 24, 12, false>(p, g, x, fu, fd, b, y); return true;
            case sg3::kSepUp2Down2Taps12Fd2d: run_sep<T, 2, 2, 12, 12, true>(p, g, x, fu, fd, b, y); return true;
            case sg3::kSepUp4Down2Taps24x12Fd2d: run_sep<T, 4, 2, 24, 12, true>(p, g, x, fu, fd, b, y); return true;
            default: break;
        }
    }
    if (!sg3::flrelu_plan(p, g_flrelu_smem_bytes)) return false;
    switch (sg3::flrelu_variant(p)) {
        case sg3::kUp2Down2Taps12: run_generic<T, 2, 2, 12, 12>(p, x, fu, fd, b, y); break;
        case sg3::kUp4Down2Taps24x12: run_generic<T, 4, 2, 24, 12>(p, x, fu, fd, b, y); break;
        default: run_generic<T, 0, 0, 0, 0>(p, x, fu, fd, b, y); break;
    }
    return true;
}

// The same computation from the separate ops, in float32, when no tile fits (huge filters).
at::Tensor filtered_lrelu_unfused(const at::Tensor& x, const at::Tensor& fu, const at::Tensor& fd, const at::Tensor& b,
                                  int64_t up, int64_t down, int64_t px0, int64_t px1, int64_t py0, int64_t py1,
                                  double gain, double slope, double clamp) {
    at::Tensor t = x.to(at::kFloat);
    at::Tensor none = at::empty({0}, t.options());
    if (b.defined() && b.numel() > 0) t = bias_act(t, b, 1, "linear", 0.0, 1.0, -1.0);
    t = upfirdn2d(t, fu, up, up, 1, 1, px0, px1, py0, py1, double(up * up));
    t = bias_act(t, none, 1, "lrelu", slope, gain, clamp);
    t = upfirdn2d(t, fd, 1, 1, down, down, 0, 0, 0, 0, 1.0);
    return t.to(x.scalar_type());
}

// The checked arguments of one filtered_lrelu call (x contiguous, filters and bias as float32) and its parameters.
struct FlreluCall {
    at::Tensor x, fu, fd, bf;
    sg3::FlreluParams p;
};

FlreluCall flrelu_call(const char* op, at::Tensor x, at::Tensor fu, at::Tensor fd, const at::Tensor& b, int64_t up,
                       int64_t down, int64_t padx0, int64_t padx1, int64_t pady0, int64_t pady1, double gain,
                       double slope, double clamp) {
    check_x(x, op, 4);
    dtype_code(x, op);
    TORCH_CHECK(up >= 1 && down >= 1, op, ": up/down factors must be >= 1");
    x = x.contiguous();
    fu = filter_f32(fu, op);
    fd = filter_f32(fd, op);
    at::Tensor bf = bias_f32(b, x.size(1), op);
    const int fu_sep = fu.dim() == 1 ? 1 : 0, fd_sep = fd.dim() == 1 ? 1 : 0;
    sg3::FlreluParams p = sg3::flrelu_make(
        x.size(0) * x.size(1), as_int(std::max<int64_t>(x.size(1), 1), op, "channels"), as_int(x.size(2), op, "height"),
        as_int(x.size(3), op, "width"), as_int(up, op, "up"), as_int(down, op, "down"), as_int(padx0, op, "padding"),
        as_int(padx1, op, "padding"), as_int(pady0, op, "padding"), as_int(pady1, op, "padding"),
        as_int(fu.size(-1), op, "fu size"), as_int(fu.size(0), op, "fu size"), fu_sep, as_int(fd.size(-1), op, "fd size"),
        as_int(fd.size(0), op, "fd size"), fd_sep, bf.defined() ? 1 : 0, static_cast<float>(gain),
        static_cast<float>(slope), static_cast<float>(clamp));
    TORCH_CHECK(p.out_h > 0 && p.out_w > 0, op, ": the filters are larger than the padded, upsampled input");
    return {x, fu, fd, bf, p};
}

at::Tensor filtered_lrelu(at::Tensor x, at::Tensor fu, at::Tensor fd, at::Tensor b, int64_t up, int64_t down,
                          int64_t padx0, int64_t padx1, int64_t pady0, int64_t pady1, double gain, double slope,
                          double clamp) {
    FlreluCall c = flrelu_call("filtered_lrelu", x, fu, fd, b, up, down, padx0, padx1, pady0, pady1, gain, slope, clamp);
    x = c.x, fu = c.fu, fd = c.fd;
    at::Tensor bf = c.bf;
    sg3::FlreluParams& p = c.p;
    const int dtype = dtype_code(x, "filtered_lrelu");
    at::Tensor y = at::empty({x.size(0), x.size(1), p.out_h, p.out_w}, x.options());
    if (y.numel() == 0) return y;
    const float* bp = bf.defined() ? bf.data_ptr<float>() : nullptr;
    const float* fup = fu.data_ptr<float>();
    const float* fdp = fd.data_ptr<float>();
    const bool fused = dtype == 0
                           ? run_filtered_lrelu(p, x.data_ptr<float>(), fup, fdp, bp, y.data_ptr<float>())
                           : run_filtered_lrelu(p, x.data_ptr<c10::Half>(), fup, fdp, bp, y.data_ptr<c10::Half>());
    if (!fused) return filtered_lrelu_unfused(x, fu, fd, bf, up, down, padx0, padx1, pady0, pady1, gain, slope, clamp);
    return y;
}

// The forward of filtered_lrelu's gradient path in one pass where the host kernel serves the call (float32, mode 0,
// a register-blocked variant, a tile that fits): its output and the code byte of every upsampled sample, as the
// unfused path's filtered_lrelu_act writes them for the backward. Why: unfused, the forward runs five passes over
// the upsampled tensor (up pass, nonlinearity, down pass; the largest tensors of a step) and was a quarter of a
// projection step; fused, it costs an inference frame's kernel plus one byte per upsampled sample.
// Two empty tensors where the host kernel does not serve the call: the caller then runs the unfused path.
std::vector<at::Tensor> filtered_lrelu_codes(at::Tensor x, at::Tensor fu, at::Tensor fd, at::Tensor b, int64_t up,
                                             int64_t down, int64_t padx0, int64_t padx1, int64_t pady0, int64_t pady1,
                                             double gain, double slope, double clamp) {
    const char* op = "filtered_lrelu_codes";
    FlreluCall c = flrelu_call(op, x, fu, fd, b, up, down, padx0, padx1, pady0, pady1, gain, slope, clamp);
    const sg3::FlreluParams& p = c.p;
    const at::Tensor none = at::empty({0}, c.x.options());
    const int variant = sg3::flrelu_sep_variant(p);
    sg3::FlreluSepGeom g;
    if (c.x.scalar_type() != at::kFloat || g_flrelu_mode != 0 || variant == sg3::kSepNone ||
        !sg3::flrelu_sep_plan(p, !p.fd_sep, g_flrelu_smem_bytes, g))
        return {none, none};
    const int code_w = sg3::upfirdn_out_size(p.in_w, p.up, 1, int(padx0), int(padx1), int(c.fu.size(-1)));
    const int code_h = sg3::upfirdn_out_size(p.in_h, p.up, 1, int(pady0), int(pady1), int(c.fu.size(0)));
    at::Tensor y = at::empty({c.x.size(0), c.x.size(1), p.out_h, p.out_w}, c.x.options());
    at::Tensor code = at::empty({c.x.size(0), c.x.size(1), code_h, code_w}, c.x.options().dtype(at::kByte));
    code.zero_();
    const sg3::FlreluCodes codes = {code.data_ptr<uint8_t>(), code_h, code_w};
    const float* xp = c.x.data_ptr<float>();
    const float* bp = c.bf.defined() ? c.bf.data_ptr<float>() : nullptr;
    const float* fup = c.fu.data_ptr<float>();
    const float* fdp = c.fd.data_ptr<float>();
    float* yp = y.data_ptr<float>();
    switch (variant) {
        case sg3::kSepUp2Down2Taps12: run_host<float, 2, 2, 12, 12, false, true>(p, g, xp, fup, fdp, bp, yp, codes); break;
        case sg3::kSepUp4Down2Taps24x12: run_host<float, 4, 2, 24, 12, false, true>(p, g, xp, fup, fdp, bp, yp, codes); break;
        case sg3::kSepUp2Down2Taps12Fd2d: run_host<float, 2, 2, 12, 12, true, true>(p, g, xp, fup, fdp, bp, yp, codes); break;
        case sg3::kSepUp4Down2Taps24x12Fd2d: run_host<float, 4, 2, 24, 12, true, true>(p, g, xp, fup, fdp, bp, yp, codes); break;
        default: return {none, none};
    }
    return {y, code};
}

// (tile_w, tile_h, scratch bytes, kernel: 1 blocked / 0 generic), or zeros for the unfused path; as binding.cpp.
std::vector<int64_t> filtered_lrelu_plan(int64_t in_h, int64_t in_w, int64_t up, int64_t down, int64_t fuw,
                                         int64_t fuh, bool fu_sep, int64_t fdw, int64_t fdh, bool fd_sep,
                                         int64_t padx0, int64_t padx1, int64_t pady0, int64_t pady1) {
    sg3::FlreluParams p = sg3::flrelu_make(1, 1, (int)in_h, (int)in_w, (int)up, (int)down, (int)padx0, (int)padx1,
                                           (int)pady0, (int)pady1, (int)fuw, (int)fuh, fu_sep, (int)fdw, (int)fdh,
                                           fd_sep, 0, 1.f, 0.2f, -1.f);
    if (p.out_h <= 0 || p.out_w <= 0) return {0, 0, 0, 0};
    sg3::FlreluSepGeom g;
    if (g_flrelu_mode != 1 && sg3::flrelu_sep_variant(p) != sg3::kSepNone &&
        sg3::flrelu_sep_plan(p, !p.fd_sep, g_flrelu_smem_bytes, g))
        return {g.tile_w, g.tile_h, int64_t(g.smem_floats) * 4, 1};
    if (!sg3::flrelu_plan(p, g_flrelu_smem_bytes)) return {0, 0, 0, 0};
    return {p.tile_w, p.tile_h, int64_t(p.smem_floats) * 4, 0};
}

int64_t set_filtered_lrelu_mode(int64_t mode) {
    TORCH_CHECK(mode >= 0 && mode <= 2,
                "filtered_lrelu mode must be 0 (auto), 1 (generic) or 2 (blocked kernel in the GPU's layout)");
    g_flrelu_mode = static_cast<int>(mode);
    return g_flrelu_mode;
}

// The per-thread scratch that plays a block's shared memory (tile size); capped at 16 MiB.
int64_t set_filtered_lrelu_smem_bytes(int64_t bytes) {
    g_flrelu_smem_bytes = static_cast<int>(std::max<int64_t>(1024, std::min<int64_t>(bytes, kMaxSmemBytes)));
    return g_flrelu_smem_bytes;
}

std::string build_info() {
    return std::string("cpu, ") + std::to_string(at::get_num_threads()) + " threads (OpenMP " +
           std::to_string(_OPENMP) + "), kernels upfirdn2d bias_act filtered_lrelu (generic + register-blocked)";
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Backward kernels (bias_act_grad.h, filtered_lrelu_grad.h), as binding.cpp: what stylegan3/ops/autograd.py
// composes the gradients of the three ops from, together with upfirdn2d above.
namespace {

template <typename T>
void run_bias_act_grad(const sg3::BiasActParams& p, const T* dy, const T* x, const float* b, T* dx) {
    parallel_chunks(p.numel, 32768, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) sg3::bias_act_grad_store(p, dy, x, b, dx, i);
    });
}

at::Tensor bias_act_grad(at::Tensor dy, at::Tensor x, at::Tensor b, int64_t dim, const std::string& act, double alpha,
                         double gain, double clamp) {
    const char* op = "bias_act_grad";
    check_x(x, op, -1);
    const int dtype = dtype_code(x, op);
    const int code = act_code(act, op);
    TORCH_CHECK(dy.sizes() == x.sizes() && dy.scalar_type() == x.scalar_type() && dy.device() == x.device(), op,
                ": dy must match x in shape, dtype and device");
    x = x.contiguous();
    dy = dy.contiguous();
    const BiasLayout bl = bias_layout(x, b, dim, op);
    at::Tensor dx = at::empty(x.sizes(), x.options());
    if (dx.numel() == 0) return dx;
    const sg3::BiasActParams p = {x.numel(), bl.step, bl.size, code, static_cast<float>(alpha),
                                  static_cast<float>(gain), static_cast<float>(clamp)};
    const float* bp = bl.size ? bl.values.data_ptr<float>() : nullptr;
    if (dtype == 0)
        run_bias_act_grad(p, dy.data_ptr<float>(), x.data_ptr<float>(), bp, dx.data_ptr<float>());
    else
        run_bias_act_grad(p, dy.data_ptr<c10::Half>(), x.data_ptr<c10::Half>(), bp, dx.data_ptr<c10::Half>());
    return dx;
}

std::vector<at::Tensor> filtered_lrelu_act(at::Tensor u, double gain, double slope, double clamp) {
    const char* op = "filtered_lrelu_act";
    check_x(u, op, -1);
    const int dtype = dtype_code(u, op);
    u = u.contiguous();
    at::Tensor a = at::empty(u.sizes(), u.options());
    at::Tensor code = at::empty(u.sizes(), u.options().dtype(at::kByte));
    const sg3::FlreluActParams p = {u.numel(), static_cast<float>(gain), static_cast<float>(slope),
                                    static_cast<float>(clamp)};
    uint8_t* cp = code.data_ptr<uint8_t>();
    parallel_chunks(p.numel, 32768, [&](int64_t i0, int64_t i1) {
        if (dtype == 0) {
            const float* up = u.data_ptr<float>();
            float* ap = a.data_ptr<float>();
            for (int64_t i = i0; i < i1; ++i) ap[i] = sg3::flrelu_act_value(p, up[i], cp + i);
        } else {
            const c10::Half* up = u.data_ptr<c10::Half>();
            c10::Half* ap = a.data_ptr<c10::Half>();
            for (int64_t i = i0; i < i1; ++i) sg3::store_f(ap + i, sg3::flrelu_act_value(p, sg3::load_f(up + i), cp + i));
        }
    });
    return {a, code};
}

at::Tensor filtered_lrelu_act_grad(at::Tensor da, at::Tensor code, double gain, double slope) {
    const char* op = "filtered_lrelu_act_grad";
    check_x(da, op, -1);
    const int dtype = dtype_code(da, op);
    TORCH_CHECK(code.scalar_type() == at::kByte && code.sizes() == da.sizes() && code.device() == da.device(), op,
                ": code must be uint8 of da's shape on da's device");
    da = da.contiguous();
    code = code.contiguous();
    at::Tensor du = at::empty(da.sizes(), da.options());
    const sg3::FlreluActParams p = {da.numel(), static_cast<float>(gain), static_cast<float>(slope), -1.f};
    const uint8_t* cp = code.data_ptr<uint8_t>();
    parallel_chunks(p.numel, 32768, [&](int64_t i0, int64_t i1) {
        if (dtype == 0) {
            const float* gp = da.data_ptr<float>();
            float* op_ = du.data_ptr<float>();
            for (int64_t i = i0; i < i1; ++i) op_[i] = gp[i] * sg3::flrelu_code_factor(p, cp[i]);
        } else {
            const c10::Half* gp = da.data_ptr<c10::Half>();
            c10::Half* op_ = du.data_ptr<c10::Half>();
            for (int64_t i = i0; i < i1; ++i) sg3::store_f(op_ + i, sg3::load_f(gp + i) * sg3::flrelu_code_factor(p, cp[i]));
        }
    });
    return du;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// upfirdn2d_rows: upfirdn2d computed in row passes whose inner loops run over consecutive samples (vectorize):
// the gradient path's workhorse. A 1-D filter is separable (a horizontal then a vertical 1-D pass); a 2-D filter
// (SG3-R's radial down filter) sums horizontal passes of the filter rows that meet real input rows. Same sums as
// upfirdn_element (taps that meet an inserted zero are skipped), in another order.
namespace {

// First e >= lo with e % down == r.
inline int pos_first(int lo, int r, int down) { return lo + sg3::pos_mod(r - lo, down); }

using sg3::weighted_rows;

// The factor filtered_lrelu_act_grad applies, by code byte (code[i] scales sample i), for the streamed backward.
struct CodeScale {
    const uint8_t* code;
    float factor[3];  // by code: kFlreluCut, kFlreluNeg, kFlreluPos
    float at(int64_t i) const { return factor[code[i] < 3 ? code[i] : 0]; }

    // o[x] *= the factor of code[base + x], x in [0, n). With AVX2 eight at a time: the bytes widened to lane
    // indices into the three factors (a byte above 2 takes the cut's 0, as at() does).
    void scale(float* o, int64_t base, int n) const {
        int x = 0;
#if defined(__AVX2__)
        const __m256 table = _mm256_setr_ps(factor[0], factor[1], factor[2], factor[0], factor[0], factor[0],
                                            factor[0], factor[0]);
        const __m256i top = _mm256_set1_epi32(3);
        for (; x + 8 <= n; x += 8) {
            const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(code + base + x));
            const __m256i idx = _mm256_min_epu32(_mm256_cvtepu8_epi32(bytes), top);
            _mm256_storeu_ps(o + x, _mm256_mul_ps(_mm256_loadu_ps(o + x), _mm256_permutevar8x32_ps(table, idx)));
        }
#endif
        for (; x < n; ++x) o[x] *= at(base + x);
    }
};

// Filter taps per axis the row passes take (their row pointers live on the stack); upfirdn2d_rows hands longer
// filters to upfirdn2d, filtered_lrelu_grad_rows declines them (an empty result).
constexpr int kMaxRows = 64;

// Phase `ph` of a row pass that upsamples by `up` (down 1): output ph + up * m (0 <= m < n) sums the taps c, c + up,
// ... (nt of them), tap c + up * j reading input sample base + m + j.
struct UpPhase {
    int c, base, n, nt;
};

inline UpPhase up_phase(int ph, int up, int pad0, int taps, int out_w) {
    UpPhase q;
    q.c = sg3::pos_mod(pad0 - ph, up);
    q.base = (ph + q.c - pad0) / up;  // exact
    q.n = (out_w - ph + up - 1) / up;
    q.nt = q.c < taps ? (taps - q.c + up - 1) / up : 0;
    return q;
}

// The zeros before (lo) and after the input row that keep every phase's reads inside the padded row; returns the
// padded row's length.
inline int up_row_padding(int in_w, int out_w, int taps, int up, int pad0, int& lo) {
    int hi_idx = in_w - 1;
    lo = 0;
    for (int ph = 0; ph < up; ++ph) {
        const UpPhase q = up_phase(ph, up, pad0, taps, out_w);
        if (q.n <= 0 || q.nt <= 0) continue;
        lo = std::max(lo, -q.base);
        hi_idx = std::max(hi_idx, q.base + q.n - 1 + q.nt - 1);
    }
    return lo + hi_idx + 1;
}

// One horizontal pass over one row: out[ox] = gain * sum_k f[k] * U[ox * down + k - pad0], U = the row
// upsampled by `up` (zeros between samples). Polyphase: for up > 1 (down 1) the outputs of one phase read
// consecutive inputs; for down > 1 (up 1) the input is split into `down` phase rows first.
template <typename T>
void sep_row_x(const T* x, int in_w, float* out, int out_w, const float* f, int taps, int up, int down, int pad0,
               float gain, std::vector<float>& xe, std::vector<float>& acc, bool accumulate = false) {
    if (up > 1) {  // down == 1
        int lo;
        xe.assign(size_t(up_row_padding(in_w, out_w, taps, up, pad0, lo)), 0.f);
        for (int i = 0; i < in_w; ++i) xe[size_t(lo + i)] = sg3::load_f(x + i);
        acc.resize(size_t(out_w / up + 2));
        for (int ph = 0; ph < up; ++ph) {
            const UpPhase q = up_phase(ph, up, pad0, taps, out_w);
            const int c = q.c, base = q.base, n_m = q.n;
            if (n_m <= 0) continue;
            float* a = acc.data();
            const float* rows[kMaxRows];
            float w[kMaxRows];
            int count = 0;
            for (int k = c; k < taps; k += up, ++count) {
                w[count] = f[k];
                rows[count] = xe.data() + lo + base + (k - c) / up;
            }
            weighted_rows(rows, w, count, n_m, a);
            if (accumulate)
                for (int m = 0; m < n_m; ++m) out[ph + up * m] += a[m] * gain;
            else
                for (int m = 0; m < n_m; ++m) out[ph + up * m] = a[m] * gain;
        }
        return;
    }
    // up == 1: inputs x[ox * down + k - pad0]
    const int lo = std::max(0, pad0);
    const int hi = std::max(0, (out_w - 1) * down + taps - 1 - pad0 - (in_w - 1));
    const int len = lo + in_w + hi;
    const int plen = (len + down - 1) / down;
    xe.assign(size_t(plen) * down, 0.f);
    // Phase rows: P_r[m] = Xe[m * down + r], stored one after the other.
    for (int r = 0; r < down; ++r) {
        float* dst = xe.data() + size_t(r) * plen;
        for (int e = pos_first(lo, r, down); e < lo + in_w; e += down) dst[e / down] = sg3::load_f(x + (e - lo));
    }
    acc.resize(size_t(out_w));
    float* a = acc.data();
    const float* rows[kMaxRows];
    const int count = taps;
    for (int k = 0; k < count; ++k) {
        const int s = k - pad0 + lo;
        rows[k] = xe.data() + size_t(s % down) * plen + s / down;
    }
    weighted_rows(rows, f, count, out_w, a);
    if (accumulate)
        for (int ox = 0; ox < out_w; ++ox) out[ox] += a[ox] * gain;
    else
        for (int ox = 0; ox < out_w; ++ox) out[ox] = a[ox] * gain;
}

// Horizontal pass over `rows` rows of src (T) into dst (float).
template <typename T>
void sep_pass_x(const T* src, int64_t rows, int in_w, float* dst, int out_w, const float* f, int taps, int up,
                int down, int pad0, float gain) {
    parallel_chunks(rows, std::max<int64_t>(1, 65536 / std::max(1, out_w * taps)), [&](int64_t r0, int64_t r1) {
        std::vector<float> xe, acc;
        for (int64_t r = r0; r < r1; ++r)
            sep_row_x(src + r * in_w, in_w, dst + r * out_w, out_w, f, taps, up, down, pad0, gain, xe, acc);
    });
}

// Vertical pass: each output row is a sum of whole input rows (the taps that meet a real sample).
template <typename T, typename U>
void sep_pass_y(const T* src, int64_t planes, int in_h, int w, U* dst, int out_h, const float* f, int taps, int up,
                int down, int pad0, float gain) {
    parallel_chunks(planes * out_h, std::max<int64_t>(1, 65536 / std::max(1, w * taps)), [&](int64_t r0, int64_t r1) {
        std::vector<float> acc(static_cast<size_t>(w), 0.f);
        std::vector<float> row(static_cast<size_t>(w), 0.f);
        for (int64_t r = r0; r < r1; ++r) {
            const int64_t plane = r / out_h;
            const int oy = int(r % out_h);
            const int uy0 = oy * down - pad0;
            float* a = acc.data();
            for (int ox = 0; ox < w; ++ox) a[ox] = 0.f;
            for (int k = sg3::pos_mod(-uy0, up); k < taps; k += up) {
                const int iy = (uy0 + k) / up;
                if (iy < 0 || iy >= in_h) continue;
                const float tap = f[k] * gain;
                const T* s = src + (plane * in_h + iy) * int64_t(w);
                if constexpr (std::is_same_v<T, float>) {
#pragma omp simd
                    for (int ox = 0; ox < w; ++ox) a[ox] += tap * s[ox];
                } else {
                    float* rb = row.data();
                    for (int ox = 0; ox < w; ++ox) rb[ox] = sg3::load_f(s + ox);
#pragma omp simd
                    for (int ox = 0; ox < w; ++ox) a[ox] += tap * rb[ox];
                }
            }
            U* d = dst + r * w;
            for (int ox = 0; ox < w; ++ox) sg3::store_f(d + ox, a[ox]);
        }
    });
}

// Intermediate buffers of upfirdn2d_rows, kept between calls (per calling thread; two slots): the passes run
// every step of an optimization on the same shapes, and fresh pages cost as much as the arithmetic.
float* scratch_floats(int64_t n, int slot) {
    thread_local std::vector<float> bufs[2];
    if (int64_t(bufs[slot].size()) < n) bufs[slot].resize(size_t(n));
    return bufs[slot].data();
}

template <typename T>
void run_upfirdn2d_rows(const T* x, T* y, int64_t planes, int in_h, int in_w, int out_h, int out_w, const float* f,
                       int taps, int ux, int uy, int dx, int dy, int px0, int py0, float gain) {
    if (dy > 1) {
        // Decimating vertically: rows first, so the horizontal pass runs on out_h rows only.
        float* mid = scratch_floats(planes * out_h * in_w, 0);
        sep_pass_y(x, planes, in_h, in_w, mid, out_h, f, taps, uy, dy, py0, gain);
        float* out = std::is_same_v<T, float> ? reinterpret_cast<float*>(y) : scratch_floats(planes * out_h * out_w, 1);
        sep_pass_x(mid, planes * out_h, in_w, out, out_w, f, taps, ux, dx, px0, 1.f);
        if constexpr (!std::is_same_v<T, float>) {
            parallel_chunks(planes * out_h * out_w, 65536, [&](int64_t i0, int64_t i1) {
                for (int64_t i = i0; i < i1; ++i) sg3::store_f(y + i, out[i]);
            });
        }
        return;
    }
    float* mid = scratch_floats(planes * in_h * out_w, 0);
    sep_pass_x(x, planes * in_h, in_w, mid, out_w, f, taps, ux, dx, px0, gain);
    sep_pass_y(mid, planes, in_h, out_w, y, out_h, f, taps, uy, dy, py0, 1.f);
}

// A 2-D filter: each output row sums, over the filter rows that meet a real input row, a horizontal pass of that
// input row with that filter row (polyphase, vectorized as above).
template <typename T>
void run_upfirdn2d_rows2d(const T* x, T* y, int64_t planes, int in_h, int in_w, int out_h, int out_w, const float* f,
                          int fw, int fh, int ux, int uy, int dx, int dy, int px0, int py0, float gain) {
    parallel_chunks(planes * out_h, std::max<int64_t>(1, 65536 / std::max(1, out_w * fw * fh / (ux * uy))),
                    [&](int64_t r0, int64_t r1) {
        std::vector<float> xe, acc, row(static_cast<size_t>(out_w), 0.f);
        for (int64_t r = r0; r < r1; ++r) {
            const int64_t plane = r / out_h;
            const int oy = int(r % out_h);
            const int uy0 = oy * dy - py0;
            float* o = row.data();
            for (int ox = 0; ox < out_w; ++ox) o[ox] = 0.f;
            for (int k = sg3::pos_mod(-uy0, uy); k < fh; k += uy) {
                const int iy = (uy0 + k) / uy;
                if (iy < 0 || iy >= in_h) continue;
                sep_row_x(x + (plane * in_h + iy) * int64_t(in_w), in_w, o, out_w, f + int64_t(k) * fw, fw, ux, dx, px0,
                          gain, xe, acc, true);
            }
            T* d = y + r * out_w;
            for (int ox = 0; ox < out_w; ++ox) sg3::store_f(d + ox, o[ox]);
        }
    });
}

at::Tensor upfirdn2d_rows(at::Tensor x, at::Tensor f, int64_t upx, int64_t upy, int64_t downx, int64_t downy,
                         int64_t padx0, int64_t padx1, int64_t pady0, int64_t pady1, double gain) {
    const char* op = "upfirdn2d_rows";
    check_x(x, op, 4);
    const int dtype = dtype_code(x, op);
    TORCH_CHECK(upx >= 1 && upy >= 1 && downx >= 1 && downy >= 1, op, ": up/down factors must be >= 1");
    f = filter_f32(f, op);
    // A horizontal pass that both upsamples and downsamples has no vectorized form here: the general kernel does
    // it (also the vertical one for 1-D filters), and filters longer than the row passes take (kMaxRows).
    if ((upx > 1 && downx > 1) || (f.dim() == 1 && upy > 1 && downy > 1) || f.size(-1) > kMaxRows ||
        f.size(0) > kMaxRows)
        return upfirdn2d(x, f, upx, upy, downx, downy, padx0, padx1, pady0, pady1, gain);
    x = x.contiguous();
    const int taps = as_int(f.size(-1), op, "filter size");
    const int taps_y = as_int(f.size(0), op, "filter size");
    const int in_h = as_int(x.size(2), op, "height"), in_w = as_int(x.size(3), op, "width");
    const int out_w = sg3::upfirdn_out_size(in_w, int(upx), int(downx), int(padx0), int(padx1), taps);
    const int out_h = sg3::upfirdn_out_size(in_h, int(upy), int(downy), int(pady0), int(pady1), taps_y);
    TORCH_CHECK(out_h > 0 && out_w > 0, op, ": the filter is larger than the padded, upsampled input");
    const int64_t planes = x.size(0) * x.size(1);
    at::Tensor y = at::empty({x.size(0), x.size(1), out_h, out_w}, x.options());
    if (y.numel() == 0) return y;
    const float* fp = f.data_ptr<float>();
    if (f.dim() == 2) {
        if (dtype == 0)
            run_upfirdn2d_rows2d(x.data_ptr<float>(), y.data_ptr<float>(), planes, in_h, in_w, out_h, out_w, fp, taps,
                                 taps_y, int(upx), int(upy), int(downx), int(downy), int(padx0), int(pady0),
                                 static_cast<float>(gain));
        else
            run_upfirdn2d_rows2d(x.data_ptr<c10::Half>(), y.data_ptr<c10::Half>(), planes, in_h, in_w, out_h, out_w,
                                 fp, taps, taps_y, int(upx), int(upy), int(downx), int(downy), int(padx0), int(pady0),
                                 static_cast<float>(gain));
        return y;
    }
    if (dtype == 0)
        run_upfirdn2d_rows(x.data_ptr<float>(), y.data_ptr<float>(), planes, in_h, in_w, out_h, out_w, fp, taps,
                          int(upx), int(upy), int(downx), int(downy), int(padx0), int(pady0), static_cast<float>(gain));
    else
        run_upfirdn2d_rows(x.data_ptr<c10::Half>(), y.data_ptr<c10::Half>(), planes, in_h, in_w, out_h, out_w, fp, taps,
                          int(upx), int(upy), int(downx), int(downy), int(padx0), int(pady0), static_cast<float>(gain));
    return y;
}

// filtered_lrelu's backward through both filter passes and the nonlinearity, streamed by rows, one plane at a time:
//   du = code factor * (transposed down pass of dy),   dt = transposed up pass of du.
// Why: done as separate passes, da / du (the upsampled size, the backward's largest tensors) went through memory
// three times, and the passes ran memory-bound at a third or less of their in-cache rate. Here each du row is made
// when the up pass's window first needs it and lives in a ring of rows (the filter's length) that stays in cache;
// for a 1-D down filter the horizontal half of the first pass is done once per dy row of the plane.
// Same taps as upfirdn2d_rows followed by upfirdn2d_rows, in the same order for a 1-D first filter (a 2-D one sums
// per phase over all its rows: another order, equal to ~1e-7); the second pass vertical first, as upfirdn2d_rows
// does when decimating. float32; the caller passes the two passes' geometry (autograd.grad_padding).
at::Tensor filtered_lrelu_grad_rows(at::Tensor dy, at::Tensor f1, int64_t up1, int64_t p1x0, int64_t p1y0,
                                    at::Tensor code, double act_gain, double slope, at::Tensor f2, int64_t down2,
                                    int64_t p2x0, int64_t p2y0, double gain2, int64_t out_h, int64_t out_w) {
    const char* op = "filtered_lrelu_grad_rows";
    check_x(dy, op, 4);
    TORCH_CHECK(dy.scalar_type() == at::kFloat, op, ": dy must be float32");
    TORCH_CHECK(code.scalar_type() == at::kByte && code.dim() == 4 && code.size(0) == dy.size(0) &&
                    code.size(1) == dy.size(1), op, ": code must be uint8 [N, C, H, W] like dy");
    f1 = filter_f32(f1, op);
    f2 = filter_f32(f2, op);
    TORCH_CHECK(f2.dim() == 1, op, ": the second filter must be 1-D (separable)");
    // Longer filters than the row passes take: an empty tensor, and the caller runs the passes one by one.
    if (f1.size(0) > kMaxRows || f1.size(-1) > kMaxRows || f2.size(0) > kMaxRows) return at::empty({0}, dy.options());
    TORCH_CHECK(up1 >= 1 && down2 >= 1 && out_h > 0 && out_w > 0, op, ": bad geometry");
    dy = dy.contiguous();
    code = code.contiguous();
    const int dh = int(dy.size(2)), dw = int(dy.size(3));
    const int uh = int(code.size(2)), uw = int(code.size(3));
    const int u1 = int(up1), d2 = int(down2);
    const bool f1_2d = f1.dim() == 2;
    const int t1x = int(f1.size(-1)), t1y = int(f1.size(0)), t2 = int(f2.size(0));
    const float* fp1 = f1.data_ptr<float>();
    const float* fp2 = f2.data_ptr<float>();
    const float g = static_cast<float>(act_gain);
    const CodeScale cs = {code.data_ptr<uint8_t>(), {0.f, g * static_cast<float>(slope), g}};
    const int64_t planes = dy.size(0) * dy.size(1);
    at::Tensor dt = at::empty({dy.size(0), dy.size(1), out_h, out_w}, dy.options());
    const float* dyp = dy.data_ptr<float>();
    float* dtp = dt.data_ptr<float>();
    const int slots = t2 + d2;  // rows of du alive at once: the window of one output row and the step to the next
    const float gain2f = static_cast<float>(gain2);
    // 2-D first filter: the horizontal polyphase geometry of sep_row_x (upsampling by u1), once per call. Each dy
    // row is padded once per plane; a du row sums, per phase, every tap of every filter row that meets a real dy
    // row into one contiguous accumulator, then interleaves the phases once (instead of one scatter-add per filter
    // row).
    std::vector<UpPhase> phs(static_cast<size_t>(u1));
    for (int ph = 0; ph < u1; ++ph) {
        phs[size_t(ph)] = up_phase(ph, u1, int(p1x0), t1x, uw);
        phs[size_t(ph)].n = std::max(0, phs[size_t(ph)].n);
    }
    int lo;
    const int pw = up_row_padding(dw, uw, t1x, u1, int(p1x0), lo);
    const int n_max = (uw + u1 - 1) / u1;
    parallel_chunks(planes, 1, [&](int64_t pl0, int64_t pl1) {
        std::vector<float> h1, xe, acc, padded, phases;
        std::vector<float> ring(static_cast<size_t>(slots) * uw), v(static_cast<size_t>(uw));
        std::vector<int> held(static_cast<size_t>(slots), -1);
        std::vector<const float*> tap_rows(f1_2d ? size_t(t1y) * t1x : 0);  // 2-D first filter: (row, tap) pairs
        std::vector<float> tap_w(tap_rows.size());
        for (int64_t pl = pl0; pl < pl1; ++pl) {
            const float* dyplane = dyp + pl * int64_t(dh) * dw;
            if (!f1_2d) {  // horizontal half of the first pass, once per dy row
                h1.resize(size_t(dh) * uw);
                for (int r = 0; r < dh; ++r)
                    sep_row_x(dyplane + int64_t(r) * dw, dw, h1.data() + size_t(r) * uw, uw, fp1, t1x, u1, 1,
                              int(p1x0), 1.f, xe, acc);
            } else {  // every dy row padded once
                padded.assign(size_t(dh) * pw, 0.f);
                for (int r = 0; r < dh; ++r)
                    std::copy(dyplane + int64_t(r) * dw, dyplane + int64_t(r + 1) * dw, padded.data() + size_t(r) * pw + lo);
                phases.resize(size_t(u1) * n_max);
            }
            std::fill(held.begin(), held.end(), -1);
            // du row r (0 <= r < uh) into its ring slot, made once.
            auto du_row = [&](int r) -> const float* {
                float* o = ring.data() + size_t(r % slots) * uw;
                if (held[size_t(r % slots)] == r) return o;
                held[size_t(r % slots)] = r;
                const int uy0 = r - int(p1y0);
                if (f1_2d) {
                    float* ap = phases.data();
                    for (int ph = 0; ph < u1; ++ph) {  // every tap of every filter row that meets a dy row
                        const UpPhase& q = phs[size_t(ph)];
                        const int c = q.c;
                        int count = 0;
                        for (int k = sg3::pos_mod(-uy0, u1); k < t1y; k += u1) {
                            const int iy = (uy0 + k) / u1;
                            if (iy < 0 || iy >= dh) continue;
                            const float* xrow = padded.data() + size_t(iy) * pw + lo + q.base;
                            for (int k2 = c; k2 < t1x; k2 += u1, ++count) {
                                tap_w[size_t(count)] = fp1[int64_t(k) * t1x + k2];
                                tap_rows[size_t(count)] = xrow + (k2 - c) / u1;
                            }
                        }
                        weighted_rows(tap_rows.data(), tap_w.data(), count, q.n, ap + size_t(ph) * n_max);
                    }
                    for (int ph = 0; ph < u1; ++ph) {
                        const float* a = ap + size_t(ph) * n_max;
                        for (int m = 0; m < phs[size_t(ph)].n; ++m) o[ph + u1 * m] = a[m];
                    }
                } else {
                    const float* rows[kMaxRows];
                    float w[kMaxRows];
                    int count = 0;
                    for (int k = sg3::pos_mod(-uy0, u1); k < t1y; k += u1) {
                        const int iy = (uy0 + k) / u1;
                        if (iy < 0 || iy >= dh) continue;
                        w[count] = fp1[k];
                        rows[count++] = h1.data() + size_t(iy) * uw;
                    }
                    weighted_rows(rows, w, count, uw, o);
                }
                cs.scale(o, (pl * uh + r) * int64_t(uw), uw);
                return o;
            };
            float* dtplane = dtp + pl * out_h * out_w;
            for (int oy = 0; oy < int(out_h); ++oy) {  // second pass: vertical (decimating) first, then horizontal
                const int uy0 = oy * d2 - int(p2y0);
                float* a = v.data();
                const float* rows[kMaxRows];
                float w[kMaxRows];
                int count = 0;
                for (int k = 0; k < t2; ++k) {
                    const int iy = uy0 + k;
                    if (iy < 0 || iy >= uh) continue;
                    w[count] = fp2[k] * gain2f;
                    rows[count++] = du_row(iy);
                }
                weighted_rows(rows, w, count, uw, a);
                sep_row_x(a, uw, dtplane + int64_t(oy) * out_w, int(out_w), fp2, t2, 1, d2, int(p2x0), 1.f, xe, acc);
            }
        }
    });
    return dt;
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
    m.doc() = "SG3 Explorer kernels built for the CPU (inference and the gradient path)";
    m.def("upfirdn2d", &upfirdn2d, "upsample, pad, correlate with a filter, downsample");
    m.def("bias_act", &bias_act, "bias, activation, gain, clamp");
    m.def("filtered_lrelu", &filtered_lrelu, "fused upsample, leaky ReLU, clamp, downsample");
    m.def("filtered_lrelu_plan", &filtered_lrelu_plan, "tile of the fused kernel for given arguments");
    m.def("set_filtered_lrelu_smem_bytes", &set_filtered_lrelu_smem_bytes, "scratch per thread of the fused kernel");
    m.def("set_filtered_lrelu_mode", &set_filtered_lrelu_mode, "0: blocked kernel (host layout) where it applies, 1: generic only, 2: blocked, GPU layout");
    m.def("build_info", &build_info, "what the extension was built for");
    m.def("bias_act_grad", &bias_act_grad, "gradient of bias_act wrt x (bias gradient: its sum)");
    m.def("filtered_lrelu_act", &filtered_lrelu_act, "filtered_lrelu's nonlinearity and one code byte per sample");
    m.def("filtered_lrelu_act_grad", &filtered_lrelu_act_grad, "gradient through the nonlinearity from the codes");
    m.def("filtered_lrelu_codes", &filtered_lrelu_codes, "fused forward that also keeps the nonlinearity's codes");
    m.def("filtered_lrelu_grad_rows", &filtered_lrelu_grad_rows, "filtered_lrelu's backward streamed by rows");
    m.def("upfirdn2d_rows", &upfirdn2d_rows, "upfirdn2d in vectorized row passes (1-D filter: separable)");
}
