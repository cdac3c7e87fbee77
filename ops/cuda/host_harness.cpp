// Host harness: runs the kernels' own per-element and per-block code (the headers the .cu files use)
// on the CPU, float32 only, so the tiling and indexing can be tested without a GPU. Not part of the
// extension; tests/test_cuda_build.py compiles it with the system C++ compiler and calls it via ctypes.
#include <cstddef>
#include <vector>

#include "bias_act.h"
#include "filtered_lrelu.h"
#include "upfirdn2d.h"

extern "C" {

// Writes the output size to out_hw[0..1]; computes y only when y is not null.
int sg3h_upfirdn2d(const float* x, const float* f, float* y, long long planes, int in_h, int in_w, int upx, int upy,
                   int downx, int downy, int padx0, int padx1, int pady0, int pady1, int fw, int fh, int separable,
                   float gain, int* out_hw) {
    sg3::UpfirdnParams p = sg3::upfirdn_make(planes, in_h, in_w, upx, upy, downx, downy, padx0, padx1, pady0, pady1,
                                             fw, fh, separable, gain);
    out_hw[0] = p.out_h;
    out_hw[1] = p.out_w;
    if (y == nullptr) return sg3::kOk;
    const long long total = planes * p.out_h * p.out_w;
    for (long long i = 0; i < total; ++i) sg3::upfirdn_store(p, x, y, f, i);
    return sg3::kOk;
}

int sg3h_bias_act(const float* x, const float* b, float* y, long long numel, long long step, int bias_size, int act,
                  float alpha, float gain, float clamp) {
    sg3::BiasActParams p = {numel, step, bias_size, act, alpha, gain, clamp};
    for (long long i = 0; i < numel; ++i) sg3::bias_act_store(p, x, b, y, i);
    return sg3::kOk;
}

// out_info: [out_h, out_w, tile_w, tile_h, smem_floats, variant]. smem_bytes bounds the tile like the GPU
// launcher; specialize = 1 uses the compile-time variant the launcher would pick (flrelu_variant).
int sg3h_filtered_lrelu(const float* x, const float* fu, const float* fd, const float* b, float* y, long long planes,
                        int channels, int in_h, int in_w, int up, int down, int padx0, int padx1, int pady0,
                        int pady1, int fuw, int fuh, int fu_sep, int fdw, int fdh, int fd_sep, int has_bias,
                        float gain, float slope, float clamp, int smem_bytes, int specialize, int* out_info) {
    sg3::FlreluParams p = sg3::flrelu_make(planes, channels, in_h, in_w, up, down, padx0, padx1, pady0, pady1, fuw,
                                           fuh, fu_sep, fdw, fdh, fd_sep, has_bias, gain, slope, clamp);
    out_info[0] = p.out_h;
    out_info[1] = p.out_w;
    if (p.out_h <= 0 || p.out_w <= 0) return sg3::kOk;
    if (!sg3::flrelu_plan(p, smem_bytes)) return sg3::kTooLarge;
    out_info[2] = p.tile_w;
    out_info[3] = p.tile_h;
    out_info[4] = p.smem_floats;
    if (y == nullptr) return sg3::kOk;
    std::vector<float> smem(static_cast<std::size_t>(p.smem_floats));
    const long long blocks = planes * p.tiles_x * p.tiles_y;
    const int variant = specialize ? sg3::flrelu_variant(p) : sg3::kGeneric;
    for (long long blk = 0; blk < blocks; ++blk) {
        if (variant == sg3::kUp2Down2Taps12)
            sg3::flrelu_block<float, 2, 2, 12, 12>(p, x, y, fu, fd, b, blk, 0, 1, smem.data());
        else if (variant == sg3::kUp4Down2Taps24x12)
            sg3::flrelu_block<float, 4, 2, 24, 12>(p, x, y, fu, fd, b, blk, 0, 1, smem.data());
        else
            sg3::flrelu_block<float>(p, x, y, fu, fd, b, blk, 0, 1, smem.data());
    }
    out_info[5] = variant;
    return sg3::kOk;
}

}  // extern "C"
