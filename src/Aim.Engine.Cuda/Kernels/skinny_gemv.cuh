// The weight stream of skinny_gemm.cu (device functions only, no kernels).
// x (M, K) f32 · W (N, K)ᵀ bf16 for the few rows of a decode step (M ≤ SKINNY_MAX_M), each result handed to the caller.
// At that size a GEMM is a stream over W: every weight is read once and used M times. One warp per output
// column: the lanes walk W's row in 16-byte chunks (8 bf16), multiply with the matching x values (f32, kept
// in L1/L2 since every warp reads the same rows), accumulate M sums in registers and reduce them by shuffles.
// f32 accumulation of exactly widened weights: the result matches the CPU's bf16-weight path to f32 rounding.
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
// tile: which SKINNY_WARPS / split columns this call computes (skinny_gemm_bf16 passes blockIdx.x).
// partial: SKINNY_WARPS · SKINNY_MAX_M floats of shared memory (static or dynamic, the caller's).
// store(m, n, v) receives the dot product v of row m and column n (lane m of the column's first warp, after a block
// barrier: shared memory the block wrote before the call is visible to it).
// The caller must __syncthreads() before calling again with the same partial (the last readers may still be in it).
template <typename STORE>
__device__ __forceinline__ void skinny_gemv(
    const float* x, i64 sxm, const bf16* wt, i64 swn, int M, int N, int K, int vec, int split, int tile, float* partial, STORE store)
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
        store(lane, n, v);
    }
}
