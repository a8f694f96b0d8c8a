// Embedding gather and its scatter-add backward (IKernels.Embedding.cs, ReferenceKernels.Embedding.cs).
// The forward copies rows (any float storage type, bit-exact). The backward adds each dOutput row into
// dWeight[id] with atomicAdd, one thread per element: repeated ids then add in an order that can differ
// between runs, so on CUDA the float32 sums are NOT bit-deterministic (the CPU and reference add in id
// order). Ids are range-checked on the host before launch.
#include "common.cuh"

template <typename T, typename I>
__device__ __forceinline__ void embedding(const T* w, const I* ids, int d, i64 n, T* out)
{
    AIM_GRID_STRIDE(i, n * d)
    {
        i64 row = i / d;
        out[i] = w[(i64)ids[row] * d + (i - row * d)];
    }
}

__device__ __forceinline__ void atomic_add_c(float* p, float v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add_c(double* p, double v) { atomicAdd(p, v); }

// bf16 has no native atomic add without cuda_bf16.h: compare-and-swap on the aligned 32-bit word that holds it.
__device__ __forceinline__ void atomic_add_c(bf16* p, float v)
{
    unsigned long long addr = (unsigned long long)p;
    unsigned int* word = (unsigned int*)(addr & ~3ull);
    unsigned int shift = (addr & 2ull) ? 16u : 0u;
    unsigned int old = *word, assumed;
    do
    {
        assumed = old;
        bf16 cur;
        cur.bits = (unsigned short)(assumed >> shift);
        bf16 sum = f32_to_bf16(bf16_to_f32(cur) + v);
        unsigned int next = (assumed & ~(0xffffu << shift)) | ((unsigned int)sum.bits << shift);
        old = atomicCAS(word, assumed, next);
    } while (old != assumed);
}

template <typename T, typename I>
__device__ __forceinline__ void embedding_backward(const I* ids, const T* dy, int d, i64 n, T* dw)
{
    AIM_GRID_STRIDE(i, n * d)
    {
        i64 row = i / d;
        atomic_add_c(dw + (i64)ids[row] * d + (i - row * d), load_c(dy, i));
    }
}

#define AIM_EMBEDDING(N, T, IN, I) \
    extern "C" __global__ void embedding_##N##_##IN(const T* w, const I* ids, int d, i64 n, T* out) { AIM_PDL_PROLOGUE(); embedding<T, I>(w, ids, d, n, out); } \
    extern "C" __global__ void embedding_backward_##N##_##IN(const I* ids, const T* dy, int d, i64 n, T* dw) \
    { AIM_PDL_PROLOGUE(); embedding_backward<T, I>(ids, dy, d, n, dw); }

AIM_EMBEDDING(f32, float, i32, int)
AIM_EMBEDDING(f32, float, i64, i64)
AIM_EMBEDDING(f64, double, i32, int)
AIM_EMBEDDING(f64, double, i64, i64)
AIM_EMBEDDING(bf16, bf16, i32, int)
AIM_EMBEDDING(bf16, bf16, i64, i64)
