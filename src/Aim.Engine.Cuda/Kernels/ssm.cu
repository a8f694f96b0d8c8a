// The Mamba-2 SSD scan on CUDA, float32 storage: the chunked forward (aim-architecture.md §3.5), the chunked
// backward (derived below), the older serial backward (the reverse-time recurrence of ReferenceKernels.Ssm.cs /
// CpuKernels.Ssm.cs) and the single inference step (§3.6). Layouts: x (B, L, H, P) and b, c (B, L, G, N)
// strided with unit last stride, dt (B, L, H), y (B, L, H, P), states (B, H, P, N), group g = h / (H/G).
//
// Forward, per (batch, head, chunk of Q steps), with cs[l] = Σ_{j≤l in chunk} dt[j]·a[h]:
//   1. ssd_cumsum:      cs, and w[s] = exp(cs[Q-1] - cs[s])·dt[s] (the weight of step s in the chunk state)
//   2. ssd_cb:          CB[l,s] = Σ_n C[l,n]·B[s,n] per (batch, group, chunk), lower-triangular tiles only
//   3. ssd_chunk_states: S_in[0] = initial state, S_in[c+1] = exp(cs_c[Q-1])·S_in[c] + st_c with the chunk's own
//                        st[p,n] = Σ_s w[s]·x[s,p]·B[s,n]; final = S_in[nc] (a block walks a tile's chunks in order)
//   4. ssd_chunk_scan:  y[l,p] = exp(cs[l])·Σ_n C[l,n]·S_in[p,n] + Σ_{s≤l} CB[l,s]·exp(cs[l]-cs[s])·dt[s]·x[s,p] + D·x[l,p]
// The matrix products are block tiles of 64×64 outputs per 256-thread block, computed by one of three engines chosen
// by the kernels' `mm` argument: SSD_MM_FMA (fp32 FMAs, 4×4 outputs per thread), SSD_MM_TF32 (one TF32 tensor-core
// product: the operands' upper 19 bits, i.e. 10-bit mantissas truncated, fp32 accumulation; the engine under --tf32
// and bf16 autocast) or SSD_MM_3XTF32 (each operand split into TF32 hi + lo and
// hi·hi + hi·lo + lo·hi accumulated: about float32 accuracy at three tensor-core products). The tiles (tile_gemm
// below): the operands are plain strided tile copies issued with cp.async (16 bytes where the inner dimension is
// contiguous and 16-byte aligned, 4 bytes otherwise; outside the problem zero-filled by the copy), each staged in the
// layout it has in memory (no transposing copies); K-slices of 32, double-buffered, so a K ≤ 64 product has all its
// loads in flight before the first multiply and K = 128 keeps one slice in flight while one is multiplied; 2 barriers
// a slice (3 with a fix pass), 2-4 slices a product. Factors stay out of the loaders: a factor of the output row
// scales the accumulator (between products or in the epilogue), a factor of k or of (row, k) (w, dt, exp(cs),
// exp(cs[l]-cs[s]) with the causal mask) is applied once to each staged A slice in shared memory, the chunk's cs and
// dt read from a copy staged in shared memory once per block (chunks of at most SSD_VEC steps). 38 KB of static
// shared memory a block. Tiles whose thread columns are adjacent (4·tx + j) store and read rows 16 bytes at a time. (The first tiles staged K-slices of 16 through registers by per-element loaders that applied
// the decays, an expf and index arithmetic per element: ~10 TFLOP/s, latency-bound; backward 2.45 -> 1.60 ms per
// AiM-B layer at batch 32 with these tiles at three blocks a multiprocessor.)
#include "common.cuh"
#include "mma.cuh"
#include "decode_step.cuh"

#define SSD_TM 64
#define SSD_TN 64
#define SSD_THREADS 256
#ifndef SSD_MIN_BLOCKS
// Three blocks a multiprocessor (80 registers, a few spills) hide more latency than two (H200, AiM-B layer at batch
// 32, TF32 engine: backward 1.86 -> 1.60 ms, forward at chunk 128 0.52 -> 0.44 ms).
#define SSD_MIN_BLOCKS 3
#endif
#ifndef SSD_FWD_MIN_BLOCKS
// The forward's two big kernels (chunk_scan, chunk_states) gain from a fourth block (64 registers), the backward's lose
// (H200, AiM-B bf16 training step, per call: chunk_scan 126 -> 116 µs, chunk_states 120 -> 113; dc 199 -> 222, db
// 190 -> 220, bwd_states 144 -> 158).
#define SSD_FWD_MIN_BLOCKS 4
#endif
#define SSD_LDO (SSD_TN + 4)    // pitch of the tensor-core result handed back to the 4×4-per-thread layout

#define SSD_MM_FMA 0
#define SSD_MM_TF32 1
#define SSD_MM_3XTF32 3

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


// ---------------------------------------------------------------------------------------------------- tiles
//
// 64×64 output tiles (4×4 outputs a thread, or four m16n8 accumulators a warp), staged for throughput: operands are
// plain strided tile copies (cp.async, 16 bytes where the inner dimension is contiguous and 16-byte aligned, else 4 bytes; rows and columns outside the problem zero-filled by the copy), K-slices of T2_K = 32
// double-buffered, both slices of a K ≤ 64 product issued before the first is used. Each operand is staged in the
// layout its memory has: MK ([m][k], k contiguous: C, B rows, dY rows, x rows as reduction over p/n) or KM ([k][m], m
// contiguous), so no copy transposes. Factors: a factor of the output row scales the accumulator between products or
// in the epilogue; a factor of k or of (m, k) (w[s], exp(cs), dt[s], exp(cs[l]-cs[s]) with the causal mask) is applied
// once to the staged A slice in shared memory (a pass of 8 elements a thread), never per element per slice by every
// reader. CS (column-strided): with B staged MK the thread's four columns are tx + 16·j instead of 4·tx + j, so that its
// float4 reads along k are conflict-free (rows 9 float4 apart); the epilogues follow the mapping.
#define T2_K 32
#define T2_KM_PITCH (SSD_TM + 8)          // [k][m] slice rows: fragment loads (row 8·t + g) hit 32 distinct banks
#define T2_MK_PITCH (T2_K + 4)            // [m][k] slice rows: 9 float4 apart, fragment loads 4·g + t distinct
#define T2_SLICE (T2_K * T2_KM_PITCH)     // floats per staged slice in either layout (32·72 = 64·36)

#ifndef AIM_CUDA_EMULATION
// Asynchronous global -> shared copies (sm_80+): `bytes` of the copy size are read, the rest zero-filled. Before sm_80
// (FMA engine only) a synchronous copy. tests/cuda-emulation/cuda_emu.hpp defines these for the emulation.
__device__ __forceinline__ unsigned shared_addr(const void* p)
{
    unsigned long long a;
    asm("cvta.to.shared.u64 %0, %1;" : "=l"(a) : "l"(p));
    return (unsigned)a;
}
__device__ __forceinline__ void cp_async16(float* dst, const float* src, int bytes)
{
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(shared_addr(dst)), "l"(src), "r"(bytes) : "memory");
#else
    for (int q = 0; q < 4; q++) dst[q] = 4 * q < bytes ? src[q] : 0.0f;
#endif
}
__device__ __forceinline__ void cp_async4(float* dst, const float* src, int bytes)
{
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" ::"r"(shared_addr(dst)), "l"(src), "r"(bytes) : "memory");
#else
    *dst = bytes > 0 ? *src : 0.0f;
#endif
}
// ldmatrix.x4 (sm_75+; only the tensor-core engines call it): lane l gives the 16-byte-aligned shared address of row
// l % 8 of matrix l / 8; lane 4·g + t receives 32-bit word t of row g of each matrix, in r[0..3].
__device__ __forceinline__ void ldsm_x4(unsigned (&r)[4], const float* row)
{
#if __CUDA_ARCH__ >= 800
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(shared_addr(row)));
#else
    __trap();    // never reached: before sm_80 the host picks the FMA engine
#endif
}
__device__ __forceinline__ void cp_async_commit()
{
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;" ::: "memory");
#endif
}
template <int N> __device__ __forceinline__ void cp_async_wait()
{
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
#endif
}
#endif

// Two staged slices of each operand, or (after the last slice) the tensor-core result.
union __align__(16) T2Smem
{
    struct { float a[2][T2_SLICE]; float b[2][T2_SLICE]; } in;
    float out[SSD_TM][SSD_LDO];
};

// An operand: element (m, k), m < 64 the tile's row (A) or column (B), k the reduction index, at p[m·ld + k] (staged
// MK) or p[k·ld + m] (staged KM); zero (not read) for m ≥ mvalid or k ≥ kvalid.
struct TileOp
{
    const float* p;
    i64 ld;
    int mvalid, kvalid;
};

// Whether an operand can be copied in 16-byte pieces: its base and every row 16-byte aligned.
__device__ __forceinline__ bool t2_vec(const TileOp& o) { return ((unsigned long long)o.p & 15) == 0 && (o.ld & 3) == 0; }

// Issues the copies of the K-slice k0 .. k0 + T2_K of o into dst (this thread's share; no commit).
template <bool MK>
__device__ __forceinline__ void t2_stage(float* dst, const TileOp& o, int k0, bool vec)
{
    constexpr int ROWS = MK ? SSD_TM : T2_K, COLS = MK ? T2_K : SSD_TM, PITCH = MK ? T2_MK_PITCH : T2_KM_PITCH;
    const float* src = MK ? o.p + k0 : o.p + (i64)k0 * o.ld;
    const int rvalid = MK ? o.mvalid : o.kvalid - k0, cvalid = MK ? o.kvalid - k0 : o.mvalid;
    if (vec)
    {
#pragma unroll
        for (int q = 0; q < ROWS * COLS / 4 / SSD_THREADS; q++)
        {
            int e = threadIdx.x + q * SSD_THREADS, r = e / (COLS / 4), c = (e % (COLS / 4)) * 4;
            int n = r < rvalid ? min(max(cvalid - c, 0), 4) : 0;
            cp_async16(dst + r * PITCH + c, n > 0 ? src + (i64)r * o.ld + c : o.p, 4 * n);
        }
    }
    else
    {
#pragma unroll 1
        for (int q = 0; q < ROWS * COLS / SSD_THREADS; q++)   // the rare path (misaligned views): kept rolled, few registers
        {
            int e = threadIdx.x + q * SSD_THREADS, r = e / COLS, c = e % COLS;
            bool ok = r < rvalid && c < cvalid;
            cp_async4(dst + r * PITCH + c, ok ? src + (i64)r * o.ld + c : o.p, ok ? 4 : 0);
        }
    }
}

// The tile column of this thread's j-th output (0 ≤ j < 4).
template <bool CS> __device__ __forceinline__ int t2_col(int tx, int j) { return CS ? tx + 16 * j : 4 * tx + j; }

// acc += one staged slice with FMAs: A(4·ty + i, k)·B(k, col(j)), k ascending.
template <bool AMK, bool BMK, bool CS>
__device__ __forceinline__ void t2_fma(float (&acc)[4][4], const float* as, const float* bs)
{
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
#pragma unroll
    for (int k4 = 0; k4 < T2_K; k4 += 4)
    {
        float a[4][4], b[4][4];   // [k][i], [k][j]
#pragma unroll
        for (int q = 0; q < 4; q++)
        {
            if (AMK)
            {
                float4 v = *reinterpret_cast<const float4*>(&as[(4 * ty + q) * T2_MK_PITCH + k4]);
                a[0][q] = v.x; a[1][q] = v.y; a[2][q] = v.z; a[3][q] = v.w;
            }
            else
            {
                float4 v = *reinterpret_cast<const float4*>(&as[(k4 + q) * T2_KM_PITCH + 4 * ty]);
                a[q][0] = v.x; a[q][1] = v.y; a[q][2] = v.z; a[q][3] = v.w;
            }
            if (BMK)
            {
                float4 v = *reinterpret_cast<const float4*>(&bs[t2_col<CS>(tx, q) * T2_MK_PITCH + k4]);
                b[0][q] = v.x; b[1][q] = v.y; b[2][q] = v.z; b[3][q] = v.w;
            }
            else if (CS)
            {
#pragma unroll
                for (int j = 0; j < 4; j++) b[q][j] = bs[(k4 + q) * T2_KM_PITCH + tx + 16 * j];
            }
            else
            {
                float4 v = *reinterpret_cast<const float4*>(&bs[(k4 + q) * T2_KM_PITCH + 4 * tx]);
                b[q][0] = v.x; b[q][1] = v.y; b[q][2] = v.z; b[q][3] = v.w;
            }
        }
#pragma unroll
        for (int k = 0; k < 4; k++)
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) acc[i][j] = fmaf(a[k][i], b[k][j], acc[i][j]);
    }
}

// A float32 operand of the one-product TF32 engine as it is: the tensor core reads its upper 19 bits (sign, exponent,
// 10 mantissa bits), i.e. truncates. Rounding first (cvt.rna, as 3xTF32's split does) halves the error bound but
// cost 6% of the SSD's time on the H200 (AiM-B batch 32: backward 1.19 -> 1.11 ms, forward 0.40 -> 0.37 ms without it).
__device__ __forceinline__ unsigned t2_tf32(float v) { return __float_as_uint(v); }

// d += one staged slice on the tensor cores (warp w: rows 16·(w/2) .. +16, columns 32·(w%2) .. +32, four m16n8 tiles);
// SPLIT: 3xTF32 (hi·hi + hi·lo + lo·hi), else one TF32 product. Operands staged MK (k contiguous) are read with
// ldmatrix: an 8×8 b16 matrix of ldmatrix is 8 rows of four floats, and lane 4·g + t receives row g, float t —
// the m16n8k8 TF32 fragment element (g, t) — so one ldmatrix.x4 fetches A's 16×8 fragment or two n8 tiles of B (rows
// 9 float4 apart: conflict-free). KM operands are read one element a lane (row 8·t + g: 32 distinct banks).
template <bool AMK, bool BMK, bool SPLIT>
__device__ __forceinline__ void t2_mma(float (&d)[4][4], const float* as, const float* bs)
{
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const int wm = (warp / 2) * 16, wn = (warp % 2) * 32;
    const int lr = lane % 8, lq = lane / 8;     // ldmatrix: this lane gives the address of row lr of matrix lq
#pragma unroll
    for (int kk = 0; kk < T2_K; kk += 8)
    {
        unsigned a[4];                          // A[wm+g][kk+t], A[wm+g+8][kk+t], A[wm+g][kk+t+4], A[wm+g+8][kk+t+4]
        if (AMK)
            ldsm_x4(a, &as[(wm + lr + 8 * (lq & 1)) * T2_MK_PITCH + kk + 4 * (lq >> 1)]);
        else
        {
            a[0] = __float_as_uint(as[(kk + t) * T2_KM_PITCH + wm + g]);
            a[1] = __float_as_uint(as[(kk + t) * T2_KM_PITCH + wm + g + 8]);
            a[2] = __float_as_uint(as[(kk + t + 4) * T2_KM_PITCH + wm + g]);
            a[3] = __float_as_uint(as[(kk + t + 4) * T2_KM_PITCH + wm + g + 8]);
        }
        unsigned b[4][2];                       // B[kk+t][wn+8j+g], B[kk+t+4][wn+8j+g]
        if (BMK)
        {
#pragma unroll
            for (int j = 0; j < 4; j += 2)
            {
                unsigned r[4];
                ldsm_x4(r, &bs[(wn + 8 * (j + (lq >> 1)) + lr) * T2_MK_PITCH + kk + 4 * (lq & 1)]);
                b[j][0] = r[0]; b[j][1] = r[1]; b[j + 1][0] = r[2]; b[j + 1][1] = r[3];
            }
        }
        else
        {
#pragma unroll
            for (int j = 0; j < 4; j++)
            {
                b[j][0] = __float_as_uint(bs[(kk + t) * T2_KM_PITCH + wn + 8 * j + g]);
                b[j][1] = __float_as_uint(bs[(kk + t + 4) * T2_KM_PITCH + wn + 8 * j + g]);
            }
        }
        unsigned ahi[4], alo[4];
#pragma unroll
        for (int r = 0; r < 4; r++)
        {
            if (SPLIT) split_tf32(__uint_as_float(a[r]), ahi[r], alo[r]);
            else ahi[r] = t2_tf32(__uint_as_float(a[r]));
        }
#pragma unroll
        for (int j = 0; j < 4; j++)
        {
            unsigned bhi[2], blo[2];
#pragma unroll
            for (int r = 0; r < 2; r++)
            {
                if (SPLIT) split_tf32(__uint_as_float(b[j][r]), bhi[r], blo[r]);
                else bhi[r] = t2_tf32(__uint_as_float(b[j][r]));
            }
            if (SPLIT)
            {
                mma_tf32_16x8x8(d[j], alo, bhi);
                mma_tf32_16x8x8(d[j], ahi, blo);
            }
            mma_tf32_16x8x8(d[j], ahi, bhi);
        }
    }
}

// A pass-through for tile_gemm's FIX = false.
struct TileNoFix
{
    __device__ __forceinline__ float operator()(int, int, float v) const { return v; }
};

// The slice pipeline of tile_gemm: stages A and B slice by slice (kvalid = kcount), applies FIX to each staged A
// slice and hands each slice to mul(as, bs). Per slice: wait for its copies, barrier, [fix, barrier,] multiply,
// barrier, issue slice + 2 into the freed buffer; one commit group per slice (possibly empty), so wait_group 1 at
// slice s means groups 0 .. s have landed.
template <bool AMK, bool BMK, bool FIX, typename FX, typename MUL>
__device__ __forceinline__ void t2_slices(const TileOp& A, const TileOp& B, int ns, T2Smem& sm, FX fix, MUL mul)
{
    const bool va = t2_vec(A), vb = t2_vec(B);
    t2_stage<AMK>(sm.in.a[0], A, 0, va);
    t2_stage<BMK>(sm.in.b[0], B, 0, vb);
    cp_async_commit();
    if (ns > 1)
    {
        t2_stage<AMK>(sm.in.a[1], A, T2_K, va);
        t2_stage<BMK>(sm.in.b[1], B, T2_K, vb);
    }
    cp_async_commit();
    for (int s = 0; s < ns; s++)
    {
        cp_async_wait<1>();
        __syncthreads();
        float* as = sm.in.a[s & 1];
        const float* bs = sm.in.b[s & 1];
        if (FIX)
        {
            const int k0 = s * T2_K;
#pragma unroll 2
            for (int q = 0; q < SSD_TM * T2_K / SSD_THREADS; q++)
            {
                int e = threadIdx.x + q * SSD_THREADS;
                int m = AMK ? e / T2_K : e % SSD_TM, k = AMK ? e % T2_K : e / SSD_TM;
                float& v = as[AMK ? m * T2_MK_PITCH + k : k * T2_KM_PITCH + m];
                v = fix(m, k0 + k, v);
            }
            __syncthreads();
        }
        mul(as, bs);
        __syncthreads();
        if (s + 2 < ns)
        {
            t2_stage<AMK>(sm.in.a[s & 1], A, (s + 2) * T2_K, va);
            t2_stage<BMK>(sm.in.b[s & 1], B, (s + 2) * T2_K, vb);
        }
        cp_async_commit();
    }
}

// acc(4·ty + i, col(j)) += Σ_{k < kcount} A(·, k)·B(k, ·), A and B as TileOp (kvalid = kcount), staged MK when AMK /
// BMK. FIX: fix(m, k, v) replaces each staged A element once (the factors of k or of (m, k); it sees the zero-filled
// elements outside the problem too and must not read outside it for them). mm: the engine, uniform per launch; the
// engines have separate pipelines so that the FMA one does not keep the tensor-core accumulators live.
template <bool AMK, bool BMK, bool CS, bool FIX, typename FX>
__device__ __forceinline__ void tile_gemm(float (&acc)[4][4], const TileOp& A, const TileOp& B, int kcount, T2Smem& sm, int mm, FX fix)
{
    const int ns = (kcount + T2_K - 1) / T2_K;
    if (ns <= 0) return;
    if (mm == SSD_MM_FMA)
    {
        t2_slices<AMK, BMK, FIX>(A, B, ns, sm, fix, [&](const float* as, const float* bs) { t2_fma<AMK, BMK, CS>(acc, as, bs); });
        return;
    }
    float d[4][4] = {};
    if (mm == SSD_MM_3XTF32)
        t2_slices<AMK, BMK, FIX>(A, B, ns, sm, fix, [&](const float* as, const float* bs) { t2_mma<AMK, BMK, true>(d, as, bs); });
    else
        t2_slices<AMK, BMK, FIX>(A, B, ns, sm, fix, [&](const float* as, const float* bs) { t2_mma<AMK, BMK, false>(d, as, bs); });
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const int wm = (warp / 2) * 16, wn = (warp % 2) * 32, tx = threadIdx.x % 16, ty = threadIdx.x / 16;
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
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] += sm.out[ty * 4 + i][t2_col<CS>(tx, j)];
    __syncthreads();
}

// Writes a tile of the column-strided layout (CS: columns tx + 16·j, whose scalar stores coalesce across the 16
// lanes; the 4·tx + j layout goes out 16 bytes at a time through t2_store_rows): out(r, c) = acc for rows
// r0 + 4·ty + i < rows and columns c0 + tx + 16·j < cols.
template <typename FO>
__device__ __forceinline__ void t2_store(const float (&acc)[4][4], int r0, int rows, int c0, int cols, FO out)
{
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
        {
            int r = r0 + ty * 4 + i, c = c0 + t2_col<true>(tx, j);
            if (r < rows && c < cols) out(r, c, acc[i][j]);
        }
}

// Writes a tile of the 4·tx + j column layout (CS = false) into rows with unit column stride: row(r) is row r's
// element 0. The thread's four columns are adjacent, so they go out as one 16-byte store where they are all inside
// and aligned (scalar stores of a 16-byte stride per lane wrote four times the sectors).
template <typename FP>
__device__ __forceinline__ void t2_store_rows(const float (&acc)[4][4], int r0, int rows, int c0, int cols, FP row)
{
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16, c = c0 + 4 * tx;
#pragma unroll
    for (int i = 0; i < 4; i++)
    {
        int r = r0 + ty * 4 + i;
        if (r >= rows) continue;
        float* p = row(r) + c;
        if (c + 3 < cols && ((unsigned long long)p & 15) == 0)
            *reinterpret_cast<float4*>(p) = make_float4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
        else
        {
#pragma unroll
            for (int j = 0; j < 4; j++)
                if (c + j < cols) p[j] = acc[i][j];
        }
    }
}

// The load matching t2_store_rows: acc = the tile of rows row(r), zero outside rows × cols.
template <typename FP>
__device__ __forceinline__ void t2_load_rows(float (&acc)[4][4], int r0, int rows, int c0, int cols, FP row)
{
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16, c = c0 + 4 * tx;
#pragma unroll
    for (int i = 0; i < 4; i++)
    {
        int r = r0 + ty * 4 + i;
        const float* p = r < rows ? row(r) + c : nullptr;
        if (p && c + 3 < cols && ((unsigned long long)p & 15) == 0)
        {
            float4 q = *reinterpret_cast<const float4*>(p);
            acc[i][0] = q.x; acc[i][1] = q.y; acc[i][2] = q.z; acc[i][3] = q.w;
        }
        else
        {
#pragma unroll
            for (int j = 0; j < 4; j++) acc[i][j] = p && c + j < cols ? p[j] : 0.0f;
        }
    }
}

// The block's (b, h, p-tile, n-tile) in a grid of B·H·tp·tn blocks (n-tile fastest): the chunk-state walkers.
struct StateTile
{
    int b, h, g, p0, n0, tile, tiles;
    i64 bh;
};

__device__ __forceinline__ StateTile state_tile(int H, int G, int P, int N)
{
    const int tp = (P + SSD_TM - 1) / SSD_TM, tn = (N + SSD_TN - 1) / SSD_TN;
    StateTile r;
    i64 id = blockIdx.x;
    r.tiles = tp * tn;
    r.tile = (int)(id % r.tiles);
    id /= r.tiles;
    r.h = (int)(id % H);
    r.b = (int)(id / H);
    r.g = r.h / (H / G);
    r.bh = (i64)r.b * H + r.h;
    r.p0 = (r.tile / tn) * SSD_TM;
    r.n0 = (r.tile % tn) * SSD_TN;
    return r;
}

// A per-step vector of the chunk (cs or dt) read by the FIX passes, row scales and epilogues, staged in shared
// memory once per block (a global load per element before: dt at a 4·H-byte stride per lane, 63% of ssd_bwd_dc's L2
// sectors on the H200). The host keeps chunks to at most SSD_VEC steps (CudaKernels.SsdMaxChunk); a global fallback
// for longer chunks cost registers enough to spill in the head-walking kernels.
#define SSD_VEC 256

// vec[0][s] = cs[bh·L + t0 + s] (row bh of (B·H, L)) and vec[1][s] = dt[(b·L + t0 + s)·H + h] for s < qlen (no barrier:
// the caller's next __syncthreads publishes them). Readers index the kernel's static shared array itself (an address
// known at compile time: shared loads, no register for a pointer).
__device__ __forceinline__ void stage_cs_dt(float (&vec)[2][SSD_VEC], const float* cs, const float* dt, i64 bh, i64 b, int h,
                                            int H, int L, int t0, int qlen)
{
    for (int e = threadIdx.x; e < qlen; e += SSD_THREADS)
    {
        vec[0][e] = cs[bh * L + t0 + e];
        vec[1][e] = dt[(b * L + t0 + e) * H + h];
    }
}

// acc row 4·ty + i *= f(r0 + 4·ty + i): a factor of the output row, between products or before the epilogue.
template <typename FR>
__device__ __forceinline__ void t2_scale_rows(float (&acc)[4][4], int r0, FR f)
{
    const int ty = threadIdx.x / 16;
#pragma unroll
    for (int i = 0; i < 4; i++)
    {
        float v = f(r0 + ty * 4 + i);
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] *= v;
    }
}

// The tile kernels: forward (ssd_cb, ssd_chunk_states, ssd_chunk_scan) and backward (ssd_bwd_states, ssd_bwd_dm,
// ssd_bwd_dx, ssd_bwd_dc, ssd_bwd_db), grids and formulas as listed at the top and in the backward's derivation.

// Every tile kernel is compiled once per engine, ssd_<kernel>_<engine> with engine fma, tf32 or 3xtf32 (the host
// picks by SsdMatrixMode): with the engine a runtime argument, one kernel held the pipelines of all three and ptxas
// spilled for the widest (tens to hundreds of bytes a thread at 80 registers); each engine alone mostly fits.
#define SSD_TILE_KERNELS(NAME, BOUND, PARAMS, ARGS)                                                                       \
    extern "C" __global__ void __launch_bounds__(SSD_THREADS, BOUND) ssd_##NAME##_fma PARAMS                             \
    { AIM_PDL_PROLOGUE(); ssd_##NAME##_body<SSD_MM_FMA> ARGS; }                                                          \
    extern "C" __global__ void __launch_bounds__(SSD_THREADS, BOUND) ssd_##NAME##_tf32 PARAMS                            \
    { AIM_PDL_PROLOGUE(); ssd_##NAME##_body<SSD_MM_TF32> ARGS; }                                                         \
    extern "C" __global__ void __launch_bounds__(SSD_THREADS, BOUND) ssd_##NAME##_3xtf32 PARAMS                          \
    { AIM_PDL_PROLOGUE(); ssd_##NAME##_body<SSD_MM_3XTF32> ARGS; }

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

// The walkers as one kernel per engine (ssd_chunk_states_<engine>, ssd_bwd_states_<engine>; the host picks by the
// engine): in one kernel with a runtime switch, the FMA and 3xTF32 paths' register needs made ptxas spill 100-500
// bytes a thread; the TF32 kernels alone spill at most 24.
#define SSD_STATE_WALKERS(NAME, MMV)                                                                                          \
    extern "C" __global__ void __launch_bounds__(SSD_THREADS, SSD_FWD_MIN_BLOCKS) ssd_chunk_states_##NAME(                    \
        const float* x, i64 sxb, i64 sxl, i64 sxh, const float* bm, i64 sbb, i64 sbl, i64 sbg, const float* w, const float* cs, \
        const float* init, float* st, float* final_state, int B, int L, int H, int G, int P, int N, int Q, int nc)             \
    {                                                                                                                         \
        AIM_PDL_PROLOGUE();                                                                                                   \
        __shared__ T2Smem sm;                                                                                                 \
        chunk_states_walk<MMV>(x, sxb, sxl, sxh, bm, sbb, sbl, sbg, w, cs, init, st, final_state, L, H, G, P, N, Q, nc, sm);   \
    }                                                                                                                         \
    extern "C" __global__ void __launch_bounds__(SSD_THREADS, SSD_MIN_BLOCKS) ssd_bwd_states_##NAME(                          \
        const float* gy, const float* cm, i64 scb, i64 scl, i64 scg, const float* cs, const float* st, const float* gfinal,    \
        float* gst, float* dinit, double* rpart, int B, int L, int H, int G, int P, int N, int Q, int nc)                      \
    {                                                                                                                         \
        AIM_PDL_PROLOGUE();                                                                                                   \
        __shared__ T2Smem sm;                                                                                                 \
        bwd_states_walk<MMV>(gy, cm, scb, scl, scg, cs, st, gfinal, gst, dinit, rpart, L, H, G, P, N, Q, nc, sm);             \
    }
SSD_STATE_WALKERS(fma, SSD_MM_FMA)
SSD_STATE_WALKERS(tf32, SSD_MM_TF32)
SSD_STATE_WALKERS(3xtf32, SSD_MM_3XTF32)

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
    step_ssm_rows(state + (i64)bh * P * N, P, N, pFirst, rowsPerBlock, warp, warps, lane, x + (i64)b * sxb + (i64)h * sxh,
                  bm + (i64)b * sbb + (i64)g * sbg, cm + (i64)b * scb + (i64)g * scg, dtv, expf(dtv * a[h]), d ? d[h] : 0.0f,
                  y + (i64)bh * P);
}
