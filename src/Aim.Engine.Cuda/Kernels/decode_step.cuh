// Device pieces of one Mamba-2 decode step shared by ssm.cu (SsmStep's ssm_step_f32) and decode_layer.cu (the
// persistent layer kernel): the conv window of one channel and the SSM update of a block's rows, with the arithmetic
// and order of conv1d.cu's conv1d_step_f32 and ssm.cu's ssm_step_f32 (see step_ssm_rows for when the bits agree).
#pragma once
#include "common.cuh"

__device__ __forceinline__ float step_silu(float z) { return z / (1.0f + expf(-z)); }

// SiLU(bias + Σ_k w[ch,k]·window[k]) with window = (row[1..K-1], xin): the channel's output from its OLD window.
__device__ __forceinline__ float step_conv(const float* row, float xin, const float* w, const float* bias, int ch, int K)
{
    float z = bias ? bias[ch] : 0.0f;
    for (int j = 0; j < K - 1; j++) z = fmaf(row[j + 1], w[(i64)ch * K + j], z);
    z = fmaf(xin, w[(i64)ch * K + K - 1], z);
    return step_silu(z);
}

// The window moves one step: row ← (row[1..K-1], xin).
__device__ __forceinline__ void step_shift(float* row, float xin, int K)
{
    for (int j = 0; j < K - 1; j++) row[j] = row[j + 1];
    row[K - 1] = xin;
}

// The conv outputs a (row, head, slice of P) block needs, from the row's windows cs (C, K) and new inputs xr (C):
// sbc = the group's b (N) then c (N) from their OLD windows (only read here: other blocks read them too), and
// sx = x of rows first .. first + count, whose windows only this block touches (the thread that reads one shifts it).
// E = H·P, the first b channel.
__device__ __forceinline__ void step_conv_block(float* cs, const float* xr, const float* w, const float* bias, int K, int E,
                                                int G, int N, int g, int h, int P, int first, int count, float* sbc, float* sx)
{
    for (int i = threadIdx.x; i < 2 * N; i += blockDim.x)
    {
        int ch = E + (i < N ? g * N + i : G * N + g * N + (i - N));
        sbc[i] = step_conv(cs + (i64)ch * K, xr[ch], w, bias, ch, K);
    }
    for (int r = threadIdx.x; r < count; r += blockDim.x)
    {
        int p = first + r;
        if (p >= P) break;
        int ch = h * P + p;
        float* row = cs + (i64)ch * K;
        float xin = xr[ch];
        sx[r] = step_conv(row, xin, w, bias, ch, K);
        step_shift(row, xin, K);
    }
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
// first + warp + warps, ... below first + count and P; a warp shuffle sums y. state: the head's (P, N) rows; x[p - xBase]
// is row p's input (xBase = first for a block-local copy, 0 for the whole head); b, c: (N). When N % 4 == 0 and the
// rows, b and c are 16-byte aligned each lane moves 4 consecutive values at a time, and a warp takes its rows
// SSM_STEP_GROUP at a time (rows p0, p0 + warps, ..., p0 + 3·warps): it loads every row's float4s, then updates and
// stores them, then sums the group's y values with interleaved shuffle chains (the state stream is what bounds large
// decode batches; a warp that waits for one row at a time leaves too few bytes in flight). Otherwise lanes stride over
// n one value at a time, a row at a time.
// Per row the arithmetic does not depend on the grouping, the warp count or which warp takes the row: every state
// value is fmaf(α, S, (b·dt)·x); a lane adds its products in increasing n (fmaf chains, one float4 after the other)
// and the 32 lane sums meet in the same xor butterfly (16, 8, 4, 2, 1), then fmaf(d, x, y). So any (warps, first,
// count) split gives the same bits. The two paths add y's terms in different orders: two callers (ssm.cu's
// ssm_step_f32 and decode_layer.cu) give the same bits when they take the same path.
__device__ __forceinline__ void step_ssm_rows(float* state, int P, int N, int first, int count, int warp, int warps, int lane,
                                              const float* x, int xBase, const float* b, const float* c, float dt, float alpha,
                                              float d, float* out)
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
                xp[j] = p0 + j * warps < end ? x[p0 + j * warps - xBase] : 0.0f;
                acc[j] = 0.0f;
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
                    if (p0 + j * warps < end) out[p0 + j * warps] = fmaf(d, xp[j], acc[j]);
            }
        }
        return;
    }
    for (int p = first + warp; p < end; p += warps)
    {
        float xp = x[p - xBase], acc = 0.0f;
        float* row = state + (i64)p * N;
#pragma unroll 1
        for (int n = lane; n < N; n += 32)
        {
            float s = fmaf(alpha, row[n], (b[n] * dt) * xp);
            row[n] = s;
            acc = fmaf(s, c[n], acc);
        }
        for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
        if (lane == 0) out[p] = fmaf(d, xp, acc);
    }
}
