// The weight stream of skinny_gemm.cu, shared with decode_layer.cu (device functions only, no kernels), and the
// gated RMSNorm of decode_layer.cu's out_proj phase.
// y (M, N) f32 = alpha · x (M, K) f32 · W (N, K)ᵀ bf16 for the few rows of a decode step (M ≤ SKINNY_MAX_M).
// At that size a GEMM is a stream over W: every weight is read once and used M times. One warp per output
// column: the lanes walk W's row in 16-byte chunks (8 bf16), multiply with the matching x values (f32, kept
// in L1/L2 since every warp reads the same rows), accumulate M sums in registers and reduce them by shuffles.
// f32 accumulation of exactly widened weights: the result matches the CPU's bf16-weight path to f32 rounding.
// Two kernels share that weight stream (skinny_gemv): skinny_gemm_bf16 (Gemm) and decode_layer.cu's persistent
// mamba_decode_layer_bf16 (in_proj, and out_proj after ngs_norm_rows below, the Mamba-2 gated RMSNorm of its rows
// computed into shared memory).
#pragma once
#include "reduce.cuh"

#define SKINNY_MAX_M 16
#define SKINNY_WARPS 8

__device__ __forceinline__ void skinny_fma8(float (&acc)[SKINNY_MAX_M], int M, const float* x, i64 sxm, int k, uint4 packed)
{
    float w[8];
    unsigned int words[4] = { packed.x, packed.y, packed.z, packed.w };
#pragma unroll
    for (int j = 0; j < 4; j++)
    {
        w[2 * j] = __uint_as_float(words[j] << 16);
        w[2 * j + 1] = __uint_as_float(words[j] & 0xffff0000u);
    }
#pragma unroll
    for (int m = 0; m < SKINNY_MAX_M; m++)
    {
        if (m >= M) break;
        const float4* xr = (const float4*)(x + (i64)m * sxm + k);
        float4 a = xr[0], b = xr[1];
        acc[m] = fmaf(a.x, w[0], acc[m]);
        acc[m] = fmaf(a.y, w[1], acc[m]);
        acc[m] = fmaf(a.z, w[2], acc[m]);
        acc[m] = fmaf(a.w, w[3], acc[m]);
        acc[m] = fmaf(b.x, w[4], acc[m]);
        acc[m] = fmaf(b.y, w[5], acc[m]);
        acc[m] = fmaf(b.z, w[6], acc[m]);
        acc[m] = fmaf(b.w, w[7], acc[m]);
    }
}

// vec: K % 8 == 0 and every row 16-byte aligned (checked by the caller); otherwise a scalar walk.
// split: warps per output column (1, 2, 4 or 8), each taking every split-th 32-chunk stretch of K; their partial
// sums meet in shared memory. Few columns over a long K (out_proj: 768 × 1536) need it to fill the GPU.
// x may point to global or shared memory (generic addressing); one block of SKINNY_WARPS warps.
// tile: which SKINNY_WARPS / split columns this call computes (blockIdx.x for a plain launch; a persistent kernel
// walks several). partial: SKINNY_WARPS · SKINNY_MAX_M floats of shared memory (static or dynamic, the caller's).
// The caller must __syncthreads() before calling again with the same partial (the last readers may still be in it).
__device__ __forceinline__ void skinny_gemv(
    const float* x, i64 sxm, const bf16* wt, i64 swn, float* y, i64 sym, int M, int N, int K, float alpha, float beta, int vec, int split,
    int tile, float* partial)
{
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int column = warp / split, part = warp % split;
    const int n = tile * (SKINNY_WARPS / split) + column;
    float acc[SKINNY_MAX_M];
#pragma unroll
    for (int m = 0; m < SKINNY_MAX_M; m++) acc[m] = 0.0f;
    if (n < N)
    {
        const bf16* row = wt + (i64)n * swn;
        if (vec)
        {
            const uint4* chunks = (const uint4*)row;
            for (int c = part * 32 + lane; c < K / 8; c += 32 * split) skinny_fma8(acc, M, x, sxm, c * 8, chunks[c]);
        }
        else
        {
            for (int k = part * 32 + lane; k < K; k += 32 * split)
            {
                float w = bf16_to_f32(row[k]);
                for (int m = 0; m < M; m++) acc[m] = fmaf(x[(i64)m * sxm + k], w, acc[m]);
            }
        }
    }
#pragma unroll
    for (int m = 0; m < SKINNY_MAX_M; m++)
    {
        if (m >= M) break;
        float v = acc[m];
        for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
        if (lane == 0) partial[warp * SKINNY_MAX_M + m] = v;
    }
    __syncthreads();
    // The first warp of each column adds the parts in a fixed order (deterministic) and writes M outputs.
    if (part == 0 && n < N && lane < M)
    {
        float v = 0.0f;
        for (int q = 0; q < split; q++) v += partial[(warp + q) * SKINNY_MAX_M + lane];
        float* out = y + (i64)lane * sym + n;
        *out = beta == 0.0f ? alpha * v : fmaf(beta, *out, alpha * v);
    }
}

// ---- The gated RMSNorm in front of out_proj in decode_layer.cu's persistent kernel (GatedRmsNorm, IKernels.Norm.cs).
// A block writes xs = GatedRmsNorm(x, z) (M, K) into its shared memory: g = x·z·sigmoid(z), per (row, group)
// segment rstd = 1/sqrt(Σg²/group + eps), xs = g·rstd·w; the caller then runs skinny_gemv on xs.
// The arithmetic is rms_norm's in norm.cu, including its reduction order: norm.cu sums a segment with `vthreads`
// threads (RowThreads(group) on the host, 32..512), thread v taking elements v, v + vthreads, ..., then warp
// shuffles and one slot per warp. Here the 256 threads play those vthreads (thread t is virtual threads t and
// t + 256), reduce each virtual warp separately and combine the same slots in the same butterfly, so xs holds the
// bits the separate GatedRmsNorm kernel (rms_norm_f32) writes.

__device__ __forceinline__ float ngs_sigmoid(float v) { return 1.0f / (1.0f + expf(-v)); }

// Σ seg[j]² over one segment, summed as norm.cu's block_sum over `vthreads` threads does (see above). Every
// thread of the block must call it; each receives the sum.
// slots: 32 floats of shared memory (static or dynamic, the caller's).
__device__ __forceinline__ float ngs_segment_sum_sq(const float* seg, int group, int vthreads, float* ngs_slots)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, vwarps = vthreads >> 5;
    float ss[2] = { 0.0f, 0.0f };
#pragma unroll
    for (int r = 0; r < 2; r++)
    {
        int v = threadIdx.x + r * SKINNY_WARPS * 32;
        if (v < vthreads)
            for (int j = v; j < group; j += vthreads)
            {
                float g = seg[j];
                ss[r] += g * g;
            }
        ss[r] = warp_sum(ss[r]);
    }
    __syncthreads(); // the previous segment's readers are done with the slots
#pragma unroll
    for (int r = 0; r < 2; r++)
        if (lane == 0 && warp + r * SKINNY_WARPS < vwarps) ngs_slots[warp + r * SKINNY_WARPS] = ss[r];
    __syncthreads();
    return warp_sum(lane < vwarps ? ngs_slots[lane] : 0.0f);
}

// xs = GatedRmsNorm(x, z) (M, K) into shared memory xs (16-byte aligned, rows K floats apart); slots: 32 floats of
// shared memory for the reductions. Every thread of the block calls it; xs is complete when it returns.
__device__ __forceinline__ void ngs_norm_rows(const float* x, i64 sxm, const float* z, i64 szm, const float* nw, float eps, int group,
    int vthreads, int M, int K, int nvec, float* xs, float* slots)
{
    float4* ngs_rows = (float4*)xs;
    // 1. g = x·silu(z), written as (x·z)·sigmoid(z) like norm.cu's rms_input.
    if (nvec)
    {
        const int k4 = K / 4;
        for (int i = threadIdx.x; i < M * k4; i += blockDim.x)
        {
            int m = i / k4, c = i - m * k4;
            float4 a = ((const float4*)(x + (i64)m * sxm))[c];
            float4 b = ((const float4*)(z + (i64)m * szm))[c];
            float4 g;
            g.x = a.x * b.x * ngs_sigmoid(b.x);
            g.y = a.y * b.y * ngs_sigmoid(b.y);
            g.z = a.z * b.z * ngs_sigmoid(b.z);
            g.w = a.w * b.w * ngs_sigmoid(b.w);
            ngs_rows[i] = g; // element (m, 4c) sits at m·K + 4c = 4i
        }
    }
    else
    {
        for (int i = threadIdx.x; i < M * K; i += blockDim.x)
        {
            int m = i / K, k = i - m * K;
            float a = x[(i64)m * sxm + k], b = z[(i64)m * szm + k];
            xs[i] = a * b * ngs_sigmoid(b);
        }
    }
    __syncthreads();
    // 2. Each (row, group) segment: rows are K floats apart, so segment s starts at s·group. A thread scales exactly
    // the elements it summed, so no barrier is needed between a segment's two loops beyond the reduction's own.
    const int groups = K / group;
    for (int s = 0; s < M * groups; s++)
    {
        float* seg = xs + (i64)s * group;
        const float* w = nw + (i64)(s % groups) * group;
        float rstd = 1.0f / sqrtf(ngs_segment_sum_sq(seg, group, vthreads, slots) / (float)group + eps);
        for (int r = 0; r < 2; r++)
        {
            int v = threadIdx.x + r * SKINNY_WARPS * 32;
            if (v < vthreads)
                for (int j = v; j < group; j += vthreads) seg[j] = seg[j] * rstd * w[j];
        }
    }
    __syncthreads();
}

