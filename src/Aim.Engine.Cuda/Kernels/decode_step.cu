// Fused single-token decode kernels of a Mamba-2 layer, float32 (IKernels.DecodeStep.cs, aim-architecture.md §3.6):
// conv_ssm_step_f32 = conv1d.cu's conv1d_step_f32 (SiLU) followed by ssm.cu's ssm_step_f32 (dt bias + softplus),
// in one launch. Same arithmetic as those two kernels, in the same order:
//   conv[ch] = silu(bias[ch] + Σ_k w[ch,k]·window[k]),  window = (state[ch,1..K-1], xbc[ch]);  state[ch] ← window
//   x = conv[h·P + p],  b = conv[H·P + g·N + n],  c = conv[H·P + G·N + g·N + n],  g = h / (H/G)
//   dt = softplus(dt_raw + dt_bias[h]) (values above 20 pass through),  α = exp(dt·a[h])
//   S[p,n] ← α·S[p,n] + (b[n]·dt)·x[p],  y[p] = Σ_n S[p,n]·c[n] + d[h]·x[p]
//
// Grid: one 256-thread block per (batch row, head, slice of P rows), as ssm_step_f32 (STEP_WARPS warps, a warp per
// row of the slice, lanes over N, y reduced by warp shuffles). Each block computes the conv outputs it needs into
// shared memory: the x channels of its own rows (h·P + p for p in the slice) and the 2·N b/c channels of its group.
//
// Conv-state writes and why they are race-free (blocks run in any order, possibly concurrently, and no block may
// wait for another: the grid is not guaranteed to be co-resident):
// * x channels: channel h·P + p is needed by exactly one block (the one whose slice holds row p of head h). One
//   thread of that block reads the channel's old window, computes the output and writes the shifted window. No other
//   block touches the channel, so there is nothing to race with.
// * b/c channels of (row b, group g): every block of the group's heads (readers = (H/G)·pBlocks blocks) reads their
//   old windows, and the new window overwrites every slot another block may still be reading. They are therefore
//   written by the LAST reader, found with a counter per (b, g) in `counters` (zero before the launch):
//     1. every block reads the old b/c windows and computes b, c into shared memory; __syncthreads() (every load of
//        the block has returned: its value was consumed before the barrier);
//     2. thread 0: __threadfence(); old = atomicAdd(&counters[b·G + g], 1); the block whose `old` is readers-1 is last;
//     3. the last block (after __threadfence()) re-reads the old windows, writes the shifted windows and resets the
//        counter to 0 for the next launch (stream order makes that write visible to it).
//   The other blocks' loads → barrier → fence → atomic, and the last block's atomic (which reads the end of that
//   release sequence) → fence → barrier → stores: by fence-fence synchronization (PTX memory model) every reader's
//   loads happen before the writer's stores, so no reader can see a new window; and only the last block writes.
//   Nothing waits on anything (the last arriver does the work, as in CUDA's threadFenceReduction sample), so any
//   scheduling order is safe. The written values do not depend on which block is last (old window + xbc), so the
//   result is deterministic. The counters live in a buffer the host keeps per backend (one launch at a time on the
//   backend's single stream, which is also what a CUDA graph replays); every launch leaves them at zero.
#include "decode_step.cuh"

#define CSS_WARPS 8

// conv_state (B, C, K), xbc (B, C) with batch stride sxb, conv_w (C, K), conv_b (C) or null, state (B, H, P, N),
// dt (B, H) with batch stride sdtb, dt_bias / a / d (H) (d may be null), y (B, H, P), counters (B·G ints, zero).
// Dynamic shared memory: (2·N + CSS_WARPS·pPerWarp) floats.
extern "C" __global__ void __launch_bounds__(CSS_WARPS * 32) conv_ssm_step_f32(
    float* conv_state, const float* xbc, i64 sxb, const float* conv_w, const float* conv_b,
    float* state, const float* dt, i64 sdtb, const float* dt_bias, const float* a, const float* d, float* y,
    int* counters, int B, int H, int G, int P, int N, int K, int pPerWarp)
{
    extern __shared__ float css_sh[];
    __shared__ int s_last;
    const int rowsPerBlock = CSS_WARPS * pPerWarp, pBlocks = (P + rowsPerBlock - 1) / rowsPerBlock;
    const int bh = blockIdx.x / pBlocks, h = bh % H, b = bh / H, hpg = H / G, g = h / hpg;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int pFirst = (blockIdx.x % pBlocks) * rowsPerBlock;
    const int C = H * P + 2 * G * N;
    float* sbc = css_sh;              // [0, N): b, [N, 2N): c of group g
    float* sx = css_sh + 2 * N;       // x of rows pFirst .. pFirst + rowsPerBlock
    const float* xr = xbc + (i64)b * sxb;
    float* cs = conv_state + (i64)b * C * K;

    // 1. Conv outputs. b/c channels: read only (their windows are written by the last reader, step 3); x channels of
    //    this block's rows: owned by this block.
    step_conv_block(cs, xr, conv_w, conv_b, K, H * P, G, N, g, h, P, pFirst, rowsPerBlock, sbc, sx);
    __syncthreads();

    // 2. Arrival: the last of the group's readers updates the b/c windows (step 3).
    if (threadIdx.x == 0)
    {
        __threadfence();
        int readers = hpg * pBlocks;
        s_last = atomicAdd(&counters[b * G + g], 1) == readers - 1;
    }
    __syncthreads();

    // SSM step of this block's rows, as ssm_step_f32.
    float dtv = step_dt(dt[(i64)b * sdtb + h], dt_bias[h]);
    step_ssm_rows(state + (i64)bh * P * N, P, N, pFirst, rowsPerBlock, warp, CSS_WARPS, lane, sx, pFirst, sbc, sbc + N, dtv,
                  expf(dtv * a[h]), d ? d[h] : 0.0f, y + (i64)bh * P);

    // 3. The last reader shifts the group's b/c windows (every other reader has finished reading them).
    if (s_last)
    {
        __threadfence();
        for (int i = threadIdx.x; i < 2 * N; i += blockDim.x)
        {
            int ch = H * P + (i < N ? g * N + i : G * N + g * N + (i - N));
            step_shift(cs + (i64)ch * K, xr[ch], K);
        }
        if (threadIdx.x == 0) counters[b * G + g] = 0;
    }
}
