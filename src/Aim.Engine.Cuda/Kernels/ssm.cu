// The Mamba-2 SSD scan on CUDA, float32 storage: the chunked forward (aim-architecture.md §3.5), the chunked
// backward (derived below), the older serial backward (the reverse-time recurrence of ReferenceKernels.Ssm.cs /
// CpuKernels.Ssm.cs) and the single inference step (§3.6). Layouts: x (B, L, H, P) and b, c (B, L, G, N)
// strided with unit last stride, dt (B, L, H), y (B, L, H, P), states (B, H, P, N), group g = h / (H/G).
//
// Forward, per (batch, head, chunk of Q steps), with cs[l] = Σ_{j≤l in chunk} dt[j]·a[h]:
//   1. ssd_cumsum:      cs, and w[s] = exp(cs[Q-1] - cs[s])·dt[s] (the weight of step s in the chunk state)
//   2. ssd_cb:          CB[l,s] = Σ_n C[l,n]·B[s,n] per (batch, group, chunk), lower-triangular tiles only
//   3. ssd_chunk_state: st[p,n] = Σ_s w[s]·x[s,p]·B[s,n]
//   4. ssd_state_pass:  S_in[0] = initial state, S_in[c+1] = exp(cs_c[Q-1])·S_in[c] + st_c; final = S_in[nc]
//   5. ssd_chunk_scan:  y[l,p] = exp(cs[l])·Σ_n C[l,n]·S_in[p,n] + Σ_{s≤l} CB[l,s]·exp(cs[l]-cs[s])·dt[s]·x[s,p] + D·x[l,p]
// The matrix products are block tiles of 64×64 outputs per 256-thread block, K-slices of 16 staged in shared
// memory by per-element loader functions (which apply the decays), computed by one of three engines chosen by
// the kernels' `mm` argument: SSD_MM_FMA (fp32 FMAs, 4×4 outputs per thread), SSD_MM_TF32 (one TF32 tensor-core
// product: 10-bit mantissa inputs, fp32 accumulation) or SSD_MM_3XTF32 (each operand split into TF32 hi + lo and
// hi·hi + hi·lo + lo·hi accumulated: about float32 accuracy at three tensor-core products).
#include "common.cuh"
#include "mma.cuh"
#include "decode_step.cuh"

#define SSD_TM 64
#define SSD_TN 64
#ifndef SSD_TK
#define SSD_TK 16
#endif
#define SSD_THREADS 256
#ifndef SSD_MIN_BLOCKS
// Two blocks a multiprocessor (128 registers) hide more latency than the few spills cost (H200: backward 3.75 ->
// 2.74 ms per AiM-B layer at batch 32); 3 measured +3% backward, -3% forward.
#define SSD_MIN_BLOCKS 2
#endif
#define SSD_LDS (SSD_TM + 8)    // staged row pitch: fragment loads (row 4·t + g apart) hit 32 distinct banks
#define SSD_LDO (SSD_TN + 4)    // pitch of the tensor-core result handed back to the 4×4-per-thread layout

#define SSD_MM_FMA 0
#define SSD_MM_TF32 1
#define SSD_MM_3XTF32 3

// Staged K-slices, or (after the last slice) the tensor-core result.
union __align__(16) GemmSmem
{
    struct { float a[SSD_TK][SSD_LDS]; float b[SSD_TK][SSD_LDS]; } in;
    float out[SSD_TM][SSD_LDO];
};

// acc[i][j] += Σ_k A(4·ty+i, k)·B(k, 4·tx+j) over k < kcount, where ty = tid/16, tx = tid%16. fa(i, k) and fb(k, j)
// return the operand (0 outside the problem). AK / BK: the loaders walk k fastest (true) or i / j fastest (false),
// chosen so that consecutive threads read consecutive addresses. mm: the engine (SSD_MM_*), uniform per launch.
// With tensor cores, warp w computes rows 16·(w/2) .. +16 and columns 32·(w%2) .. +32 of the 64×64 tile as four
// m16n8 accumulators; the sum is handed to acc through shared memory at the end.
template <bool AK, bool BK, typename FA, typename FB>
__device__ __forceinline__ void block_gemm(float (&acc)[4][4], int kcount, GemmSmem& sm, int mm, FA fa, FB fb)
{
    const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
    const int warp = tid / 32, lane = tid % 32, g = lane / 4, t = lane % 4;
    const int wm = (warp / 2) * 16, wn = (warp % 2) * 32;
    float d[4][4] = {};
    // Software pipeline: slice k0 + SSD_TK is loaded into registers while slice k0 is multiplied, so each slice
    // costs max(load latency, math) rather than their sum (the kernels are latency-bound, not math-bound).
    constexpr int R = (SSD_TM * SSD_TK) / SSD_THREADS;
    float ra[R], rb[R];
    auto load = [&](int k0)
    {
#pragma unroll
        for (int r = 0; r < R; r++)
        {
            int e = tid + r * SSD_THREADS;
            int i = AK ? e / SSD_TK : e % SSD_TM;
            int ka = AK ? e % SSD_TK : e / SSD_TM;
            ra[r] = (k0 + ka < kcount) ? fa(i, k0 + ka) : 0.0f;
            int j = BK ? e / SSD_TK : e % SSD_TN;
            int kb = BK ? e % SSD_TK : e / SSD_TN;
            rb[r] = (k0 + kb < kcount) ? fb(k0 + kb, j) : 0.0f;
        }
    };
    if (kcount > 0) load(0);
    for (int k0 = 0; k0 < kcount; k0 += SSD_TK)
    {
#pragma unroll
        for (int r = 0; r < R; r++)
        {
            int e = tid + r * SSD_THREADS;
            sm.in.a[AK ? e % SSD_TK : e / SSD_TM][AK ? e / SSD_TK : e % SSD_TM] = ra[r];
            sm.in.b[BK ? e % SSD_TK : e / SSD_TN][BK ? e / SSD_TK : e % SSD_TN] = rb[r];
        }
        __syncthreads();
        if (k0 + SSD_TK < kcount) load(k0 + SSD_TK);
        if (mm == SSD_MM_FMA)
        {
#pragma unroll
            for (int k = 0; k < SSD_TK; k++)
            {
                float4 av = *reinterpret_cast<const float4*>(&sm.in.a[k][ty * 4]);
                float4 bv = *reinterpret_cast<const float4*>(&sm.in.b[k][tx * 4]);
                float ar[4] = {av.x, av.y, av.z, av.w};
                float br[4] = {bv.x, bv.y, bv.z, bv.w};
#pragma unroll
                for (int i = 0; i < 4; i++)
#pragma unroll
                    for (int j = 0; j < 4; j++) acc[i][j] = fmaf(ar[i], br[j], acc[i][j]);
            }
        }
        else
        {
#pragma unroll
            for (int kk = 0; kk < SSD_TK; kk += 8)
            {
                unsigned ahi[4], alo[4];
                split_tf32(sm.in.a[kk + t][wm + g], ahi[0], alo[0]);
                split_tf32(sm.in.a[kk + t][wm + g + 8], ahi[1], alo[1]);
                split_tf32(sm.in.a[kk + t + 4][wm + g], ahi[2], alo[2]);
                split_tf32(sm.in.a[kk + t + 4][wm + g + 8], ahi[3], alo[3]);
#pragma unroll
                for (int j = 0; j < 4; j++)
                {
                    unsigned bhi[2], blo[2];
                    split_tf32(sm.in.b[kk + t][wn + 8 * j + g], bhi[0], blo[0]);
                    split_tf32(sm.in.b[kk + t + 4][wn + 8 * j + g], bhi[1], blo[1]);
                    if (mm == SSD_MM_3XTF32)
                    {
                        mma_tf32_16x8x8(d[j], alo, bhi);
                        mma_tf32_16x8x8(d[j], ahi, blo);
                    }
                    mma_tf32_16x8x8(d[j], ahi, bhi);
                }
            }
        }
        __syncthreads();
    }
    if (mm != SSD_MM_FMA)
    {
#pragma unroll
        for (int j = 0; j < 4; j++)
        {
            int col = wn + 8 * j + 2 * t;
            sm.out[wm + g][col] = d[j][0];
            sm.out[wm + g][col + 1] = d[j][1];
            sm.out[wm + g + 8][col] = d[j][2];
            sm.out[wm + g + 8][col + 1] = d[j][3];
        }
        __syncthreads();
#pragma unroll
        for (int i = 0; i < 4; i++)
        {
            float4 v = *reinterpret_cast<const float4*>(&sm.out[ty * 4 + i][tx * 4]);
            acc[i][0] += v.x;
            acc[i][1] += v.y;
            acc[i][2] += v.z;
            acc[i][3] += v.w;
        }
        __syncthreads();
    }
}

// Writes the block's 64×64 tile: out(r, c) = acc for rows r0 + 4·ty + i < rows and columns c0 + 4·tx + j < cols.
template <typename FO>
__device__ __forceinline__ void block_store(const float (&acc)[4][4], int r0, int rows, int c0, int cols, FO out)
{
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
        {
            int r = r0 + ty * 4 + i, c = c0 + tx * 4 + j;
            if (r < rows && c < cols) out(r, c, acc[i][j]);
        }
}

// ---------------------------------------------------------------------------------------------- forward

// The block's place in a grid of (batch, head, chunk, i-tile, j-tile) blocks, j fastest (ti, tj tiles per chunk),
// with its group, its chunk's first step t0 and length qlen, and the tiles' first rows i0 and columns j0.
struct ChunkTile
{
    int b, h, g, c, t0, qlen, it, jt, i0, j0;
    i64 bh;
};

__device__ __forceinline__ ChunkTile chunk_tile(int ti, int tj, int H, int G, int L, int Q, int nc)
{
    ChunkTile r;
    i64 id = blockIdx.x;
    r.jt = (int)(id % tj); id /= tj;
    r.it = (int)(id % ti); id /= ti;
    r.c = (int)(id % nc); id /= nc;
    r.h = (int)(id % H);
    r.b = (int)(id / H);
    r.g = r.h / (H / G);
    r.t0 = r.c * Q;
    r.qlen = min(Q, L - r.t0);
    r.i0 = r.it * SSD_TM;
    r.j0 = r.jt * SSD_TN;
    r.bh = (i64)r.b * H + r.h;
    return r;
}


// One warp per (b, h, chunk): cs (B, H, L) and w (B, H, L). The chunk is scanned 32 steps at a time (a warp
// inclusive scan plus the carry of the steps before), so the dependent chain is Q/32 long, not Q (a thread per
// chunk walked 256 steps serially: 180 µs for AiM-B at batch 32, chunk 256).
extern "C" __global__ void ssd_cumsum_f32(const float* dt, const float* a, float* cs, float* w, int B, int L, int H, int Q, int nc)
{
    AIM_PDL_PROLOGUE();
    i64 idx = ((i64)blockIdx.x * blockDim.x + threadIdx.x) / 32;
    int lane = threadIdx.x % 32;
    if (idx >= (i64)B * H * nc) return;   // whole warps: blockDim is a multiple of 32
    int c = (int)(idx % nc);
    i64 bh = idx / nc;
    int h = (int)(bh % H), b = (int)(bh / H);
    int t0 = c * Q, t1 = min(L, t0 + Q);
    float ah = a[h], carry = 0.0f;
    for (int tb = t0; tb < t1; tb += 32)
    {
        int t = tb + lane;
        float v = t < t1 ? dt[((i64)b * L + t) * H + h] * ah : 0.0f;
        for (int o = 1; o < 32; o <<= 1)
        {
            float u = __shfl_up_sync(0xffffffffu, v, o);
            if (lane >= o) v += u;
        }
        v += carry;
        if (t < t1) cs[bh * L + t] = v;
        carry = __shfl_sync(0xffffffffu, v, 31);
    }
    for (int t = t0 + lane; t < t1; t += 32)
        w[bh * L + t] = expf(carry - cs[bh * L + t]) * dt[((i64)b * L + t) * H + h];
}

// CB (B, G, nc, Q, Q): block per (b, g, chunk, l-tile, s-tile), upper tiles skipped.
extern "C" __global__ void __launch_bounds__(SSD_THREADS, SSD_MIN_BLOCKS) ssd_cb_f32(
    const float* bm, i64 sbb, i64 sbl, i64 sbg, const float* cm, i64 scb, i64 scl, i64 scg, float* cb,
    int B, int L, int G, int N, int Q, int nc, int mm)
{
    AIM_PDL_PROLOGUE();
    int tiles = (Q + SSD_TM - 1) / SSD_TM;
    const ChunkTile tile = chunk_tile(tiles, tiles, G, G, L, Q, nc);      // one "head" per group
    const int b = tile.b, g = tile.h, c = tile.c, t0 = tile.t0, qlen = tile.qlen, l0 = tile.i0, s0 = tile.j0;
    if (tile.jt > tile.it || l0 >= qlen) return;
    __shared__ GemmSmem sm;
    float acc[4][4] = {};
    const float* cb0 = cm + (i64)b * scb + (i64)g * scg + (i64)t0 * scl;
    const float* bb0 = bm + (i64)b * sbb + (i64)g * sbg + (i64)t0 * sbl;
    block_gemm<true, true>(acc, N, sm, mm,
        [&](int i, int k) { int l = l0 + i; return l < qlen ? cb0[(i64)l * scl + k] : 0.0f; },
        [&](int k, int j) { int s = s0 + j; return s < qlen ? bb0[(i64)s * sbl + k] : 0.0f; });
    float* out = cb + (((i64)b * G + g) * nc + c) * Q * Q;
    int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
        {
            int l = l0 + ty * 4 + i, s = s0 + tx * 4 + j;
            if (l < qlen && s < qlen) out[(i64)l * Q + s] = acc[i][j];
        }
}

// st (B, H, nc, P, N): block per (b, h, chunk, p-tile, n-tile).
extern "C" __global__ void __launch_bounds__(SSD_THREADS, SSD_MIN_BLOCKS) ssd_chunk_state_f32(
    const float* x, i64 sxb, i64 sxl, i64 sxh, const float* bm, i64 sbb, i64 sbl, i64 sbg, const float* w, float* st,
    int B, int L, int H, int G, int P, int N, int Q, int nc, int mm)
{
    AIM_PDL_PROLOGUE();
    const ChunkTile tile = chunk_tile((P + SSD_TM - 1) / SSD_TM, (N + SSD_TN - 1) / SSD_TN, H, G, L, Q, nc);
    const int b = tile.b, h = tile.h, g = tile.g, c = tile.c, t0 = tile.t0, qlen = tile.qlen, p0 = tile.i0, n0 = tile.j0;
    __shared__ GemmSmem sm;
    float acc[4][4] = {};
    const float* x0 = x + (i64)b * sxb + (i64)h * sxh + (i64)t0 * sxl;
    const float* b0 = bm + (i64)b * sbb + (i64)g * sbg + (i64)t0 * sbl;
    const float* w0 = w + tile.bh * L + t0;
    block_gemm<false, false>(acc, qlen, sm, mm,
        [&](int i, int s) { int p = p0 + i; return p < P ? x0[(i64)s * sxl + p] * w0[s] : 0.0f; },
        [&](int s, int j) { int n = n0 + j; return n < N ? b0[(i64)s * sbl + n] : 0.0f; });
    float* out = st + (tile.bh * nc + c) * P * N;
    int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
        {
            int p = p0 + ty * 4 + i, n = n0 + tx * 4 + j;
            if (p < P && n < N) out[(i64)p * N + n] = acc[i][j];
        }
}

// The pass over the chunk states of one element, shared by the forward (states, from the initial state forwards)
// and the backward (dL/dS_out, from dFinal backwards): in place, buf[c] becomes the running value entering chunk c
// and run = exp(cs_c[Q-1])·run + buf[c] moves on; end gets the value after the last chunk. It is pure data
// movement (read and write B·H·nc·P·N floats), so it is latency-bound unless each thread keeps many loads in
// flight: SSD_PASS_ELEMS elements a thread (a block-width apart, coalesced) and SSD_PASS_CHUNKS chunks loaded
// before any is written. (One element a thread, one chunk at a time ran at 3% of the bandwidth: 1.1 ms at
// AiM-B's batch 32, chunk 64.) Block per (b·H + h, tile of SSD_PASS_ELEMS·256 elements of P·N): tiles blocks per
// (b, h), so indices stay 32-bit within the slab and registers few enough for 4 blocks a multiprocessor.
#define SSD_PASS_ELEMS 4
#define SSD_PASS_CHUNKS 4
#define SSD_PASS_THREADS 256
template <bool Reverse>
__device__ __forceinline__ void ssd_pass(float* buf, const float* cs, const float* start, float* end, int L, int PN, int Q, int nc, int tiles)
{
    const i64 bh = blockIdx.x / tiles;
    const int e0 = (int)(blockIdx.x % tiles) * SSD_PASS_THREADS * SSD_PASS_ELEMS + threadIdx.x;
    float* b0 = buf + bh * nc * PN;
    const float* cs0 = cs + bh * L;
    float run[SSD_PASS_ELEMS];
#pragma unroll
    for (int k = 0; k < SSD_PASS_ELEMS; k++)
    {
        int e = e0 + k * SSD_PASS_THREADS;
        run[k] = e < PN && start ? start[bh * PN + e] : 0.0f;
    }
    for (int cc = 0; cc < nc; cc += SSD_PASS_CHUNKS)
    {
        float v[SSD_PASS_CHUNKS][SSD_PASS_ELEMS];
#pragma unroll
        for (int j = 0; j < SSD_PASS_CHUNKS; j++)
        {
            int c = Reverse ? nc - 1 - (cc + j) : cc + j;
#pragma unroll
            for (int k = 0; k < SSD_PASS_ELEMS; k++)
            {
                int e = e0 + k * SSD_PASS_THREADS;
                v[j][k] = cc + j < nc && e < PN ? b0[(i64)c * PN + e] : 0.0f;
            }
        }
#pragma unroll
        for (int j = 0; j < SSD_PASS_CHUNKS; j++)
        {
            if (cc + j >= nc) break;
            int c = Reverse ? nc - 1 - (cc + j) : cc + j;
            float decay = expf(cs0[min(L, (c + 1) * Q) - 1]);
#pragma unroll
            for (int k = 0; k < SSD_PASS_ELEMS; k++)
            {
                int e = e0 + k * SSD_PASS_THREADS;
                if (e >= PN) continue;
                b0[(i64)c * PN + e] = run[k];
                run[k] = fmaf(decay, run[k], v[j][k]);
            }
        }
    }
#pragma unroll
    for (int k = 0; k < SSD_PASS_ELEMS; k++)
    {
        int e = e0 + k * SSD_PASS_THREADS;
        if (e < PN && end) end[bh * PN + e] = run[k];
    }
}

// In place: st[c] becomes the state entering chunk c; final gets the state after the last chunk (ssd_pass).
extern "C" __global__ void __launch_bounds__(SSD_PASS_THREADS, 4) ssd_state_pass_f32(
    float* st, const float* cs, const float* init, float* final_state, int L, int PN, int Q, int nc, int tiles)
{
    AIM_PDL_PROLOGUE();
    ssd_pass<false>(st, cs, init, final_state, L, PN, Q, nc, tiles);
}

// y (B, L, H, P): block per (b, h, chunk, l-tile, p-tile). has_state: whether S_in can be non-zero (an
// initial state was given); chunk 0 without one skips the state term.
extern "C" __global__ void __launch_bounds__(SSD_THREADS, SSD_MIN_BLOCKS) ssd_chunk_scan_f32(
    const float* x, i64 sxb, i64 sxl, i64 sxh, const float* dt, const float* cm, i64 scb, i64 scl, i64 scg,
    const float* d, const float* cb, const float* cs, const float* st, int has_state, float* y,
    int B, int L, int H, int G, int P, int N, int Q, int nc, int mm)
{
    AIM_PDL_PROLOGUE();
    const ChunkTile tile = chunk_tile((Q + SSD_TM - 1) / SSD_TM, (P + SSD_TN - 1) / SSD_TN, H, G, L, Q, nc);
    const int b = tile.b, h = tile.h, g = tile.g, c = tile.c, t0 = tile.t0, qlen = tile.qlen, l0 = tile.i0, p0 = tile.j0;
    if (l0 >= qlen) return;
    __shared__ GemmSmem sm;
    float acc[4][4] = {};
    int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    const i64 bh = tile.bh;
    const float* cs0 = cs + bh * L + t0;
    const float* c0 = cm + (i64)b * scb + (i64)g * scg + (i64)t0 * scl;
    if (c > 0 || has_state)
    {
        const float* s0 = st + (bh * nc + c) * P * N;
        block_gemm<true, true>(acc, N, sm, mm,
            [&](int i, int n) { int l = l0 + i; return l < qlen ? c0[(i64)l * scl + n] : 0.0f; },
            [&](int n, int j) { int p = p0 + j; return p < P ? s0[(i64)p * N + n] : 0.0f; });
        for (int i = 0; i < 4; i++)
        {
            int l = l0 + ty * 4 + i;
            float decay = l < qlen ? expf(cs0[l]) : 0.0f;
            for (int j = 0; j < 4; j++) acc[i][j] *= decay;
        }
    }
    const float* cb0 = cb + (((i64)b * G + g) * nc + c) * Q * Q;
    const float* dt0 = dt + ((i64)b * L + t0) * H + h;
    const float* x0 = x + (i64)b * sxb + (i64)h * sxh + (i64)t0 * sxl;
    int kmax = min(qlen, l0 + SSD_TM);
    block_gemm<true, false>(acc, kmax, sm, mm,
        [&](int i, int s) {
            int l = l0 + i;
            if (l >= qlen || s > l) return 0.0f;
            return cb0[(i64)l * Q + s] * expf(cs0[l] - cs0[s]) * dt0[(i64)s * H];
        },
        [&](int s, int j) { int p = p0 + j; return p < P ? x0[(i64)s * sxl + p] : 0.0f; });
    float dh = d ? d[h] : 0.0f;
    for (int i = 0; i < 4; i++)
    {
        int l = l0 + ty * 4 + i;
        if (l >= qlen) continue;
        float* yrow = y + (((i64)b * L + t0 + l) * H + h) * P;
        for (int j = 0; j < 4; j++)
        {
            int p = p0 + tx * 4 + j;
            if (p < P) yrow[p] = fmaf(dh, x0[(i64)l * sxl + p], acc[i][j]);
        }
    }
}

// ------------------------------------------------------------------------------------ backward (chunked)
//
// Per (batch, head, chunk), with the forward quantities cs, w, CB and S_in recomputed by the forward kernels,
// G = dL/dS_out of the chunk (dFinal for the last chunk) and dMd[l,s] = exp(cs[l]-cs[s])·Σ_p dY[l,p]·x[s,p]
// (s ≤ l), the gradients are
//   dS_in        = exp(cs[Q-1])·G + Σ_l exp(cs[l])·dY[l] ⊗ C[l]                  (= G of the previous chunk)
//   dx[s,p]      = Σ_{l≥s} CB[l,s]·exp(cs[l]-cs[s])·dt[s]·dY[l,p] + w[s]·Σ_n B[s,n]·G[p,n] + D·dY[s,p]
//   dC[l,n]      = exp(cs[l])·Σ_p dY[l,p]·S_in[p,n] + Σ_{s≤l} dMd[l,s]·dt[s]·B[s,n]
//   dB[s,n]      = Σ_{l≥s} dMd[l,s]·dt[s]·C[l,n] + dt[s]·exp(cs[Q-1]-cs[s])·Σ_p x[s,p]·G[p,n]
//   dD           = Σ_l dMd[l,l]
// and, through the decays, with colT[s] = Σ_{l≥s} dMd[l,s]·CB[l,s], rowT[l] = Σ_{s≤l} dMd[l,s]·CB[l,s]·dt[s],
// i[l] = Σ_n C[l,n]·exp(cs[l])·Σ_p dY[l,p]·S_in[p,n], v[s] = exp(cs[Q-1]-cs[s])·Σ_n B[s,n]·Σ_p x[s,p]·G[p,n] and
// r = exp(cs[Q-1])·⟨G, S_in⟩:
//   dcs[l]       = rowT[l] - colT[l]·dt[l] + i[l] - v[l]·dt[l] + [l = Q-1]·(Σ_s v[s]·dt[s] + r)
//   ddt[j]       = colT[j] + v[j] + a·Σ_{l≥j} dcs[l],     da = Σ_j dt[j]·Σ_{l≥j} dcs[l]
// Kernels: ssd_bwd_dstate (Σ_l exp(cs)·dY ⊗ C per chunk), ssd_bwd_state_pass (G per chunk, dInitialState),
// ssd_bwd_chunk_dot (r), ssd_bwd_dm (dMd), ssd_bwd_dx, ssd_bwd_dc (+ partial i), ssd_bwd_db (+ partial v),
// ssd_bwd_scalars (dDt, partial dA and dD per chunk); then ssd_bwd_group_sum and ssd_bwd_head_sum below.
// Partial sums over the 64-wide n-tiles go to (B, H, L, tn) buffers and are added in a fixed order.

// Adds v over the 16 threads of this thread's row group (tid / 16): a half warp.
__device__ __forceinline__ float half_warp_sum(float v)
{
    for (int o = 8; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// part[r·tn + nj] = Σ_c m[r, c]·acc(r, c) over this tile's columns c0 + 4·tx + j < cols, for the block's rows
// r = r0 + 4·ty + i < rows: the per-row dot of the tile with an operand m (row stride ldm), reduced over the 16
// threads of each row group; the caller adds the n-tiles (nj of tn) in order.
__device__ __forceinline__ void tile_row_dots(const float (&acc)[4][4], const float* m, i64 ldm, int r0, int rows, int c0, int cols,
                                              float* part, int tn, int nj)
{
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
#pragma unroll
    for (int i = 0; i < 4; i++)
    {
        int r = r0 + ty * 4 + i;
        float v = 0.0f;
#pragma unroll
        for (int j = 0; j < 4; j++)
        {
            int c = c0 + tx * 4 + j;
            if (r < rows && c < cols) v = fmaf(m[(i64)r * ldm + c], acc[i][j], v);
        }
        v = half_warp_sum(v);
        if (tx == 0 && r < rows) part[(i64)r * tn + nj] = v;
    }
}

// gst (B, H, nc, P, N) = Σ_l exp(cs[l])·dY[l,p]·C[l,n] per chunk: block per (b, h, chunk, p-tile, n-tile).
extern "C" __global__ void __launch_bounds__(SSD_THREADS, SSD_MIN_BLOCKS) ssd_bwd_dstate_f32(
    const float* gy, const float* cm, i64 scb, i64 scl, i64 scg, const float* cs, float* gst,
    int B, int L, int H, int G, int P, int N, int Q, int nc, int mm)
{
    AIM_PDL_PROLOGUE();
    const ChunkTile tile = chunk_tile((P + SSD_TM - 1) / SSD_TM, (N + SSD_TN - 1) / SSD_TN, H, G, L, Q, nc);
    const int b = tile.b, h = tile.h, g = tile.g, c = tile.c, t0 = tile.t0, qlen = tile.qlen, p0 = tile.i0, n0 = tile.j0;
    const i64 bh = tile.bh;
    __shared__ GemmSmem sm;
    float acc[4][4] = {};
    const float* gy0 = gy + (((i64)b * L + t0) * H + h) * P;
    const float* c0 = cm + (i64)b * scb + (i64)g * scg + (i64)t0 * scl;
    const float* cs0 = cs + bh * L + t0;
    block_gemm<false, false>(acc, qlen, sm, mm,
        [&](int i, int l) { int p = p0 + i; return p < P ? gy0[(i64)l * H * P + p] * expf(cs0[l]) : 0.0f; },
        [&](int l, int j) { int n = n0 + j; return n < N ? c0[(i64)l * scl + n] : 0.0f; });
    float* out = gst + (bh * nc + c) * P * N;
    block_store(acc, p0, P, n0, N, [&](int p, int n, float v) { out[(i64)p * N + n] = v; });
}

// In place: gst[c] (Σ_l exp(cs)·dY ⊗ C of chunk c) becomes G_c = dL/dS_out of chunk c; G_{nc-1} = dFinal (or 0),
// G_{c-1} = exp(cs_c[Q-1])·G_c + gst[c]; dinit gets the gradient of the state entering chunk 0. As ssd_state_pass.
extern "C" __global__ void __launch_bounds__(SSD_PASS_THREADS, 4) ssd_bwd_state_pass_f32(
    float* gst, const float* cs, const float* gfinal, float* dinit, int L, int PN, int Q, int nc, int tiles)
{
    AIM_PDL_PROLOGUE();
    ssd_pass<true>(gst, cs, gfinal, dinit, L, PN, Q, nc, tiles);
}

// r (B, H, nc) = exp(cs[Q-1])·⟨G_c, S_in_c⟩: block per (b, h, chunk), summed in double in a fixed order.
extern "C" __global__ void __launch_bounds__(SSD_THREADS, SSD_MIN_BLOCKS) ssd_bwd_chunk_dot_f32(
    const float* gst, const float* st, const float* cs, float* r, int L, int H, int PN, int Q, int nc)
{
    AIM_PDL_PROLOGUE();
    __shared__ double red[SSD_THREADS / 32];
    i64 bhc = blockIdx.x;
    int c = (int)(bhc % nc);
    i64 bh = bhc / nc;
    const float* gc = gst + bhc * PN;
    const float* sc = st + bhc * PN;
    double v = 0;
    for (int e = threadIdx.x; e < PN; e += SSD_THREADS) v += (double)gc[e] * sc[e];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = v;
    __syncthreads();
    if (threadIdx.x == 0)
    {
        double sum = 0;
        for (int w = 0; w < SSD_THREADS / 32; w++) sum += red[w];
        int last = min(L, (c + 1) * Q) - 1;
        r[bhc] = (float)(sum * exp((double)cs[bh * L + last]));
    }
}

// dmd (B, H, nc, Q, Q): dMd[l,s] = exp(cs[l]-cs[s])·Σ_p dY[l,p]·x[s,p] for s ≤ l, 0 above the diagonal.
// Block per (b, h, chunk, l-tile, s-tile); tiles wholly above the diagonal are skipped (never read).
extern "C" __global__ void __launch_bounds__(SSD_THREADS, SSD_MIN_BLOCKS) ssd_bwd_dm_f32(
    const float* gy, const float* x, i64 sxb, i64 sxl, i64 sxh, const float* cs, float* dmd,
    int B, int L, int H, int P, int Q, int nc, int mm)
{
    AIM_PDL_PROLOGUE();
    int tiles = (Q + SSD_TM - 1) / SSD_TM;
    const ChunkTile tile = chunk_tile(tiles, tiles, H, H, L, Q, nc);
    const int b = tile.b, h = tile.h, c = tile.c, t0 = tile.t0, qlen = tile.qlen, l0 = tile.i0, s0 = tile.j0;
    if (tile.jt > tile.it || l0 >= qlen) return;
    const i64 bh = tile.bh;
    __shared__ GemmSmem sm;
    float acc[4][4] = {};
    const float* gy0 = gy + (((i64)b * L + t0) * H + h) * P;
    const float* x0 = x + (i64)b * sxb + (i64)h * sxh + (i64)t0 * sxl;
    const float* cs0 = cs + bh * L + t0;
    block_gemm<true, true>(acc, P, sm, mm,
        [&](int i, int p) { int l = l0 + i; return l < qlen ? gy0[(i64)l * H * P + p] : 0.0f; },
        [&](int p, int j) { int s = s0 + j; return s < qlen ? x0[(i64)s * sxl + p] : 0.0f; });
    float* out = dmd + (bh * nc + c) * Q * Q;
    block_store(acc, l0, qlen, s0, qlen, [&](int l, int s, float v) { out[(i64)l * Q + s] = s <= l ? v * expf(cs0[l] - cs0[s]) : 0.0f; });
}

// dX (B, L, H, P): block per (b, h, chunk, s-tile, p-tile). has_g: whether G of this chunk can be non-zero.
extern "C" __global__ void __launch_bounds__(SSD_THREADS, SSD_MIN_BLOCKS) ssd_bwd_dx_f32(
    const float* gy, const float* x, i64 sxb, i64 sxl, i64 sxh, const float* dt, const float* bm, i64 sbb, i64 sbl, i64 sbg,
    const float* d, const float* cb, const float* cs, const float* w, const float* gst, int has_final, float* dx,
    int B, int L, int H, int G, int P, int N, int Q, int nc, int mm)
{
    AIM_PDL_PROLOGUE();
    const ChunkTile tile = chunk_tile((Q + SSD_TM - 1) / SSD_TM, (P + SSD_TN - 1) / SSD_TN, H, G, L, Q, nc);
    const int b = tile.b, h = tile.h, g = tile.g, c = tile.c, t0 = tile.t0, qlen = tile.qlen, s0 = tile.i0, p0 = tile.j0;
    if (s0 >= qlen) return;
    const i64 bh = tile.bh;
    __shared__ GemmSmem sm;
    float acc[4][4] = {};
    const float* gy0 = gy + (((i64)b * L + t0) * H + h) * P;
    const float* cs0 = cs + bh * L + t0;
    const float* dt0 = dt + ((i64)b * L + t0) * H + h;
    const float* cb0 = cb + (((i64)b * G + g) * nc + c) * Q * Q;
    block_gemm<false, false>(acc, qlen - s0, sm, mm,
        [&](int i, int k) {
            int s = s0 + i, l = s0 + k;
            if (s >= qlen || l < s) return 0.0f;
            return cb0[(i64)l * Q + s] * expf(cs0[l] - cs0[s]) * dt0[(i64)s * H];
        },
        [&](int k, int j) { int p = p0 + j; return p < P ? gy0[(i64)(s0 + k) * H * P + p] : 0.0f; });
    if (c < nc - 1 || has_final)
    {
        const float* b0 = bm + (i64)b * sbb + (i64)g * sbg + (i64)t0 * sbl;
        const float* w0 = w + bh * L + t0;
        const float* g0 = gst + (bh * nc + c) * P * N;
        block_gemm<true, true>(acc, N, sm, mm,
            [&](int i, int n) { int s = s0 + i; return s < qlen ? b0[(i64)s * sbl + n] * w0[s] : 0.0f; },
            [&](int n, int j) { int p = p0 + j; return p < P ? g0[(i64)p * N + n] : 0.0f; });
    }
    float dh = d ? d[h] : 0.0f;
    block_store(acc, s0, qlen, p0, P, [&](int s, int p, float v) {
        i64 at = (((i64)b * L + t0 + s) * H + h) * P + p;
        dx[at] = fmaf(dh, gy[at], v);
    });
}

// dch (B, L, H, N) per head and part_i (B, H, L, tn): block per (b, h, chunk, l-tile, n-tile).
// has_state: whether S_in can be non-zero (an initial state was given); chunk 0 without one skips that term.
extern "C" __global__ void __launch_bounds__(SSD_THREADS, SSD_MIN_BLOCKS) ssd_bwd_dc_f32(
    const float* gy, const float* dt, const float* bm, i64 sbb, i64 sbl, i64 sbg, const float* cm, i64 scb, i64 scl, i64 scg,
    const float* cs, const float* st, int has_state, const float* dmd, float* dch, float* part_i,
    int B, int L, int H, int G, int P, int N, int Q, int nc, int mm)
{
    AIM_PDL_PROLOGUE();
    const int tn = (N + SSD_TN - 1) / SSD_TN;
    const ChunkTile tile = chunk_tile((Q + SSD_TM - 1) / SSD_TM, tn, H, G, L, Q, nc);
    const int b = tile.b, h = tile.h, g = tile.g, c = tile.c, t0 = tile.t0, qlen = tile.qlen, l0 = tile.i0, n0 = tile.j0, nj = tile.jt;
    if (l0 >= qlen) return;
    const i64 bh = tile.bh;
    __shared__ GemmSmem sm;
    float acc[4][4] = {};
    const float* gy0 = gy + (((i64)b * L + t0) * H + h) * P;
    const float* cs0 = cs + bh * L + t0;
    const float* c0 = cm + (i64)b * scb + (i64)g * scg + (i64)t0 * scl;
    if (c > 0 || has_state)
    {
        const float* s0 = st + (bh * nc + c) * P * N;
        block_gemm<true, false>(acc, P, sm, mm,
            [&](int i, int p) { int l = l0 + i; return l < qlen ? gy0[(i64)l * H * P + p] * expf(cs0[l]) : 0.0f; },
            [&](int p, int j) { int n = n0 + j; return n < N ? s0[(i64)p * N + n] : 0.0f; });
    }
    tile_row_dots(acc, c0, scl, l0, qlen, n0, N, part_i + (bh * L + t0) * tn, tn, nj);
    const float* b0 = bm + (i64)b * sbb + (i64)g * sbg + (i64)t0 * sbl;
    const float* dt0 = dt + ((i64)b * L + t0) * H + h;
    const float* dm0 = dmd + (bh * nc + c) * Q * Q;
    block_gemm<true, false>(acc, min(qlen, l0 + SSD_TM), sm, mm,
        [&](int i, int s) { int l = l0 + i; return (l < qlen && s <= l) ? dm0[(i64)l * Q + s] * dt0[(i64)s * H] : 0.0f; },
        [&](int s, int j) { int n = n0 + j; return n < N ? b0[(i64)s * sbl + n] : 0.0f; });
    block_store(acc, l0, qlen, n0, N, [&](int l, int n, float v) { dch[(((i64)b * L + t0 + l) * H + h) * N + n] = v; });
}

// dbh (B, L, H, N) per head and part_v (B, H, L, tn): block per (b, h, chunk, s-tile, n-tile).
extern "C" __global__ void __launch_bounds__(SSD_THREADS, SSD_MIN_BLOCKS) ssd_bwd_db_f32(
    const float* x, i64 sxb, i64 sxl, i64 sxh, const float* dt, const float* cm, i64 scb, i64 scl, i64 scg,
    const float* bm, i64 sbb, i64 sbl, i64 sbg, const float* cs, const float* gst, int has_final, const float* dmd,
    float* dbh, float* part_v, int B, int L, int H, int G, int P, int N, int Q, int nc, int mm)
{
    AIM_PDL_PROLOGUE();
    const int tn = (N + SSD_TN - 1) / SSD_TN;
    const ChunkTile tile = chunk_tile((Q + SSD_TM - 1) / SSD_TM, tn, H, G, L, Q, nc);
    const int b = tile.b, h = tile.h, g = tile.g, c = tile.c, t0 = tile.t0, qlen = tile.qlen, s0 = tile.i0, n0 = tile.j0, nj = tile.jt;
    if (s0 >= qlen) return;
    const i64 bh = tile.bh;
    __shared__ GemmSmem sm;
    float acc[4][4] = {};
    const int ty = threadIdx.x / 16;
    const float* cs0 = cs + bh * L + t0;
    const float* dt0 = dt + ((i64)b * L + t0) * H + h;
    const float* b0 = bm + (i64)b * sbb + (i64)g * sbg + (i64)t0 * sbl;
    if (c < nc - 1 || has_final)
    {
        const float* x0 = x + (i64)b * sxb + (i64)h * sxh + (i64)t0 * sxl;
        const float* g0 = gst + (bh * nc + c) * P * N;
        float cslast = cs0[qlen - 1];
        block_gemm<true, false>(acc, P, sm, mm,
            [&](int i, int p) { int s = s0 + i; return s < qlen ? x0[(i64)s * sxl + p] * expf(cslast - cs0[s]) : 0.0f; },
            [&](int p, int j) { int n = n0 + j; return n < N ? g0[(i64)p * N + n] : 0.0f; });
    }
    tile_row_dots(acc, b0, sbl, s0, qlen, n0, N, part_v + (bh * L + t0) * tn, tn, nj);
#pragma unroll
    for (int i = 0; i < 4; i++)
    {
        int s = s0 + ty * 4 + i;
        float dts = s < qlen ? dt0[(i64)s * H] : 0.0f;
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] *= dts;
    }
    const float* c0 = cm + (i64)b * scb + (i64)g * scg + (i64)t0 * scl;
    const float* dm0 = dmd + (bh * nc + c) * Q * Q;
    block_gemm<false, false>(acc, qlen - s0, sm, mm,
        [&](int i, int k) {
            int s = s0 + i, l = s0 + k;
            return (s < qlen && l >= s) ? dm0[(i64)l * Q + s] * dt0[(i64)s * H] : 0.0f;
        },
        [&](int k, int j) { int n = n0 + j; return n < N ? c0[(i64)(s0 + k) * scl + n] : 0.0f; });
    block_store(acc, s0, qlen, n0, N, [&](int s, int n, float v) { dbh[(((i64)b * L + t0 + s) * H + h) * N + n] = v; });
}

// dDt (B, L, H), part_da and part_dd ((B·nc), H, double): block per (b, h, chunk), the scalar chain above.
#define SSD_SCALAR_THREADS 128
extern "C" __global__ void __launch_bounds__(SSD_SCALAR_THREADS) ssd_bwd_scalars_f32(
    const float* dt, const float* a, const float* cb, const float* cs, const float* dmd, const float* part_i,
    const float* part_v, const float* r, float* ddt, double* part_da, double* part_dd,
    int B, int L, int H, int G, int N, int Q, int nc)
{
    AIM_PDL_PROLOGUE();
    extern __shared__ double sh[];                 // dcs[Q], then SSD_SCALAR_THREADS / 32 reduction slots
    double* dcs = sh;
    double* red = sh + Q;
    const ChunkTile tile = chunk_tile(1, 1, H, G, L, Q, nc);
    const int b = tile.b, h = tile.h, g = tile.g, c = tile.c, t0 = tile.t0, qlen = tile.qlen;
    const int tn = (N + SSD_TN - 1) / SSD_TN;
    const i64 bh = tile.bh;
    const float* dt0 = dt + ((i64)b * L + t0) * H + h;
    const float* cb0 = cb + (((i64)b * G + g) * nc + c) * Q * Q;
    const float* dm0 = dmd + (bh * nc + c) * Q * Q;
    double vdt = 0, diag = 0;
    for (int l = threadIdx.x; l < qlen; l += SSD_SCALAR_THREADS)
    {
        double col = 0, row = 0;
        for (int k = l; k < qlen; k++) col += (double)dm0[(i64)k * Q + l] * cb0[(i64)k * Q + l];
        for (int s = 0; s <= l; s++) row += (double)dm0[(i64)l * Q + s] * cb0[(i64)l * Q + s] * dt0[(i64)s * H];
        double iv = 0, vv = 0;
        for (int j = 0; j < tn; j++)
        {
            iv += part_i[(bh * L + t0 + l) * tn + j];
            vv += part_v[(bh * L + t0 + l) * tn + j];
        }
        double dtl = dt0[(i64)l * H];
        dcs[l] = row - col * dtl + iv - vv * dtl;
        vdt += vv * dtl;
        diag += dm0[(i64)l * Q + l];
        ddt[((i64)b * L + t0 + l) * H + h] = (float)(col + vv);  // the decay chain is added below
    }
    for (int o = 16; o > 0; o >>= 1)
    {
        vdt += __shfl_xor_sync(0xffffffffu, vdt, o);
        diag += __shfl_xor_sync(0xffffffffu, diag, o);
    }
    const int nw = SSD_SCALAR_THREADS / 32;
    if (threadIdx.x % 32 == 0) { red[threadIdx.x / 32] = vdt; red[nw + threadIdx.x / 32] = diag; }
    __syncthreads();
    if (threadIdx.x == 0)
    {
        double sv = 0, sd = 0;
        for (int w = 0; w < nw; w++) { sv += red[w]; sd += red[nw + w]; }
        dcs[qlen - 1] += sv + r[bh * nc + c];
        part_dd[((i64)b * nc + c) * H + h] = sd;
    }
    __syncthreads();
    double ah = a[h], da = 0;
    for (int j = threadIdx.x; j < qlen; j += SSD_SCALAR_THREADS)
    {
        double rc = 0;
        for (int l = qlen - 1; l >= j; l--) rc += dcs[l];
        i64 at = ((i64)b * L + t0 + j) * H + h;
        ddt[at] = (float)((double)ddt[at] + ah * rc);
        da += (double)dt0[(i64)j * H] * rc;
    }
    for (int o = 16; o > 0; o >>= 1) da += __shfl_xor_sync(0xffffffffu, da, o);
    __syncthreads();
    if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = da;
    __syncthreads();
    if (threadIdx.x == 0)
    {
        double s = 0;
        for (int w = 0; w < nw; w++) s += red[w];
        part_da[((i64)b * nc + c) * H + h] = s;
    }
}

// ------------------------------------------------------------------------------------- backward (serial)

// One 256-thread block per (b, h). Warp w owns rows p = w + 8i (i < 8), lane owns columns n = lane + 32j
// (j < 4), so P ≤ 64 and N ≤ 128; S and G = dL/dS live in registers. A forward pass rebuilds S_t and writes
// dC_t = S_tᵀ dY_t per head; the reverse pass walks G_t = α_{t+1} G_{t+1} + dY_t c_tᵀ and uses, as the CPU
// kernel does, q_t = ⟨G_t, S_t⟩ from q_{L-1} = ⟨dFinal, S_{L-1}⟩ + dY_{L-1}·(S_{L-1} c_{L-1}),
// m_t = q_t - dt_t Σ_p x_t[p] (G_t b_t)[p] (= ⟨G_t, α_t S_{t-1}⟩), q_{t-1} = m_t + c_{t-1}·dC_{t-1}, so
// ddt_t = Σ_p x_t[p] (G_t b_t)[p] + a·m_t and da = Σ_t dt_t m_t. The scalar recursion runs in double.
#define BWD_WARPS 8
#define BWD_RP 8
#define BWD_RN 4
#define BWD_THREADS (BWD_WARPS * 32)

// Sums v over the block (double); every thread gets the result. red: BWD_WARPS doubles of shared memory.
__device__ __forceinline__ double bwd_block_sum(double v, double* red)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    __syncthreads();
    if (lane == 0) red[warp] = v;
    __syncthreads();
    double s = 0;
    for (int w = 0; w < BWD_WARPS; w++) s += red[w];
    return s;
}

extern "C" __global__ void __launch_bounds__(BWD_THREADS) ssd_bwd_f32(
    const float* x, i64 sxb, i64 sxl, i64 sxh, const float* dt, const float* a,
    const float* bm, i64 sbb, i64 sbl, i64 sbg, const float* cm, i64 scb, i64 scl, i64 scg,
    const float* d, const float* init, const float* gy, const float* gfinal,
    float* dx, float* ddt, float* dbh, float* dch, double* part_da, double* part_dd, float* dinit,
    int B, int L, int H, int G, int P, int N)
{
    AIM_PDL_PROLOGUE();
    __shared__ float red[BWD_WARPS][BWD_RN * 32];
    __shared__ double redd[BWD_WARPS];
    const int bh = blockIdx.x, h = bh % H, b = bh / H, g = h / (H / G);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, tid = threadIdx.x;
    const float ah = a[h], dh = d ? d[h] : 0.0f;
    float S[BWD_RP][BWD_RN], Gm[BWD_RP][BWD_RN];
#pragma unroll
    for (int i = 0; i < BWD_RP; i++)
#pragma unroll
        for (int j = 0; j < BWD_RN; j++)
        {
            int p = warp + BWD_WARPS * i, n = lane + 32 * j;
            S[i][j] = (init && p < P && n < N) ? init[((i64)bh * P + p) * N + n] : 0.0f;
        }

    // Forward: S_t, dC_t (per head) = S_tᵀ dY_t.
    for (int t = 0; t < L; t++)
    {
        i64 ti = ((i64)b * L + t) * H + h;
        float dtv = dt[ti], alpha = expf(dtv * ah);
        const float* xt = x + (i64)b * sxb + (i64)t * sxl + (i64)h * sxh;
        const float* bt = bm + (i64)b * sbb + (i64)t * sbl + (i64)g * sbg;
        const float* gyt = gy + ti * P;
        float bdt[BWD_RN], part[BWD_RN];
#pragma unroll
        for (int j = 0; j < BWD_RN; j++)
        {
            int n = lane + 32 * j;
            bdt[j] = n < N ? bt[n] * dtv : 0.0f;
            part[j] = 0.0f;
        }
#pragma unroll
        for (int i = 0; i < BWD_RP; i++)
        {
            int p = warp + BWD_WARPS * i;
            float xp = p < P ? xt[p] : 0.0f, gp = p < P ? gyt[p] : 0.0f;
#pragma unroll
            for (int j = 0; j < BWD_RN; j++)
            {
                S[i][j] = fmaf(alpha, S[i][j], bdt[j] * xp);
                part[j] = fmaf(S[i][j], gp, part[j]);
            }
        }
#pragma unroll
        for (int j = 0; j < BWD_RN; j++) red[warp][lane + 32 * j] = part[j];
        __syncthreads();
        if (tid < N)
        {
            float s = 0.0f;
            for (int w = 0; w < BWD_WARPS; w++) s += red[w][tid];
            dch[ti * N + tid] = s;
        }
        __syncthreads();
    }

    // G_{L-1} = dFinal; q = ⟨dFinal, S_{L-1}⟩.
    double q = 0;
#pragma unroll
    for (int i = 0; i < BWD_RP; i++)
#pragma unroll
        for (int j = 0; j < BWD_RN; j++)
        {
            int p = warp + BWD_WARPS * i, n = lane + 32 * j;
            Gm[i][j] = (gfinal && p < P && n < N) ? gfinal[((i64)bh * P + p) * N + n] : 0.0f;
            q += (double)Gm[i][j] * S[i][j];
        }
    q = bwd_block_sum(q, redd);

    float scale = 1.0f;
    double da_acc = 0, dd_acc = 0;
    for (int t = L - 1; t >= 0; t--)
    {
        i64 ti = ((i64)b * L + t) * H + h;
        float dtv = dt[ti], alpha = expf(dtv * ah);
        const float* xt = x + (i64)b * sxb + (i64)t * sxl + (i64)h * sxh;
        const float* bt = bm + (i64)b * sbb + (i64)t * sbl + (i64)g * sbg;
        const float* ct = cm + (i64)b * scb + (i64)t * scl + (i64)g * scg;
        const float* gyt = gy + ti * P;
        float bv[BWD_RN], cv[BWD_RN], part[BWD_RN];
#pragma unroll
        for (int j = 0; j < BWD_RN; j++)
        {
            int n = lane + 32 * j;
            bv[j] = n < N ? bt[n] : 0.0f;
            cv[j] = n < N ? ct[n] : 0.0f;
            part[j] = 0.0f;
        }
        double sx = 0;
#pragma unroll
        for (int i = 0; i < BWD_RP; i++)
        {
            int p = warp + BWD_WARPS * i;
            float xp = p < P ? xt[p] : 0.0f, gp = p < P ? gyt[p] : 0.0f;
            float gb = 0.0f;
#pragma unroll
            for (int j = 0; j < BWD_RN; j++)
            {
                Gm[i][j] = fmaf(gp, cv[j], scale * Gm[i][j]);
                gb = fmaf(Gm[i][j], bv[j], gb);
                part[j] = fmaf(Gm[i][j], xp, part[j]);
            }
            for (int o = 16; o > 0; o >>= 1) gb += __shfl_xor_sync(0xffffffffu, gb, o);
            if (lane == 0 && p < P)
            {
                dx[ti * P + p] = fmaf(dh, gp, dtv * gb);
                sx += (double)xp * gb;
                dd_acc += (double)gp * xp;
            }
        }
#pragma unroll
        for (int j = 0; j < BWD_RN; j++) red[warp][lane + 32 * j] = part[j];
        __syncthreads();
        // qy_t = c_t · dC_t (dC_t of this head, written by the same thread in the forward pass).
        double qy = 0;
        if (tid < N)
        {
            float s = 0.0f;
            for (int w = 0; w < BWD_WARPS; w++) s += red[w][tid];
            dbh[ti * N + tid] = dtv * s;
            qy = (double)ct[tid] * dch[ti * N + tid];
        }
        double sum_sx = bwd_block_sum(sx, redd);
        double sum_qy = bwd_block_sum(qy, redd);
        q += sum_qy;
        double m = q - (double)dtv * sum_sx;
        if (tid == 0) ddt[ti] = (float)(sum_sx + (double)ah * m);
        da_acc += (double)dtv * m;
        q = m;
        scale = alpha;
    }
#pragma unroll
    for (int i = 0; i < BWD_RP; i++)
#pragma unroll
        for (int j = 0; j < BWD_RN; j++)
        {
            int p = warp + BWD_WARPS * i, n = lane + 32 * j;
            if (dinit && p < P && n < N) dinit[((i64)bh * P + p) * N + n] = Gm[i][j] * scale;
        }
    double dd_sum = bwd_block_sum(dd_acc, redd);
    if (tid == 0)
    {
        part_da[bh] = da_acc;
        part_dd[bh] = dd_sum;
    }
}

// dB, dC (B, L, G, N) = Σ over the heads of each group of the per-head (B, L, H, N) parts.
extern "C" __global__ void ssd_bwd_group_sum_f32(const float* dbh, const float* dch, float* db, float* dc, int B, int L, int H, int G, int N)
{
    AIM_PDL_PROLOGUE();
    int hpg = H / G;
    AIM_GRID_STRIDE(i, (i64)B * L * G * N)
    {
        int n = (int)(i % N);
        i64 r = i / N;
        int g = (int)(r % G);
        i64 bl = r / G;
        float sb = 0.0f, sc = 0.0f;
        for (int k = 0; k < hpg; k++)
        {
            i64 src = (bl * H + (i64)g * hpg + k) * N + n;
            sb += dbh[src];
            sc += dch[src];
        }
        db[i] = sb;
        dc[i] = sc;
    }
}

// dA, dD (H) = the partial rows (rows × H, double) summed per head: one warp per head, lanes over the rows, then a
// fixed shuffle tree (deterministic). (A thread per head walking the rows took 36 µs at AiM-B's 128 rows.)
extern "C" __global__ void ssd_bwd_head_sum_f32(const double* part_da, const double* part_dd, float* da, float* dd, int rows, int H)
{
    AIM_PDL_PROLOGUE();
    const int h = blockIdx.x, lane = threadIdx.x;
    double sa = 0, sd = 0;
    for (int r = lane; r < rows; r += 32)
    {
        sa += part_da[(i64)r * H + h];
        sd += part_dd[(i64)r * H + h];
    }
    for (int o = 16; o > 0; o >>= 1)
    {
        sa += __shfl_xor_sync(0xffffffffu, sa, o);
        sd += __shfl_xor_sync(0xffffffffu, sd, o);
    }
    if (lane == 0)
    {
        da[h] = (float)sa;
        if (dd) dd[h] = (float)sd;
    }
}

// ---------------------------------------------------------------------------------------------- step

// One block per (b, h, slice of P), up to STEP_WARPS warps (blockDim.x / 32, the host's pick); decode_step.cuh's
// step_ssm_rows does the rows: warp w takes rows w, w + warps, ... of the slice, SSM_STEP_GROUP of them at a time on
// the vector path; lanes stride over N and the N-reduction of y is a warp shuffle. state (B, H, P, N) updated in
// place: S ← α·S + (b·dt)·x[p].
#define STEP_WARPS 8
extern "C" __global__ void __launch_bounds__(STEP_WARPS * 32) ssm_step_f32(
    float* state, const float* x, i64 sxb, i64 sxh, const float* dt, i64 sdtb, const float* dt_bias, const float* a,
    const float* bm, i64 sbb, i64 sbg, const float* cm, i64 scb, i64 scg, const float* d, float* y,
    int B, int H, int G, int P, int N, int pPerWarp)
{
    AIM_PDL_PROLOGUE();
    // One block per (batch, head, slice of P): a slice of warps·pPerWarp rows, pPerWarp rows per warp. The host
    // (CudaKernels.Ssm.cs) picks the block size and pPerWarp: long slices while (batch, head) pairs are many (fewer
    // blocks, each warp with SSM_STEP_GROUP rows in flight), short ones while they are few (a decode step at batch 1
    // still spreads over the SMs). The bits do not depend on the pick (step_ssm_rows).
    const int warps = blockDim.x / 32;
    const int rowsPerBlock = warps * pPerWarp, pBlocks = (P + rowsPerBlock - 1) / rowsPerBlock;
    const int bh = blockIdx.x / pBlocks, h = bh % H, b = bh / H, g = h / (H / G);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int pFirst = (blockIdx.x % pBlocks) * rowsPerBlock;
    // With dt_bias the step size comes raw from in_proj: softplus(dt + bias), passing values above 20 through.
    float dtv = dt_bias ? step_dt(dt[(i64)b * sdtb + h], dt_bias[h]) : dt[(i64)b * sdtb + h];
    step_ssm_rows(state + (i64)bh * P * N, P, N, pFirst, rowsPerBlock, warp, warps, lane, x + (i64)b * sxb + (i64)h * sxh, 0,
                  bm + (i64)b * sbb + (i64)g * sbg, cm + (i64)b * scb + (i64)g * scg, dtv, expf(dtv * a[h]), d ? d[h] : 0.0f,
                  y + (i64)bh * P);
}
