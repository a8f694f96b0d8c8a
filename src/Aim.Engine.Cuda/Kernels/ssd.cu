// The Mamba-2 SSD scan on CUDA, float32 storage: the chunked forward (aim-architecture.md §3.5). Its backward is
// ssd_backward.cu, the single inference step ssm_step.cu, and the block tiles of both scans ssd_tiles.cuh (split
// from one ssm.cu so that NVRTC compiles them side by side and a decode never compiles the scan). Layouts: x (B, L,
// H, P) and b, c (B, L, G, N) strided with unit last stride, dt (B, L, H), y (B, L, H, P), states (B, H, P, N),
// group g = h / (H/G).
//
// Forward, per (batch, head, chunk of Q steps), with cs[l] = Σ_{j≤l in chunk} dt[j]·a[h]:
//   1. ssd_cumsum:      cs, and w[s] = exp(cs[Q-1] - cs[s])·dt[s] (the weight of step s in the chunk state)
//   2. ssd_cb:          CB[l,s] = Σ_n C[l,n]·B[s,n] per (batch, group, chunk), lower-triangular tiles only
//   3. ssd_chunk_states: S_in[0] = initial state, S_in[c+1] = exp(cs_c[Q-1])·S_in[c] + st_c with the chunk's own
//                        st[p,n] = Σ_s w[s]·x[s,p]·B[s,n]; final = S_in[nc] (a block walks a tile's chunks in order)
//   4. ssd_chunk_scan:  y[l,p] = exp(cs[l])·Σ_n C[l,n]·S_in[p,n] + Σ_{s≤l} CB[l,s]·exp(cs[l]-cs[s])·dt[s]·x[s,p] + D·x[l,p]
// The matrix products are block tiles (ssd_tiles.cuh).
#include "ssd_tiles.cuh"

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
template <int MM>
__device__ __forceinline__ void ssd_cb_body(
    const float* bm, i64 sbb, i64 sbl, i64 sbg, const float* cm, i64 scb, i64 scl, i64 scg, float* cb,
    int B, int L, int G, int N, int Q, int nc)
{
    constexpr int mm = MM;   // one kernel per engine (SSD_TILE_KERNELS below)
    int tiles = (Q + SSD_TM - 1) / SSD_TM;
    const ChunkTile tile = chunk_tile(tiles, tiles, G, G, L, Q, nc);      // one "head" per group
    const int b = tile.b, g = tile.h, c = tile.c, t0 = tile.t0, qlen = tile.qlen, l0 = tile.i0, s0 = tile.j0;
    if (tile.jt > tile.it || l0 >= qlen) return;
    __shared__ T2Smem sm;
    float acc[4][4] = {};
    const float* cb0 = cm + (i64)b * scb + (i64)g * scg + (i64)t0 * scl;
    const float* bb0 = bm + (i64)b * sbb + (i64)g * sbg + (i64)t0 * sbl;
    const TileOp opa{cb0 + (i64)l0 * scl, scl, qlen - l0, N}, opb{bb0 + (i64)s0 * sbl, sbl, qlen - s0, N};
    tile_gemm<true, true, true, false>(acc, opa, opb, N, sm, mm, TileNoFix());
    float* out = cb + (((i64)b * G + g) * nc + c) * Q * Q;
    t2_store(acc, l0, qlen, s0, qlen, [&](int l, int s, float v) { out[(i64)l * Q + s] = v; });
}
SSD_TILE_KERNELS(cb, SSD_MIN_BLOCKS, (const float* bm, i64 sbb, i64 sbl, i64 sbg, const float* cm, i64 scb, i64 scl, i64 scg, float* cb,
    int B, int L, int G, int N, int Q, int nc), (bm, sbb, sbl, sbg, cm, scb, scl, scg, cb, B, L, G, N, Q, nc))

// st (B, H, nc, P, N) = S_in of each chunk and final (B, H, P, N): block per (b, h, p-tile, n-tile) walking the chunks
// in order with the running state in registers: S_in[c] is written, the chunk's own state Σ_s w[s]·x[s,p]·B[s,n]
// is one tile product, and S_in[c+1] = fmaf(exp(cs_c[Q-1]), S_in[c], st_c). (A separate pass over the states
// written by a per-chunk kernel moved 2 × 100 MB more per AiM-B layer at batch 32. One slice pipeline through all
// the chunks, the running tile in the engine's accumulator layout, measured slower on the H200: 3.33 vs 2.88 ms a
// training step, and the backward walker 4.51 vs 3.65.)
template <int MM>
__device__ __forceinline__ void chunk_states_walk(const float* x, i64 sxb, i64 sxl, i64 sxh, const float* bm, i64 sbb, i64 sbl,
    i64 sbg, const float* w, const float* cs, const float* init, float* st, float* final_state, int L, int H, int G, int P, int N,
    int Q, int nc, T2Smem& sm)
{
    const StateTile tile = state_tile(H, G, P, N);
    const int b = tile.b, h = tile.h, g = tile.g, p0 = tile.p0, n0 = tile.n0;
    const i64 bh = tile.bh;
    float run[4][4];
    t2_load_rows(run, p0, init ? P : 0, n0, N, [&](int p) { return init + (bh * P + p) * N; });
    for (int c = 0; c < nc; c++)
    {
        const int t0 = c * Q, qlen = min(Q, L - t0);
        float* out = st + (bh * nc + c) * P * N;
        t2_store_rows(run, p0, P, n0, N, [&](int p) { return out + (i64)p * N; });
        float acc[4][4] = {};
        const float* x0 = x + (i64)b * sxb + (i64)h * sxh + (i64)t0 * sxl;
        const float* b0 = bm + (i64)b * sbb + (i64)g * sbg + (i64)t0 * sbl;
        const float* w0 = w + bh * L + t0;
        const TileOp opa{x0 + p0, sxl, P - p0, qlen}, opb{b0 + n0, sbl, N - n0, qlen};
        tile_gemm<false, false, false, true>(acc, opa, opb, qlen, sm, MM, [&](int, int s, float v) { return s < qlen ? v * w0[s] : v; });
        const float decay = expf(cs[bh * L + t0 + qlen - 1]);
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int j = 0; j < 4; j++) run[i][j] = fmaf(decay, run[i][j], acc[i][j]);
    }
    if (final_state) t2_store_rows(run, p0, P, n0, N, [&](int p) { return final_state + (bh * P + p) * N; });
}

// y (B, L, H, P): block per (b, h, chunk, l-tile, p-tile); has_state as above.
template <int MM>
__device__ __forceinline__ void ssd_chunk_scan_body(
    const float* x, i64 sxb, i64 sxl, i64 sxh, const float* dt, const float* cm, i64 scb, i64 scl, i64 scg,
    const float* d, const float* cb, const float* cs, const float* st, int has_state, float* y,
    int B, int L, int H, int G, int P, int N, int Q, int nc)
{
    constexpr int mm = MM;   // one kernel per engine (SSD_TILE_KERNELS below)
    const ChunkTile tile = chunk_tile((Q + SSD_TM - 1) / SSD_TM, (P + SSD_TN - 1) / SSD_TN, H, G, L, Q, nc);
    const int b = tile.b, h = tile.h, g = tile.g, c = tile.c, t0 = tile.t0, qlen = tile.qlen, l0 = tile.i0, p0 = tile.j0;
    if (l0 >= qlen) return;
    __shared__ T2Smem sm;
    __shared__ float vec[2][SSD_VEC];
    float acc[4][4] = {};
    const i64 bh = tile.bh;
    stage_cs_dt(vec, cs, dt, bh, b, h, H, L, t0, qlen);
    const auto csv = [&](int s) { return vec[0][s]; };
    const auto dtv = [&](int s) { return vec[1][s]; };
    __syncthreads();
    const float* c0 = cm + (i64)b * scb + (i64)g * scg + (i64)t0 * scl;
    if (c > 0 || has_state)
    {
        const float* s0 = st + (bh * nc + c) * P * N;
        const TileOp opa{c0 + (i64)l0 * scl, scl, qlen - l0, N}, opb{s0 + (i64)p0 * N, N, P - p0, N};
        tile_gemm<true, true, true, false>(acc, opa, opb, N, sm, mm, TileNoFix());
        t2_scale_rows(acc, l0, [&](int l) { return l < qlen ? expf(csv(l)) : 0.0f; });
    }
    const float* cb0 = cb + (((i64)b * G + g) * nc + c) * Q * Q;
    const float* x0 = x + (i64)b * sxb + (i64)h * sxh + (i64)t0 * sxl;
    const int kmax = min(qlen, l0 + SSD_TM);
    const TileOp opa{cb0 + (i64)l0 * Q, Q, qlen - l0, kmax}, opb{x0 + p0, sxl, P - p0, kmax};
    tile_gemm<true, false, true, true>(acc, opa, opb, kmax, sm, mm, [&](int m, int s, float v) {
        int l = l0 + m;
        return (l < qlen && s <= l) ? v * expf(csv(l) - csv(s)) * dtv(s) : 0.0f;
    });
    const float dh = d ? d[h] : 0.0f;
    t2_store(acc, l0, qlen, p0, P, [&](int l, int p, float v) {
        y[(((i64)b * L + t0 + l) * H + h) * P + p] = fmaf(dh, x0[(i64)l * sxl + p], v);
    });
}
SSD_TILE_KERNELS(chunk_scan, SSD_FWD_MIN_BLOCKS, (const float* x, i64 sxb, i64 sxl, i64 sxh, const float* dt, const float* cm, i64 scb, i64 scl, i64 scg,
    const float* d, const float* cb, const float* cs, const float* st, int has_state, float* y,
    int B, int L, int H, int G, int P, int N, int Q, int nc), (x, sxb, sxl, sxh, dt, cm, scb, scl, scg, d, cb, cs, st, has_state, y, B, L, H, G, P, N, Q, nc))

// The walkers as one kernel per engine (ssd_chunk_states_<engine>, and ssd_backward.cu's ssd_bwd_states_<engine>; the host picks by the
// engine): in one kernel with a runtime switch, the FMA and 3xTF32 paths' register needs made ptxas spill 100-500
// bytes a thread; the TF32 kernels alone spill at most 24.
#define SSD_CHUNK_STATES_WALKER(NAME, MMV)                                                                                    \
    extern "C" __global__ void __launch_bounds__(SSD_THREADS, SSD_FWD_MIN_BLOCKS) ssd_chunk_states_##NAME(                    \
        const float* x, i64 sxb, i64 sxl, i64 sxh, const float* bm, i64 sbb, i64 sbl, i64 sbg, const float* w, const float* cs, \
        const float* init, float* st, float* final_state, int B, int L, int H, int G, int P, int N, int Q, int nc)             \
    {                                                                                                                         \
        AIM_PDL_PROLOGUE();                                                                                                   \
        __shared__ T2Smem sm;                                                                                                 \
        chunk_states_walk<MMV>(x, sxb, sxl, sxh, bm, sbb, sbl, sbg, w, cs, init, st, final_state, L, H, G, P, N, Q, nc, sm);   \
    }
SSD_CHUNK_STATES_WALKER(fma, SSD_MM_FMA)
SSD_CHUNK_STATES_WALKER(tf32, SSD_MM_TF32)
SSD_CHUNK_STATES_WALKER(3xtf32, SSD_MM_3XTF32)
