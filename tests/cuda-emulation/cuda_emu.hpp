// CUDA-on-CPU emulation for checking kernel LOGIC without a GPU: lets g++ (-std=c++20, x86-64 Linux) compile a
// kernel .cu file (src/Aim.Engine.Cuda/Kernels) as ordinary C++ and run its launches with emu::launch. A developer
// tool (tests/cuda-emulation/README.md), not part of the engine or of CI.
//
// API
//   emu::launch(dim3 grid, dim3 block, size_t dynamicSharedBytes, kernel, args...)   runs a launch to completion
//   emu::dynamic_shared()   the running block's dynamic shared memory;   emu::stats()   counters (blocks, barriers,
//   tf32_unrounded);   EMU_STACK_KB (environment)   stack per thread. Errors print the block and thread, then abort.
//
// Execution model
//   * Fibers rather than one std::thread per CUDA thread: the SSD backward alone crosses ~7 million warp barriers,
//     which OS threads on a 2-core machine would make minutes of context switches; fibers also make runs repeatable.
//   * emu::launch: blocks run one after another (x fastest, then y, z). Every thread of a block is a cooperative fiber
//     with its own stack (EMU_STACK_KB, default 256 KiB, guard page below) on the one OS thread; a fiber runs until
//     it reaches a barrier (__syncthreads, a warp-collective call) or returns. Scheduling is deterministic: threads
//     run in linear-id order between barriers. Because one block runs at a time, `__shared__` is `static`.
//   * __syncthreads releases when every thread that has not returned waits at it (as hardware counts only live
//     threads). Threads still waiting at a warp-collective whose lanes sit at __syncthreads = deadlock: reported.
//   * Warp collectives (__syncwarp, __shfl*_sync, __ballot_sync, __any/__all_sync) wait until every lane of the
//     mask (restricted to lanes that exist in the block) has arrived with the same mask; a mask naming a lane that
//     has returned, or lanes of one warp in different collectives, are reported as errors. Shuffles follow the
//     CUDA width/segment rules; reading a lane outside the mask is reported as an error (undefined on hardware).
//   * extern __shared__ (dynamic shared memory): g++ cannot compile `extern static`, so emu_prep.sh rewrites
//     `extern __shared__ [__align__(n)] T name[];` (one line) into a pointer to emu::dynamic_shared(), a 128-byte
//     aligned buffer of EMU_MAX_DYNAMIC_SHARED bytes that the launcher fills with 0xFF bytes (float NaN) before
//     every block. Static __shared__ is NOT poisoned: it keeps the previous block's values.
//   * Atomics are plain read-modify-writes (fibers never interleave inside one call), so they are exact.
//   * volatile reads are real loads and every switch between fibers is an opaque call, so each fiber sees all
//     earlier writes of the others: the memory is sequentially consistent and __threadfence() is a no-op. Missing
//     fences (or volatile) are therefore NOT detected; ordering mistakes show only where a barrier is missing.
//
// Numerics
//   * Compile with -ffp-contract=off -fno-strict-aliasing: no FMA contraction on the CPU, where nvcc/NVRTC fuse
//     a*b+c by default, so results differ from the GPU at the level of fp32 rounding (not of logic).
//   * __expf/__logf/__fdividef/rsqrtf and the other approximate intrinsics are computed with the exact libm
//     functions; expf/logf/tanhf... come from glibc (within an ulp or two of CUDA's).
//   * __float2bfloat16 rounds to nearest even (NaN stays NaN); wmma::__float_to_tf32 rounds to 10 mantissa bits,
//     to nearest with ties away from zero (cvt.rna.tf32.f32), keeping the float32 exponent.
//   * __nv_bfloat16 converts implicitly to and from float; arithmetic on it therefore happens in float and is NOT
//     rounded back to bf16 until stored (CUDA's bf16 operators return bf16): write explicit conversions. No __half.
//
// nvcuda::wmma (include <mma.h>, which tests/cuda-emulation/include maps to this header)
//   * fragment<matrix_a|matrix_b|accumulator, M, N, K, T, layout>: T = wmma::precision::tf32 (16,16,8; storage
//     float), __nv_bfloat16 (16,16,16 / 32,8,16 / 8,32,16; storage __nv_bfloat16), float (accumulator).
//   * EVERY LANE HOLDS THE WHOLE TILE: num_elements = rows·cols and x[i·cols + j] is element (i, j). Real code may
//     only apply the same elementwise operation to every x[i] (e.g. __float_to_tf32, scaling by one scalar); code
//     that relies on which lane holds which element (per-row scaling through x[]) is NOT checked and gives wrong
//     answers here. Loads and stores read/write the whole tile from every lane (so a missing __syncwarp between a
//     store and another lane's read is not detected).
//   * load_matrix_sync / store_matrix_sync check ldm (a multiple of 16 bytes) and the pointer (32-byte aligned),
//     and abort otherwise, as the CUDA programming guide requires.
//   * mma_sync: d = a·b + c, accumulated in float32 with one fmaf per k in increasing k (the tensor core's order
//     and internal rounding differ: expect differences at the fp32 rounding level). tf32 operands are truncated
//     to tf32 (low 13 bits dropped) inside mma_sync, on the assumption that the tensor core reads only the upper
//     19 bits; emu::stats().tf32_unrounded counts operands that were not already tf32 (forgot __float_to_tf32).
//     bf16 products are exact in float.
//   * Warp participation in wmma calls is not checked (every lane computes independently).
//
// Not emulated: lane layouts of fragments, the memory model (caches, visibility order, races beyond barrier
// placement), timing, occupancy, register/shared-memory limits of the hardware (only the dynamic-shared-memory size
// is checked), streams, cooperative groups and cooperative launches (grid-wide waiting: blocks run one after
// another), warp-synchronous code that omits __syncwarp (lanes do NOT run in lock step here: a fiber runs ahead
// until its next barrier).
#pragma once

#if !defined(__x86_64__) || !defined(__linux__)
#error "cuda_emu.hpp: the fiber switch is written for x86-64 Linux"
#endif

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>
#include <sys/mman.h>

// ------------------------------------------------------------------------------------------- vector types

struct uint3 { unsigned int x, y, z; };
struct dim3
{
    unsigned int x, y, z;
    constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
};
struct alignas(8) float2 { float x, y; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) int2 { int x, y; };
struct alignas(16) int4 { int x, y, z, w; };
struct alignas(8) uint2 { unsigned int x, y; };
struct alignas(16) uint4 { unsigned int x, y, z, w; };
struct alignas(16) double2 { double x, y; };
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
inline double2 make_double2(double x, double y) { return {x, y}; }

// ------------------------------------------------------------------------------------------- fibers

extern "C" void emu_ctx_switch(void** save_sp, void* to_sp);
// Saves the callee-saved registers, MXCSR and the x87 control word on the current stack, stores the stack pointer
// in *save_sp, then restores the same from to_sp. Weak so that several translation units may include this header.
__asm__(R"(
    .text
    .weak emu_ctx_switch
    .type emu_ctx_switch, @function
emu_ctx_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size emu_ctx_switch, .-emu_ctx_switch
)");

namespace emu
{
/// Counters a runner may print.
struct Stats
{
    unsigned long long blocks = 0, threads = 0, block_barriers = 0, warp_barriers = 0;
    unsigned long long tf32_unrounded = 0; // mma_sync tf32 operands whose low 13 bits were not zero
};
inline Stats& stats()
{
    static Stats s;
    return s;
}

#ifndef EMU_MAX_DYNAMIC_SHARED
#define EMU_MAX_DYNAMIC_SHARED (227 * 1024) // the H100/H200 opt-in maximum per block
#endif

namespace detail
{
enum class St { Runnable, BlockWait, WarpWait, Done };

struct Fiber
{
    void* sp = nullptr;
    unsigned char* stack = nullptr; // mapping base (guard page first)
    size_t mapped = 0;
    uint3 tidx{};
    unsigned linear = 0;
    St state = St::Done;
    unsigned wait_mask = 0;
    int wait_kind = 0; // which warp collective: 1 __syncwarp, 2/3 the two phases of an exchange (shuffle, ballot)
};

struct Block
{
    std::vector<Fiber> fibers;
    unsigned count = 0;
    uint3 idx{};
    unsigned char* shared = nullptr;       // dynamic shared memory: EMU_MAX_DYNAMIC_SHARED bytes, 128-byte aligned
    void* sched_sp = nullptr;
    void (*body)(void*) = nullptr;
    void* ctx = nullptr;
    std::vector<unsigned long long> slots; // 32 per warp, shuffle exchange
    std::vector<unsigned> mma_stage;       // 32 warps × 32 lanes × 6 registers (mma_tf32_16x8x8)
};

inline unsigned char* alloc_shared()
{
    void* p = std::aligned_alloc(128, (EMU_MAX_DYNAMIC_SHARED + 127) / 128 * 128);
    if (!p)
    {
        std::fprintf(stderr, "cuda_emu: out of memory for dynamic shared memory\n");
        std::abort();
    }
    return static_cast<unsigned char*>(p);
}

// The one block of emu::launch: blocks run in it one after another.
inline Block& block()
{
    static Block b = [] { Block x; x.shared = alloc_shared(); return x; }();
    return b;
}
inline Fiber* g_cur = nullptr;
inline uint3 g_blockIdx{};
inline dim3 g_blockDim{};
inline dim3 g_gridDim{};
} // namespace detail

/// The dynamic shared memory of the running block (see emu_prep.sh).
inline unsigned char* dynamic_shared() { return detail::block().shared; }

namespace detail
{
[[noreturn]] inline void fail(const char* what)
{
    if (g_cur)
        std::fprintf(stderr, "cuda_emu: %s (block %u,%u,%u thread %u,%u,%u)\n", what, g_blockIdx.x, g_blockIdx.y,
                     g_blockIdx.z, g_cur->tidx.x, g_cur->tidx.y, g_cur->tidx.z);
    else std::fprintf(stderr, "cuda_emu: %s\n", what);
    std::fflush(stderr);
    std::abort();
}

inline size_t stack_bytes()
{
    static size_t n = [] {
        const char* e = std::getenv("EMU_STACK_KB");
        size_t kb = e ? std::strtoul(e, nullptr, 10) : 256;
        return std::max<size_t>(kb, 64) * 1024;
    }();
    return n;
}

[[noreturn]] inline void fiber_entry()
{
    Block& b = block();
    b.body(b.ctx);
    g_cur->state = St::Done;
    emu_ctx_switch(&g_cur->sp, b.sched_sp);
    fail("a finished fiber was resumed");
}

// Gives control back to the scheduler; the fiber continues when it is released.
inline void yield_to_scheduler()
{
    Fiber* self = g_cur;
    emu_ctx_switch(&self->sp, block().sched_sp);
    g_cur = self;
}

inline unsigned lane_id() { return g_cur->linear & 31u; }
inline unsigned warp_id() { return g_cur->linear >> 5; }

// Lanes of this thread's warp that exist in the block.
inline unsigned warp_existing(unsigned warp)
{
    unsigned first = warp * 32, n = std::min(32u, block().count - first);
    return n == 32 ? 0xffffffffu : ((1u << n) - 1u);
}

inline void warp_wait(unsigned mask, int kind)
{
    unsigned me = 1u << lane_id();
    if (!(mask & me)) fail("warp collective called by a lane that is not in its mask");
    g_cur->wait_mask = mask & warp_existing(warp_id());
    g_cur->wait_kind = kind;
    g_cur->state = St::WarpWait;
    yield_to_scheduler();
}

inline void block_wait()
{
    g_cur->state = St::BlockWait;
    yield_to_scheduler();
}

inline void init_fiber(Fiber& f)
{
    size_t bytes = stack_bytes();
    if (!f.stack)
    {
        f.mapped = bytes + 4096;
        void* m = mmap(nullptr, f.mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) fail("mmap of a fiber stack failed");
        f.stack = static_cast<unsigned char*>(m);
        mprotect(f.stack, 4096, PROT_NONE); // guard page: a stack overflow faults instead of corrupting memory
    }
    // Initial frame as emu_ctx_switch pops it: [mxcsr | x87 cw][r15 r14 r13 r12 rbx rbp][ret = fiber_entry][0].
    auto top = reinterpret_cast<uintptr_t>(f.stack + f.mapped) & ~uintptr_t(15);
    auto* p = reinterpret_cast<uint64_t*>(top);
    *--p = 0;                                                     // fake return address of fiber_entry
    *--p = reinterpret_cast<uint64_t>(&fiber_entry);              // popped by ret
    for (int i = 0; i < 6; i++) *--p = 0;                         // rbp rbx r12 r13 r14 r15
    *--p = uint64_t(0x1F80) | (uint64_t(0x037F) << 32);          // default MXCSR, x87 control word
    f.sp = p;
}

inline const char* state_name(St s)
{
    return s == St::Done ? "returned" : s == St::BlockWait ? "__syncthreads" : s == St::WarpWait ? "warp collective"
         : "runnable";
}

[[noreturn]] inline void deadlock(const char* why)
{
    Block& b = block();
    std::fprintf(stderr, "cuda_emu: %s in block %u,%u,%u; thread states:\n", why, g_blockIdx.x, g_blockIdx.y, g_blockIdx.z);
    for (unsigned i = 0; i < b.count; i++)
    {
        const Fiber& f = b.fibers[i];
        std::fprintf(stderr, "  thread %u: %s", i, state_name(f.state));
        if (f.state == St::WarpWait) std::fprintf(stderr, " mask %08x", f.wait_mask);
        std::fprintf(stderr, "\n");
    }
    g_cur = nullptr;
    fail("block cannot make progress");
}

// Prepares the block's fibers for a run of count threads.
inline void start_block(Block& b, unsigned count)
{
    if (b.fibers.size() < count) b.fibers.resize(count);
    b.count = count;
    b.slots.assign(((count + 31) / 32) * 32, 0);
    for (unsigned i = 0; i < count; i++)
    {
        Fiber& f = b.fibers[i];
        init_fiber(f);
        f.linear = i;
        f.tidx = {i % g_blockDim.x, (i / g_blockDim.x) % g_blockDim.y, i / (g_blockDim.x * g_blockDim.y)};
        f.state = St::Runnable;
        f.wait_mask = 0;
    }
    stats().blocks++;
    stats().threads += count;
}

// Runs one block (of emu::launch; g_blockIdx already points at it) to completion: its runnable threads in linear-id
// order until each reaches a barrier or returns; then it releases complete warp groups, else the block barrier, and
// goes on. Errors within the block (divergent warps, warp collectives against __syncthreads) abort.
inline void run_block(unsigned count)
{
    Block& b = block();
    start_block(b, count);
    for (;;)
    {
        for (unsigned i = 0; i < count; i++)
        {
            Fiber& f = b.fibers[i];
            if (f.state != St::Runnable) continue;
            g_cur = &f;
            emu_ctx_switch(&b.sched_sp, f.sp);
            g_cur = nullptr;
        }
        // Everyone is done or waiting: release complete warp groups first, else the block barrier.
        bool released = false, anyBlock = false, anyWarp = false;
        for (unsigned w = 0; w * 32 < count; w++)
        {
            for (unsigned l = 0; l < 32 && w * 32 + l < count; l++)
            {
                Fiber& f = b.fibers[w * 32 + l];
                if (f.state != St::WarpWait) continue;
                unsigned mask = f.wait_mask;
                bool complete = true;
                for (unsigned k = 0; k < 32; k++)
                {
                    if (!(mask & (1u << k))) continue;
                    Fiber& o = b.fibers[w * 32 + k];
                    if (o.state == St::Done)
                    {
                        g_cur = &f;
                        fail("warp collective whose mask names a lane that has returned");
                    }
                    if (o.state != St::WarpWait) { complete = false; break; }
                    if (o.wait_mask != mask)
                    {
                        g_cur = &f;
                        fail("lanes of one warp wait in warp collectives with different masks");
                    }
                    if (o.wait_kind != f.wait_kind)
                    {
                        g_cur = &f;
                        fail("lanes of one warp wait in different warp collectives (e.g. __syncwarp against a shuffle)");
                    }
                }
                if (!complete) continue;
                for (unsigned k = 0; k < 32; k++)
                    if (mask & (1u << k)) b.fibers[w * 32 + k].state = St::Runnable;
                stats().warp_barriers++;
                released = true;
            }
        }
        if (released) continue;
        unsigned done = 0;
        for (unsigned i = 0; i < count; i++)
        {
            St s = b.fibers[i].state;
            done += s == St::Done;
            anyBlock |= s == St::BlockWait;
            anyWarp |= s == St::WarpWait;
        }
        if (done == count) return;
        if (anyWarp) deadlock(anyBlock ? "threads wait at __syncthreads while lanes of their warps wait in a warp collective" : "warp collective never completes");
        for (unsigned i = 0; i < count; i++)
            if (b.fibers[i].state == St::BlockWait) b.fibers[i].state = St::Runnable;
        stats().block_barriers++;
    }
}

template <typename T> inline unsigned long long to_bits(T v)
{
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "shuffle of a type larger than 8 bytes");
    unsigned long long u = 0;
    std::memcpy(&u, &v, sizeof(T));
    return u;
}
template <typename T> inline T from_bits(unsigned long long u)
{
    T v;
    std::memcpy(&v, &u, sizeof(T));
    return v;
}

// Publishes v, waits for the mask, reads lane src (or returns v when src < 0), waits again.
template <typename T> inline T exchange(unsigned mask, T v, int src)
{
    Block& b = block();
    unsigned w = warp_id();
    b.slots[w * 32 + lane_id()] = to_bits(v);
    warp_wait(mask, 2);
    T r = v;
    if (src >= 0)
    {
        if (!(g_cur->wait_mask & (1u << src))) fail("shuffle reads a lane outside its mask (undefined on hardware)");
        r = from_bits<T>(b.slots[w * 32 + src]);
    }
    warp_wait(mask, 3);
    return r;
}

inline void check_width(int width)
{
    if (width < 1 || width > 32 || (width & (width - 1))) fail("shuffle width must be a power of two in [1, 32]");
}
} // namespace detail

namespace detail
{
inline void check_launch(dim3 grid, dim3 block, size_t dynamicSharedBytes, const char* who)
{
    char msg[160];
    unsigned long long threads = (unsigned long long)block.x * block.y * block.z;
    const char* bad = threads == 0 || threads > 1024 ? "block size must be 1..1024 threads"
                    : grid.x == 0 || grid.y == 0 || grid.z == 0 ? "empty grid"
                    : grid.y > 65535 || grid.z > 65535 ? "grid.y and grid.z are at most 65535"
                    : dynamicSharedBytes > EMU_MAX_DYNAMIC_SHARED ? "dynamic shared memory above EMU_MAX_DYNAMIC_SHARED"
                    : nullptr;
    if (!bad) return;
    std::snprintf(msg, sizeof msg, "%s: %s", who, bad);
    fail(msg);
}

} // namespace detail

/// Runs kernel over grid × block: blocks one after another, each thread a fiber. Arguments are converted to the
/// kernel's parameter types once (as cuLaunchKernel copies the parameter buffer) and every thread gets copies.
template <typename... Params, typename... Args>
void launch(dim3 grid, dim3 block, size_t dynamicSharedBytes, void (*kernel)(Params...), Args&&... args)
{
    static_assert(sizeof...(Params) == sizeof...(Args), "emu::launch: argument count differs from the kernel's");
    using namespace detail;
    if (g_cur) fail("launch: called from inside a launch");
    check_launch(grid, block, dynamicSharedBytes, "launch");
    unsigned long long threads = (unsigned long long)block.x * block.y * block.z;
    std::tuple<std::decay_t<Params>...> params(std::forward<Args>(args)...);
    struct Ctx { void (*k)(Params...); std::tuple<std::decay_t<Params>...>* p; } ctx{kernel, &params};
    Block& b = detail::block(); // qualified: the parameter `block` hides the function
    b.ctx = &ctx;
    b.body = [](void* c) {
        auto* x = static_cast<Ctx*>(c);
        auto copy = *x->p;
        std::apply(x->k, copy);
    };
    g_gridDim = grid;
    g_blockDim = block;
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++)
            {
                g_blockIdx = {x, y, z};
                b.idx = g_blockIdx;
                std::memset(b.shared, 0xFF, EMU_MAX_DYNAMIC_SHARED);
                run_block((unsigned)threads);
            }
}
} // namespace emu

// ------------------------------------------------------------------------------------------- CUDA keywords

#define __global__
#define __device__
#define __host__
#define __constant__
#define __grid_constant__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
#define __shared__ static
#define threadIdx (::emu::detail::g_cur->tidx)
#define blockIdx (::emu::detail::g_blockIdx)
#define blockDim (::emu::detail::g_blockDim)
#define gridDim (::emu::detail::g_gridDim)
inline constexpr int warpSize = 32;

inline void __syncthreads() { ::emu::detail::block_wait(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { ::emu::detail::warp_wait(mask, 1); }
template <typename T> inline T __ldg(const T* p) { return *p; }
inline void __threadfence() {}
inline void __threadfence_block() {}
inline unsigned __activemask()
{
    using namespace emu::detail;
    unsigned m = 0, w = warp_id();
    for (unsigned k = 0; k < 32 && w * 32 + k < block().count; k++)
        if (block().fibers[w * 32 + k].state != St::Done) m |= 1u << k;
    return m;
}

template <typename T> inline T __shfl_sync(unsigned mask, T v, int srcLane, int width = 32)
{
    emu::detail::check_width(width);
    int lane = (int)emu::detail::lane_id(), base = lane & ~(width - 1);
    return emu::detail::exchange(mask, v, base + (srcLane & (width - 1)));
}
template <typename T> inline T __shfl_xor_sync(unsigned mask, T v, int laneMask, int width = 32)
{
    emu::detail::check_width(width);
    int lane = (int)emu::detail::lane_id(), maxLane = (lane & ~(width - 1)) + width - 1;
    int src = lane ^ laneMask;
    return emu::detail::exchange(mask, v, src > maxLane ? -1 : src);
}
template <typename T> inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32)
{
    emu::detail::check_width(width);
    int lane = (int)emu::detail::lane_id(), maxLane = (lane & ~(width - 1)) + width - 1;
    int src = lane + (int)delta;
    return emu::detail::exchange(mask, v, src > maxLane ? -1 : src);
}
template <typename T> inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32)
{
    emu::detail::check_width(width);
    int lane = (int)emu::detail::lane_id(), minLane = lane & ~(width - 1);
    int src = lane - (int)delta;
    return emu::detail::exchange(mask, v, src < minLane ? -1 : src);
}
inline unsigned __ballot_sync(unsigned mask, int pred)
{
    using namespace emu::detail;
    Block& b = block();
    unsigned w = warp_id();
    b.slots[w * 32 + lane_id()] = pred ? 1 : 0;
    warp_wait(mask, 2);
    unsigned r = 0, m = g_cur->wait_mask;
    for (unsigned k = 0; k < 32; k++)
        if ((m & (1u << k)) && b.slots[w * 32 + k]) r |= 1u << k;
    warp_wait(mask, 3);
    return r;
}
inline int __any_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) != 0; }
inline int __all_sync(unsigned mask, int pred)
{
    unsigned r = __ballot_sync(mask, pred);
    return r == (mask & emu::detail::warp_existing(emu::detail::warp_id()));
}

// ------------------------------------------------------------------------------------------- atomics

template <typename T> inline T emu_atomic_rmw(T* p, T v, int op)
{
    T old = *p;
    *p = op == 0 ? old + v : op == 1 ? (v > old ? v : old) : (v < old ? v : old);
    return old;
}
inline int atomicAdd(int* p, int v) { return emu_atomic_rmw(p, v, 0); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return emu_atomic_rmw(p, v, 0); }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) { return emu_atomic_rmw(p, v, 0); }
inline float atomicAdd(float* p, float v) { return emu_atomic_rmw(p, v, 0); }
inline double atomicAdd(double* p, double v) { return emu_atomic_rmw(p, v, 0); }
inline int atomicMax(int* p, int v) { return emu_atomic_rmw(p, v, 1); }
inline unsigned atomicMax(unsigned* p, unsigned v) { return emu_atomic_rmw(p, v, 1); }
inline long long atomicMax(long long* p, long long v) { return emu_atomic_rmw(p, v, 1); }
inline unsigned long long atomicMax(unsigned long long* p, unsigned long long v) { return emu_atomic_rmw(p, v, 1); }
inline int atomicMin(int* p, int v) { return emu_atomic_rmw(p, v, 2); }
inline unsigned atomicMin(unsigned* p, unsigned v) { return emu_atomic_rmw(p, v, 2); }
inline long long atomicMin(long long* p, long long v) { return emu_atomic_rmw(p, v, 2); }
inline unsigned long long atomicMin(unsigned long long* p, unsigned long long v) { return emu_atomic_rmw(p, v, 2); }
template <typename T> inline T atomicCAS(T* p, T compare, T v)
{
    static_assert(std::is_integral_v<T>, "atomicCAS: integer types only");
    T old = *p;
    if (old == compare) *p = v;
    return old;
}
template <typename T> inline T atomicExch(T* p, T v)
{
    T old = *p;
    *p = v;
    return old;
}

// ------------------------------------------------------------------------------------------- math

template <typename A, typename B, typename = std::enable_if_t<std::is_arithmetic_v<A> && std::is_arithmetic_v<B>>>
inline std::common_type_t<A, B> min(A a, B b) { return b < a ? b : a; }
template <typename A, typename B, typename = std::enable_if_t<std::is_arithmetic_v<A> && std::is_arithmetic_v<B>>>
inline std::common_type_t<A, B> max(A a, B b) { return a < b ? b : a; }

inline float __int_as_float(int v) { float f; std::memcpy(&f, &v, 4); return f; }
inline int __float_as_int(float f) { int v; std::memcpy(&v, &f, 4); return v; }
inline float __uint_as_float(unsigned v) { float f; std::memcpy(&f, &v, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned v; std::memcpy(&v, &f, 4); return v; }
inline double __longlong_as_double(long long v) { double d; std::memcpy(&d, &v, 8); return d; }
inline long long __double_as_longlong(double d) { long long v; std::memcpy(&v, &d, 8); return v; }

// Correctly rounded single operations (no contraction: built with -ffp-contract=off).
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fmaf(a, b, c); }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }
inline float __double2float_rn(double d) { return (float)d; }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline double __dsqrt_rn(double a) { return std::sqrt(a); }
using std::isfinite; // CUDA's device isfinite (float and double)

// Approximate intrinsics: computed exactly here (the GPU's approximations differ in the last bits).
inline float __expf(float x) { return expf(x); }
inline float __exp10f(float x) { return exp10f(x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __log10f(float x) { return log10f(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x != x ? 0.0f : x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }

inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) { return (unsigned long long)(((unsigned __int128)a * b) >> 64); }
inline int __mulhi(int a, int b) { return (int)(((long long)a * b) >> 32); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline unsigned __brev(unsigned x)
{
    unsigned r = 0;
    for (int i = 0; i < 32; i++) r |= ((x >> i) & 1u) << (31 - i);
    return r;
}

// ------------------------------------------------------------------------------------------- bfloat16

/// cuda_bf16.h's storage type: the upper 16 bits of a float32.
struct __nv_bfloat16
{
    unsigned short __x;
    __nv_bfloat16() = default;
    __nv_bfloat16(float f);
    operator float() const { return __uint_as_float(((unsigned)__x) << 16); }
};
inline __nv_bfloat16 __float2bfloat16_rn(float f)
{
    unsigned u = __float_as_uint(f);
    __nv_bfloat16 r;
    if ((u & 0x7fffffffu) > 0x7f800000u) { r.__x = (unsigned short)((u >> 16) | 0x40u); return r; } // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    r.__x = (unsigned short)(u >> 16);
    return r;
}
inline __nv_bfloat16::__nv_bfloat16(float f) : __x(__float2bfloat16_rn(f).__x) {}
inline __nv_bfloat16 __float2bfloat16(float f) { return __float2bfloat16_rn(f); }
inline float __bfloat162float(__nv_bfloat16 v) { return (float)v; }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short u) { __nv_bfloat16 r; r.__x = u; return r; }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 v) { return v.__x; }
typedef __nv_bfloat16 nv_bfloat16;

// ------------------------------------------------------------------------------------------- wmma

namespace nvcuda::wmma
{
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };
namespace precision
{
struct tf32 {};
}

/// tf32 rounding as cvt.rna.tf32.f32: 10 explicit mantissa bits, round to nearest, ties away from zero. NaN and
/// infinity pass through; a value that rounds past the largest finite tf32 becomes infinity.
inline float __float_to_tf32(float f)
{
    unsigned u = __float_as_uint(f);
    if ((u & 0x7f800000u) == 0x7f800000u) return f;
    u = (u + 0x1000u) & 0xffffe000u; // adding half an ulp to the magnitude bits rounds ties away from zero
    return __uint_as_float(u);
}

namespace detail
{
template <typename T> struct storage { typedef T type; };
template <> struct storage<precision::tf32> { typedef float type; };

template <typename Use, int M, int N, int K> struct dims;
template <int M, int N, int K> struct dims<matrix_a, M, N, K> { static constexpr int rows = M, cols = K; };
template <int M, int N, int K> struct dims<matrix_b, M, N, K> { static constexpr int rows = K, cols = N; };
template <int M, int N, int K> struct dims<accumulator, M, N, K> { static constexpr int rows = M, cols = N; };

template <typename T, int M, int N, int K> constexpr bool valid_shape()
{
    if constexpr (std::is_same_v<T, precision::tf32>) return M == 16 && N == 16 && K == 8;
    else if constexpr (std::is_same_v<T, __nv_bfloat16>)
        return (M == 16 && N == 16 && K == 16) || (M == 32 && N == 8 && K == 16) || (M == 8 && N == 32 && K == 16);
    else if constexpr (std::is_same_v<T, float>)
        return (M == 16 && N == 16 && (K == 8 || K == 16)) || (M == 32 && N == 8 && K == 16) || (M == 8 && N == 32 && K == 16);
    else return false;
}

inline void check_ptr(const void* p, unsigned ldm, size_t elemBytes)
{
    if (reinterpret_cast<uintptr_t>(p) % 32 != 0) emu::detail::fail("wmma load/store: pointer is not 32-byte aligned");
    if ((ldm * elemBytes) % 16 != 0) emu::detail::fail("wmma load/store: ldm is not a multiple of 16 bytes");
}

inline float widen(float v) { return v; }
inline float widen(__nv_bfloat16 v) { return (float)v; }
} // namespace detail

/// Every lane holds the whole tile: x[i·cols + j] is element (i, j) of the (rows × cols) operand.
template <typename Use, int M, int N, int K, typename T, typename Layout = void>
class fragment
{
    static_assert(detail::valid_shape<T, M, N, K>(), "wmma emulation: unsupported fragment shape / type");
    static_assert(std::is_same_v<Use, accumulator> ? std::is_same_v<Layout, void> : (std::is_same_v<Layout, row_major> || std::is_same_v<Layout, col_major>),
                  "wmma emulation: matrix_a/matrix_b need row_major or col_major, accumulators no layout");
    static_assert(!std::is_same_v<Use, accumulator> || std::is_same_v<T, float>, "wmma emulation: float accumulators only");

public:
    typedef typename detail::storage<T>::type storage_element_type;
    typedef T element_type;
    static constexpr int rows = detail::dims<Use, M, N, K>::rows;
    static constexpr int cols = detail::dims<Use, M, N, K>::cols;
    enum { num_elements = rows * cols };
    storage_element_type x[num_elements];
};

template <typename Use, int M, int N, int K, typename T, typename L, typename V>
inline void fill_fragment(fragment<Use, M, N, K, T, L>& f, const V& v)
{
    typedef typename fragment<Use, M, N, K, T, L>::storage_element_type S;
    for (int i = 0; i < f.num_elements; i++) f.x[i] = S(v);
}

// matrix_a / matrix_b: row_major reads element (i, j) at p[i·ldm + j], col_major at p[i + j·ldm].
template <typename Use, int M, int N, int K, typename T, typename L>
inline void load_matrix_sync(fragment<Use, M, N, K, T, L>& f, const typename fragment<Use, M, N, K, T, L>::storage_element_type* p, unsigned ldm)
{
    static_assert(!std::is_same_v<Use, accumulator>, "load_matrix_sync of an accumulator needs a layout_t argument");
    typedef fragment<Use, M, N, K, T, L> F;
    detail::check_ptr(p, ldm, sizeof(*p));
    for (int i = 0; i < F::rows; i++)
        for (int j = 0; j < F::cols; j++)
            f.x[i * F::cols + j] = std::is_same_v<L, row_major> ? p[(size_t)i * ldm + j] : p[i + (size_t)j * ldm];
}

template <int M, int N, int K>
inline void load_matrix_sync(fragment<accumulator, M, N, K, float>& f, const float* p, unsigned ldm, layout_t layout)
{
    detail::check_ptr(p, ldm, sizeof(float));
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) f.x[i * N + j] = layout == mem_row_major ? p[(size_t)i * ldm + j] : p[i + (size_t)j * ldm];
}

template <int M, int N, int K>
inline void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& f, unsigned ldm, layout_t layout)
{
    detail::check_ptr(p, ldm, sizeof(float));
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
        {
            if (layout == mem_row_major) p[(size_t)i * ldm + j] = f.x[i * N + j];
            else p[i + (size_t)j * ldm] = f.x[i * N + j];
        }
}

namespace detail
{
template <typename T> inline float operand(T v)
{
    if constexpr (std::is_same_v<T, float>)
    {
        // tf32: the tensor core sees only the upper 19 bits.
        unsigned u = __float_as_uint(v);
        if (u & 0x1fffu)
        {
            emu::stats().tf32_unrounded++;
            if ((u & 0x7f800000u) != 0x7f800000u) u &= 0xffffe000u;
        }
        return __uint_as_float(u);
    }
    else return widen(v);
}
} // namespace detail

/// d = a·b + c (d may be c), float32 accumulation, one fmaf per k in increasing k.
template <int M, int N, int K, typename T, typename LA, typename LB>
inline void mma_sync(fragment<accumulator, M, N, K, float>& d, const fragment<matrix_a, M, N, K, T, LA>& a,
                     const fragment<matrix_b, M, N, K, T, LB>& b, const fragment<accumulator, M, N, K, float>& c, bool satf = false)
{
    float av[M * K], bv[K * N], out[M * N];
    for (int i = 0; i < M * K; i++) av[i] = detail::operand(a.x[i]);
    for (int i = 0; i < K * N; i++) bv[i] = detail::operand(b.x[i]);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
        {
            float acc = c.x[i * N + j];
            for (int k = 0; k < K; k++) acc = std::fmaf(av[i * K + k], bv[k * N + j], acc);
            if (satf) acc = acc != acc ? 0.0f : std::min(1.0f, std::max(0.0f, acc));
            out[i * N + j] = acc;
        }
    for (int i = 0; i < M * N; i++) d.x[i] = out[i];
}
} // namespace nvcuda::wmma

// ------------------------------------------------------------------------------------- PTX-level mma (mma.cuh)
//
// src/Aim.Engine.Cuda/Kernels/mma.cuh wraps two PTX instructions in device functions; with AIM_CUDA_EMULATION
// defined it leaves them to this header. Unlike the wmma fragments above, these ARE emulated lane by lane with the
// fragment layout of the PTX ISA for mma.m16n8k8 .tf32 (lane = 4·g + t):
//   A (16×8, row): a0 = A[g][t], a1 = A[g+8][t], a2 = A[g][t+4], a3 = A[g+8][t+4]
//   B (8×8, col):  b0 = B[t][g], b1 = B[t+4][g]
//   C, D (16×8):   d0 = D[g][2t], d1 = D[g][2t+1], d2 = D[g+8][2t], d3 = D[g+8][2t+1]
// so a kernel that puts an operand in the wrong register gets a wrong product here too. The warp's registers meet
// in a per-warp staging area between two warp barriers; each lane then forms its four outputs (fmaf over k in
// order; the tensor core reads the upper 19 bits of each operand, so the low 13 are dropped (truncation), and
// operands with low mantissa bits set are counted as unrounded).
#define AIM_CUDA_EMULATION 1

inline unsigned f32_to_tf32(float f) { return __float_as_uint(nvcuda::wmma::__float_to_tf32(f)); }

inline void mma_tf32_16x8x8(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2])
{
    using namespace emu::detail;
    unsigned w = warp_id(), lane = lane_id();
    if (w >= 32) fail("mma emulation: more than 32 warps");
    std::vector<unsigned>& stage = block().mma_stage;
    if (stage.empty()) stage.assign(32 * 32 * 6, 0);
    unsigned* staged = &stage[w * 32 * 6];           // [lane][a0..a3, b0, b1]
    for (int r = 0; r < 4; r++) staged[lane * 6 + r] = a[r];
    for (int r = 0; r < 2; r++) staged[lane * 6 + 4 + r] = b[r];
    warp_wait(0xffffffffu, 4);
    if (g_cur->wait_mask != 0xffffffffu) fail("mma.sync needs all 32 lanes of the warp");
    auto A = [&](int row, int k) {                 // lane holding A[row][k]: g = row % 8, t = k % 4
        unsigned v = staged[((row % 8) * 4 + k % 4) * 6 + (row >= 8 ? 1 : 0) + (k >= 4 ? 2 : 0)];
        if (v & 0x1fffu) emu::stats().tf32_unrounded++;
        return __uint_as_float(v & 0xffffe000u);
    };
    auto B = [&](int k, int col) {                 // lane holding B[k][col]: g = col, t = k % 4
        unsigned v = staged[(col * 4 + k % 4) * 6 + 4 + (k >= 4 ? 1 : 0)];
        if (v & 0x1fffu) emu::stats().tf32_unrounded++;
        return __uint_as_float(v & 0xffffe000u);
    };
    int g = (int)lane / 4, t = (int)lane % 4;
    int rows[4] = {g, g, g + 8, g + 8}, cols[4] = {2 * t, 2 * t + 1, 2 * t, 2 * t + 1};
    for (int r = 0; r < 4; r++)
        for (int k = 0; k < 8; k++) d[r] = fmaf(A(rows[r], k), B(k, cols[r]), d[r]);
    warp_wait(0xffffffffu, 5);                     // nobody restages before every lane has read
}

// ------------------------------------------------------------------------------------- cp.async (ssd_tiles.cuh)
//
// ssd_tiles.cuh's tile staging copies global memory to shared memory with cp.async: cp_async16 (16 bytes,
// cp.async.cg) and cp_async4 (4 bytes, cp.async.ca), each with a source size in bytes (the rest of the destination
// is zero-filled), then cp_async_commit (commit_group) and cp_async_wait<N> (wait_group N). Here the copy happens
// when it is issued and commit / wait do nothing, so a kernel that reads a staged tile before its wait is not caught;
// what is caught: a missing __syncthreads between the copies and the reads of other threads (the fibers run ahead
// as usual), a buffer refilled while other threads still read it, wrong zero-fill sizes, and misaligned addresses
// (both must be aligned to the copy size, as the PTX ISA requires: aborts).
inline void cp_async_copy(void* dst, const void* src, int size, int bytes)
{
    if (((uintptr_t)dst % size) != 0 || ((uintptr_t)src % size) != 0)
        emu::detail::fail("cp.async: a misaligned address (shared or global not aligned to the copy size)");
    if (bytes < 0 || bytes > size) emu::detail::fail("cp.async: source size outside 0..copy size");
    std::memcpy(dst, src, (size_t)bytes);
    std::memset((char*)dst + bytes, 0, (size_t)(size - bytes));
}
inline void cp_async16(float* dst, const float* src, int bytes) { cp_async_copy(dst, src, 16, bytes); }
inline void cp_async4(float* dst, const float* src, int bytes) { cp_async_copy(dst, src, 4, bytes); }
// ldmatrix.x4 (ssd_tiles.cuh's tensor-core fragment loads), emulated lane by lane: every lane publishes its row address,
// then lane 4·g + t reads 32-bit word t of row g of matrix i (the address of lane 8·i + g) into r[i]. Rows must be
// 16-byte aligned, as on the hardware.
inline void ldsm_x4(unsigned (&r)[4], const float* row)
{
    using namespace emu::detail;
    if (((uintptr_t)row % 16) != 0) fail("ldmatrix: a row address is not 16-byte aligned");
    Block& b = block();
    unsigned w = warp_id(), lane = lane_id();
    b.slots[w * 32 + lane] = (unsigned long long)(uintptr_t)row;
    warp_wait(0xffffffffu, 6);
    if (g_cur->wait_mask != 0xffffffffu) fail("ldmatrix needs all 32 lanes of the warp");
    for (int i = 0; i < 4; i++)
    {
        const float* src = reinterpret_cast<const float*>((uintptr_t)b.slots[w * 32 + 8 * i + lane / 4]);
        std::memcpy(&r[i], src + lane % 4, 4);
    }
    warp_wait(0xffffffffu, 7);
}
inline void cp_async_commit() {}
template <int N> inline void cp_async_wait() {}
