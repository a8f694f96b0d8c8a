// Causal depthwise conv1d over time (channel-last), its backward and its single inference step, float32.
// Formulas: aim-architecture.md §3.4 step 2 and §3.6 steps 2-3; same definitions as ReferenceKernels.Ssm.cs:
//   z[b,t,c] = bias[c] + Σ_k w[c,k]·x[b, t-(K-1)+k, c]  (x at negative time = 0),  y = silu(z) or z.
// Backward: dz = dy·silu'(z) (z recomputed), dx[t] = Σ_k w[c,k]·dz[t+(K-1)-k], dw[c,k] = Σ_{b,t} x[t-(K-1)+k]·dz[t],
// dbias[c] = Σ_{b,t} dz. x is a strided view (batch stride, time stride) whose channel stride is 1.
#include "common.cuh"

__device__ __forceinline__ float conv_silu(float z) { return z / (1.0f + expf(-z)); }

// The forward and the dz/dx backward walk time runs: a thread owns one channel c over CONV_RUN consecutive steps of
// one batch row, loads the x (and dy) values of its run plus the K-1 steps before (after, for dx) once into registers,
// all loads issued before any use, and reuses them for every tap. (One thread per output element read every input K
// times and kept one load chain in flight: the AiM-B batch-32 forward took 0.15 ms for 118 MB, 5× its bandwidth
// floor.) Block: CONV_RUN_THREADS consecutive channels of one (batch, run), so a warp's loads at one step are one
// contiguous stretch of a row. Each output's arithmetic is the reference's (bias, then the taps in order, taps outside
// the sequence skipped), so results do not depend on the run length. K ≤ CONV_MAX_K (host-checked).
#define CONV_RUN 16
#define CONV_RUN_THREADS 128
#define CONV_MAX_K 8

// The block's (batch, first step, channel): blockIdx.x = (b · runs + run) · tiles + tile.
struct ConvRun
{
    int b, t0, c;
};

__device__ __forceinline__ ConvRun conv_run(int L, int C)
{
    int tiles = (C + CONV_RUN_THREADS - 1) / CONV_RUN_THREADS, runs = (L + CONV_RUN - 1) / CONV_RUN;
    int tile = blockIdx.x % tiles, br = blockIdx.x / tiles;
    return { br / runs, (br % runs) * CONV_RUN, tile * CONV_RUN_THREADS + (int)threadIdx.x };
}

// z at step t0 + i of a run from win[j] = x at t0 - (K-1) + j (0 outside the sequence): bias, then the
// taps k = 0..K-1 in order, a tap at negative time skipped (ReferenceKernels.Ssm.cs's order).
__device__ __forceinline__ float conv_run_pre(const float (&win)[CONV_RUN + 2 * (CONV_MAX_K - 1)], const float (&w)[CONV_MAX_K],
                                              float bias, int t0, int i, int K)
{
    float z = bias;
#pragma unroll
    for (int k = 0; k < CONV_MAX_K; k++)
        if (k < K && t0 + i - (K - 1) + k >= 0) z = fmaf(w[k], win[i + k], z);
    return z;
}

// y (B, L, C) contiguous: bias + taps, then silu if asked. Grid: B · ⌈L / CONV_RUN⌉ · ⌈C / CONV_RUN_THREADS⌉ blocks.
extern "C" __global__ void __launch_bounds__(CONV_RUN_THREADS) conv1d_fwd_f32(const float* x, i64 sxb, i64 sxl, const float* w,
                                                                             const float* bias, int silu, float* y, int B, int L, int C, int K)
{
    AIM_PDL_PROLOGUE();
    const ConvRun r = conv_run(L, C);
    if (r.c >= C) return;
    float wk[CONV_MAX_K], win[CONV_RUN + 2 * (CONV_MAX_K - 1)];
#pragma unroll
    for (int k = 0; k < CONV_MAX_K; k++) wk[k] = k < K ? w[(i64)r.c * K + k] : 0.0f;
    const float* xb = x + (i64)r.b * sxb + r.c;
#pragma unroll
    for (int j = 0; j < CONV_RUN + CONV_MAX_K - 1; j++)
    {
        int t = r.t0 - (K - 1) + j;
        win[j] = j < CONV_RUN + K - 1 && t >= 0 && t < L ? xb[(i64)t * sxl] : 0.0f;
    }
    const float b0 = bias ? bias[r.c] : 0.0f;
    float* yb = y + ((i64)r.b * L + r.t0) * C + r.c;
#pragma unroll
    for (int i = 0; i < CONV_RUN; i++)
    {
        if (r.t0 + i >= L) break;
        float z = conv_run_pre(win, wk, b0, r.t0, i, K);
        yb[(i64)i * C] = silu ? conv_silu(z) : z;
    }
}

// dz = dy·silu'(z) (z recomputed; silu'(z) = s·(1 + z·(1-s)), s = sigmoid(z)), or dz = dy without silu; then
// dx[t] = Σ_k w[c,k]·dz[t+(K-1)-k] over the taps inside the sequence, k in order. A run needs dz at its CONV_RUN steps
// and the K-1 after (recomputed, not written), and z there needs x from K-1 steps before the run on. The register
// arrays are laid out for MAX_K taps so that every index is a compile-time constant whatever K is (a runtime index
// would put them in local memory): dz[q] holds step t0 + q - (MAX_K - K), win[m] holds x at t0 - (MAX_K - 1) + m.
// dz_out (B, L, C): written for the run's steps when silu (the dW pass reads it), else unused (dz is dy).
extern "C" __global__ void __launch_bounds__(CONV_RUN_THREADS) conv1d_bwd_dzdx_f32(const float* x, i64 sxb, i64 sxl, const float* w,
    const float* bias, int silu, const float* dy, float* dz_out, float* dx, int B, int L, int C, int K)
{
    AIM_PDL_PROLOGUE();
    const ConvRun r = conv_run(L, C);
    if (r.c >= C) return;
    constexpr int MK = CONV_MAX_K, ZN = CONV_RUN + MK - 1;
    const int pad = MK - K;                 // dz slots before step t0 (never read by a tap)
    float wk[MK], dz[ZN];
#pragma unroll
    for (int k = 0; k < MK; k++) wk[k] = k < K ? w[(i64)r.c * K + k] : 0.0f;
    const float* dyb = dy + (i64)r.b * L * C + r.c;
#pragma unroll
    for (int q = 0; q < ZN; q++)
    {
        int t = r.t0 + q - pad;
        dz[q] = q >= pad && t < L ? dyb[(i64)t * C] : 0.0f;
    }
    if (silu)
    {
        float win[CONV_RUN + 2 * (MK - 1)];
        const float* xb = x + (i64)r.b * sxb + r.c;
#pragma unroll
        for (int m = 0; m < CONV_RUN + 2 * (MK - 1); m++)
        {
            int t = r.t0 - (MK - 1) + m;
            win[m] = m >= pad && t >= 0 && t < L ? xb[(i64)t * sxl] : 0.0f;
        }
        const float b0 = bias ? bias[r.c] : 0.0f;
        float* dzb = dz_out + ((i64)r.b * L + r.t0) * C + r.c;
#pragma unroll
        for (int q = 0; q < ZN; q++)
        {
            int t = r.t0 + q - pad;
            if (q < pad || t >= L) continue;
            float z = b0;   // bias, then the taps in order, as the forward (x at t - (K-1) + k is win[q + k])
#pragma unroll
            for (int k = 0; k < MK; k++)
                if (k < K && t - (K - 1) + k >= 0) z = fmaf(wk[k], win[q + k], z);
            float sg = 1.0f / (1.0f + expf(-z));
            dz[q] = dz[q] * (sg * (1.0f + z * (1.0f - sg)));
            if (q - pad < CONV_RUN) dzb[(i64)(q - pad) * C] = dz[q];
        }
    }
    float* dxb = dx + ((i64)r.b * L + r.t0) * C + r.c;
#pragma unroll
    for (int i = 0; i < CONV_RUN; i++)
    {
        if (r.t0 + i >= L) break;
        float acc = 0.0f;   // dz at t0 + i + (K-1) - k is slot i + MK - 1 - k
#pragma unroll
        for (int k = 0; k < MK; k++)
            if (k < K && r.t0 + i + (K - 1) - k < L) acc = fmaf(wk[k], dz[i + MK - 1 - k], acc);
        dxb[(i64)i * C] = acc;
    }
}

// dw[c,k] (k < K) and dbias[c] are sums over all B·L rows, read in one pass: a block per (32-channel tile, chunk of
// rows); each of its 8 row groups walks a contiguous run of the chunk's rows in time order, keeping its channel's
// last CONV_MAX_K inputs in registers (win[CONV_MAX_K-1] is x at the current time, win[j] x at d = MAX_K-1-j
// steps back, so tap k reads win[MAX_K-K+k]; every index is a compile-time constant), and accumulates the K taps
// and the bias. Then a shared-memory sum over the row groups into part (chunks, K+1, C), and
// conv1d_bwd_dw_sum_f32 adds the chunks in order: deterministic. (A block per (tile, k, chunk) read dz and x K+1
// times: 0.42 ms of the AiM-B batch-32 conv backward, 590 MB against 118.) K ≤ CONV_MAX_K (host-checked).
#define CONV_DW_CH 32
#define CONV_DW_ROWS 8
extern "C" __global__ void __launch_bounds__(CONV_DW_CH * CONV_DW_ROWS) conv1d_bwd_dw_f32(const float* x, i64 sxb, i64 sxl, const float* dz, float* part,
                                             int B, int L, int C, int K, int chunks)
{
    AIM_PDL_PROLOGUE();
    __shared__ float red[CONV_DW_ROWS][CONV_MAX_K + 1][CONV_DW_CH];
    int tiles = (C + CONV_DW_CH - 1) / CONV_DW_CH;
    int tile = blockIdx.x % tiles, chunk = blockIdx.x / tiles;
    int lane = threadIdx.x % CONV_DW_CH, row = threadIdx.x / CONV_DW_CH;
    int c = tile * CONV_DW_CH + lane;
    i64 rows = (i64)B * L, per = (rows + chunks - 1) / chunks;
    i64 c0 = (i64)chunk * per, c1 = min(rows, c0 + per);
    i64 sub = c1 > c0 ? (c1 - c0 + CONV_DW_ROWS - 1) / CONV_DW_ROWS : 0;
    i64 r0 = c0 + row * sub, r1 = min(c1, r0 + sub);
    float acc[CONV_MAX_K], bias = 0.0f;
#pragma unroll
    for (int j = 0; j < CONV_MAX_K; j++) acc[j] = 0.0f;
    if (c < C && r0 < r1)
    {
        i64 t;
        i64 b = index_divmod(r0, L, t);
        const float* xb = x + b * sxb + c;
        // The window as it stands before the first row's shift: win[j] = x at t - (MAX_K - j).
        float win[CONV_MAX_K];
        win[0] = 0.0f;
#pragma unroll
        for (int j = 1; j < CONV_MAX_K; j++)
        {
            i64 src = t - (CONV_MAX_K - j);
            win[j] = j > CONV_MAX_K - K && src >= 0 ? xb[src * sxl] : 0.0f;
        }
        for (i64 r = r0; r < r1; r++)
        {
#pragma unroll
            for (int j = 0; j < CONV_MAX_K - 1; j++) win[j] = win[j + 1];
            win[CONV_MAX_K - 1] = xb[t * sxl];
            float g = dz[r * C + c];
            bias += g;
#pragma unroll
            for (int j = 0; j < CONV_MAX_K; j++)
                if (j >= CONV_MAX_K - K) acc[j] = fmaf(win[j], g, acc[j]);
            if (++t == L)
            {
                t = 0;
                xb += sxb;
#pragma unroll
                for (int j = 0; j < CONV_MAX_K; j++) win[j] = 0.0f;
            }
        }
    }
#pragma unroll
    for (int j = 0; j < CONV_MAX_K; j++) red[row][j][lane] = acc[j];
    red[row][CONV_MAX_K][lane] = bias;
    __syncthreads();
    // Thread (k, lane) of the first K+1 warps writes tap k (k == K: the bias) of its channel.
    int k = threadIdx.x / CONV_DW_CH;
    for (; k <= K; k += CONV_DW_ROWS)
    {
        if (c >= C) break;
        int slot = k == K ? CONV_MAX_K : CONV_MAX_K - K + k;
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
