// y (M, N) f32 = alpha · x (M, K) f32 · W (N, K)ᵀ bf16 for the few rows of a decode step (Gemm.cs's TrySkinny), and two
// decode-layer forms of it (CudaKernels.DecodeLayer.cs): in_proj with the conv step in its epilogue, and out_proj on
// the gated RMSNorm's g with the norm's weight and row factor applied. The device code (the weight stream) and its
// comments are in skinny_gemv.cuh; these kernels give it static shared memory and their epilogues.
#include "skinny_gemv.cuh"
#include "decode_step.cuh"   // conv_step_window

// y[m, n] = alpha·v (+ beta·y[m, n]).
struct SkinnyStore
{
    float* y;
    i64 sym;
    float alpha, beta;
    __device__ __forceinline__ void prefetch(int, int, int) {}
    __device__ __forceinline__ void store(int, int m, int n, float v, float)
    {
        float* out = y + (i64)m * sym + n;
        *out = beta == 0.0f ? alpha * v : fmaf(beta, *out, alpha * v);
    }
};

// skinny_gemm_bf16 takes one column a warp, skinny_gemm_c4_bf16 four (Gemm.cs picks).
#define SKINNY_GEMM_KERNEL(NAME, COLS)                                                                                       \
    extern "C" __global__ void __launch_bounds__(SKINNY_WARPS * 32) NAME(                                                     \
        const float* x, i64 sxm, const bf16* wt, i64 swn, float* y, i64 sym, int M, int N, int K, float alpha, float beta,  \
        int vec, int split)                                                                                                  \
    {                                                                                                                        \
        AIM_PDL_PROLOGUE_PREFETCHING(skinny_prefetch(wt, swn, N, K, COLS, split, blockIdx.x));                                 \
        __shared__ float partial[SKINNY_WARPS * COLS * SKINNY_MAX_M];                                                        \
        SkinnyStore epi{y, sym, alpha, beta};                                                                                \
        skinny_gemv<false, COLS>(x, sxm, nullptr, wt, swn, M, N, K, vec, split, blockIdx.x, partial, epi);                    \
    }
SKINNY_GEMM_KERNEL(skinny_gemm_bf16, 1)
SKINNY_GEMM_KERNEL(skinny_gemm_c4_bf16, 4)

// Columns [c0, c0 + C) of in_proj are the conv's inputs: such a value is not stored but shifted into its channel's
// window (state (M, C, K), oldest first) and convolved, conv_out[m, c] = silu(bias[c] + Σ_j w[c, j]·window[j])
// (conv_step_window: conv1d_step_k<K>_f32's arithmetic); the window, the taps and the bias are loaded before the weight
// stream. Other columns: y[m, n] = v. A column is one warp's, so every window has one writer. One kernel per K ≤
// STEP_MAX_K: with K known at compile time the window stays in registers (a runtime K put this struct on the stack).
// One column a warp: four (skinny_gemm_c4_bf16's form) took 192 registers and ran the AiM-B layer slower on the H200
// (16.0 against 13.1 µs at 2 rows, 29.5 against 25.9 at 8).
template <int K>
struct SkinnyConvStore
{
    float* y;
    i64 sym;
    int c0, C;
    float* state;
    const float* cw;
    const float* cbias;
    float* conv_out;
    float window[K], taps[K], bias;

    __device__ __forceinline__ void prefetch(int, int m, int n)
    {
        const int c = n - c0;
        if (c < 0 || c >= C) return;
        const float* win = state + ((i64)m * C + c) * K;
#pragma unroll
        for (int j = 0; j < K; j++)
        {
            window[j] = win[j];
            taps[j] = cw[(i64)c * K + j];
        }
        bias = cbias ? cbias[c] : 0.0f;
    }

    __device__ __forceinline__ void store(int, int m, int n, float v, float)
    {
        const int c = n - c0;
        if (c < 0 || c >= C)
        {
            y[(i64)m * sym + n] = v;
            return;
        }
        conv_out[(i64)m * C + c] = conv_step_window<K>(window, taps, bias, v, true);
        float* win = state + ((i64)m * C + c) * K;
#pragma unroll
        for (int j = 0; j < K; j++) win[j] = window[j];
    }
};

// The L2 prefetch of what the conv epilogue of block `tile` loads (one column a warp, split warps a column): the windows,
// taps and bias of its columns that are conv channels.
__device__ __forceinline__ void skinny_conv_prefetch(int M, int K, int split, int tile, int c0, int C, const float* state, const float* cw,
                                                     const float* cbias)
{
    const int per = SKINNY_WARPS / split;
    const int first = max(tile * per - c0, 0), end = min((tile + 1) * per - c0, C);
    if (first >= end) return;
    for (int m = 0; m < M; m++) aim_prefetch_l2(state + ((i64)m * C + first) * K, (i64)(end - first) * K * (i64)sizeof(float));
    aim_prefetch_l2(cw + (i64)first * K, (i64)(end - first) * K * (i64)sizeof(float));
    if (cbias) aim_prefetch_l2(cbias + first, (i64)(end - first) * (i64)sizeof(float));
}

#define SKINNY_CONV_KERNEL(K)                                                                                                \
    extern "C" __global__ void __launch_bounds__(SKINNY_WARPS * 32) skinny_gemm_conv_k##K##_bf16(                              \
        const float* x, i64 sxm, const bf16* wt, i64 swn, float* y, i64 sym, int M, int N, int K_, int vec, int split, int c0,  \
        int C, float* state, const float* cw, const float* cbias, float* conv_out)                                            \
    {                                                                                                                        \
        AIM_PDL_PROLOGUE_PREFETCHING(skinny_prefetch(wt, swn, N, K_, 1, split, blockIdx.x),                                     \
                                     skinny_conv_prefetch(M, K, split, blockIdx.x, c0, C, state, cw, cbias));                  \
        __shared__ float partial[SKINNY_WARPS * SKINNY_MAX_M];                                                               \
        SkinnyConvStore<K> epi{y, sym, c0, C, state, cw, cbias, conv_out, {}, {}, 0.0f};                                     \
        skinny_gemv<false, 1>(x, sxm, nullptr, wt, swn, M, N, K_, vec, split, blockIdx.x, partial, epi);                      \
    }
SKINNY_CONV_KERNEL(1)
SKINNY_CONV_KERNEL(2)
SKINNY_CONV_KERNEL(3)
SKINNY_CONV_KERNEL(4)
SKINNY_CONV_KERNEL(5)
SKINNY_CONV_KERNEL(6)
SKINNY_CONV_KERNEL(7)
SKINNY_CONV_KERNEL(8)

// y[m, n] = (v·rstd_m) with rstd_m = 1/sqrt(sq / K + eps), v = Σ_k (g[m, k]·gw[k])·W[n, k] and sq = Σ_k g[m, k]² from the
// same stream: the gated RMSNorm (one group of K channels, weight gw) and out_proj in one pass over g.
struct SkinnyRowNormStore
{
    float* y;
    i64 sym;
    int K;
    float eps;
    __device__ __forceinline__ void prefetch(int, int, int) {}
    __device__ __forceinline__ void store(int, int m, int n, float v, float sq) { y[(i64)m * sym + n] = v * (1.0f / sqrtf(sq / (float)K + eps)); }
};

// out_proj of a decode step after ssm_step.cu's ssm_step_gated_f32 (x = g, (M, K) with row stride sxm; gw (K)).
extern "C" __global__ void __launch_bounds__(SKINNY_WARPS * 32) skinny_gemm_rownorm_bf16(
    const float* x, i64 sxm, const bf16* wt, i64 swn, float* y, i64 sym, int M, int N, int K, int vec, int split, const float* gw, float eps)
{
    AIM_PDL_PROLOGUE_PREFETCHING(skinny_prefetch(wt, swn, N, K, 1, split, blockIdx.x), aim_prefetch_l2(gw, (i64)K * (i64)sizeof(float)));
    __shared__ float partial[2 * SKINNY_WARPS * SKINNY_MAX_M];
    SkinnyRowNormStore epi{y, sym, K, eps};
    skinny_gemv<true, 1>(x, sxm, gw, wt, swn, M, N, K, vec, split, blockIdx.x, partial, epi);
}
