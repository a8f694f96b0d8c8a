// The Mamba-2 SSD scan's backward on CUDA, float32 storage: the chunked backward (derived below) and the older
// serial one (the reverse-time recurrence of ReferenceKernels.Ssm.cs / CpuKernels.Ssm.cs). Layouts and the forward
// quantities (cs, w, CB, S_in) as in ssd.cu; the block tiles are ssd_tiles.cuh.
#include "ssd_tiles.cuh"

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
// Kernels: ssd_bwd_states (G per chunk walking the chunks backwards with Σ_l exp(cs)·dY ⊗ C, dInitialState, and
// ⟨G, S_in⟩ per tile for r), ssd_bwd_dm (dMd, and the tile parts of rowT / colT), ssd_bwd_dx, ssd_bwd_dc (+ i),
// ssd_bwd_db (+ v), ssd_bwd_scalars (dDt, partial dA and dD per chunk); then ssd_bwd_part_sum (when dB, dC came in
// head splits) and ssd_bwd_head_sum below. Partial sums over the 64-wide n-tiles go to (B, H, L, tn) buffers and are
// added in a fixed order. dB and dC are sums over the heads of a group (B, C are shared by the group's H/G heads):
// ssd_bwd_dc and ssd_bwd_db run a block per (b, g, chunk, head split, row tile, n-tile) that walks the heads of its
// split in order, adds each head's contribution (its row factors applied) to a running tile and writes i / v per head
// on the way; with one split the tile is dB / dC itself, else a (splits, B, L, G, N) partial that ssd_bwd_part_sum
// adds in split order. (Until session 6 they wrote per-head (B, L, H, N) parts, 2·H/G times the output's bytes, that
// a separate pass summed.)

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
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16, c = c0 + tx * 4;
#pragma unroll
    for (int i = 0; i < 4; i++)
    {
        int r = r0 + ty * 4 + i;
        float v = 0.0f;
        if (r < rows)
        {
            // The thread's four columns are adjacent: one 16-byte load where they are all inside and aligned.
            const float* mr = m + (i64)r * ldm + c;
            if (c + 3 < cols && ((unsigned long long)mr & 15) == 0)
            {
                float4 q = *reinterpret_cast<const float4*>(mr);
                v = fmaf(q.x, acc[i][0], v);
                v = fmaf(q.y, acc[i][1], v);
                v = fmaf(q.z, acc[i][2], v);
                v = fmaf(q.w, acc[i][3], v);
            }
            else
            {
#pragma unroll
                for (int j = 0; j < 4; j++)
                    if (c + j < cols) v = fmaf(mr[j], acc[i][j], v);
            }
        }
        v = half_warp_sum(v);
        if (tx == 0 && r < rows) part[(i64)r * tn + nj] = v;
    }
}


// gst (B, H, nc, P, N) = G_c = dL/dS_out of each chunk, dinit (B, H, P, N) and rpart (B, H, nc, tiles·8) double =
// ⟨G_c, S_in_c⟩ over each warp's part of this block's tile (r of the derivation before its decay; ssd_bwd_scalars
// adds the parts in order): block per (b, h, p-tile, n-tile) walking the chunks backwards with the running gradient in
// registers: G_{nc-1} = dFinal (or 0), G_{c-1} = fmaf(exp(cs_c[Q-1]), G_c, Σ_l exp(cs[l])·dY[l,p]·C[l,n]);
// dinit = G_{-1}.
#define SSD_WALK_WARPS (SSD_THREADS / 32)
template <int MM>
__device__ __forceinline__ void bwd_states_walk(const float* gy, const float* cm, i64 scb, i64 scl, i64 scg, const float* cs,
    const float* st, const float* gfinal, float* gst, float* dinit, double* rpart, int L, int H, int G, int P, int N, int Q,
    int nc, T2Smem& sm)
{
    const StateTile tile = state_tile(H, G, P, N);
    const int b = tile.b, h = tile.h, g = tile.g, p0 = tile.p0, n0 = tile.n0;
    const i64 bh = tile.bh;
    float run[4][4];
    t2_load_rows(run, p0, gfinal ? P : 0, n0, N, [&](int p) { return gfinal + (bh * P + p) * N; });
    for (int c = nc - 1; c >= 0; c--)
    {
        const int t0 = c * Q, qlen = min(Q, L - t0);
        const i64 slab = (bh * nc + c) * P * N;
        t2_store_rows(run, p0, P, n0, N, [&](int p) { return gst + slab + (i64)p * N; });
        {
            // ⟨G_c, S_in_c⟩ in double, added over the warp (S_in read 16 bytes at a time: scalar loads of the 4·tx + j
            // layout cost 0.27 ms a training step).
            float sin[4][4];
            t2_load_rows(sin, p0, P, n0, N, [&](int p) { return st + slab + (i64)p * N; });
            double v = 0;
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) v += (double)run[i][j] * sin[i][j];
            for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
            if (threadIdx.x % 32 == 0) rpart[((bh * nc + c) * tile.tiles + tile.tile) * SSD_WALK_WARPS + threadIdx.x / 32] = v;
        }
        float acc[4][4] = {};
        const float* gy0 = gy + (((i64)b * L + t0) * H + h) * P;
        const float* c0 = cm + (i64)b * scb + (i64)g * scg + (i64)t0 * scl;
        const float* cs0 = cs + bh * L + t0;
        const TileOp opa{gy0 + p0, (i64)H * P, P - p0, qlen}, opb{c0 + n0, scl, N - n0, qlen};
        tile_gemm<false, false, false, true>(acc, opa, opb, qlen, sm, MM, [&](int, int l, float v) { return l < qlen ? v * expf(cs0[l]) : v; });
        const float decay = expf(cs0[qlen - 1]);
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int j = 0; j < 4; j++) run[i][j] = fmaf(decay, run[i][j], acc[i][j]);
    }
    if (dinit) t2_store_rows(run, p0, P, n0, N, [&](int p) { return dinit + (bh * P + p) * N; });
}

// As ssd.cu's chunk-state walker: one kernel per engine (a runtime switch made ptxas spill).
#define SSD_BWD_STATES_WALKER(NAME, MMV)                                                                                      \
    extern "C" __global__ void __launch_bounds__(SSD_THREADS, SSD_MIN_BLOCKS) ssd_bwd_states_##NAME(                          \
        const float* gy, const float* cm, i64 scb, i64 scl, i64 scg, const float* cs, const float* st, const float* gfinal,    \
        float* gst, float* dinit, double* rpart, int B, int L, int H, int G, int P, int N, int Q, int nc)                      \
    {                                                                                                                         \
        AIM_PDL_PROLOGUE();                                                                                                   \
        __shared__ T2Smem sm;                                                                                                 \
        bwd_states_walk<MMV>(gy, cm, scb, scl, scg, cs, st, gfinal, gst, dinit, rpart, L, H, G, P, N, Q, nc, sm);             \
    }
SSD_BWD_STATES_WALKER(fma, SSD_MM_FMA)
SSD_BWD_STATES_WALKER(tf32, SSD_MM_TF32)
SSD_BWD_STATES_WALKER(3xtf32, SSD_MM_3XTF32)

// dmd (B, H, nc, Q, Q): block per (b, h, chunk, l-tile, s-tile), as above; and, for ssd_bwd_scalars, the tile's
// parts of rowT and colT: part_row (B, H, L, tq)[l, s-tile] = Σ_s dMd[l,s]·CB[l,s]·dt[s] and part_col (B, H, L,
// tq)[s, l-tile] = Σ_l dMd[l,s]·CB[l,s] over the tile (tiles above the diagonal are not run: their parts are not
// written and not read). (ssd_bwd_scalars read dMd and CB again for these, a thread per row walking its row and its
// column serially: 105 µs a call at AiM-B's batch 32.)
template <int MM>
__device__ __forceinline__ void ssd_bwd_dm_body(
    const float* gy, const float* x, i64 sxb, i64 sxl, i64 sxh, const float* cs, const float* dt, const float* cb,
    float* dmd, float* part_row, float* part_col, int B, int L, int H, int G, int P, int Q, int nc)
{
    constexpr int mm = MM;   // one kernel per engine (SSD_TILE_KERNELS below)
    const int tq = (Q + SSD_TM - 1) / SSD_TM;
    const ChunkTile tile = chunk_tile(tq, tq, H, G, L, Q, nc);
    const int b = tile.b, h = tile.h, g = tile.g, c = tile.c, t0 = tile.t0, qlen = tile.qlen, l0 = tile.i0, s0 = tile.j0;
    if (tile.jt > tile.it || l0 >= qlen) return;
    const i64 bh = tile.bh;
    __shared__ T2Smem sm;
    __shared__ float vec[2][SSD_VEC];
    float acc[4][4] = {};
    const float* gy0 = gy + (((i64)b * L + t0) * H + h) * P;
    const float* x0 = x + (i64)b * sxb + (i64)h * sxh + (i64)t0 * sxl;
    stage_cs_dt(vec, cs, dt, bh, b, h, H, L, t0, qlen);
    const auto csv = [&](int s) { return vec[0][s]; };
    const auto dtv = [&](int s) { return vec[1][s]; };
    const TileOp opa{gy0 + (i64)l0 * H * P, (i64)H * P, qlen - l0, P}, opb{x0 + (i64)s0 * sxl, sxl, qlen - s0, P};
    tile_gemm<true, true, true, false>(acc, opa, opb, P, sm, mm, TileNoFix());
    __syncthreads();   // the staged vectors (tile_gemm's own barriers already do this for P > 0); sm is free from here
    float* out = dmd + (bh * nc + c) * Q * Q;
    const float* cb0 = cb + (((i64)b * G + g) * nc + c) * Q * Q;
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    float colsum[4] = {};
#pragma unroll
    for (int i = 0; i < 4; i++)
    {
        const int l = l0 + 4 * ty + i;
        float rowsum = 0.0f;
#pragma unroll
        for (int j = 0; j < 4; j++)
        {
            const int s = s0 + t2_col<true>(tx, j);
            if (l >= qlen || s >= qlen) continue;
            const float v = s <= l ? acc[i][j] * expf(csv(l) - csv(s)) : 0.0f;
            out[(i64)l * Q + s] = v;
            const float pr = v * cb0[(i64)l * Q + s];
            rowsum = fmaf(pr, dtv(s), rowsum);
            colsum[j] += pr;
        }
        rowsum = half_warp_sum(rowsum);
        if (tx == 0 && l < qlen) part_row[(bh * L + t0 + l) * tq + tile.jt] = rowsum;
    }
    float* red = reinterpret_cast<float*>(&sm);     // 16 row groups × 64 columns, added in row-group order
#pragma unroll
    for (int j = 0; j < 4; j++) red[ty * SSD_TN + t2_col<true>(tx, j)] = colsum[j];
    __syncthreads();
    if (threadIdx.x < SSD_TN && s0 + (int)threadIdx.x < qlen)
    {
        float v = 0.0f;
        for (int k = 0; k < SSD_THREADS / 16; k++) v += red[k * SSD_TN + threadIdx.x];
        part_col[(bh * L + t0 + s0 + threadIdx.x) * tq + tile.it] = v;
    }
}
SSD_TILE_KERNELS(bwd_dm, SSD_MIN_BLOCKS, (const float* gy, const float* x, i64 sxb, i64 sxl, i64 sxh, const float* cs, const float* dt, const float* cb,
    float* dmd, float* part_row, float* part_col, int B, int L, int H, int G, int P, int Q, int nc), (gy, x, sxb, sxl, sxh, cs, dt, cb, dmd, part_row, part_col, B, L, H, G, P, Q, nc))

// dX (B, L, H, P): block per (b, h, chunk, s-tile, p-tile); has_g as above. The state term first (its row factor
// w[s] then scales the accumulator), then the in-chunk term.
template <int MM>
__device__ __forceinline__ void ssd_bwd_dx_body(
    const float* gy, const float* x, i64 sxb, i64 sxl, i64 sxh, const float* dt, const float* bm, i64 sbb, i64 sbl, i64 sbg,
    const float* d, const float* cb, const float* cs, const float* w, const float* gst, int has_final, float* dx, i64 sdb, i64 sdl,
    i64 sdh, int B, int L, int H, int G, int P, int N, int Q, int nc)
{
    constexpr int mm = MM;   // one kernel per engine (SSD_TILE_KERNELS below)
    const ChunkTile tile = chunk_tile((Q + SSD_TM - 1) / SSD_TM, (P + SSD_TN - 1) / SSD_TN, H, G, L, Q, nc);
    const int b = tile.b, h = tile.h, g = tile.g, c = tile.c, t0 = tile.t0, qlen = tile.qlen, s0 = tile.i0, p0 = tile.j0;
    if (s0 >= qlen) return;
    const i64 bh = tile.bh;
    __shared__ T2Smem sm;
    __shared__ float vec[2][SSD_VEC];
    float acc[4][4] = {};
    const float* gy0 = gy + (((i64)b * L + t0) * H + h) * P;
    stage_cs_dt(vec, cs, dt, bh, b, h, H, L, t0, qlen);
    const auto csv = [&](int s) { return vec[0][s]; };
    const auto dtv = [&](int s) { return vec[1][s]; };
    __syncthreads();
    const float* cb0 = cb + (((i64)b * G + g) * nc + c) * Q * Q;
    if (c < nc - 1 || has_final)
    {
        const float* b0 = bm + (i64)b * sbb + (i64)g * sbg + (i64)t0 * sbl;
        const float* w0 = w + bh * L + t0;
        const float* g0 = gst + (bh * nc + c) * P * N;
        const TileOp opa{b0 + (i64)s0 * sbl, sbl, qlen - s0, N}, opb{g0 + (i64)p0 * N, N, P - p0, N};
        tile_gemm<true, true, true, false>(acc, opa, opb, N, sm, mm, TileNoFix());
        t2_scale_rows(acc, s0, [&](int s) { return s < qlen ? w0[s] : 0.0f; });
    }
    const int kc = qlen - s0;
    const TileOp opa{cb0 + (i64)s0 * Q + s0, Q, kc, kc}, opb{gy0 + (i64)s0 * H * P + p0, (i64)H * P, P - p0, kc};
    tile_gemm<false, false, true, true>(acc, opa, opb, kc, sm, mm, [&](int m, int k, float v) {
        int s = s0 + m, l = s0 + k;
        return (s < qlen && l < qlen && l >= s) ? v * expf(csv(l) - csv(s)) * dtv(s) : 0.0f;
    });
    const float dh = d ? d[h] : 0.0f;
    float* dx0 = dx + (i64)b * sdb + (i64)t0 * sdl + (i64)h * sdh;   // dx (sdb, sdl, sdh, 1): maybe the tape's gradient slot
    t2_store(acc, s0, qlen, p0, P, [&](int s, int p, float v) {
        dx0[(i64)s * sdl + p] = fmaf(dh, gy0[(i64)s * H * P + p], v);
    });
}
SSD_TILE_KERNELS(bwd_dx, SSD_MIN_BLOCKS, (const float* gy, const float* x, i64 sxb, i64 sxl, i64 sxh, const float* dt, const float* bm, i64 sbb, i64 sbl, i64 sbg,
    const float* d, const float* cb, const float* cs, const float* w, const float* gst, int has_final, float* dx, i64 sdb, i64 sdl, i64 sdh,
    int B, int L, int H, int G, int P, int N, int Q, int nc), (gy, x, sxb, sxl, sxh, dt, bm, sbb, sbl, sbg, d, cb, cs, w, gst, has_final, dx, sdb, sdl, sdh,
    B, L, H, G, P, N, Q, nc))

// The block's place in a grid of (batch, group, chunk, head split, i-tile, j-tile) blocks, j fastest: as ChunkTile for
// the group g, plus the split and its heads h0 .. h1 - 1 (split k of the group's hpg heads takes k·hpg/splits ..
// (k+1)·hpg/splits: balanced, in order).
struct HeadTile
{
    int b, g, c, t0, qlen, it, jt, i0, j0, split, h0, h1;
};

__device__ __forceinline__ HeadTile head_tile(int ti, int tj, int splits, int H, int G, int L, int Q, int nc)
{
    HeadTile r;
    i64 id = blockIdx.x;
    r.jt = (int)(id % tj); id /= tj;
    r.it = (int)(id % ti); id /= ti;
    r.split = (int)(id % splits); id /= splits;
    r.c = (int)(id % nc); id /= nc;
    r.g = (int)(id % G);
    r.b = (int)(id / G);
    const int hpg = H / G;
    r.h0 = r.g * hpg + r.split * hpg / splits;
    r.h1 = r.g * hpg + (r.split + 1) * hpg / splits;
    r.t0 = r.c * Q;
    r.qlen = min(Q, L - r.t0);
    r.i0 = r.it * SSD_TM;
    r.j0 = r.jt * SSD_TN;
    return r;
}

// sum(4·ty + i, ·) += acc(4·ty + i, ·)·f(r0 + 4·ty + i): a head's tile, scaled by a factor of the output row, added to the
// running sum over heads.
template <typename FR>
__device__ __forceinline__ void t2_add_rows(float (&sum)[4][4], const float (&acc)[4][4], int r0, FR f)
{
    const int ty = threadIdx.x / 16;
#pragma unroll
    for (int i = 0; i < 4; i++)
    {
        float v = f(r0 + ty * 4 + i);
#pragma unroll
        for (int j = 0; j < 4; j++) sum[i][j] = fmaf(acc[i][j], v, sum[i][j]);
    }
}

// v, hidden from the optimizer (an empty asm): what a loop body builds from it is not hoisted out of the loop, where it
// would hold registers across the loop's tile products (the head loops below rebuild their group's B / C addresses
// from opaque(b) per head: a few integer operations instead of spills).
__device__ __forceinline__ i64 opaque(i64 v)
{
    asm volatile("" : "+l"(v));
    return v;
}

// dC (B, L, G, N), or with splits > 1 split partials (splits, B, L, G, N), and part_i (B, H, L, tn): block per
// (b, g, chunk, head split, l-tile, n-tile), has_state as above. Per head of the split, in order: the state term
// exp(cs[l])·Σ_p dY[l,p]·S_in[p,n] in its own tile (its row dots with C are the head's i), added to the running sum;
// then the in-chunk term Σ_{s≤l} dMd[l,s]·dt[s]·B[s,n] straight into the sum (dt[s] and the causal mask on the staged
// dMd slice).
template <int MM>
__device__ __forceinline__ void ssd_bwd_dc_body(
    const float* gy, const float* dt, const float* bm, i64 sbb, i64 sbl, i64 sbg, const float* cm, i64 scb, i64 scl, i64 scg,
    const float* cs, const float* st, int has_state, const float* dmd, float* dc, float* part_i,
    int B, int L, int H, int G, int P, int N, int Q, int nc, int splits)
{
    constexpr int mm = MM;   // one kernel per engine (SSD_TILE_KERNELS below)
    const int tn = (N + SSD_TN - 1) / SSD_TN;
    const HeadTile tile = head_tile((Q + SSD_TM - 1) / SSD_TM, tn, splits, H, G, L, Q, nc);
    const int b = tile.b, g = tile.g, c = tile.c, t0 = tile.t0, qlen = tile.qlen, l0 = tile.i0, n0 = tile.j0, nj = tile.jt;
    if (l0 >= qlen) return;
    __shared__ T2Smem sm;
    __shared__ float vec[2][SSD_VEC];
    float sum[4][4] = {};
    for (int h = tile.h0; h < tile.h1; h++)
    {
        const i64 ob = opaque(b), bh = ob * H + h;
        const float* gy0 = gy + ((ob * L + t0) * H + h) * P;
        // This head's cs and dt (the previous head's last reads were before tile_gemm's final barrier).
        stage_cs_dt(vec, cs, dt, bh, ob, h, H, L, t0, qlen);
        const auto csv = [&](int s) { return vec[0][s]; };
        const auto dtv = [&](int s) { return vec[1][s]; };
        __syncthreads();
        {
            float acc[4][4] = {};
            if (c > 0 || has_state)
            {
                const float* s0 = st + (bh * nc + c) * P * N;
                const TileOp opa{gy0 + (i64)l0 * H * P, (i64)H * P, qlen - l0, P}, opb{s0 + n0, N, N - n0, P};
                tile_gemm<true, false, false, false>(acc, opa, opb, P, sm, mm, TileNoFix());
                t2_scale_rows(acc, l0, [&](int l) { return l < qlen ? expf(csv(l)) : 0.0f; });
            }
            const float* c0 = cm + ob * scb + (i64)g * scg + (i64)t0 * scl;
            tile_row_dots(acc, c0, scl, l0, qlen, n0, N, part_i + (bh * L + t0) * tn, tn, nj);
            t2_add_rows(sum, acc, l0, [](int) { return 1.0f; });
        }
        const float* b0 = bm + ob * sbb + (i64)g * sbg + (i64)t0 * sbl;
        const float* dm0 = dmd + (bh * nc + c) * Q * Q;
        const int kmax = min(qlen, l0 + SSD_TM);
        const TileOp opa{dm0 + (i64)l0 * Q, Q, qlen - l0, kmax}, opb{b0 + n0, sbl, N - n0, kmax};
        tile_gemm<true, false, false, true>(sum, opa, opb, kmax, sm, mm, [&](int m, int s, float v) {
            int l = l0 + m;
            return (l < qlen && s <= l) ? v * dtv(s) : 0.0f;
        });
    }
    float* out = dc + (i64)tile.split * B * L * G * N;
    t2_store_rows(sum, l0, qlen, n0, N, [&](int l) { return out + (((i64)b * L + t0 + l) * G + g) * N; });
}
SSD_TILE_KERNELS(bwd_dc, SSD_MIN_BLOCKS, (const float* gy, const float* dt, const float* bm, i64 sbb, i64 sbl, i64 sbg, const float* cm, i64 scb, i64 scl, i64 scg,
    const float* cs, const float* st, int has_state, const float* dmd, float* dc, float* part_i,
    int B, int L, int H, int G, int P, int N, int Q, int nc, int splits), (gy, dt, bm, sbb, sbl, sbg, cm, scb, scl, scg, cs, st, has_state, dmd, dc, part_i, B, L, H, G, P, N, Q, nc, splits))

// dB (B, L, G, N), or with splits > 1 split partials (splits, B, L, G, N), and part_v (B, H, L, tn): block per
// (b, g, chunk, head split, s-tile, n-tile), has_final as above. Per head of the split, in order: the state term
// exp(cs[Q-1]-cs[s])·Σ_p x[s,p]·G[p,n] in its own tile (its row dots with B are the head's v), added to the running
// sum times dt[s]; then the in-chunk term Σ_{l≥s} dMd[l,s]·dt[s]·C[l,n] straight into the sum (dt[s] on the staged
// dMd slice; dMd is 0 above the diagonal, so no mask).
template <int MM>
__device__ __forceinline__ void ssd_bwd_db_body(
    const float* x, i64 sxb, i64 sxl, i64 sxh, const float* dt, const float* cm, i64 scb, i64 scl, i64 scg,
    const float* bm, i64 sbb, i64 sbl, i64 sbg, const float* cs, const float* gst, int has_final, const float* dmd,
    float* db, float* part_v, int B, int L, int H, int G, int P, int N, int Q, int nc, int splits)
{
    constexpr int mm = MM;   // one kernel per engine (SSD_TILE_KERNELS below)
    const int tn = (N + SSD_TN - 1) / SSD_TN;
    const HeadTile tile = head_tile((Q + SSD_TM - 1) / SSD_TM, tn, splits, H, G, L, Q, nc);
    const int b = tile.b, g = tile.g, c = tile.c, t0 = tile.t0, qlen = tile.qlen, s0 = tile.i0, n0 = tile.j0, nj = tile.jt;
    if (s0 >= qlen) return;
    __shared__ T2Smem sm;
    __shared__ float vec[2][SSD_VEC];
    float sum[4][4] = {};
    for (int h = tile.h0; h < tile.h1; h++)
    {
        const i64 ob = opaque(b), bh = ob * H + h;
        // This head's cs and dt (the previous head's last reads were before tile_gemm's final barrier).
        stage_cs_dt(vec, cs, dt, bh, ob, h, H, L, t0, qlen);
        const auto csv = [&](int s) { return vec[0][s]; };
        const auto dtv = [&](int s) { return vec[1][s]; };
        __syncthreads();
        {
            float acc[4][4] = {};
            if (c < nc - 1 || has_final)
            {
                const float* x0 = x + ob * sxb + (i64)h * sxh + (i64)t0 * sxl;
                const float* g0 = gst + (bh * nc + c) * P * N;
                const TileOp opa{x0 + (i64)s0 * sxl, sxl, qlen - s0, P}, opb{g0 + n0, N, N - n0, P};
                tile_gemm<true, false, false, false>(acc, opa, opb, P, sm, mm, TileNoFix());
                const float cslast = csv(qlen - 1);
                t2_scale_rows(acc, s0, [&](int s) { return s < qlen ? expf(cslast - csv(s)) : 0.0f; });
            }
            const float* b0 = bm + ob * sbb + (i64)g * sbg + (i64)t0 * sbl;
            tile_row_dots(acc, b0, sbl, s0, qlen, n0, N, part_v + (bh * L + t0) * tn, tn, nj);
            t2_add_rows(sum, acc, s0, [&](int s) { return s < qlen ? dtv(s) : 0.0f; });
        }
        const float* c0 = cm + ob * scb + (i64)g * scg + (i64)t0 * scl;
        const float* dm0 = dmd + (bh * nc + c) * Q * Q;
        const int kc = qlen - s0;
        const TileOp opa{dm0 + (i64)s0 * Q + s0, Q, kc, kc}, opb{c0 + (i64)s0 * scl + n0, scl, N - n0, kc};
        tile_gemm<false, false, false, true>(sum, opa, opb, kc, sm, mm, [&](int m, int, float v) {
            return s0 + m < qlen ? v * dtv(s0 + m) : v;
        });
    }
    float* out = db + (i64)tile.split * B * L * G * N;
    t2_store_rows(sum, s0, qlen, n0, N, [&](int s) { return out + (((i64)b * L + t0 + s) * G + g) * N; });
}
SSD_TILE_KERNELS(bwd_db, SSD_MIN_BLOCKS, (const float* x, i64 sxb, i64 sxl, i64 sxh, const float* dt, const float* cm, i64 scb, i64 scl, i64 scg,
    const float* bm, i64 sbb, i64 sbl, i64 sbg, const float* cs, const float* gst, int has_final, const float* dmd,
    float* db, float* part_v, int B, int L, int H, int G, int P, int N, int Q, int nc, int splits), (x, sxb, sxl, sxh, dt, cm, scb, scl, scg, bm, sbb, sbl, sbg, cs, gst, has_final, dmd, db, part_v, B, L, H, G, P, N, Q, nc, splits))

// dDt (B, L, H), part_da and part_dd ((B·nc), H, double): block per (b, h, chunk), the scalar chain above.
#define SSD_SCALAR_THREADS 128
extern "C" __global__ void __launch_bounds__(SSD_SCALAR_THREADS) ssd_bwd_scalars_f32(
    const float* dt, const float* a, const float* cs, const float* dmd, const float* part_row, const float* part_col,
    const float* part_i, const float* part_v, const double* rpart, float* ddt, double* part_da, double* part_dd,
    int B, int L, int H, int G, int N, int Q, int nc, int rtiles)
{
    AIM_PDL_PROLOGUE();
    extern __shared__ double sh[];                 // dcs[Q], then SSD_SCALAR_THREADS / 32 reduction slots
    double* dcs = sh;
    double* red = sh + Q;
    const ChunkTile tile = chunk_tile(1, 1, H, G, L, Q, nc);
    const int b = tile.b, h = tile.h, c = tile.c, t0 = tile.t0, qlen = tile.qlen;
    const int tn = (N + SSD_TN - 1) / SSD_TN, tq = (Q + SSD_TM - 1) / SSD_TM;
    const i64 bh = tile.bh;
    const float* dt0 = dt + ((i64)b * L + t0) * H + h;
    const float* dm0 = dmd + (bh * nc + c) * Q * Q;
    double vdt = 0, diag = 0;
    for (int l = threadIdx.x; l < qlen; l += SSD_SCALAR_THREADS)
    {
        // colT[l]: the parts of the l-tiles at or below l's tile; rowT[l]: of the s-tiles at or left of it (ssd_bwd_dm).
        double col = 0, row = 0;
        const i64 pr = (bh * L + t0 + l) * tq;
        for (int t = l / SSD_TM; t < tq; t++) col += part_col[pr + t];
        for (int t = 0; t <= l / SSD_TM; t++) row += part_row[pr + t];
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
        double rs = 0;                                  // r = exp(cs[Q-1])·⟨G, S_in⟩, the tiles added in order
        for (int t = 0; t < rtiles; t++) rs += rpart[(bh * nc + c) * rtiles + t];
        dcs[qlen - 1] += sv + (float)(rs * exp((double)cs[bh * L + t0 + qlen - 1]));
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

// dB, dC (B, L, G, N) = Σ_{k < parts} of the parts pb, pc at k·sk + r·sr + g·sg + n (r = b·L + l), k ascending (a fixed
// order: deterministic). The chunked backward's head-split partials (splits, B, L, G, N): sk = B·L·G·N, sr = G·N,
// sg = N; the serial backward's per-head parts (B, L, H, N): parts = H/G, sk = N, sr = H·N, sg = (H/G)·N. db and dc
// are written at their strides (b, l, g; n unit): contiguous, or the tape's gradient slots in the conv output's gradient.
extern "C" __global__ void ssd_bwd_part_sum_f32(const float* pb, const float* pc, float* db, i64 sbb, i64 sbl, i64 sbg, float* dc,
                                                i64 scb, i64 scl, i64 scg, i64 rows, int L, int G, int N, int parts, i64 sk, i64 sr, i64 sg)
{
    AIM_PDL_PROLOGUE();
    AIM_GRID_STRIDE(i, rows * G * N)
    {
        int n = (int)(i % N);
        i64 rg = i / N, r = rg / G;
        int g = (int)(rg % G);
        i64 src = r * sr + (i64)g * sg + n;
        float sb = 0.0f, sc = 0.0f;
        for (int k = 0; k < parts; k++, src += sk)
        {
            sb += pb[src];
            sc += pc[src];
        }
        i64 b = r / L, l = r % L;
        db[b * sbb + l * sbl + (i64)g * sbg + n] = sb;
        dc[b * scb + l * scl + (i64)g * scg + n] = sc;
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
