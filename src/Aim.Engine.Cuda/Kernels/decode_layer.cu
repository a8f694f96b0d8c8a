// One Mamba-2 block of a batch-1 decode step as ONE persistent cooperative kernel (IKernels.DecodeLayer.cs,
// aim-architecture.md §3.6): the six kernels of the default decode layer (norm.cu's mod_add_rms_norm_f32,
// skinny_gemm.cu's skinny_gemm_bf16 for in_proj, conv1d.cu's conv1d_step_f32, ssm.cu's ssm_step_f32, norm.cu's
// rms_norm_f32 as the gated norm, skinny_gemm_bf16 for out_proj) become three phases separated by grid barriers
// (grid_sync.cuh), so a layer costs one launch and two barriers instead of six launches (launch latency dominates
// at 2 rows).
//
// Launched with cuLaunchCooperativeKernel (every block resident), 256 threads, dynamic shared memory only:
//   [0, 128) skinny_gemv's partial sums | [128, 160) reduction slots | [160, ...) rows: max(R·max(D, E), 2N + rows/block)
// Phase 1 (every block): the modulated norm of the R rows into shared memory, as mod_add_rms_norm_f32 computes it
//   (its reduction order with `rowThreads` virtual threads, its rounding: gate·x, + residual, ·rstd·w, ·(1+scale),
//   + shift; block 0 alone writes residualOut), then the block's share of in_proj's column tiles (skinny_gemv,
//   tiles blockIdx.x, blockIdx.x + gridDim.x, ...) into the zx workspace (R, E + C + H). → grid barrier.
// Phase 2: (row, head, slice of P) items over the blocks, each one of ssm_step_f32's blocks (same pPerWarp) that
//   first computes the conv outputs it needs with conv1d_step_f32's arithmetic (step_conv_block): its x channels
//   (their windows shifted by the item, which owns them) and its group's b/c channels (read only), then the SSM
//   update of its rows into the ys workspace (R, H·P). → grid barrier.
// Phase 3: the last block shifts every row's b/c conv windows (every reader of the old windows is past the barrier,
//   so nothing reads them any more); every block computes the gated RMSNorm of ys with z (ngs_norm_rows, rms_norm_f32's
//   reduction order) into shared memory and streams its share of out_proj's column tiles into y.
// Same arithmetic, order and column splits as the six kernels. One difference can change bits: step_ssm_rows adds y
// in a different order on its vector and scalar paths, and here b/c sit in shared memory (aligned) where ssm_step_f32
// reads them as columns of the (R, C) conv output (aligned when C, H·P and G·N are multiples of 4, as in AiM). Where
// the paths agree the result should equal the default path's bits; no check compares them bit for bit
// (decode_layer_check and the harness compare with float64).
// residualOut must not be residual's memory (block 0 writes it while other blocks read residual): the host falls
// back to the six kernels then. The barrier words (count, generation) are zeroed once and every barrier leaves
// the count at zero, so consecutive launches (and graph replays) reuse them.
#include "skinny_gemv.cuh"
#include "grid_sync.cuh"
#include "decode_step.cuh"

#define DL_WARPS SKINNY_WARPS
#define DL_SHARED_HEAD (SKINNY_WARPS * SKINNY_MAX_M + 32)

// hidden, gate (or null), res (or null), scale1, shift: (R, D); nw: (D); win: (E + C + H, D) bf16; conv_state (R, C, K);
// conv_w (C, K); conv_b (C) or null; state (R, H, P, N); dt_bias, a, dskip (or null): (H); gnw: (E); wout: (D, E) bf16;
// y, res_out: (R, D); zx: (R, E + C + H) and ys: (R, E) workspaces; barrier: 2 zeroed words. E = H·P, C = E + 2·G·N.
extern "C" __global__ void __launch_bounds__(DL_WARPS * 32) mamba_decode_layer_bf16(
    const float* hidden, const float* gate, const float* res, const float* nw, float eps, const float* scale1, const float* shift,
    int rowThreads, const bf16* win, float* conv_state, const float* conv_w, const float* conv_b, float* state,
    const float* dt_bias, const float* a, const float* dskip, const float* gnw, float geps, int group, int gvthreads,
    const bf16* wout, float* y, float* res_out, float* zx, float* ys, unsigned* barrier,
    int R, int D, int H, int G, int P, int N, int K, int pPerWarp, int vecIn, int splitIn, int vecOut, int splitOut, int nvec)
{
    AIM_PDL_PROLOGUE();
    extern __shared__ float4 dl_dyn[];
    float* partial = (float*)dl_dyn;
    float* slots = partial + SKINNY_WARPS * SKINNY_MAX_M;
    float* xs = partial + DL_SHARED_HEAD;
    const int E = H * P, C = E + 2 * G * N, Dp = E + C + H;

    // ---- Phase 1: modulated norm (every block, its own copy), then in_proj's column tiles.
    for (int m = 0; m < R; m++)
    {
        const i64 at = (i64)m * D;
        float* row = xs + at;
        for (int j = threadIdx.x; j < D; j += blockDim.x)
        {
            float v = hidden[at + j];
            if (gate) v = __fmul_rn(gate[at + j], v);
            if (res) v = __fadd_rn(v, res[at + j]);
            row[j] = v;
            if (blockIdx.x == 0) res_out[at + j] = v;
        }
        __syncthreads();
        float rstd = 1.0f / sqrtf(ngs_segment_sum_sq(row, D, rowThreads, slots) / (float)D + eps);
        for (int j = threadIdx.x; j < D; j += blockDim.x)
        {
            float n = row[j] * rstd * nw[j];
            float s = __fmul_rn(n, scale1[at + j]);
            row[j] = __fadd_rn(s, shift[at + j]);
        }
        __syncthreads();
    }
    {
        const int perTile = SKINNY_WARPS / splitIn, tiles = (Dp + perTile - 1) / perTile;
        for (int t = blockIdx.x; t < tiles; t += gridDim.x)
        {
            skinny_gemv(xs, D, win, D, zx, Dp, R, Dp, D, 1.0f, 0.0f, vecIn, splitIn, t, partial);
            __syncthreads();
        }
    }
    grid_barrier(barrier, barrier + 1);

    // ---- Phase 2: conv + SSM step, one (row, head, slice of P) item at a time (ssm_step_f32's block).
    {
        const int rowsPerBlock = DL_WARPS * pPerWarp, pBlocks = (P + rowsPerBlock - 1) / rowsPerBlock;
        const int hpg = H / G, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
        float* sbc = xs;          // [0, N): b, [N, 2N): c of the item's group
        float* sx = xs + 2 * N;   // x of the item's rows
        for (int item = blockIdx.x; item < R * H * pBlocks; item += gridDim.x)
        {
            const int bh = item / pBlocks, h = bh % H, b = bh / H, g = h / hpg;
            const int pFirst = (item % pBlocks) * rowsPerBlock;
            const float* xr = zx + (i64)b * Dp + E;
            float* cs = conv_state + (i64)b * C * K;
            __syncthreads(); // the previous item's readers of sbc / sx are done
            step_conv_block(cs, xr, conv_w, conv_b, K, E, G, N, g, h, P, pFirst, rowsPerBlock, sbc, sx);
            __syncthreads();
            float dtv = step_dt(xr[C + h], dt_bias[h]); // zx[b, E + C + h]
            step_ssm_rows(state + (i64)bh * P * N, P, N, pFirst, rowsPerBlock, warp, DL_WARPS, lane, sx, pFirst, sbc, sbc + N,
                          dtv, expf(dtv * a[h]), dskip ? dskip[h] : 0.0f, ys + (i64)bh * P);
        }
    }
    grid_barrier(barrier, barrier + 1);

    // ---- Phase 3: the b/c conv windows (last block), then the gated norm and out_proj's column tiles.
    if (blockIdx.x == gridDim.x - 1)
        for (int i = threadIdx.x; i < R * 2 * G * N; i += blockDim.x)
        {
            int b = i / (2 * G * N), ch = E + i % (2 * G * N);
            step_shift(conv_state + ((i64)b * C + ch) * K, zx[(i64)b * Dp + E + ch], K);
        }
    ngs_norm_rows(ys, E, zx, Dp, gnw, geps, group, gvthreads, R, E, nvec, xs, slots);
    {
        const int perTile = SKINNY_WARPS / splitOut, tiles = (D + perTile - 1) / perTile;
        for (int t = blockIdx.x; t < tiles; t += gridDim.x)
        {
            skinny_gemv(xs, E, wout, E, y, D, R, D, E, 1.0f, 0.0f, vecOut, splitOut, t, partial);
            __syncthreads();
        }
    }
}
