// Causal depthwise conv1d over time (channel-last), its backward and its single inference step, float32.
// Formulas: aim-architecture.md §3.4 step 2 and §3.6 steps 2-3; same definitions as ReferenceKernels.Ssm.cs:
//   z[b,t,c] = bias[c] + Σ_k w[c,k]·x[b, t-(K-1)+k, c]  (x at negative time = 0),  y = silu(z) or z.
// Backward: dz = dy·silu'(z) (z recomputed), dx[t] = Σ_k w[c,k]·dz[t+(K-1)-k], dw[c,k] = Σ_{b,t} x[t-(K-1)+k]·dz[t],
// dbias[c] = Σ_{b,t} dz. x is a strided view (batch stride, time stride) whose channel stride is 1.
#include "decode_step.cuh"   // conv_silu, conv_step_window

// The forward walks time runs: a thread owns one channel c over CONV_RUN consecutive steps of one batch row, loads
// the x values of its run plus the K-1 steps before once into registers, all loads issued before any use, and reuses
// them for every tap. (One thread per output element read every input K times and kept one load chain in flight: the
// AiM-B batch-32 forward took 0.15 ms for 118 MB, 5× its bandwidth floor.) Block: CONV_RUN_THREADS consecutive
// channels of one (batch, run), so a warp's loads at one step are one contiguous stretch of a row. K and silu are
// template parameters (one kernel per K ≤ CONV_MAX_K, with and without silu): every tap loop and register index is a
// compile-time constant and no tap carries a runtime guard (the K-generic kernel, its taps guarded by k < K, ran at
// 45 µs a layer against ~29 µs of bytes). Each output's arithmetic is the reference's (bias, then the taps in order);
// a tap at negative time multiplies x = 0 instead of being skipped (fmaf(w, 0, z) = z for finite w), so results do
// not depend on the run length. K ≤ CONV_MAX_K (host-checked).
#define CONV_RUN 16
#define CONV_RUN_THREADS 128
#define CONV_MAX_K 8

// y (B, L, C) contiguous: bias + taps, then silu if SILU. Grid: B · ⌈L / CONV_RUN⌉ · ⌈C / CONV_RUN_THREADS⌉ blocks,
// blockIdx.x = (b · runs + run) · tiles + tile.
template <int K, bool SILU>
__device__ __forceinline__ void conv1d_fwd(const float* x, i64 sxb, i64 sxl, const float* w, const float* bias, float* y, int L, int C)
{
    const int tiles = (C + CONV_RUN_THREADS - 1) / CONV_RUN_THREADS, runs = (L + CONV_RUN - 1) / CONV_RUN;
    const int tile = blockIdx.x % tiles, br = blockIdx.x / tiles, b = br / runs, t0 = (br % runs) * CONV_RUN;
    const int c = tile * CONV_RUN_THREADS + (int)threadIdx.x;
    if (c >= C) return;
    const int n = min(CONV_RUN, L - t0);   // steps of this run
    float wk[K], win[CONV_RUN + K - 1];    // win[j]: x at t0 - (K-1) + j, 0 outside the sequence
#pragma unroll
    for (int k = 0; k < K; k++) wk[k] = w[(i64)c * K + k];
    const float* xs = x + (i64)b * sxb + (i64)t0 * sxl + c;
#pragma unroll
    for (int j = 0; j < CONV_RUN + K - 1; j++)
    {
        const int i = j - (K - 1);   // step t0 + i
        win[j] = i < n && t0 + i >= 0 ? xs[(i64)i * sxl] : 0.0f;
    }
    const float b0 = bias ? bias[c] : 0.0f;
    float* ys = y + ((i64)b * L + t0) * C + c;
#pragma unroll
    for (int i = 0; i < CONV_RUN; i++)
    {
        if (i >= n) break;
        float z = b0;
#pragma unroll
        for (int k = 0; k < K; k++) z = fmaf(wk[k], win[i + k], z);
        ys[(i64)i * C] = SILU ? conv_silu(z) : z;
    }
}

#define CONV_FWD_KERNEL(NAME, K, SILU) \
    extern "C" __global__ void __launch_bounds__(CONV_RUN_THREADS) NAME(const float* x, i64 sxb, i64 sxl, const float* w, \
        const float* bias, float* y, int L, int C) \
    { \
        AIM_PDL_PROLOGUE(); \
        conv1d_fwd<K, SILU>(x, sxb, sxl, w, bias, y, L, C); \
    }
#define CONV_FWD_KERNELS(K) CONV_FWD_KERNEL(conv1d_fwd_k##K##_f32, K, false) CONV_FWD_KERNEL(conv1d_fwd_silu_k##K##_f32, K, true)
CONV_FWD_KERNELS(1)
CONV_FWD_KERNELS(2)
CONV_FWD_KERNELS(3)
CONV_FWD_KERNELS(4)
CONV_FWD_KERNELS(5)
CONV_FWD_KERNELS(6)
CONV_FWD_KERNELS(7)
CONV_FWD_KERNELS(8)

// The backward in one pass: dz = dy·silu'(z) (z recomputed; silu'(z) = s·(1 + z·(1-s)), s = sigmoid(z)), or dz = dy
// without silu; dx[t] = Σ_k w[c,k]·dz[t+(K-1)-k] over the taps inside the sequence, k in order; and the dW / dbias
// partials Σ_t x[t-(K-1)+k]·dz[t], Σ_t dz[t] of the thread's steps. dz is never written. (The earlier pair — a
// dz/dx kernel writing dz, then a dW pass reading x and dz again — moved 354 MB a call at AiM-B batch 32 for
// 177 MB of inputs and outputs, and its K-generic loops, every tap guarded by a runtime K, issued ~170
// instructions per element: 122 + 46 µs a layer.)
//
// K and silu are template parameters (one kernel per K ≤ CONV_MAX_K, with and without silu) so that every tap loop
// and register index is a compile-time constant. Block: CONV_BWD_CH consecutive channels (a warp's lanes, one
// 128-byte stretch of a row per step) × CONV_BWD_GROUPS time stretches of `span` steps, consecutive in time, of one
// batch row; blockIdx.x = (b · row blocks + row block) · channel tiles + tile. A thread streams its channel over
// its stretch [t0, t1) and the K-1 steps after it (their dz, not accumulated, completes dx at t1-1; past L, dy and x
// read as 0 so dz is 0 there, which adds nothing: the reference skips those taps), CONV_BWD_STEPS steps at a time,
// all of a sub-run's loads issued before any use. Carried between sub-runs: x at the K-1 steps before (0 before the
// sequence start; z at t takes the tap with x = 0 instead of skipping it: fmaf(w, 0, z) = z for finite w) and dz at
// the K-1 steps before (0 before t0, where it only feeds dx before t0, which this thread does not write).
//
// dW / dbias summation order (deterministic, no atomics): per thread in time order over its stretch, then the
// block's CONV_BWD_GROUPS stretches in time order (shared memory), written as one partial (K+1, C) row per
// (batch, row block) into part; conv1d_bwd_dw_sum_f32 adds the partials in (batch, row block) order.
#ifndef CONV_BWD_STEPS
#define CONV_BWD_STEPS 8
#endif
#define CONV_BWD_CH 32
#define CONV_BWD_GROUPS 8
#define CONV_BWD_THREADS (CONV_BWD_CH * CONV_BWD_GROUPS)
#ifndef CONV_BWD_MIN_BLOCKS
#define CONV_BWD_MIN_BLOCKS 4
#endif

// x (B, L, C) strided (sxb, sxl, 1); dx (B, L, C) strided (sdb, sdl, 1) (the tape's gradient slot in in_proj's gradient);
// dy (B, L, C) contiguous; part (B · row blocks, K+1, C): the partial sums,
// taps k < K then the bias. span: steps a thread (≥ 1); row blocks = ⌈L / (CONV_BWD_GROUPS · span)⌉.
template <int K, bool SILU>
__device__ __forceinline__ void conv1d_bwd(const float* x, i64 sxb, i64 sxl, const float* w, const float* bias, const float* dy,
                                           float* dx, i64 sdb, i64 sdl, float* part, int L, int C, int span)
{
    constexpr int S = CONV_BWD_STEPS, H = K - 1 > 0 ? K - 1 : 1;   // H: carried slots (one unused when K = 1)
    __shared__ float red[CONV_BWD_GROUPS][K + 1][CONV_BWD_CH];
    const int tiles = (C + CONV_BWD_CH - 1) / CONV_BWD_CH, rowBlocks = (L + CONV_BWD_GROUPS * span - 1) / (CONV_BWD_GROUPS * span);
    const int tile = blockIdx.x % tiles, rb = blockIdx.x / tiles, b = rb / rowBlocks, tb = rb % rowBlocks;
    const int lane = threadIdx.x % CONV_BWD_CH, group = threadIdx.x / CONV_BWD_CH;
    const int c = tile * CONV_BWD_CH + lane;
    const i64 t0l = ((i64)tb * CONV_BWD_GROUPS + group) * span;
    float acc[K + 1];
#pragma unroll
    for (int k = 0; k <= K; k++) acc[k] = 0.0f;
    if (c < C && t0l < L)
    {
        const int t0 = (int)t0l, t1 = (int)min((i64)L, t0l + span), te = t1 + K - 1;
        float wk[K];
#pragma unroll
        for (int k = 0; k < K; k++) wk[k] = w[(i64)c * K + k];
        const float b0 = SILU && bias ? bias[c] : 0.0f;
        const float* xb = x + (i64)b * sxb + c;
        const float* gb = dy + (i64)b * L * C + c;
        float* db = dx + (i64)b * sdb + c;
        float xw[H], dzw[H];   // xw[j], dzw[j]: x and dz at s0 - (K-1) + j
#pragma unroll
        for (int j = 0; j < H; j++)
        {
            int t = t0 - (K - 1) + j;
            xw[j] = j < K - 1 && t >= 0 ? xb[(i64)t * sxl] : 0.0f;
            dzw[j] = 0.0f;
        }
        for (int s0 = t0; s0 < te; s0 += S)
        {
            const int nload = min(te, L) - s0, nstep = te - s0, nacc = t1 - s0, first = t0 + K - 1 - s0;
            float xv[S], dz[S];
            const float* xs = xb + (i64)s0 * sxl;
            const float* gs = gb + (i64)s0 * C;
            float* ds = db + (i64)(s0 - (K - 1)) * sdl;   // dx at step s0 + i - (K-1)
#pragma unroll
            for (int i = 0; i < S; i++)
            {
                xv[i] = i < nload ? xs[(i64)i * sxl] : 0.0f;
                dz[i] = i < nload ? gs[(i64)i * C] : 0.0f;
            }
#pragma unroll
            for (int i = 0; i < S; i++)
            {
                if (i >= nstep) break;
                if (SILU)
                {
                    float z = b0;   // bias, then the taps in order, as the forward
#pragma unroll
                    for (int k = 0; k < K; k++)
                    {
                        const int m = i - (K - 1) + k;
                        z = fmaf(wk[k], m >= 0 ? xv[m] : xw[m + K - 1], z);
                    }
                    float sg = 1.0f / (1.0f + expf(-z));
                    dz[i] = dz[i] * (sg * (1.0f + z * (1.0f - sg)));
                }
                if (i < nacc)
                {
#pragma unroll
                    for (int k = 0; k < K; k++)
                    {
                        const int m = i - (K - 1) + k;
                        acc[k] = fmaf(m >= 0 ? xv[m] : xw[m + K - 1], dz[i], acc[k]);
                    }
                    acc[K] += dz[i];
                }
                if (i >= first)
                {
                    float d = 0.0f;   // dx at s0 + i - (K-1): dz at s0 + i - k for tap k
#pragma unroll
                    for (int k = 0; k < K; k++)
                    {
                        const int m = i - k;
                        d = fmaf(wk[k], m >= 0 ? dz[m] : dzw[m + K - 1], d);
                    }
                    ds[(i64)i * sdl] = d;
                }
            }
#pragma unroll
            for (int j = 0; j < H; j++)
            {
                xw[j] = xv[S - (K - 1) + j < S ? S - (K - 1) + j : 0];
                dzw[j] = dz[S - (K - 1) + j < S ? S - (K - 1) + j : 0];
            }
        }
    }
#pragma unroll
    for (int k = 0; k <= K; k++) red[group][k][lane] = acc[k];
    __syncthreads();
    // Warp k (and k + GROUPS, ...) writes tap k (k == K: the bias) of the tile's channels.
    if (c >= C) return;
    for (int k = group; k <= K; k += CONV_BWD_GROUPS)
    {
        float s = 0.0f;
#pragma unroll
        for (int j = 0; j < CONV_BWD_GROUPS; j++) s += red[j][k][lane];
        part[((i64)rb * (K + 1) + k) * C + c] = s;
    }
}

// Up to 4 taps: CONV_BWD_MIN_BLOCKS blocks a multiprocessor (64 registers at 4, no spills with NVRTC 11.8); more taps
// carry longer windows and take one block less (5-8 taps spilled at 64 registers).
#define CONV_BWD_KERNEL(NAME, K, SILU) \
    extern "C" __global__ void __launch_bounds__(CONV_BWD_THREADS, K <= 4 ? CONV_BWD_MIN_BLOCKS : CONV_BWD_MIN_BLOCKS - 1) NAME(const float* x, i64 sxb, i64 sxl, \
        const float* w, const float* bias, const float* dy, float* dx, i64 sdb, i64 sdl, float* part, int L, int C, int span) \
    { \
        AIM_PDL_PROLOGUE(); \
        conv1d_bwd<K, SILU>(x, sxb, sxl, w, bias, dy, dx, sdb, sdl, part, L, C, span); \
    }
#define CONV_BWD_KERNELS(K) CONV_BWD_KERNEL(conv1d_bwd_k##K##_f32, K, false) CONV_BWD_KERNEL(conv1d_bwd_silu_k##K##_f32, K, true)
CONV_BWD_KERNELS(1)
CONV_BWD_KERNELS(2)
CONV_BWD_KERNELS(3)
CONV_BWD_KERNELS(4)
CONV_BWD_KERNELS(5)
CONV_BWD_KERNELS(6)
CONV_BWD_KERNELS(7)
CONV_BWD_KERNELS(8)

// dw (C, K) and dbias (C, or null) = the partials of conv1d_bwd_*, part (chunks, K+1, C), summed in chunk order.
// One thread per (k, c).
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

// K floats at src into registers (four at a time when vec: K % 4 == 0 and src 16-byte aligned), and back.
template <int K>
__device__ __forceinline__ void load_taps(float (&dst)[K], const float* src, bool vec)
{
    if constexpr (K % 4 == 0)
    {
        if (vec)
        {
#pragma unroll
            for (int q = 0; q < K / 4; q++)
            {
                const float4 v = reinterpret_cast<const float4*>(src)[q];
                dst[4 * q] = v.x;
                dst[4 * q + 1] = v.y;
                dst[4 * q + 2] = v.z;
                dst[4 * q + 3] = v.w;
            }
            return;
        }
    }
#pragma unroll
    for (int j = 0; j < K; j++) dst[j] = src[j];
}

template <int K>
__device__ __forceinline__ void store_taps(float* dst, const float (&src)[K], bool vec)
{
    if constexpr (K % 4 == 0)
    {
        if (vec)
        {
#pragma unroll
            for (int q = 0; q < K / 4; q++)
                reinterpret_cast<float4*>(dst)[q] = make_float4(src[4 * q], src[4 * q + 1], src[4 * q + 2], src[4 * q + 3]);
            return;
        }
    }
#pragma unroll
    for (int j = 0; j < K; j++) dst[j] = src[j];
}

// One step (CausalConv1dStep on CUDA): state (B, C, K) shifts left, x goes last, y[b, c] = act(bias + Σ_k state·w).
// One thread per (b, c); one kernel per K ≤ CONV_MAX_K, so the window and the taps stay in registers, moved as float4s
// when vec (K % 4 == 0, state and w 16-byte aligned): a thread reads and writes its window once. (A runtime-K kernel
// that shifted the window in memory, K 4-byte loads and stores a thread, took 6.9 µs at AiM-B's 128 rows.)
template <int K>
__device__ __forceinline__ void conv1d_step_k(float* state, const float* x, i64 sxb, const float* w, const float* bias, bool silu, float* y,
                                              int B, int C, bool vec)
{
    AIM_GRID_STRIDE(i, (i64)B * C)
    {
        const int c = (int)(i % C), b = (int)(i / C);
        float window[K], taps[K];
        load_taps<K>(window, state + i * K, vec);
        load_taps<K>(taps, w + (i64)c * K, vec);
        y[i] = conv_step_window<K>(window, taps, bias ? bias[c] : 0.0f, x[(i64)b * sxb + c], silu);
        store_taps<K>(state + i * K, window, vec);
    }
}

// The L2 prefetch of the taps and biases of channels [from, to).
__device__ __forceinline__ void conv1d_taps_prefetch(const float* w, const float* bias, int K, i64 from, i64 to)
{
    aim_prefetch_l2(w + from * K, (to - from) * K * (i64)sizeof(float));
    aim_prefetch_l2(bias ? bias + from : nullptr, (to - from) * (i64)sizeof(float));
}

// The L2 prefetch of the windows, taps and biases of the block's first grid-stride pass (elements [i0, i1) of B·C), for
// AIM_PDL_PROLOGUE_PREFETCHING: the windows are one span; the channels i0 % C .. (i1 - 1) % C one span, or two when
// they wrap past C.
__device__ __forceinline__ void conv1d_step_prefetch(const float* state, const float* w, const float* bias, int K, int B, int C)
{
    const i64 n = (i64)B * C, i0 = (i64)blockIdx.x * blockDim.x, i1 = min(i0 + (i64)blockDim.x, n);
    if (i0 >= n) return;
    aim_prefetch_l2(state + i0 * K, (i1 - i0) * K * (i64)sizeof(float));
    const i64 c0 = i0 % C, c1 = (i1 - 1) % C;
    if (i1 - i0 >= C) conv1d_taps_prefetch(w, bias, K, 0, C);
    else if (c0 <= c1) conv1d_taps_prefetch(w, bias, K, c0, c1 + 1);
    else
    {
        conv1d_taps_prefetch(w, bias, K, c0, C);
        conv1d_taps_prefetch(w, bias, K, 0, c1 + 1);
    }
}

#define CONV_STEP_KERNEL(K)                                                                                                 \
    extern "C" __global__ void conv1d_step_k##K##_f32(float* state, const float* x, i64 sxb, const float* w, const float* bias,   \
                                                      int silu, float* y, int B, int C, int vec)                                \
    {                                                                                                                       \
        AIM_PDL_PROLOGUE_PREFETCHING(conv1d_step_prefetch(state, w, bias, K, B, C));                                          \
        conv1d_step_k<K>(state, x, sxb, w, bias, silu != 0, y, B, C, vec != 0);                                             \
    }
CONV_STEP_KERNEL(1)
CONV_STEP_KERNEL(2)
CONV_STEP_KERNEL(3)
CONV_STEP_KERNEL(4)
CONV_STEP_KERNEL(5)
CONV_STEP_KERNEL(6)
CONV_STEP_KERNEL(7)
CONV_STEP_KERNEL(8)

