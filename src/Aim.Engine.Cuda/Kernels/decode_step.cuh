// Device pieces of a Mamba-2 decode step: the conv step of one channel (conv1d.cu's conv1d_step_k<K>_f32 and the
// in_proj epilogue of skinny_gemm.cu's skinny_gemm_conv_k<K>_bf16), and for ssm_step.cu's kernels the step size and
// the SSM update of a block's rows.
#pragma once
#include "common.cuh"

__device__ __forceinline__ float conv_silu(float z) { return z / (1.0f + expf(-z)); }

// The most conv taps skinny_gemm_conv_k<K>_bf16 is compiled for (conv1d.cu's CONV_MAX_K).
#define STEP_MAX_K 8

// One channel's conv step on a window of K taps held in registers (K a compile-time constant, so the arrays stay
// registers): the window (oldest first) shifts by one and takes xnew; the output is bias + Σ_j taps[j]·window[j]
// (fmaf in j order), through silu when asked.
template <int K>
__device__ __forceinline__ float conv_step_window(float (&window)[K], const float (&taps)[K], float bias, float xnew, bool silu)
{
#pragma unroll
    for (int j = 0; j < K - 1; j++) window[j] = window[j + 1];
    window[K - 1] = xnew;
    float z = bias;
#pragma unroll
    for (int j = 0; j < K; j++) z = fmaf(window[j], taps[j], z);
    return silu ? conv_silu(z) : z;
}

// softplus(raw + bias), passing values above 20 through (mamba's selective_state_update with dt_softplus).
__device__ __forceinline__ float step_dt(float raw, float bias)
{
    float v = raw + bias;
    return v > 20.0f ? v : log1pf(expf(v));
}

// Rows a warp updates at once on the vector path: their state loads are all issued before the first is used, so a warp
// keeps SSM_STEP_GROUP · 512 bytes in flight at N = 128 instead of one 512-byte access per row.
#define SSM_STEP_GROUP 4

// S[p, n] ← α·S[p, n] + (b[n]·dt)·x[p] and out[p] = Σ_n S[p, n]·c[n] + d·x[p] for the rows p = first + warp,
// first + warp + warps, ... below first + count and P; a warp shuffle sums y. state: the head's (P, N) rows; x[p]
// is row p's input; b, c: (N). When N % 4 == 0 and the rows, b and c are 16-byte aligned each lane moves 4
// consecutive values at a time, and a warp takes its rows SSM_STEP_GROUP at a time (rows p0, p0 + warps, ...,
// p0 + 3·warps): it loads every row's float4s, then updates and stores them, then sums the group's y values with
// interleaved shuffle chains (the state stream is what bounds large decode batches; a warp that waits for one row at
// a time leaves too few bytes in flight). Otherwise lanes stride over n one value at a time, a row at a time.
// Per row the arithmetic does not depend on the grouping, the warp count or which warp takes the row: every state
// value is fmaf(α, S, (b·dt)·x); a lane adds its products in increasing n (fmaf chains, one float4 after the other)
// and the 32 lane sums meet in the same xor butterfly (16, 8, 4, 2, 1), then fmaf(d, x, y). So any (warps, first,
// count) split gives the same bits. The two paths add y's terms in different orders.
// Row p's output goes to out (ssm_step.cu's StepStore or StepGatedStore, per thread), from lane 0: out.prefetch(j, p)
// when the warp starts row p as the j-th row of a group (j = 0 on the scalar path), out.store(j, p, y[p]) at its end.
template <typename OUT>
__device__ __forceinline__ void step_ssm_rows(float* state, int P, int N, int first, int count, int warp, int warps, int lane,
                                              const float* x, const float* b, const float* c, float dt, float alpha,
                                              float d, OUT& out)
{
    const bool vec = N % 4 == 0 && ((reinterpret_cast<unsigned long long>(state) | reinterpret_cast<unsigned long long>(b)
                                     | reinterpret_cast<unsigned long long>(c)) & 15) == 0;
    const int end = min(P, first + count);
    if (vec)
    {
        const float4* b4 = reinterpret_cast<const float4*>(b);
        const float4* c4 = reinterpret_cast<const float4*>(c);
        for (int p0 = first + warp; p0 < end; p0 += SSM_STEP_GROUP * warps)
        {
            // The group's rows are warps apart: row j at rows[j · stride] (float4s).
            float4* rows = reinterpret_cast<float4*>(state + (i64)p0 * N);
            const i64 stride = (i64)warps * (N / 4);
            float xp[SSM_STEP_GROUP], acc[SSM_STEP_GROUP];
#pragma unroll
            for (int j = 0; j < SSM_STEP_GROUP; j++)
            {
                xp[j] = p0 + j * warps < end ? x[p0 + j * warps] : 0.0f;
                acc[j] = 0.0f;
                if (lane == 0 && p0 + j * warps < end) out.prefetch(j, p0 + j * warps);
            }
#pragma unroll 1
            for (int q = lane; q < N / 4; q += 32)
            {
                float4 s[SSM_STEP_GROUP] = {};
#pragma unroll
                for (int j = 0; j < SSM_STEP_GROUP; j++)
                    if (p0 + j * warps < end) s[j] = rows[j * stride + q];
                const float4 bq = b4[q], cq = c4[q];
#pragma unroll
                for (int j = 0; j < SSM_STEP_GROUP; j++)
                {
                    if (p0 + j * warps >= end) continue;
                    s[j].x = fmaf(alpha, s[j].x, (bq.x * dt) * xp[j]);
                    s[j].y = fmaf(alpha, s[j].y, (bq.y * dt) * xp[j]);
                    s[j].z = fmaf(alpha, s[j].z, (bq.z * dt) * xp[j]);
                    s[j].w = fmaf(alpha, s[j].w, (bq.w * dt) * xp[j]);
                    rows[j * stride + q] = s[j];
                    acc[j] = fmaf(s[j].x, cq.x, acc[j]);
                    acc[j] = fmaf(s[j].y, cq.y, acc[j]);
                    acc[j] = fmaf(s[j].z, cq.z, acc[j]);
                    acc[j] = fmaf(s[j].w, cq.w, acc[j]);
                }
            }
            for (int o = 16; o > 0; o >>= 1)
            {
#pragma unroll
                for (int j = 0; j < SSM_STEP_GROUP; j++) acc[j] += __shfl_xor_sync(0xffffffffu, acc[j], o);
            }
            if (lane == 0)
            {
#pragma unroll
                for (int j = 0; j < SSM_STEP_GROUP; j++)
                    if (p0 + j * warps < end) out.store(j, p0 + j * warps, fmaf(d, xp[j], acc[j]));
            }
        }
        return;
    }
    for (int p = first + warp; p < end; p += warps)
    {
        float xp = x[p], acc = 0.0f;
        float* row = state + (i64)p * N;
        if (lane == 0) out.prefetch(0, p);
#pragma unroll 1
        for (int n = lane; n < N; n += 32)
        {
            float s = fmaf(alpha, row[n], (b[n] * dt) * xp);
            row[n] = s;
            acc = fmaf(s, c[n], acc);
        }
        for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
        if (lane == 0) out.store(0, p, fmaf(d, xp, acc));
    }
}
