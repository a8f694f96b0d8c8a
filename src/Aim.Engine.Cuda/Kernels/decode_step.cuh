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

// S[p, n] ← α·S[p, n] + (b[n]·dt)·x[p] and out[p] = Σ_n S[p, n]·c[n] + d·x[p] for the rows p = first + warp,
// first + warp + warps, ... below first + count and P; a warp shuffle sums y. state: the head's (P, N) rows; x[p - xBase]
// is row p's input (xBase = first for a block-local copy, 0 for the whole head); b, c: (N). When N % 4 == 0 and the
// rows, b and c are 16-byte aligned each lane moves 4 consecutive values at a time (one 512-byte access per warp at
// N = 128: the state stream is what bounds large decode batches); otherwise lanes stride over n one value at a time.
// The two paths add y's terms in different orders: two callers give the same bits when they take the same path.
__device__ __forceinline__ void step_ssm_rows(float* state, int P, int N, int first, int count, int warp, int warps, int lane,
                                              const float* x, int xBase, const float* b, const float* c, float dt, float alpha,
                                              float d, float* out)
{
    const bool vec = N % 4 == 0 && ((reinterpret_cast<unsigned long long>(state) | reinterpret_cast<unsigned long long>(b)
                                     | reinterpret_cast<unsigned long long>(c)) & 15) == 0;
    for (int p = first + warp; p < P && p < first + count; p += warps)
    {
        float xp = x[p - xBase], acc = 0.0f;
        float* row = state + (i64)p * N;
        if (vec)
        {
            for (int q = lane; q < N / 4; q += 32)
            {
                float4 s = reinterpret_cast<float4*>(row)[q];
                const float4 bq = reinterpret_cast<const float4*>(b)[q], cq = reinterpret_cast<const float4*>(c)[q];
                s.x = fmaf(alpha, s.x, (bq.x * dt) * xp);
                s.y = fmaf(alpha, s.y, (bq.y * dt) * xp);
                s.z = fmaf(alpha, s.z, (bq.z * dt) * xp);
                s.w = fmaf(alpha, s.w, (bq.w * dt) * xp);
                reinterpret_cast<float4*>(row)[q] = s;
                acc = fmaf(s.x, cq.x, acc);
                acc = fmaf(s.y, cq.y, acc);
                acc = fmaf(s.z, cq.z, acc);
                acc = fmaf(s.w, cq.w, acc);
            }
        }
        else
        {
            for (int n = lane; n < N; n += 32)
            {
                float s = fmaf(alpha, row[n], (b[n] * dt) * xp);
                row[n] = s;
                acc = fmaf(s, c[n], acc);
            }
        }
        for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
        if (lane == 0) out[p] = fmaf(d, xp, acc);
    }
}
