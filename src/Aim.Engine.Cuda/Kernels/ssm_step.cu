// SsmStep on CUDA (aim-architecture.md §3.6): one Mamba-2 decode step of the SSM for every (row, head), float32
// state updated in place; the step helpers are decode_step.cuh's.
#include "common.cuh"
#include "decode_step.cuh"

#define STEP_WARPS 8

// The block's (b, h, slice of P) and what every row of it shares: the step size (with dt_bias the raw value from
// in_proj goes through softplus(dt + bias), passing values above 20 through) and the decay exp(dt·a[h]).
struct StepBlock
{
    int b, h, g, bh, pFirst, rowsPerBlock, warp, warps, lane;
    float dt, alpha;
};

__device__ __forceinline__ StepBlock step_block(const float* dt, i64 sdtb, const float* dt_bias, const float* a, int H, int G,
                                                int P, int pPerWarp)
{
    // The host (CudaKernels.Ssm.cs) picks the block size and pPerWarp: long slices while (batch, head) pairs are many
    // (fewer blocks, each warp with SSM_STEP_GROUP rows in flight), short ones while they are few (a decode step at
    // batch 1 still spreads over the SMs). The bits do not depend on the pick (step_ssm_rows).
    StepBlock k;
    k.warps = blockDim.x / 32;
    k.rowsPerBlock = k.warps * pPerWarp;
    const int pBlocks = (P + k.rowsPerBlock - 1) / k.rowsPerBlock;
    k.bh = blockIdx.x / pBlocks;
    k.h = k.bh % H;
    k.b = k.bh / H;
    k.g = k.h / (H / G);
    k.warp = threadIdx.x / 32;
    k.lane = threadIdx.x % 32;
    k.pFirst = (blockIdx.x % pBlocks) * k.rowsPerBlock;
    k.dt = dt_bias ? step_dt(dt[(i64)k.b * sdtb + k.h], dt_bias[k.h]) : dt[(i64)k.b * sdtb + k.h];
    k.alpha = expf(k.dt * a[k.h]);
    return k;
}

// The L2 prefetch of the block's state rows and its head's dt bias, A and D (step_block's geometry, without the
// dt load), for AIM_PDL_PROLOGUE_PREFETCHING. The geometry is restated rather than shared with step_block: sharing it
// changed the step kernels' registers (80 / 72 → 78 / 64 under NVRTC 11.8), which needs an H200 measurement first.
__device__ __forceinline__ void step_prefetch(const float* state, const float* dt_bias, const float* a, const float* d, int H, int P, int N,
                                              int pPerWarp)
{
    const int rowsPerBlock = blockDim.x / 32 * pPerWarp, pBlocks = (P + rowsPerBlock - 1) / rowsPerBlock;
    const int bh = blockIdx.x / pBlocks, h = bh % H, pFirst = blockIdx.x % pBlocks * rowsPerBlock;
    aim_prefetch_l2(state + ((i64)bh * P + pFirst) * N, (i64)min(rowsPerBlock, P - pFirst) * N * (i64)sizeof(float));
    aim_prefetch_l2(dt_bias ? dt_bias + h : nullptr, sizeof(float));
    aim_prefetch_l2(a + h, sizeof(float));
    aim_prefetch_l2(d ? d + h : nullptr, sizeof(float));
}

// y[p] of the block's head row (B, H, P).
struct StepStore
{
    float* y;
    __device__ __forceinline__ void prefetch(int, int) {}
    __device__ __forceinline__ void store(int, int p, float v) { y[p] = v; }
};

// One block per (b, h, slice of P), up to STEP_WARPS warps (blockDim.x / 32, the host's pick); decode_step.cuh's
// step_ssm_rows does the rows: warp w takes rows w, w + warps, ... of the slice, SSM_STEP_GROUP of them at a time on
// the vector path; lanes stride over N and the N-reduction of y is a warp shuffle. state (B, H, P, N) updated in
// place: S ← α·S + (b·dt)·x[p]; y (B, H, P).
extern "C" __global__ void __launch_bounds__(STEP_WARPS * 32) ssm_step_f32(
    float* state, const float* x, i64 sxb, i64 sxh, const float* dt, i64 sdtb, const float* dt_bias, const float* a,
    const float* bm, i64 sbb, i64 sbg, const float* cm, i64 scb, i64 scg, const float* d, float* y,
    int B, int H, int G, int P, int N, int pPerWarp)
{
    AIM_PDL_PROLOGUE_PREFETCHING(step_prefetch(state, dt_bias, a, d, H, P, N, pPerWarp));
    const StepBlock k = step_block(dt, sdtb, dt_bias, a, H, G, P, pPerWarp);
    StepStore out{y + (i64)k.bh * P};
    step_ssm_rows(state + (i64)k.bh * P * N, P, N, k.pFirst, k.rowsPerBlock, k.warp, k.warps, k.lane, x + (i64)k.b * sxb + (i64)k.h * sxh,
                  bm + (i64)k.b * sbb + (i64)k.g * sbg, cm + (i64)k.b * scb + (i64)k.g * scg, k.dt, k.alpha, d ? d[k.h] : 0.0f, out);
}

// g[p] = y[p]·silu(z[p]) (norm.cu's rms_value order: (y·z)·sigmoid(z)), z[p] loaded when the row starts.
struct StepGatedStore
{
    const float* z;
    float* g;
    float zz[SSM_STEP_GROUP];
    __device__ __forceinline__ void prefetch(int j, int p) { zz[j] = z[p]; }
    __device__ __forceinline__ void store(int j, int p, float v) { g[p] = v * zz[j] * (1.0f / (1.0f + expf(-zz[j]))); }
};

// ssm_step_f32 with the gate of the gated RMSNorm (MambaDecodeLayer on CUDA, CudaKernels.DecodeLayer.cs): instead of y
// it writes g[b, e] = y·silu(z[b, e]) (e = h·P + p; g (B, H·P), z rows szb apart); skinny_gemm_rownorm_bf16 (out_proj)
// then applies the norm's weight and row factor inside its product.
extern "C" __global__ void __launch_bounds__(STEP_WARPS * 32) ssm_step_gated_f32(
    float* state, const float* x, i64 sxb, i64 sxh, const float* dt, i64 sdtb, const float* dt_bias, const float* a,
    const float* bm, i64 sbb, i64 sbg, const float* cm, i64 scb, i64 scg, const float* d, const float* z, i64 szb, float* g,
    int B, int H, int G, int P, int N, int pPerWarp)
{
    AIM_PDL_PROLOGUE_PREFETCHING(step_prefetch(state, dt_bias, a, d, H, P, N, pPerWarp));
    const StepBlock k = step_block(dt, sdtb, dt_bias, a, H, G, P, pPerWarp);
    const i64 e0 = (i64)k.h * P;
    StepGatedStore out{z + (i64)k.b * szb + e0, g + (i64)k.b * H * P + e0, {}};
    step_ssm_rows(state + (i64)k.bh * P * N, P, N, k.pFirst, k.rowsPerBlock, k.warp, k.warps, k.lane, x + (i64)k.b * sxb + (i64)k.h * sxh,
                  bm + (i64)k.b * sbb + (i64)k.g * sbg, cm + (i64)k.b * scb + (i64)k.g * scg, k.dt, k.alpha, d ? d[k.h] : 0.0f, out);
}
