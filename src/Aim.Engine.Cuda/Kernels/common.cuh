// Shared device helpers for every kernel file: the bf16 storage type (bit conversions, round to nearest
// even as IEEE 754 and PyTorch's c10::BFloat16 do), dtype conversions, strided index descriptors and the
// grid-stride loop. Self-contained (no CUDA headers) so NVRTC needs no include paths.
#pragma once

typedef long long i64;
typedef unsigned long long u64;

// Element types as stored. bf16 is the upper half of a float32.
struct bf16 { unsigned short bits; };

__device__ __forceinline__ float bf16_to_f32(bf16 v) { return __uint_as_float(((unsigned int)v.bits) << 16); }

__device__ __forceinline__ bf16 f32_to_bf16(float f)
{
    unsigned int u = __float_as_uint(f);
    bf16 r;
    if ((u & 0x7fffffffu) > 0x7f800000u) { r.bits = (unsigned short)((u >> 16) | 0x40u); return r; } // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    r.bits = (unsigned short)(u >> 16);
    return r;
}

// Arithmetic type for each storage type: bf16 computes in float32.
template <typename T> struct compute_type { typedef T type; };
template <> struct compute_type<bf16> { typedef float type; };

__device__ __forceinline__ float load_c(const float* p, i64 i) { return p[i]; }
__device__ __forceinline__ double load_c(const double* p, i64 i) { return p[i]; }
__device__ __forceinline__ float load_c(const bf16* p, i64 i) { return bf16_to_f32(p[i]); }
__device__ __forceinline__ void store_c(float* p, i64 i, float v) { p[i] = v; }
__device__ __forceinline__ void store_c(double* p, i64 i, double v) { p[i] = v; }
__device__ __forceinline__ void store_c(bf16* p, i64 i, float v) { p[i] = f32_to_bf16(v); }

// Dtype casts follow the reference kernels: float paths go through double, bf16 rounds from float32,
// integer-to-integer goes through int64 (narrowing keeps the low bits), float-to-integer truncates.
__device__ __forceinline__ double to_f64(float v) { return (double)v; }
__device__ __forceinline__ double to_f64(double v) { return v; }
__device__ __forceinline__ double to_f64(bf16 v) { return (double)bf16_to_f32(v); }
__device__ __forceinline__ double to_f64(int v) { return (double)v; }
__device__ __forceinline__ double to_f64(i64 v) { return (double)v; }
__device__ __forceinline__ i64 to_i64(int v) { return (i64)v; }
__device__ __forceinline__ i64 to_i64(i64 v) { return v; }

template <typename D> __device__ __forceinline__ D from_f64(double v);
template <> __device__ __forceinline__ float from_f64<float>(double v) { return (float)v; }
template <> __device__ __forceinline__ double from_f64<double>(double v) { return v; }
template <> __device__ __forceinline__ bf16 from_f64<bf16>(double v) { return f32_to_bf16((float)v); }
template <> __device__ __forceinline__ int from_f64<int>(double v) { return (int)v; }
template <> __device__ __forceinline__ i64 from_f64<i64>(double v) { return (i64)v; }

template <typename T> struct is_integral_type { static const bool value = false; };
template <> struct is_integral_type<int> { static const bool value = true; };
template <> struct is_integral_type<i64> { static const bool value = true; };

// A strided view: shape and element strides of up to AIM_MAX_DIMS dimensions, row-major order.
// The host collapses mergeable dimensions first, so a contiguous tensor arrives as rank 1, stride 1.
#define AIM_MAX_DIMS 8
struct Strided
{
    int rank;
    int pad;
    i64 shape[AIM_MAX_DIMS];
    i64 stride[AIM_MAX_DIMS];
};

// q = a / b, r = a % b for an index a ≥ 0 and a divisor b > 0. 64-bit division is a long instruction sequence
// (several times the 32-bit one), and index arithmetic dominated elementwise kernels that divide per element;
// every index below 2^32 (all but the largest tensors) takes the 32-bit unsigned division.
__device__ __forceinline__ i64 index_divmod(i64 a, i64 b, i64& r)
{
    if ((unsigned long long)a <= 0xffffffffull && (unsigned long long)b <= 0xffffffffull)
    {
        unsigned ua = (unsigned)a, ub = (unsigned)b, q = ua / ub;
        r = ua - q * ub;
        return q;
    }
    i64 q = a / b;
    r = a - q * b;
    return q;
}

// Element offset of row-major linear index i.
__device__ __forceinline__ i64 strided_offset(const Strided& s, i64 i)
{
    if (s.rank == 1) return i * s.stride[0];
    i64 off = 0;
    for (int d = s.rank - 1; d >= 0; d--)
    {
        i64 r;
        i = index_divmod(i, s.shape[d], r);
        off += r * s.stride[d];
    }
    return off;
}

// Programmatic dependent launch (sm_90 and up): kernels recorded into a CUDA graph are launched with the
// programmatic-serialization attribute (CudaKernels.ProgrammaticLaunch), so a kernel can be scheduled before its
// predecessor has finished. Every kernel starts with this prologue: allow the next kernel to be scheduled, then wait
// until the preceding grid has completed and its writes are visible (both no-ops when launched normally). Triggering
// first lets a chain of recorded kernels be launched ahead, so each boundary costs the predecessor's completion, not a
// launch; blocks of an early kernel sit resident until their wait returns. Results never depend on it: no kernel
// loads or stores memory before its wait (AIM_PDL_PROLOGUE_PREFETCHING, below, only prefetches into L2), and waits
// chain (a kernel's wait returns only after its predecessor completed, which had waited for its own). A test
// (KernelSourceTests) checks that every __global__ function starts with one of the two.
// AIM_PDL_TRIGGER_FIRST=0 (through AIM_NVRTC_DEFINES) waits first and triggers after, for A/B measurements (H200,
// AiM-B bf16 decode: trigger-first 0.60 / 1.10 / 2.32 ms per step at batch 1 / 16 / 64, wait-first 0.61 / 1.11 / 2.33).
#ifndef AIM_PDL_TRIGGER_FIRST
#define AIM_PDL_TRIGGER_FIRST 1
#endif
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define AIM_PDL_TRIGGER() asm volatile("griddepcontrol.launch_dependents;" ::: "memory")
#define AIM_PDL_WAIT() asm volatile("griddepcontrol.wait;" ::: "memory")
#else
#define AIM_PDL_TRIGGER() do { } while (0)
#define AIM_PDL_WAIT() do { } while (0)
#endif
#if AIM_PDL_TRIGGER_FIRST
#define AIM_PDL_PROLOGUE() do { AIM_PDL_TRIGGER(); AIM_PDL_WAIT(); } while (0)
#else
#define AIM_PDL_PROLOGUE() do { AIM_PDL_WAIT(); AIM_PDL_TRIGGER(); } while (0)
#endif

// L2 prefetch of the 128-byte lines of [p, p + bytes), spread over the threads of a one-dimensional block (a null p or an
// empty span issues nothing). A prefetch moves lines into L2 only, never into registers or L1, and L2 is where every
// SM's loads and stores meet: a line prefetched before a kernel's PDL wait that its predecessor writes afterwards is
// simply updated there, so a prefetch cannot make a later load read stale data.
__device__ __forceinline__ void aim_prefetch_l2(const void* p, i64 bytes)
{
#if defined(__CUDA_ARCH__)
    if (p == nullptr || bytes <= 0) return;
    const char* end = (const char*)p + bytes;
    for (const char* line = (const char*)((u64)p & ~(u64)127) + (i64)threadIdx.x * 128; line < end; line += (i64)blockDim.x * 128)
        asm volatile("prefetch.global.L2 [%0];" :: "l"(line));
#endif
}

// The prologue of a kernel whose model constants (weights, norm weights, per-layer parameters, states it updates
// itself) miss L2 on a decode step: a 24-layer model streams 180 MB of weights through the 50 MB L2 every step, and
// each kernel's first loads of its constants sat on its critical path (H200, AiM-B batch 1: 24 µs a step). The
// arguments are calls of aim_prefetch_l2 or of *_prefetch device functions that only compute addresses and call it
// (KernelSourceTests checks the names); they run between the trigger and the wait, while the predecessor finishes,
// which only moves lines into L2 (aim_prefetch_l2). Measured (H200, AiM-B bf16, replay ms a step): batch 1 0.45 → 0.38,
// batch 2 0.54 → 0.47; unchanged from batch 4 up, where cuBLAS runs the products. AIM_DECODE_PREFETCH=0
// (AIM_NVRTC_DEFINES) leaves them out, for A/B measurements.
#ifndef AIM_DECODE_PREFETCH
#define AIM_DECODE_PREFETCH 1
#endif
#if AIM_PDL_TRIGGER_FIRST
#define AIM_PDL_PROLOGUE_PREFETCHING(...) do { AIM_PDL_TRIGGER(); if (AIM_DECODE_PREFETCH) { __VA_ARGS__; } AIM_PDL_WAIT(); } while (0)
#else
#define AIM_PDL_PROLOGUE_PREFETCHING(...) do { if (AIM_DECODE_PREFETCH) { __VA_ARGS__; } AIM_PDL_WAIT(); AIM_PDL_TRIGGER(); } while (0)
#endif

#define AIM_GRID_STRIDE(i, n) \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)blockDim.x * gridDim.x)

// Op codes shared with CudaKernels.cs (values of the C# enums BinaryOp and UnaryOp).
#define AIM_BIN_ADD 0
#define AIM_BIN_SUB 1
#define AIM_BIN_MUL 2
#define AIM_BIN_DIV 3

#define AIM_UN_NEG 0
#define AIM_UN_EXP 1
#define AIM_UN_LOG 2
#define AIM_UN_SQRT 3
#define AIM_UN_SQUARE 4
#define AIM_UN_SILU 5
#define AIM_UN_SIGMOID 6
#define AIM_UN_SOFTPLUS 7
#define AIM_UN_TANH 8
