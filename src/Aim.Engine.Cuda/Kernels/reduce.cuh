// Block-wide reductions for the row kernels (norm.cu, softmax.cu): warp shuffles (__shfl_xor_sync) inside
// each warp, then one shared-memory slot per warp. blockDim.x must be a multiple of 32 (at most 1024).
// Every thread of the block receives the result. The combining order depends only on blockDim.x, so a
// reduction gives the same bits on every run.
#pragma once
#include "common.cuh"

#define AIM_FULL_MASK 0xffffffffu
#define AIM_NEG_INF __int_as_float(0xff800000)

__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(AIM_FULL_MASK, v, o);
    return v;
}

__device__ __forceinline__ float2 warp_sum2(float2 v)
{
    for (int o = 16; o > 0; o >>= 1)
    {
        v.x += __shfl_xor_sync(AIM_FULL_MASK, v.x, o);
        v.y += __shfl_xor_sync(AIM_FULL_MASK, v.y, o);
    }
    return v;
}

// Sum over the block. The leading __syncthreads lets a caller reduce several times in a row: no warp
// overwrites a slot while another still reads the previous result.
__device__ __forceinline__ float block_sum(float v)
{
    __shared__ float slots[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) slots[warp] = v;
    __syncthreads();
    return warp_sum(lane < warps ? slots[lane] : 0.0f);
}

// Two independent sums in one pass of synchronisation.
__device__ __forceinline__ float2 block_sum2(float2 v)
{
    __shared__ float2 slots2[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum2(v);
    __syncthreads();
    if (lane == 0) slots2[warp] = v;
    __syncthreads();
    return warp_sum2(lane < warps ? slots2[lane] : make_float2(0.0f, 0.0f));
}

// Online log-sum-exp state: running max m and Σ e^(x - m). An empty state is (-inf, 0).
struct MaxSum
{
    float m;
    float s;
};

__device__ __forceinline__ MaxSum maxsum_combine(MaxSum a, MaxSum b)
{
    float m = fmaxf(a.m, b.m);
    if (m == AIM_NEG_INF) return a;
    MaxSum r;
    r.m = m;
    r.s = (a.m == AIM_NEG_INF ? 0.0f : a.s * expf(a.m - m)) + (b.m == AIM_NEG_INF ? 0.0f : b.s * expf(b.m - m));
    return r;
}

// Adds one value to a thread's state.
__device__ __forceinline__ MaxSum maxsum_add(MaxSum a, float x)
{
    if (x > a.m)
    {
        a.s = (a.m == AIM_NEG_INF ? 0.0f : a.s * expf(a.m - x)) + 1.0f;
        a.m = x;
    }
    else
    {
        a.s += expf(x - a.m);
    }
    return a;
}

__device__ __forceinline__ MaxSum block_maxsum(MaxSum v)
{
    __shared__ MaxSum slots_ms[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1)
    {
        MaxSum other;
        other.m = __shfl_xor_sync(AIM_FULL_MASK, v.m, o);
        other.s = __shfl_xor_sync(AIM_FULL_MASK, v.s, o);
        v = maxsum_combine(v, other);
    }
    __syncthreads();
    if (lane == 0) slots_ms[warp] = v;
    __syncthreads();
    if (lane < warps) v = slots_ms[lane];
    else
    {
        v.m = AIM_NEG_INF;
        v.s = 0.0f;
    }
    for (int o = 16; o > 0; o >>= 1)
    {
        MaxSum other;
        other.m = __shfl_xor_sync(AIM_FULL_MASK, v.m, o);
        other.s = __shfl_xor_sync(AIM_FULL_MASK, v.s, o);
        v = maxsum_combine(v, other);
    }
    return v;
}

// Rounds a float32 value to the storage type T and back (identity for float): what a store and reload would give.
template <typename T> __device__ __forceinline__ float round_to(float v) { return v; }
template <> __device__ __forceinline__ float round_to<bf16>(float v) { return bf16_to_f32(f32_to_bf16(v)); }
