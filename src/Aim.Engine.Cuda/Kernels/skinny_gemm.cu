// y (M, N) f32 = alpha · x (M, K) f32 · W (N, K)ᵀ bf16 for the few rows of a decode step (Gemm.cs's TrySkinny), and two
// decode-layer forms of it (CudaKernels.DecodeLayer.cs): in_proj with the conv step in its epilogue, out_proj with the
// gated RMSNorm's row factor. The device code (the weight stream) and its comments are in skinny_gemv.cuh; these
// kernels give it static shared memory and their epilogues.
#include "skinny_gemv.cuh"
#include "decode_step.cuh"   // conv_step_channel

extern "C" __global__ void __launch_bounds__(SKINNY_WARPS * 32) skinny_gemm_bf16(
    const float* x, i64 sxm, const bf16* wt, i64 swn, float* y, i64 sym, int M, int N, int K, float alpha, float beta, int vec, int split)
{
    AIM_PDL_PROLOGUE();
    __shared__ float partial[SKINNY_WARPS * SKINNY_MAX_M];
    skinny_gemv(x, sxm, wt, swn, M, N, K, vec, split, blockIdx.x, partial, [&](int m, int n, float v) {
        float* out = y + (i64)m * sym + n;
        *out = beta == 0.0f ? alpha * v : fmaf(beta, *out, alpha * v);
    });
}

// in_proj of a decode step (alpha 1, beta 0) with the conv step of its xBC columns [c0, c0 + C) in the epilogue: such
// a column's value is not stored in y but shifted into its channel's window (state (M, C, KC), oldest first) and
// convolved, conv_out[m, c] = silu(bias[c] + Σ_j w[c, j]·window[j]) (conv1d_step_f32's arithmetic: conv_step_channel).
// A column is one warp's, so every window has one writer.
extern "C" __global__ void __launch_bounds__(SKINNY_WARPS * 32) skinny_gemm_conv_bf16(
    const float* x, i64 sxm, const bf16* wt, i64 swn, float* y, i64 sym, int M, int N, int K, int vec, int split,
    int c0, int C, float* state, int KC, const float* cw, const float* cbias, float* conv_out)
{
    AIM_PDL_PROLOGUE();
    __shared__ float partial[SKINNY_WARPS * SKINNY_MAX_M];
    skinny_gemv(x, sxm, wt, swn, M, N, K, vec, split, blockIdx.x, partial, [&](int m, int n, float v) {
        const int c = n - c0;
        if (c >= 0 && c < C)
            conv_out[(i64)m * C + c] = conv_step_channel(state + ((i64)m * C + c) * KC, v, cw + (i64)c * KC, cbias ? cbias[c] : 0.0f, KC, true);
        else
            y[(i64)m * sym + n] = v;
    });
}

// out_proj of a decode step after ssm_step.cu's ssm_step_gated_f32: x holds g·w, and y[m, n] = rstd_m · Σ_k x[m, k]·W[n, k]
// with the gated RMSNorm's rstd_m = 1/sqrt(Σ_j part[m·parts + j] / K + eps) (one group of K channels). Warp 0 adds each
// row's parts before the weight stream (lane l takes parts l, l + 32, ... in order, then warp_sum's butterfly: every
// block gets the same bits); skinny_gemv's barrier publishes them to the epilogue.
extern "C" __global__ void __launch_bounds__(SKINNY_WARPS * 32) skinny_gemm_rownorm_bf16(
    const float* x, i64 sxm, const bf16* wt, i64 swn, float* y, i64 sym, int M, int N, int K, int vec, int split,
    const float* part, int parts, float eps)
{
    AIM_PDL_PROLOGUE();
    __shared__ float partial[SKINNY_WARPS * SKINNY_MAX_M];
    __shared__ float rstd[SKINNY_MAX_M];
    if (threadIdx.x < 32)
    {
        for (int m = 0; m < M; m++)
        {
            float s = 0.0f;
            for (int j = (int)threadIdx.x; j < parts; j += 32) s += part[(i64)m * parts + j];
            s = warp_sum(s);
            if (threadIdx.x == 0) rstd[m] = 1.0f / sqrtf(s / (float)K + eps);
        }
    }
    skinny_gemv(x, sxm, wt, swn, M, N, K, vec, split, blockIdx.x, partial, [&](int m, int n, float v) { y[(i64)m * sym + n] = rstd[m] * v; });
}
