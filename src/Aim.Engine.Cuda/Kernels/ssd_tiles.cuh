// The block tiles of the Mamba-2 SSD scan on CUDA, shared by the chunked forward (ssd.cu) and backward
// (ssd_backward.cu). The matrix products are block tiles of 64×64 outputs per 256-thread block, computed by one of three engines chosen
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
#pragma once
#include "common.cuh"
#include "mma.cuh"

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
