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

// acc[m] += Σ_j x[m, k + j]·w[j] over the 8 weights of one 16-byte chunk. GATE: x holds the gated norm's g and each
// term is (g·gw[k + j])·w[j], with sq[m] += g² (fmaf, j in order) on the side.
template <bool GATE>
__device__ __forceinline__ void skinny_fma8(float (&acc)[SKINNY_MAX_M], float (&sq)[SKINNY_MAX_M], int M, const float* x, i64 sxm, int k,
                                            uint4 packed, const float* gw)
{
    float w[8];
    unsigned int words[4] = { packed.x, packed.y, packed.z, packed.w };
#pragma unroll
    for (int j = 0; j < 4; j++)
    {
        w[2 * j] = __uint_as_float(words[j] << 16);
        w[2 * j + 1] = __uint_as_float(words[j] & 0xffff0000u);
    }
    float4 ga = make_float4(0.0f, 0.0f, 0.0f, 0.0f), gb = ga;
    if (GATE)
    {
        ga = ((const float4*)(gw + k))[0];
        gb = ((const float4*)(gw + k))[1];
    }
#pragma unroll
    for (int m = 0; m < SKINNY_MAX_M; m++)
    {
        if (m >= M) break;
        const float4* xr = (const float4*)(x + (i64)m * sxm + k);
        float4 a = xr[0], b = xr[1];
        if (GATE)
        {
            sq[m] = fmaf(a.x, a.x, sq[m]);
            sq[m] = fmaf(a.y, a.y, sq[m]);
            sq[m] = fmaf(a.z, a.z, sq[m]);
            sq[m] = fmaf(a.w, a.w, sq[m]);
            sq[m] = fmaf(b.x, b.x, sq[m]);
            sq[m] = fmaf(b.y, b.y, sq[m]);
            sq[m] = fmaf(b.z, b.z, sq[m]);
            sq[m] = fmaf(b.w, b.w, sq[m]);
            a = make_float4(a.x * ga.x, a.y * ga.y, a.z * ga.z, a.w * ga.w);
            b = make_float4(b.x * gb.x, b.y * gb.y, b.z * gb.z, b.w * gb.w);
        }
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

// The sum of v over the warp (xor butterfly 16, 8, 4, 2, 1), written by lane 0 to slot.
__device__ __forceinline__ void skinny_warp_part(float v, float* slot)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (threadIdx.x % 32 == 0) *slot = v;
}

// vec: K % 8 == 0 and every row 16-byte aligned (checked by the caller); otherwise a scalar walk.
// split: warps per output column (1, 2, 4 or 8), each taking every split-th 32-chunk stretch of K; their partial
// sums meet in shared memory. Few columns over a long K (out_proj: 768 × 1536) need it to fill the GPU.
// x may point to global or shared memory (generic addressing); one block of SKINNY_WARPS warps.
// tile: which SKINNY_WARPS / split columns this call computes (skinny_gemm_bf16 passes blockIdx.x).
// partial: SKINNY_WARPS · SKINNY_MAX_M floats of shared memory (twice that with GATE), the caller's.
// GATE: x holds the gated RMSNorm's g (M, K) and gw (K) its weight: the product is taken with g·gw, and Σ g² of the
// row comes with it (skinny_fma8).
// epi: the column's epilogue, per thread. Lane m of the column's first warp calls epi.prefetch(m, n) before the weight
// stream (loads the epilogue needs, in flight meanwhile) and epi.store(m, n, v, sq) with the dot product v (and Σ g²
// with GATE, else 0) after a block barrier.
// The caller must __syncthreads() before calling again with the same partial (the last readers may still be in it).
template <bool GATE, typename EPI>
__device__ __forceinline__ void skinny_gemv(
    const float* x, i64 sxm, const float* gw, const bf16* wt, i64 swn, int M, int N, int K, int vec, int split, int tile, float* partial,
    EPI& epi)
{
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int column = warp / split, part = warp % split;
    const int n = tile * (SKINNY_WARPS / split) + column;
    const bool writer = part == 0 && n < N && lane < M;
    if (writer) epi.prefetch(lane, n);
    float acc[SKINNY_MAX_M], sq[SKINNY_MAX_M];
#pragma unroll
    for (int m = 0; m < SKINNY_MAX_M; m++) acc[m] = sq[m] = 0.0f;
    if (n < N)
    {
        const bf16* row = wt + (i64)n * swn;
        if (vec)
        {
            const uint4* chunks = (const uint4*)row;
            for (int c = part * 32 + lane; c < K / 8; c += 32 * split) skinny_fma8<GATE>(acc, sq, M, x, sxm, c * 8, chunks[c], gw);
        }
        else
        {
            for (int k = part * 32 + lane; k < K; k += 32 * split)
            {
                float w = bf16_to_f32(row[k]);
                for (int m = 0; m < M; m++)
                {
                    float xv = x[(i64)m * sxm + k];
                    if (GATE)
                    {
                        sq[m] = fmaf(xv, xv, sq[m]);
                        xv = xv * gw[k];
                    }
                    acc[m] = fmaf(xv, w, acc[m]);
                }
            }
        }
    }
#pragma unroll
    for (int m = 0; m < SKINNY_MAX_M; m++)
    {
        if (m >= M) break;
        skinny_warp_part(acc[m], &partial[warp * SKINNY_MAX_M + m]);
        if (GATE) skinny_warp_part(sq[m], &partial[(SKINNY_WARPS + warp) * SKINNY_MAX_M + m]);
    }
    __syncthreads();
    // The first warp of each column adds the parts in a fixed order (deterministic) and writes M outputs.
    if (writer)
    {
        float v = 0.0f, s = 0.0f;
        for (int q = 0; q < split; q++)
        {
            v += partial[(warp + q) * SKINNY_MAX_M + lane];
            if (GATE) s += partial[(SKINNY_WARPS + warp + q) * SKINNY_MAX_M + lane];
        }
        epi.store(lane, n, v, s);
    }
}
