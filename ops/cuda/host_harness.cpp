// Host harness: runs the kernels' own per-element and per-block code (the headers the .cu files use)
// on the CPU, so the tiling, indexing, barriers and float16 load/store can be tested without a GPU.
// Not part of the extension; tests/test_cuda_build.py compiles it with the system C++ compiler
// (C++17 or later, -pthread) and calls it via ctypes.
//
// What the emulation adds over "one block = one call":
// - a block runs on T real host threads (one team per call, reused across its blocks), each calling the same block
//   code with its own tid / nthreads; sg3::block_sync() reaches this file's barrier through
//   sg3::host_barrier_hook. Two schedules:
//     kFree:  the threads run concurrently, the barrier is a real one (a race may or may not show);
//     kBaton: the threads run one at a time, in tid order (or reversed), and hand over only at a
//             barrier. Every thread finishes its part of a phase before any thread starts the next
//             one, exactly as a barrier guarantees and nothing more: a missing barrier lets one
//             thread run into the next phase while the others have not started the previous one,
//             so it reads their still-poisoned (or stale) shared memory. Deterministic.
// - every block's shared memory (and a guard zone either side) is filled with a NaN pattern before
//   the block runs; after it, the guards must be intact (no out-of-bounds shared-memory write).
// - all threads of a block must reach the same barriers in the same order (__syncthreads in divergent
//   code is undefined behaviour on the GPU); a mismatch is reported as kEmulationError.
// - a test-only switch drops one barrier (by its index within the block) in every thread, to prove
//   the checks catch a missing barrier.
// - float16 tensors are stored as IEEE binary16 bits; load/store convert exactly like
//   __half2float / __float2half_rn (round to nearest even), in portable code.
//
// Every kernel body is a header function (upfirdn_block, bias_act_block, flrelu_block, flrelu_sep_block) that the
// .cu kernels call with their blockIdx / threadIdx and this file calls with its emulated ones.
// Built with -DSG3H_RACE_MAIN the file is also a stand-alone program for ThreadSanitizer (end of file).
#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sg3_common.h"

namespace sg3 {

// Host stand-in for __half: the raw binary16 bits.
struct HostHalf {
    uint16_t bits;
};

inline uint16_t half_bits_from_float(float f) {
    uint32_t x;
    std::memcpy(&x, &f, sizeof(x));
    const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
    const uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u)  // inf stays inf; NaN stays NaN (quiet, top payload bits kept)
        return static_cast<uint16_t>(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u | ((ax >> 13) & 0x3ffu) : 0u));
    if (ax >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520: rounds to inf
    if (ax <= 0x33000000u) return sign;                                     // <= 2^-25: rounds to zero
    uint32_t h, rem, halfway;
    if (ax < 0x38800000u) {  // below 2^-14: half subnormal, units of 2^-24
        const int shift = 126 - static_cast<int>(ax >> 23);
        const uint32_t m = (ax & 0x7fffffu) | 0x800000u;
        h = m >> shift;
        rem = m & ((1u << shift) - 1u);
        halfway = 1u << (shift - 1);
    } else {  // normal: rebias the exponent (127 -> 15) and drop 13 mantissa bits
        const uint32_t r = ax - 0x38000000u;
        h = r >> 13;
        rem = r & 0x1fffu;
        halfway = 0x1000u;
    }
    if (rem > halfway || (rem == halfway && (h & 1u))) ++h;  // a carry into the exponent is correct
    return static_cast<uint16_t>(sign | h);
}

inline float float_from_half_bits(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    uint32_t x;
    if (e == 0x1f) {
        x = sign | 0x7f800000u | (m << 13);
    } else if (e == 0) {
        const float v = static_cast<float>(m) * 5.9604644775390625e-08f;  // m * 2^-24, exact
        return sign ? -v : v;
    } else {
        x = sign | ((e + 112u) << 23) | (m << 13);
    }
    float f;
    std::memcpy(&f, &x, sizeof(f));
    return f;
}

inline float load_f(const HostHalf* p) { return float_from_half_bits(p->bits); }
inline void store_f(HostHalf* p, float v) { p->bits = half_bits_from_float(v); }

}  // namespace sg3

#include "bias_act.h"
#include "filtered_lrelu.h"
#include "filtered_lrelu_sep.h"
#include "upfirdn2d.h"

namespace {

constexpr int kEmulationError = 90;  // the emulation caught something; sg3h_last_error() says what
constexpr int kGuardFloats = 64;     // poisoned floats either side of each block's shared memory
constexpr uint32_t kPoisonBits = 0x7fa5a5a5u;  // a NaN no arithmetic produces

enum Schedule : int { kFree = 0, kBaton = 1 };

struct Config {
    int threads = 1;
    int schedule = kFree;
    int drop_barrier = -1;  // test-only: barrier index (within a block) every thread skips; -1 = none
    int descending = 0;     // kBaton: hand the baton from the highest tid down
    int max_blocks = 0;     // upfirdn2d / bias_act grid cap; 0 = the .cu files' caps
    int jitter = 0;         // kFree: odd threads yield before each barrier (makes races likelier)
};

Config g_cfg;
std::mutex g_error_mu;
std::string g_error;
int g_barriers = 0;  // barriers per block in the last run (after any dropped one)

void report(const std::string& msg) {
    std::lock_guard<std::mutex> lk(g_error_mu);
    if (g_error.empty()) g_error = msg;
}

float poison_value() {
    float f;
    std::memcpy(&f, &kPoisonBits, sizeof(f));
    return f;
}

// Shared memory of one block with poisoned guard zones.
class Smem {
   public:
    explicit Smem(int floats) : floats_(floats), buf_(static_cast<std::size_t>(floats) + 2 * kGuardFloats) {}
    float* data() { return buf_.data() + kGuardFloats; }
    void poison() { std::fill(buf_.begin(), buf_.end(), poison_value()); }
    void check_guards(int64_t block) const {
        for (std::size_t i = 0; i < buf_.size(); ++i) {
            if (i == kGuardFloats) i += static_cast<std::size_t>(floats_);
            if (i >= buf_.size()) break;
            uint32_t bits;
            std::memcpy(&bits, &buf_[i], sizeof(bits));
            if (bits != kPoisonBits) {
                report("block " + std::to_string(block) + ": shared memory written out of bounds at offset " +
                       std::to_string(static_cast<long long>(i) - kGuardFloats) + " (size " +
                       std::to_string(floats_) + " floats)");
                return;
            }
        }
    }

   private:
    int floats_;
    std::vector<float> buf_;
};

// A team of host threads that runs the blocks of a grid one after the other, each block with all of
// its threads (see the top of the file for the two schedules).
class Team {
   public:
    using Body = std::function<void(int64_t block, int tid)>;
    using Hook = std::function<void(int64_t block)>;

    explicit Team(const Config& cfg) : cfg_(cfg), n_(cfg.threads < 1 ? 1 : cfg.threads), turn_cv_(n_) {
        turn_ = first();
    }

    // Runs body(block, tid) for every block; before/after run once per block while every thread waits.
    void run(int64_t blocks, const Body& body, const Hook& before, const Hook& after) {
        std::vector<std::thread> threads;
        threads.reserve(static_cast<std::size_t>(n_));
        for (int t = 0; t < n_; ++t) threads.emplace_back([&, t] { worker(t, blocks, body, before, after); });
        for (auto& th : threads) th.join();
    }

   private:
    static constexpr int kStart = -1;
    static constexpr int kEndBase = -2;  // end of block: kEndBase - (barriers this thread reached)

    struct ThreadCtx {
        Team* team;
        int tid;
        int next_barrier;
        int64_t block;
    };

    int first() const { return cfg_.descending ? n_ - 1 : 0; }
    int next(int tid) const { return cfg_.descending ? tid - 1 : tid + 1; }
    bool baton() const { return cfg_.schedule == kBaton; }

    static void hook(void* c) {
        ThreadCtx* ctx = static_cast<ThreadCtx*>(c);
        const int index = ctx->next_barrier++;
        if (index == ctx->team->cfg_.drop_barrier) return;  // fault injection (tests only)
        if (ctx->team->cfg_.jitter && (ctx->tid & 1))
            for (int i = 0; i < 4; ++i) std::this_thread::yield();
        ctx->team->arrive(*ctx, index, nullptr);
    }

    void wait_turn(std::unique_lock<std::mutex>& lk, int tid) {
        turn_cv_[static_cast<std::size_t>(tid)].wait(lk, [&] { return turn_ == tid || broken_; });
    }

    // After a barrier mismatch the threads no longer agree on where they are: stop synchronizing
    // (instead of deadlocking) and let every thread run to its end; the error is already recorded.
    void break_team() {
        broken_ = true;
        all_cv_.notify_all();
        for (auto& cv : turn_cv_) cv.notify_all();
    }

    void pass_turn(int to) {
        turn_ = to;
        if (to >= 0 && to < n_) turn_cv_[static_cast<std::size_t>(to)].notify_one();
    }

    // One arrival at a barrier episode; the last arrival runs `completion` (under the lock) and
    // releases the others. All arrivals of an episode must name the same barrier.
    void arrive(const ThreadCtx& ctx, int index, const std::function<void()>& completion) {
        std::unique_lock<std::mutex> lk(mu_);
        if (broken_) return;
        if (count_ == 0) {
            expected_ = index;
        } else if (index != expected_) {
            auto name = [](int i) {
                return i == kStart ? std::string("block start")
                       : i <= kEndBase ? "block end after " + std::to_string(kEndBase - i) + " barriers"
                                       : "barrier " + std::to_string(i);
            };
            report("block " + std::to_string(ctx.block) + ": thread " + std::to_string(ctx.tid) + " reached " +
                   name(index) + " while another thread waits at " + name(expected_));
            break_team();
            return;
        }
        if (++count_ == n_) {
            count_ = 0;
            ++generation_;
            if (completion) completion();
            if (baton()) {
                pass_turn(first());
                if (turn_ != ctx.tid) wait_turn(lk, ctx.tid);
            } else {
                all_cv_.notify_all();
            }
            return;
        }
        if (baton()) {
            pass_turn(next(ctx.tid));
            wait_turn(lk, ctx.tid);
        } else {
            const uint64_t gen = generation_;
            all_cv_.wait(lk, [&] { return generation_ != gen || broken_; });
        }
    }

    void worker(int tid, int64_t blocks, const Body& body, const Hook& before, const Hook& after) {
        ThreadCtx ctx{this, tid, 0, 0};
        sg3::host_barrier_hook = {&Team::hook, &ctx};
        if (baton()) {
            std::unique_lock<std::mutex> lk(mu_);
            wait_turn(lk, tid);
        }
        for (int64_t b = 0; b < blocks; ++b) {
            ctx.block = b;
            arrive(ctx, kStart, [&] { before(b); });
            ctx.next_barrier = 0;
            body(b, tid);
            const int reached = ctx.next_barrier;
            arrive(ctx, kEndBase - reached, [&] {
                g_barriers = reached;
                after(b);
            });
        }
        sg3::host_barrier_hook = {nullptr, nullptr};
        if (baton()) {  // let the next thread leave too
            std::lock_guard<std::mutex> lk(mu_);
            pass_turn(next(tid));
        }
    }

    Config cfg_;
    int n_;
    std::mutex mu_;
    std::condition_variable all_cv_;
    std::vector<std::condition_variable> turn_cv_;
    int count_ = 0;
    int expected_ = 0;
    uint64_t generation_ = 0;
    int turn_ = 0;
    bool broken_ = false;
};

void begin_run() {
    std::lock_guard<std::mutex> lk(g_error_mu);
    g_error.clear();
    g_barriers = 0;
}

int end_run() {
    std::lock_guard<std::mutex> lk(g_error_mu);
    return g_error.empty() ? sg3::kOk : kEmulationError;
}

int threads_per_block() { return g_cfg.threads < 1 ? 1 : g_cfg.threads; }

// The .cu launcher's grid cap, unless the test configured its own (to make grid-stride loops wrap).
int64_t grid_cap(int64_t cu_cap) { return g_cfg.max_blocks > 0 ? g_cfg.max_blocks : cu_cap; }

// The emulated launch every op shares: `blocks` blocks on the configured threads, each with `smem_floats` of
// shared memory poisoned before and guard-checked after the block; body(block, tid, nthreads, smem).
template <typename Body>
int run_grid(int64_t blocks, int smem_floats, Body body) {
    Team team(g_cfg);
    const int nt = threads_per_block();
    Smem smem(smem_floats);
    team.run(
        blocks, [&](int64_t blk, int tid) { body(blk, tid, nt, smem.data()); }, [&](int64_t) { smem.poison(); },
        [&](int64_t blk) { smem.check_guards(blk); });
    return end_run();
}

// upfirdn2d.cu's kernel body is upfirdn_block: filter staging, barrier, grid-stride loop.
template <typename T>
int run_upfirdn2d(const sg3::UpfirdnParams& p, const T* x, const float* f, T* y) {
    if (sg3::upfirdn_total(p) <= 0) return sg3::kOk;
    const int stage = sg3::upfirdn_stage_filter(p) ? 1 : 0;
    const int64_t blocks = sg3::upfirdn_blocks(p, threads_per_block(), grid_cap(sg3::kUpfirdnMaxBlocks));
    return run_grid(blocks, stage ? sg3::upfirdn_filter_floats(p) : 0, [&](int64_t blk, int tid, int nt, float* s) {
        sg3::upfirdn_block(p, x, f, y, stage, blk, blocks, tid, nt, s);
    });
}

// bias_act.cu's kernel body is bias_act_block: grid-stride loop, no shared memory.
template <typename T>
int run_bias_act(const sg3::BiasActParams& p, const T* x, const float* b, T* y) {
    if (p.numel <= 0) return sg3::kOk;
    const int64_t blocks = sg3::bias_act_blocks(p, threads_per_block(), grid_cap(sg3::kBiasActMaxBlocks));
    return run_grid(blocks, 0, [&](int64_t blk, int tid, int nt, float*) {
        sg3::bias_act_block(p, x, b, y, blk, blocks, tid, nt);
    });
}

// filtered_lrelu.cu's kernel is flrelu_block itself: one block per (plane, tile).
template <typename T>
int run_filtered_lrelu(const sg3::FlreluParams& p, int variant, const T* x, const float* fu, const float* fd,
                       const float* b, T* y) {
    return run_grid(p.planes * p.tiles_x * p.tiles_y, p.smem_floats, [&](int64_t blk, int tid, int nt, float* s) {
        if (variant == sg3::kUp2Down2Taps12)
            sg3::flrelu_block<T, 2, 2, 12, 12>(p, x, y, fu, fd, b, blk, tid, nt, s);
        else if (variant == sg3::kUp4Down2Taps24x12)
            sg3::flrelu_block<T, 4, 2, 24, 12>(p, x, y, fu, fd, b, blk, tid, nt, s);
        else
            sg3::flrelu_block<T>(p, x, y, fu, fd, b, blk, tid, nt, s);
    });
}

// filtered_lrelu_sep.cu's kernel is flrelu_sep_block: one block per (plane, tile) of the blocked geometry.
template <typename T>
int run_filtered_lrelu_sep(const sg3::FlreluParams& p, const sg3::FlreluSepGeom& g, int variant, const T* x,
                           const float* fu, const float* fd, const float* b, T* y) {
    return run_grid(p.planes * g.tiles_x * g.tiles_y, g.smem_floats, [&](int64_t blk, int tid, int nt, float* s) {
        switch (variant) {
            case sg3::kSepUp2Down2Taps12:
                sg3::flrelu_sep_block<T, 2, 2, 12, 12, false>(p, g, x, y, fu, fd, b, blk, tid, nt, s);
                break;
            case sg3::kSepUp4Down2Taps24x12:
                sg3::flrelu_sep_block<T, 4, 2, 24, 12, false>(p, g, x, y, fu, fd, b, blk, tid, nt, s);
                break;
            case sg3::kSepUp2Down2Taps12Fd2d:
                sg3::flrelu_sep_block<T, 2, 2, 12, 12, true>(p, g, x, y, fu, fd, b, blk, tid, nt, s);
                break;
            default:
                sg3::flrelu_sep_block<T, 4, 2, 24, 12, true>(p, g, x, y, fu, fd, b, blk, tid, nt, s);
                break;
        }
    });
}

enum DType : int { kFloat32 = 0, kFloat16 = 1 };

// Deliberately broken blocks, to show the emulation's own checks fire: 1 = a barrier only the even
// threads reach (divergent __syncthreads), 2 = a shared-memory write one past the end.
int run_selftest(int which) {
    constexpr int kFloats = 16;
    return run_grid(2, kFloats, [&](int64_t, int tid, int, float* s) {
        if (which == 1 && tid % 2 == 0) sg3::block_sync();
        if (which == 2 && tid == 0) s[kFloats] = 1.f;
    });
}

}  // namespace

extern "C" {

// Emulation settings for the following calls (see Config); returns 0, or 1 for a bad value.
int sg3h_configure(int threads, int schedule, int drop_barrier, int descending, int max_blocks, int jitter) {
    if (threads < 1 || threads > 1024 || (schedule != kFree && schedule != kBaton)) return 1;
    g_cfg = Config{threads, schedule, drop_barrier, descending, max_blocks, jitter};
    return 0;
}

// What the last call's emulation caught ("" = nothing), and how many barriers a block passed.
const char* sg3h_last_error() { return g_error.c_str(); }
int sg3h_last_barriers() { return g_barriers; }

int sg3h_selftest(int which) {
    begin_run();
    return run_selftest(which);
}

// Exact binary16 conversions of the emulated load/store, exposed so tests can check them.
void sg3h_half_from_float(const float* src, uint16_t* dst, long long n) {
    for (long long i = 0; i < n; ++i) dst[i] = sg3::half_bits_from_float(src[i]);
}
void sg3h_float_from_half(const uint16_t* src, float* dst, long long n) {
    for (long long i = 0; i < n; ++i) dst[i] = sg3::float_from_half_bits(src[i]);
}

// dtype: 0 float32, 1 float16 (x and y hold binary16 bits). Writes the output size to out_hw[0..1];
// computes y only when y is not null.
int sg3h_upfirdn2d(const void* x, const float* f, void* y, int dtype, long long planes, int in_h, int in_w, int upx,
                   int upy, int downx, int downy, int padx0, int padx1, int pady0, int pady1, int fw, int fh,
                   int separable, float gain, int* out_hw) {
    begin_run();
    sg3::UpfirdnParams p = sg3::upfirdn_make(planes, in_h, in_w, upx, upy, downx, downy, padx0, padx1, pady0, pady1,
                                             fw, fh, separable, gain);
    out_hw[0] = p.out_h;
    out_hw[1] = p.out_w;
    if (y == nullptr) return sg3::kOk;
    if (dtype == kFloat32)
        return run_upfirdn2d(p, static_cast<const float*>(x), f, static_cast<float*>(y));
    if (dtype == kFloat16)
        return run_upfirdn2d(p, static_cast<const sg3::HostHalf*>(x), f, static_cast<sg3::HostHalf*>(y));
    return sg3::kBadArgument;
}

int sg3h_bias_act(const void* x, const float* b, void* y, int dtype, long long numel, long long step, int bias_size,
                  int act, float alpha, float gain, float clamp) {
    begin_run();
    sg3::BiasActParams p = {numel, step, bias_size, act, alpha, gain, clamp};
    if (dtype == kFloat32) return run_bias_act(p, static_cast<const float*>(x), b, static_cast<float*>(y));
    if (dtype == kFloat16)
        return run_bias_act(p, static_cast<const sg3::HostHalf*>(x), b, static_cast<sg3::HostHalf*>(y));
    return sg3::kBadArgument;
}

// out_info: [out_h, out_w, tile_w, tile_h, smem_floats, variant]. smem_bytes bounds the tile like the GPU
// launcher; specialize = 1 uses the compile-time variant the launcher would pick (flrelu_variant);
// specialize = 2 first tries the register-blocked kernel as the binding does by default (variant reported as
// 10 + flrelu_sep_variant), falling back like specialize = 1 where it does not apply or fit.
int sg3h_filtered_lrelu(const void* x, const float* fu, const float* fd, const float* b, void* y, int dtype,
                        long long planes, int channels, int in_h, int in_w, int up, int down, int padx0, int padx1,
                        int pady0, int pady1, int fuw, int fuh, int fu_sep, int fdw, int fdh, int fd_sep,
                        int has_bias, float gain, float slope, float clamp, int smem_bytes, int specialize,
                        int* out_info) {
    begin_run();
    sg3::FlreluParams p = sg3::flrelu_make(planes, channels, in_h, in_w, up, down, padx0, padx1, pady0, pady1, fuw,
                                           fuh, fu_sep, fdw, fdh, fd_sep, has_bias, gain, slope, clamp);
    out_info[0] = p.out_h;
    out_info[1] = p.out_w;
    if (p.out_h <= 0 || p.out_w <= 0) return sg3::kOk;
    sg3::FlreluSepGeom g;
    const int sep = specialize == 2 ? sg3::flrelu_sep_variant(p) : sg3::kSepNone;
    if (sep != sg3::kSepNone && sg3::flrelu_sep_plan(p, !p.fd_sep, smem_bytes, g)) {
        out_info[2] = g.tile_w;
        out_info[3] = g.tile_h;
        out_info[4] = g.smem_floats;
        out_info[5] = 10 + sep;
        if (y == nullptr) return sg3::kOk;
        if (dtype == kFloat32)
            return run_filtered_lrelu_sep(p, g, sep, static_cast<const float*>(x), fu, fd, b, static_cast<float*>(y));
        if (dtype == kFloat16)
            return run_filtered_lrelu_sep(p, g, sep, static_cast<const sg3::HostHalf*>(x), fu, fd, b,
                                          static_cast<sg3::HostHalf*>(y));
        return sg3::kBadArgument;
    }
    if (!sg3::flrelu_plan(p, smem_bytes)) return sg3::kTooLarge;
    const int variant = specialize ? sg3::flrelu_variant(p) : sg3::kGeneric;
    out_info[2] = p.tile_w;
    out_info[3] = p.tile_h;
    out_info[4] = p.smem_floats;
    out_info[5] = variant;
    if (y == nullptr) return sg3::kOk;
    if (dtype == kFloat32)
        return run_filtered_lrelu(p, variant, static_cast<const float*>(x), fu, fd, b, static_cast<float*>(y));
    if (dtype == kFloat16)
        return run_filtered_lrelu(p, variant, static_cast<const sg3::HostHalf*>(x), fu, fd, b,
                                  static_cast<sg3::HostHalf*>(y));
    return sg3::kBadArgument;
}

}  // extern "C"

// ---------------------------------------------------------------------------------------------------
// Backward kernels (bias_act_grad.h, filtered_lrelu_grad.h): their kernel bodies on the emulated launch, so the
// self-check's backward part can be tested with the extension's own code (tests/ops/test_selfcheck.py).
#include "bias_act_grad.h"
#include "filtered_lrelu_grad.h"

namespace {

template <typename T>
int run_bias_act_grad(const sg3::BiasActParams& p, const T* dy, const T* x, const float* b, T* dx) {
    if (p.numel <= 0) return sg3::kOk;
    const int64_t blocks = sg3::bias_act_blocks(p, threads_per_block(), grid_cap(sg3::kBiasActMaxBlocks));
    return run_grid(blocks, 0, [&](int64_t blk, int tid, int nt, float*) {
        sg3::bias_act_grad_block(p, dy, x, b, dx, blk, blocks, tid, nt);
    });
}

template <typename T>
int run_flrelu_act(const sg3::FlreluActParams& p, const T* u, T* a, uint8_t* code) {
    if (p.numel <= 0) return sg3::kOk;
    const int64_t blocks = sg3::flrelu_act_blocks(p.numel, threads_per_block(), grid_cap(sg3::kFlreluActMaxBlocks));
    return run_grid(blocks, 0, [&](int64_t blk, int tid, int nt, float*) {
        sg3::flrelu_act_block(p, u, a, code, blk, blocks, tid, nt);
    });
}

template <typename T>
int run_flrelu_act_grad(const sg3::FlreluActParams& p, const T* da, const uint8_t* code, T* du) {
    if (p.numel <= 0) return sg3::kOk;
    const int64_t blocks = sg3::flrelu_act_blocks(p.numel, threads_per_block(), grid_cap(sg3::kFlreluActMaxBlocks));
    return run_grid(blocks, 0, [&](int64_t blk, int tid, int nt, float*) {
        sg3::flrelu_act_grad_block(p, da, code, du, blk, blocks, tid, nt);
    });
}

}  // namespace

extern "C" {

int sg3h_bias_act_grad(const void* dy, const void* x, const float* b, void* dx, int dtype, long long numel,
                       long long step, int bias_size, int act, float alpha, float gain, float clamp) {
    begin_run();
    sg3::BiasActParams p = {numel, step, bias_size, act, alpha, gain, clamp};
    if (dtype == kFloat32)
        return run_bias_act_grad(p, static_cast<const float*>(dy), static_cast<const float*>(x), b,
                                 static_cast<float*>(dx));
    if (dtype == kFloat16)
        return run_bias_act_grad(p, static_cast<const sg3::HostHalf*>(dy), static_cast<const sg3::HostHalf*>(x), b,
                                 static_cast<sg3::HostHalf*>(dx));
    return sg3::kBadArgument;
}

int sg3h_filtered_lrelu_act(const void* u, void* a, uint8_t* code, int dtype, long long numel, float gain, float slope,
                            float clamp) {
    begin_run();
    const sg3::FlreluActParams p = {numel, gain, slope, clamp};
    if (dtype == kFloat32) return run_flrelu_act(p, static_cast<const float*>(u), static_cast<float*>(a), code);
    if (dtype == kFloat16)
        return run_flrelu_act(p, static_cast<const sg3::HostHalf*>(u), static_cast<sg3::HostHalf*>(a), code);
    return sg3::kBadArgument;
}

int sg3h_filtered_lrelu_act_grad(const void* da, const uint8_t* code, void* du, int dtype, long long numel, float gain,
                                 float slope) {
    begin_run();
    const sg3::FlreluActParams p = {numel, gain, slope, -1.f};
    if (dtype == kFloat32) return run_flrelu_act_grad(p, static_cast<const float*>(da), code, static_cast<float*>(du));
    if (dtype == kFloat16)
        return run_flrelu_act_grad(p, static_cast<const sg3::HostHalf*>(da), code, static_cast<sg3::HostHalf*>(du));
    return sg3::kBadArgument;
}

}  // extern "C"

#ifdef SG3H_RACE_MAIN
// Stand-alone driver for ThreadSanitizer (tests/test_cuda_build.py builds it with -fsanitize=thread):
// runs each op's block code on the free schedule, `threads` threads per block, optionally with one
// barrier dropped. Usage: harness THREADS DROP_BARRIER. Exit status: 0, or 1 if a call failed
// (ThreadSanitizer uses its own status, 66, when it reports a race).
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
    const int threads = argc > 1 ? std::atoi(argv[1]) : 8;
    const int drop = argc > 2 ? std::atoi(argv[2]) : -1;
    uint32_t seed = 12345u;
    auto fill = [&](std::vector<float>& v) {
        for (float& e : v) e = static_cast<float>((seed = seed * 1664525u + 1013904223u) >> 8) / 16777216.f - 0.5f;
    };
    std::vector<float> x(2 * 3 * 21 * 19), fu(24 * 24), fd(12 * 12), b(3);
    fill(x);
    fill(fu);
    fill(fd);
    fill(b);
    int failures = 0;
    // up, fu taps, fu separable, fd taps, fd separable, shared-memory budget, specialize (2 = blocked kernel)
    const int cases[][7] = {{4, 24, 1, 12, 1, 48 * 1024, 1}, {2, 12, 0, 12, 0, 8 * 1024, 1},
                            {4, 24, 1, 12, 0, 4 * 1024, 1},  {2, 6, 0, 3, 1, 2 * 1024, 1},
                            {4, 24, 1, 12, 1, 48 * 1024, 2}, {2, 12, 1, 12, 0, 48 * 1024, 2}};
    for (const auto& c : cases) {
        int info[6];
        auto call = [&](float* y) {
            return sg3h_filtered_lrelu(x.data(), fu.data(), fd.data(), b.data(), y, 0, 6, 3, 21, 19, c[0], 2, 5, 4, 5,
                                       4, c[1], c[1], c[2], c[3], c[3], c[4], 1, 1.4f, 0.2f, 2.5f, c[5], c[6], info);
        };
        call(nullptr);
        std::vector<float> y(static_cast<std::size_t>(6) * info[0] * info[1]);
        sg3h_configure(threads, kFree, drop, 0, 0, 1);
        const int rc = call(y.data());
        std::printf("filtered_lrelu up %d fu %d%s fd %d%s%s: rc %d %s\n", c[0], c[1], c[2] ? "" : "x2-D", c[3],
                    c[4] ? "" : "x2-D", info[5] >= 10 ? " blocked" : "", rc, sg3h_last_error());
        failures += rc != 0;
    }
    int hw[2];
    sg3h_upfirdn2d(x.data(), fd.data(), nullptr, 0, 6, 21, 19, 2, 2, 1, 1, 6, 5, 6, 5, 12, 12, 0, 1.f, hw);
    std::vector<float> y(static_cast<std::size_t>(6) * hw[0] * hw[1]);
    sg3h_configure(threads, kFree, drop, 0, 2, 1);
    int rc = sg3h_upfirdn2d(x.data(), fd.data(), y.data(), 0, 6, 21, 19, 2, 2, 1, 1, 6, 5, 6, 5, 12, 12, 0, 1.f, hw);
    std::printf("upfirdn2d: rc %d %s\n", rc, sg3h_last_error());
    failures += rc != 0;
    rc = sg3h_bias_act(x.data(), b.data(), y.data(), 0, static_cast<long long>(x.size()), 21 * 19, 3, 2, 0.2f, 1.4f,
                       -1.f);
    std::printf("bias_act: rc %d %s\n", rc, sg3h_last_error());
    failures += rc != 0;
    return failures ? 1 : 0;
}
#endif
