// Causal depthwise conv1d over time (channel-last), its backward and its single inference step, float32.
// Formulas: aim-architecture.md §3.4 step 2 and §3.6 steps 2-3; same definitions as ReferenceKernels.Ssm.cs:
//   z[b,t,c] = bias[c] + Σ_k w[c,k]·x[b, t-(K-1)+k, c]  (x at negative time = 0),  y = silu(z) or z.
// Backward: dz = dy·silu'(z) (z recomputed), dx[t] = Σ_k w[c,k]·dz[t+(K-1)-k], dw[c,k] = Σ_{b,t} x[t-(K-1)+k]·dz[t],
// dbias[c] = Σ_{b,t} dz. x is a strided view (batch stride, time stride) whose channel stride is 1.
#include "common.cuh"

__device__ __forceinline__ float conv_silu(float z) { return z / (1.0f + expf(-z)); }

__device__ __forceinline__ float conv_pre(const float* x, i64 sxb, i64 sxl, const float* w, const float* bias,
                                          int b, int t, int c, int K)
{
    float z = bias ? bias[c] : 0.0f;
    const float* xb = x + (i64)b * sxb + c;
    for (int k = 0; k < K; k++)
    {
        int src = t - (K - 1) + k;
        if (src >= 0) z = fmaf(w[(i64)c * K + k], xb[(i64)src * sxl], z);
    }
    return z;
}

// y (B, L, C) contiguous; one thread per output element.
extern "C" __global__ void conv1d_fwd_f32(const float* x, i64 sxb, i64 sxl, const float* w, const float* bias, int silu,
                                          float* y, int B, int L, int C, int K)
{
    AIM_PDL_PROLOGUE();
    AIM_GRID_STRIDE(i, (i64)B * L * C)
    {
        i64 c, t;
        i64 b = index_divmod(index_divmod(i, C, c), L, t);
        float z = conv_pre(x, sxb, sxl, w, bias, b, t, c, K);
        y[i] = silu ? conv_silu(z) : z;
    }
}

// dz = dy·silu'(z), silu'(z) = s·(1 + z·(1-s)) with s = sigmoid(z). dz (B, L, C) contiguous.
extern "C" __global__ void conv1d_bwd_dz_f32(const float* x, i64 sxb, i64 sxl, const float* w, const float* bias,
                                             const float* dy, float* dz, int B, int L, int C, int K)
{
    AIM_PDL_PROLOGUE();
    AIM_GRID_STRIDE(i, (i64)B * L * C)
    {
        i64 c, t;
        i64 b = index_divmod(index_divmod(i, C, c), L, t);
        float z = conv_pre(x, sxb, sxl, w, bias, b, t, c, K);
        float s = 1.0f / (1.0f + expf(-z));
        dz[i] = dy[i] * (s * (1.0f + z * (1.0f - s)));
    }
}

// dx[b,t,c] = Σ_k w[c,k]·dz[b, t+(K-1)-k, c] over the outputs that read input t.
extern "C" __global__ void conv1d_bwd_dx_f32(const float* dz, const float* w, float* dx, int B, int L, int C, int K)
{
    AIM_PDL_PROLOGUE();
    AIM_GRID_STRIDE(i, (i64)B * L * C)
    {
        i64 c, t;
        i64 b = index_divmod(index_divmod(i, C, c), L, t);
        const float* dzb = dz + (i64)b * L * C + c;
        float acc = 0.0f;
        for (int k = 0; k < K; k++)
        {
            int dst = t + (K - 1) - k;
            if (dst < L) acc = fmaf(w[(i64)c * K + k], dzb[(i64)dst * C], acc);
        }
        dx[i] = acc;
    }
}

// dw[c,k] (k < K) and dbias[c] are sums over all B·L rows, read in one pass: a block per (32-channel tile, chunk of
// rows); each of its 8 row groups walks a contiguous run of the chunk's rows in time order, keeping its channel's
// last CONV_DW_MAX_K inputs in registers (win[CONV_DW_MAX_K-1] is x at the current time, win[j] x at d = MAX_K-1-j
// steps back, so tap k reads win[MAX_K-K+k]; every index is a compile-time constant), and accumulates the K taps
// and the bias. Then a shared-memory sum over the row groups into part (chunks, K+1, C), and
// conv1d_bwd_dw_sum_f32 adds the chunks in order: deterministic. (A block per (tile, k, chunk) read dz and x K+1
// times: 0.42 ms of the AiM-B batch-32 conv backward, 590 MB against 118.) K ≤ CONV_DW_MAX_K (host-checked).
#define CONV_DW_CH 32
#define CONV_DW_ROWS 8
#define CONV_DW_MAX_K 8
extern "C" __global__ void __launch_bounds__(CONV_DW_CH * CONV_DW_ROWS) conv1d_bwd_dw_f32(const float* x, i64 sxb, i64 sxl, const float* dz, float* part,
                                             int B, int L, int C, int K, int chunks)
{
    AIM_PDL_PROLOGUE();
    __shared__ float red[CONV_DW_ROWS][CONV_DW_MAX_K + 1][CONV_DW_CH];
    int tiles = (C + CONV_DW_CH - 1) / CONV_DW_CH;
    int tile = blockIdx.x % tiles, chunk = blockIdx.x / tiles;
    int lane = threadIdx.x % CONV_DW_CH, row = threadIdx.x / CONV_DW_CH;
    int c = tile * CONV_DW_CH + lane;
    i64 rows = (i64)B * L, per = (rows + chunks - 1) / chunks;
    i64 c0 = (i64)chunk * per, c1 = min(rows, c0 + per);
    i64 sub = c1 > c0 ? (c1 - c0 + CONV_DW_ROWS - 1) / CONV_DW_ROWS : 0;
    i64 r0 = c0 + row * sub, r1 = min(c1, r0 + sub);
    float acc[CONV_DW_MAX_K], bias = 0.0f;
#pragma unroll
    for (int j = 0; j < CONV_DW_MAX_K; j++) acc[j] = 0.0f;
    if (c < C && r0 < r1)
    {
        i64 t;
        i64 b = index_divmod(r0, L, t);
        const float* xb = x + b * sxb + c;
        // The window as it stands before the first row's shift: win[j] = x at t - (MAX_K - j).
        float win[CONV_DW_MAX_K];
        win[0] = 0.0f;
#pragma unroll
        for (int j = 1; j < CONV_DW_MAX_K; j++)
        {
            i64 src = t - (CONV_DW_MAX_K - j);
            win[j] = j > CONV_DW_MAX_K - K && src >= 0 ? xb[src * sxl] : 0.0f;
        }
        for (i64 r = r0; r < r1; r++)
        {
#pragma unroll
            for (int j = 0; j < CONV_DW_MAX_K - 1; j++) win[j] = win[j + 1];
            win[CONV_DW_MAX_K - 1] = xb[t * sxl];
            float g = dz[r * C + c];
            bias += g;
#pragma unroll
            for (int j = 0; j < CONV_DW_MAX_K; j++)
                if (j >= CONV_DW_MAX_K - K) acc[j] = fmaf(win[j], g, acc[j]);
            if (++t == L)
            {
                t = 0;
                xb += sxb;
#pragma unroll
                for (int j = 0; j < CONV_DW_MAX_K; j++) win[j] = 0.0f;
            }
        }
    }
#pragma unroll
    for (int j = 0; j < CONV_DW_MAX_K; j++) red[row][j][lane] = acc[j];
    red[row][CONV_DW_MAX_K][lane] = bias;
    __syncthreads();
    // Thread (k, lane) of the first K+1 warps writes tap k (k == K: the bias) of its channel.
    int k = threadIdx.x / CONV_DW_CH;
    for (; k <= K; k += CONV_DW_ROWS)
    {
        if (c >= C) break;
        int slot = k == K ? CONV_DW_MAX_K : CONV_DW_MAX_K - K + k;
        float s = 0.0f;
        for (int j = 0; j < CONV_DW_ROWS; j++) s += red[j][slot][lane];
        part[((i64)chunk * (K + 1) + k) * C + c] = s;
    }
}

// dw (C, K) and dbias (C, or null) = the chunk partials summed in chunk order. One thread per (k, c).
extern "C" __global__ void conv1d_bwd_dw_sum_f32(const float* part, float* dw, float* dbias, int C, int K, int chunks)
{
    AIM_PDL_PROLOGUE();
    AIM_GRID_STRIDE(i, (i64)(K + 1) * C)
    {
        int c = (int)(i % C), k = (int)(i / C);
        float s = 0.0f;
        for (int j = 0; j < chunks; j++) s += part[((i64)j * (K + 1) + k) * C + c];
        if (k == K) { if (dbias) dbias[c] = s; }
        else dw[(i64)c * K + k] = s;
    }
}

// One step: state (B, C, K) shifts left, x goes last, y[b,c] = act(bias + Σ_k state·w). One thread per (b, c).
extern "C" __global__ void conv1d_step_f32(float* state, const float* x, i64 sxb, const float* w, const float* bias, int silu,
                                           float* y, int B, int C, int K)
{
    AIM_PDL_PROLOGUE();
    AIM_GRID_STRIDE(i, (i64)B * C)
    {
        int c = (int)(i % C), b = (int)(i / C);
        float* row = state + i * K;
        for (int j = 0; j < K - 1; j++) row[j] = row[j + 1];
        row[K - 1] = x[(i64)b * sxb + c];
        float z = bias ? bias[c] : 0.0f;
        for (int j = 0; j < K; j++) z = fmaf(row[j], w[(i64)c * K + j], z);
        y[i] = silu ? conv_silu(z) : z;
    }
}
