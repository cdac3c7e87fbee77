// Torch binding of the SG3 Explorer kernels: argument checks, output allocation, stream and device
// selection. Inference only (no autograd). Filters are float32 and used as given (plain correlation):
// a 2-D filter is [fh, fw]; a 1-D filter is separable (applied along x and y). The Python dispatch
// (stylegan3/ops) handles flipping, gains of separable filters and anything else the official API offers.
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/extension.h>

#include <pybind11/stl.h>  // std::vector return of filtered_lrelu_plan

#include <algorithm>
#include <string>
#include <vector>

#include "filtered_lrelu_sep.h"
#include "launchers.h"
#include "launchers_grad.h"

namespace {

// Shared memory per block the fused filtered_lrelu may use; 48 KiB needs no opt-in on any GPU.
int g_flrelu_smem_bytes = 48 * 1024;
// 0: the register-blocked kernel wherever it applies (StyleGAN3 layer shapes), else the generic one;
// 1: the generic kernel only (benchmarks and tests compare the two).
int g_flrelu_mode = 0;

int dtype_code(const torch::Tensor& x, const char* op) {
    if (x.scalar_type() == at::kFloat) return sg3::kFloat32;
    if (x.scalar_type() == at::kHalf) return sg3::kFloat16;
    TORCH_CHECK(false, op, ": float16 or float32 input expected, got ", x.scalar_type());
    return -1;
}

void check_x(const torch::Tensor& x, const char* op, int64_t ndim) {
    TORCH_CHECK(x.is_cuda(), op, ": x must be a CUDA tensor");
    TORCH_CHECK(ndim < 0 || x.dim() == ndim, op, ": x must have ", ndim, " dimensions, got ", x.dim());
    TORCH_CHECK(x.numel() < (int64_t(1) << 40), op, ": x is too large");
}

torch::Tensor filter_f32(const torch::Tensor& f, const torch::Tensor& x, const char* op) {
    TORCH_CHECK(f.dim() == 1 || f.dim() == 2, op, ": filters must be 1-D (separable) or 2-D, got ", f.dim(), "-D");
    TORCH_CHECK(f.numel() > 0, op, ": empty filter");
    return f.to(x.device(), at::kFloat).contiguous();
}

torch::Tensor bias_f32(const torch::Tensor& b, const torch::Tensor& x, int64_t size, const char* op) {
    if (b.numel() == 0) return torch::Tensor();
    TORCH_CHECK(b.dim() == 1 && b.numel() == size, op, ": bias must be 1-D with ", size, " elements, got shape ",
                b.sizes());
    return b.to(x.device(), at::kFloat).contiguous();
}

void check_status(int status, const char* op) {
    if (status == sg3::kOk) return;
    TORCH_CHECK(status != sg3::kBadArgument, op, ": invalid arguments");
    TORCH_CHECK(status < sg3::kLaunchFailed, op, ": kernel launch failed: ", cudaGetErrorString(sg3::launch_error(status)));
    TORCH_CHECK(false, op, ": kernel failed with status ", status);
}

int as_int(int64_t v, const char* op, const char* what) {
    TORCH_CHECK(v >= -(int64_t(1) << 30) && v <= (int64_t(1) << 30), op, ": ", what, " out of range");
    return static_cast<int>(v);
}

// The bias of bias_act and of its gradient: float32 values on x's device, the stride of consecutive bias
// elements along `dim` and their count (no bias: count 0).
struct BiasLayout {
    torch::Tensor values;
    int64_t step = 1;
    int size = 0;
};

BiasLayout bias_layout(const torch::Tensor& x, const torch::Tensor& b, int64_t dim, const char* op) {
    BiasLayout l;
    if (b.numel() == 0) return l;
    TORCH_CHECK(x.dim() > 0, op, ": a bias needs a tensor with at least one dimension");
    if (dim < 0) dim += x.dim();
    TORCH_CHECK(dim >= 0 && dim < x.dim(), op, ": dim out of range");
    l.values = bias_f32(b, x, x.size(dim), op);
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


torch::Tensor upfirdn2d(torch::Tensor x, torch::Tensor f, int64_t upx, int64_t upy, int64_t downx, int64_t downy,
                        int64_t padx0, int64_t padx1, int64_t pady0, int64_t pady1, double gain) {
    const char* op = "upfirdn2d";
    check_x(x, op, 4);
    const int dtype = dtype_code(x, op);
    TORCH_CHECK(upx >= 1 && upy >= 1 && downx >= 1 && downy >= 1, op, ": up/down factors must be >= 1");
    const c10::cuda::CUDAGuard guard(x.device());
    x = x.contiguous();
    f = filter_f32(f, x, op);
    const int sep = f.dim() == 1 ? 1 : 0;
    const int fw = as_int(f.size(-1), op, "filter width"), fh = as_int(f.size(0), op, "filter height");
    sg3::UpfirdnParams p = sg3::upfirdn_make(
        x.size(0) * x.size(1), as_int(x.size(2), op, "height"), as_int(x.size(3), op, "width"), as_int(upx, op, "up"),
        as_int(upy, op, "up"), as_int(downx, op, "down"), as_int(downy, op, "down"), as_int(padx0, op, "padding"),
        as_int(padx1, op, "padding"), as_int(pady0, op, "padding"), as_int(pady1, op, "padding"), fw, fh, sep,
        static_cast<float>(gain));
    TORCH_CHECK(p.out_h > 0 && p.out_w > 0, op, ": the filter is larger than the padded, upsampled input");
    torch::Tensor y = torch::empty({x.size(0), x.size(1), p.out_h, p.out_w}, x.options());
    if (y.numel() == 0) return y;
    check_status(sg3::launch_upfirdn2d(p, dtype, x.data_ptr(), f.data_ptr<float>(), y.data_ptr(),
                                       c10::cuda::getCurrentCUDAStream().stream()),
                 op);
    return y;
}

torch::Tensor bias_act(torch::Tensor x, torch::Tensor b, int64_t dim, const std::string& act, double alpha,
                       double gain, double clamp) {
    const char* op = "bias_act";
    check_x(x, op, -1);
    const int dtype = dtype_code(x, op);
    const int code = act_code(act, op);
    const c10::cuda::CUDAGuard guard(x.device());
    x = x.contiguous();
    const BiasLayout bl = bias_layout(x, b, dim, op);
    torch::Tensor y = torch::empty(x.sizes(), x.options());
    if (y.numel() == 0) return y;
    sg3::BiasActParams p = {x.numel(), bl.step, bl.size, code, static_cast<float>(alpha), static_cast<float>(gain),
                            static_cast<float>(clamp)};
    check_status(sg3::launch_bias_act(p, dtype, x.data_ptr(), bl.size ? bl.values.data_ptr<float>() : nullptr,
                                      y.data_ptr(), c10::cuda::getCurrentCUDAStream().stream()),
                 op);
    return y;
}

// The same computation from the separate kernels, in float32; used when a tile does not fit in
// shared memory (very large filters), so no argument combination is refused.
torch::Tensor filtered_lrelu_unfused(const torch::Tensor& x, const torch::Tensor& fu, const torch::Tensor& fd,
                                     const torch::Tensor& b, int64_t up, int64_t down, int64_t px0, int64_t px1,
                                     int64_t py0, int64_t py1, double gain, double slope, double clamp) {
    torch::Tensor t = x.to(at::kFloat);
    torch::Tensor none = torch::empty({0}, t.options());
    if (b.defined() && b.numel() > 0) t = bias_act(t, b, 1, "linear", 0.0, 1.0, -1.0);
    t = upfirdn2d(t, fu, up, up, 1, 1, px0, px1, py0, py1, double(up * up));
    t = bias_act(t, none, 1, "lrelu", slope, gain, clamp);
    t = upfirdn2d(t, fd, 1, 1, down, down, 0, 0, 0, 0, 1.0);
    return t.to(x.scalar_type());
}

torch::Tensor filtered_lrelu(torch::Tensor x, torch::Tensor fu, torch::Tensor fd, torch::Tensor b, int64_t up,
                             int64_t down, int64_t padx0, int64_t padx1, int64_t pady0, int64_t pady1, double gain,
                             double slope, double clamp) {
    const char* op = "filtered_lrelu";
    check_x(x, op, 4);
    const int dtype = dtype_code(x, op);
    TORCH_CHECK(up >= 1 && down >= 1, op, ": up/down factors must be >= 1");
    const c10::cuda::CUDAGuard guard(x.device());
    x = x.contiguous();
    fu = filter_f32(fu, x, op);
    fd = filter_f32(fd, x, op);
    torch::Tensor bf = bias_f32(b, x, x.size(1), op);
    const int fu_sep = fu.dim() == 1 ? 1 : 0, fd_sep = fd.dim() == 1 ? 1 : 0;
    sg3::FlreluParams p = sg3::flrelu_make(
        x.size(0) * x.size(1), as_int(std::max<int64_t>(x.size(1), 1), op, "channels"), as_int(x.size(2), op, "height"),
        as_int(x.size(3), op, "width"), as_int(up, op, "up"), as_int(down, op, "down"), as_int(padx0, op, "padding"),
        as_int(padx1, op, "padding"), as_int(pady0, op, "padding"), as_int(pady1, op, "padding"),
        as_int(fu.size(-1), op, "fu size"), as_int(fu.size(0), op, "fu size"), fu_sep, as_int(fd.size(-1), op, "fd size"),
        as_int(fd.size(0), op, "fd size"), fd_sep, bf.defined() ? 1 : 0, static_cast<float>(gain),
        static_cast<float>(slope), static_cast<float>(clamp));
    TORCH_CHECK(p.out_h > 0 && p.out_w > 0, op, ": the filters are larger than the padded, upsampled input");
    torch::Tensor y = torch::empty({x.size(0), x.size(1), p.out_h, p.out_w}, x.options());
    if (y.numel() == 0) return y;
    const float* bias_ptr = bf.defined() ? bf.data_ptr<float>() : nullptr;
    const cudaStream_t stream = c10::cuda::getCurrentCUDAStream().stream();
    int status = sg3::kTooLarge;
    if (g_flrelu_mode == 0)
        status = sg3::launch_filtered_lrelu_sep(p, dtype, x.data_ptr(), fu.data_ptr<float>(), fd.data_ptr<float>(),
                                                bias_ptr, y.data_ptr(), g_flrelu_smem_bytes, stream);
    if (status == sg3::kTooLarge)
        status = sg3::launch_filtered_lrelu(p, dtype, x.data_ptr(), fu.data_ptr<float>(), fd.data_ptr<float>(),
                                            bias_ptr, y.data_ptr(), g_flrelu_smem_bytes, stream);
    if (status == sg3::kTooLarge)
        return filtered_lrelu_unfused(x, fu, fd, bf, up, down, padx0, padx1, pady0, pady1, gain, slope, clamp);
    check_status(status, op);
    return y;
}

// Tile the fused kernel would use for these arguments: (tile_w, tile_h, shared bytes, kernel) with kernel
// 1 = register-blocked, 0 = generic; (0, 0, 0, 0) when it falls back to the unfused path. For tests and
// benchmarks.
std::vector<int64_t> filtered_lrelu_plan(int64_t in_h, int64_t in_w, int64_t up, int64_t down, int64_t fuw,
                                         int64_t fuh, bool fu_sep, int64_t fdw, int64_t fdh, bool fd_sep,
                                         int64_t padx0, int64_t padx1, int64_t pady0, int64_t pady1) {
    sg3::FlreluParams p = sg3::flrelu_make(1, 1, (int)in_h, (int)in_w, (int)up, (int)down, (int)padx0, (int)padx1,
                                           (int)pady0, (int)pady1, (int)fuw, (int)fuh, fu_sep, (int)fdw, (int)fdh,
                                           fd_sep, 0, 1.f, 0.2f, -1.f);
    if (p.out_h <= 0 || p.out_w <= 0) return {0, 0, 0, 0};
    sg3::FlreluSepGeom g;
    if (g_flrelu_mode == 0 && sg3::flrelu_sep_variant(p) != sg3::kSepNone &&
        sg3::flrelu_sep_plan(p, !p.fd_sep, g_flrelu_smem_bytes, g))
        return {g.tile_w, g.tile_h, int64_t(g.smem_floats) * 4, 1};
    if (!sg3::flrelu_plan(p, g_flrelu_smem_bytes)) return {0, 0, 0, 0};
    return {p.tile_w, p.tile_h, int64_t(p.smem_floats) * 4, 0};
}

// Benchmarks and tests: 0 = blocked kernel where it applies (default), 1 = generic kernel only.
int64_t set_filtered_lrelu_mode(int64_t mode) {
    TORCH_CHECK(mode == 0 || mode == 1, "filtered_lrelu mode must be 0 (auto) or 1 (generic)");
    g_flrelu_mode = static_cast<int>(mode);
    return g_flrelu_mode;
}

// Experiments only: raise the fused kernel's shared-memory budget (capped by the device's opt-in limit).
int64_t set_filtered_lrelu_smem_bytes(int64_t bytes) {
    int device = 0, cap = 48 * 1024;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&cap, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess) {
        cudaGetLastError();
        cap = 48 * 1024;
    }
    g_flrelu_smem_bytes = static_cast<int>(std::max<int64_t>(1024, std::min<int64_t>(bytes, int64_t(cap))));
    return g_flrelu_smem_bytes;
}

std::string build_info() {
    return std::string("cudart ") + std::to_string(CUDART_VERSION) +
           ", kernels upfirdn2d bias_act filtered_lrelu (generic + register-blocked)";
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Backward kernels (bias_act_grad.h, filtered_lrelu_grad.h): what stylegan3/ops/autograd.py composes the
// gradients of the three ops from, together with upfirdn2d above.
namespace {

// dx of bias_act for upstream gradient dy, from the forward's input x and bias b (empty: none).
torch::Tensor bias_act_grad(torch::Tensor dy, torch::Tensor x, torch::Tensor b, int64_t dim, const std::string& act,
                            double alpha, double gain, double clamp) {
    const char* op = "bias_act_grad";
    check_x(x, op, -1);
    const int dtype = dtype_code(x, op);
    const int code = act_code(act, op);
    TORCH_CHECK(dy.sizes() == x.sizes() && dy.scalar_type() == x.scalar_type() && dy.device() == x.device(), op,
                ": dy must match x in shape, dtype and device");
    const c10::cuda::CUDAGuard guard(x.device());
    x = x.contiguous();
    dy = dy.contiguous();
    const BiasLayout bl = bias_layout(x, b, dim, op);
    torch::Tensor dx = torch::empty(x.sizes(), x.options());
    if (dx.numel() == 0) return dx;
    sg3::BiasActParams p = {x.numel(), bl.step, bl.size, code, static_cast<float>(alpha), static_cast<float>(gain),
                            static_cast<float>(clamp)};
    check_status(sg3::launch_bias_act_grad(p, dtype, dy.data_ptr(), x.data_ptr(),
                                           bl.size ? bl.values.data_ptr<float>() : nullptr, dx.data_ptr(),
                                           c10::cuda::getCurrentCUDAStream().stream()),
                 op);
    return dx;
}

// [a, code]: the nonlinearity of filtered_lrelu on the upsampled u, and one uint8 code per sample.
std::vector<torch::Tensor> filtered_lrelu_act(torch::Tensor u, double gain, double slope, double clamp) {
    const char* op = "filtered_lrelu_act";
    check_x(u, op, -1);
    const int dtype = dtype_code(u, op);
    const c10::cuda::CUDAGuard guard(u.device());
    u = u.contiguous();
    torch::Tensor a = torch::empty(u.sizes(), u.options());
    torch::Tensor code = torch::empty(u.sizes(), u.options().dtype(at::kByte));
    if (u.numel() == 0) return {a, code};
    const sg3::FlreluActParams p = {u.numel(), static_cast<float>(gain), static_cast<float>(slope),
                                    static_cast<float>(clamp)};
    check_status(sg3::launch_filtered_lrelu_act(p, dtype, u.data_ptr(), a.data_ptr(), code.data_ptr<uint8_t>(),
                                                c10::cuda::getCurrentCUDAStream().stream()),
                 op);
    return {a, code};
}

// du = da * (gain, gain * slope or 0, as code says).
torch::Tensor filtered_lrelu_act_grad(torch::Tensor da, torch::Tensor code, double gain, double slope) {
    const char* op = "filtered_lrelu_act_grad";
    check_x(da, op, -1);
    const int dtype = dtype_code(da, op);
    TORCH_CHECK(code.scalar_type() == at::kByte && code.sizes() == da.sizes() && code.device() == da.device(), op,
                ": code must be uint8 of da's shape on da's device");
    const c10::cuda::CUDAGuard guard(da.device());
    da = da.contiguous();
    code = code.contiguous();
    torch::Tensor du = torch::empty(da.sizes(), da.options());
    if (du.numel() == 0) return du;
    const sg3::FlreluActParams p = {da.numel(), static_cast<float>(gain), static_cast<float>(slope), -1.f};
    check_status(sg3::launch_filtered_lrelu_act_grad(p, dtype, da.data_ptr(), code.data_ptr<uint8_t>(),
                                                     du.data_ptr(), c10::cuda::getCurrentCUDAStream().stream()),
                 op);
    return du;
}

// upfirdn2d in passes, as cpu_binding.cpp: a 1-D (separable) filter as a horizontal then a vertical launch of the
// upfirdn2d kernel (2 * taps / up multiply-adds per output instead of taps^2 / up^2), intermediate in float32; a
// 2-D filter as one upfirdn2d launch.
torch::Tensor upfirdn2d_rows(torch::Tensor x, torch::Tensor f, int64_t upx, int64_t upy, int64_t downx, int64_t downy,
                             int64_t padx0, int64_t padx1, int64_t pady0, int64_t pady1, double gain) {
    if (f.dim() != 1) return upfirdn2d(x, f, upx, upy, downx, downy, padx0, padx1, pady0, pady1, gain);
    check_x(x, "upfirdn2d_rows", 4);
    torch::Tensor t = upfirdn2d(x.to(at::kFloat), f.reshape({1, -1}), upx, 1, downx, 1, padx0, padx1, 0, 0, gain);
    return upfirdn2d(t, f.reshape({-1, 1}), 1, upy, 1, downy, 0, 0, pady0, pady1, 1.0).to(x.scalar_type());
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
    m.doc() = "SG3 Explorer CUDA kernels (inference only)";
    m.def("upfirdn2d", &upfirdn2d, "upsample, pad, correlate with a filter, downsample");
    m.def("bias_act", &bias_act, "bias, activation, gain, clamp");
    m.def("filtered_lrelu", &filtered_lrelu, "fused upsample, leaky ReLU, clamp, downsample");
    m.def("filtered_lrelu_plan", &filtered_lrelu_plan, "tile of the fused kernel for given arguments");
    m.def("set_filtered_lrelu_smem_bytes", &set_filtered_lrelu_smem_bytes, "shared-memory budget of the fused kernel");
    m.def("set_filtered_lrelu_mode", &set_filtered_lrelu_mode, "0: blocked kernel where it applies, 1: generic only");
    m.def("build_info", &build_info, "CUDA runtime version the extension was compiled with");
    m.def("bias_act_grad", &bias_act_grad, "gradient of bias_act wrt x (bias gradient: its sum)");
    m.def("filtered_lrelu_act", &filtered_lrelu_act, "filtered_lrelu's nonlinearity and one code byte per sample");
    m.def("filtered_lrelu_act_grad", &filtered_lrelu_act_grad, "gradient through the nonlinearity from the codes");
    m.def("upfirdn2d_rows", &upfirdn2d_rows, "upfirdn2d in passes (1-D filter: separable)");
}
