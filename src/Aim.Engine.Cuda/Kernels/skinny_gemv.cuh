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

// acc[i][m] += Σ_j x[m, k + j]·w_i[j] over the 8 weights of column i's 16-byte chunk packed[i], for COLS columns that
// share the x loads (the terms in j order for every (i, m), as with one column). GATE (COLS 1): x holds the gated
// norm's g and each term is (g·gw[k + j])·w[j], with sq[m] += g² (fmaf, j in order) on the side.
template <bool GATE, int COLS>
__device__ __forceinline__ void skinny_fma8(float (&acc)[COLS][SKINNY_MAX_M], float (&sq)[SKINNY_MAX_M], int M, const float* x, i64 sxm, int k,
                                            const uint4 (&packed)[COLS], const float* gw)
{
    float w[COLS][8];
#pragma unroll
    for (int i = 0; i < COLS; i++)
    {
        unsigned int words[4] = { packed[i].x, packed[i].y, packed[i].z, packed[i].w };
#pragma unroll
        for (int j = 0; j < 4; j++)
        {
            w[i][2 * j] = __uint_as_float(words[j] << 16);
            w[i][2 * j + 1] = __uint_as_float(words[j] & 0xffff0000u);
        }
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
#pragma unroll
        for (int i = 0; i < COLS; i++)
        {
            acc[i][m] = fmaf(a.x, w[i][0], acc[i][m]);
            acc[i][m] = fmaf(a.y, w[i][1], acc[i][m]);
            acc[i][m] = fmaf(a.z, w[i][2], acc[i][m]);
            acc[i][m] = fmaf(a.w, w[i][3], acc[i][m]);
            acc[i][m] = fmaf(b.x, w[i][4], acc[i][m]);
            acc[i][m] = fmaf(b.y, w[i][5], acc[i][m]);
            acc[i][m] = fmaf(b.z, w[i][6], acc[i][m]);
            acc[i][m] = fmaf(b.w, w[i][7], acc[i][m]);
        }
    }
}

// The sum of v over the warp (xor butterfly 16, 8, 4, 2, 1), written by lane 0 to slot.
__device__ __forceinline__ void skinny_warp_part(float v, float* slot)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (threadIdx.x % 32 == 0) *slot = v;
}

// The L2 prefetch of the weight rows skinny_gemv's block `tile` streams (its SKINNY_WARPS / split column groups of COLS
// columns), for AIM_PDL_PROLOGUE_PREFETCHING.
__device__ __forceinline__ void skinny_prefetch(const bf16* wt, i64 swn, int N, int K, int cols, int split, int tile)
{
    const int per = SKINNY_WARPS / split * cols, first = tile * per;
    if (first < N) aim_prefetch_l2(wt + (i64)first * swn, ((i64)(min(per, N - first) - 1) * swn + K) * (i64)sizeof(bf16));
}

// vec: K % 8 == 0 and every row 16-byte aligned (checked by the caller); otherwise a scalar walk.
// COLS: output columns a warp takes (1 or 4), every x load shared by them and COLS weight chunks in flight per step:
// many short columns (the head: 16384 × 768) or many rows (x loads bound the stream at 16 rows) want more than one.
// split: warps per column group (1, 2, 4 or 8), each taking every split-th 32-chunk stretch of K; their partial
// sums meet in shared memory. Few columns over a long K (out_proj: 768 × 1536) need it to fill the GPU.
// x may point to global or shared memory (generic addressing); one block of SKINNY_WARPS warps.
// tile: which SKINNY_WARPS / split column groups this call computes (the kernels pass blockIdx.x).
// partial: SKINNY_WARPS · COLS · SKINNY_MAX_M floats of shared memory (SKINNY_WARPS · SKINNY_MAX_M more with GATE).
// GATE (COLS 1): x holds the gated RMSNorm's g (M, K) and gw (K) its weight: the product is taken with g·gw, and Σ g²
// of the row comes with it (skinny_fma8).
// epi: the columns' epilogue, per thread. Lane m of the group's first warp calls epi.prefetch(i, m, n) for each of its
// columns n = n0 + i before the weight stream (loads the epilogue needs, in flight meanwhile) and epi.store(i, m, n, v,
// sq) with the dot product v (and Σ g² with GATE, else 0) after a block barrier.
// The caller must __syncthreads() before calling again with the same partial (the last readers may still be in it).
template <bool GATE, int COLS, typename EPI>
__device__ __forceinline__ void skinny_gemv(
    const float* x, i64 sxm, const float* gw, const bf16* wt, i64 swn, int M, int N, int K, int vec, int split, int tile, float* partial,
    EPI& epi)
{
    static_assert(!GATE || COLS == 1, "the gated form takes one column a warp");
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int group = warp / split, part = warp % split;
    const int n0 = (tile * (SKINNY_WARPS / split) + group) * COLS;
    const bool writer = part == 0 && lane < M;
    if (writer)
    {
#pragma unroll
        for (int i = 0; i < COLS; i++)
            if (n0 + i < N) epi.prefetch(i, lane, n0 + i);
    }
    float acc[COLS][SKINNY_MAX_M], sq[SKINNY_MAX_M];
#pragma unroll
    for (int m = 0; m < SKINNY_MAX_M; m++)
    {
        sq[m] = 0.0f;
#pragma unroll
        for (int i = 0; i < COLS; i++) acc[i][m] = 0.0f;
    }
    if (n0 < N)
    {
        if (vec)
        {
            for (int c = part * 32 + lane; c < K / 8; c += 32 * split)
            {
                uint4 packed[COLS];
#pragma unroll
                for (int i = 0; i < COLS; i++)
                    packed[i] = n0 + i < N ? ((const uint4*)(wt + (i64)(n0 + i) * swn))[c] : make_uint4(0u, 0u, 0u, 0u);
                skinny_fma8<GATE, COLS>(acc, sq, M, x, sxm, c * 8, packed, gw);
            }
        }
        else
        {
            for (int k = part * 32 + lane; k < K; k += 32 * split)
            {
                float w[COLS];
#pragma unroll
                for (int i = 0; i < COLS; i++) w[i] = n0 + i < N ? bf16_to_f32(wt[(i64)(n0 + i) * swn + k]) : 0.0f;
#pragma unroll
                for (int m = 0; m < SKINNY_MAX_M; m++)
                {
                    if (m >= M) break;
                    float xv = x[(i64)m * sxm + k];
                    if (GATE)
                    {
                        sq[m] = fmaf(xv, xv, sq[m]);
                        xv = xv * gw[k];
                    }
#pragma unroll
                    for (int i = 0; i < COLS; i++) acc[i][m] = fmaf(xv, w[i], acc[i][m]);
                }
            }
        }
    }
#pragma unroll
    for (int m = 0; m < SKINNY_MAX_M; m++)
    {
        if (m >= M) break;
#pragma unroll
        for (int i = 0; i < COLS; i++) skinny_warp_part(acc[i][m], &partial[(warp * COLS + i) * SKINNY_MAX_M + m]);
        if (GATE) skinny_warp_part(sq[m], &partial[(SKINNY_WARPS * COLS + warp) * SKINNY_MAX_M + m]);
    }
    __syncthreads();
    // The first warp of each group adds the parts in a fixed order (deterministic) and writes M outputs a column.
    if (writer)
    {
#pragma unroll
        for (int i = 0; i < COLS; i++)
        {
            if (n0 + i >= N) break;
            float v = 0.0f, s = 0.0f;
            for (int q = 0; q < split; q++)
            {
                v += partial[((warp + q) * COLS + i) * SKINNY_MAX_M + lane];
                if (GATE) s += partial[(SKINNY_WARPS * COLS + warp + q) * SKINNY_MAX_M + lane];
            }
            epi.store(i, lane, n0 + i, v, s);
        }
    }
}
