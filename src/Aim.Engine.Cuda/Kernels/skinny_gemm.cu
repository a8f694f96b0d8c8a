// y (M, N) f32 = alpha · x (M, K) f32 · W (N, K)ᵀ bf16 for the few rows of a decode step, and the gated RMSNorm in
// front of it (GatedRmsNormMatMul). The device code (weight stream, gated norm) and its comments are in
// skinny_gemv.cuh, shared with decode_layer.cu's persistent kernel; these kernels give it static shared memory.
#include "skinny_gemv.cuh"

extern "C" __global__ void __launch_bounds__(SKINNY_WARPS * 32) skinny_gemm_bf16(
    const float* x, i64 sxm, const bf16* wt, i64 swn, float* y, i64 sym, int M, int N, int K, float alpha, float beta, int vec, int split)
{
    __shared__ float partial[SKINNY_WARPS * SKINNY_MAX_M];
    skinny_gemv(x, sxm, wt, swn, y, sym, M, N, K, alpha, beta, vec, split, blockIdx.x, partial);
}

// GatedRmsNormMatMul (IKernels.NormLinear.cs): ngs_norm_rows then the weight stream, one launch.
// x, z: (M, K) rows at strides sxm, szm (unit stride along K); nw: (K); wt: (N, K) bf16 rows at swn; y: (M, N)
// contiguous. Dynamic shared memory: M·K floats. nvec: K % 4 == 0 and x/z rows 16-byte aligned (float4 reads);
// vec / split as for skinny_gemm_bf16 (xs rows are K floats apart in shared memory).
extern "C" __global__ void __launch_bounds__(SKINNY_WARPS * 32) gated_norm_skinny_gemm_bf16(
    const float* x, i64 sxm, const float* z, i64 szm, const float* nw, float eps, int group, int vthreads,
    const bf16* wt, i64 swn, float* y, int M, int N, int K, int nvec, int vec, int split)
{
    extern __shared__ float4 ngs_dyn[];
    __shared__ float ngs_partial[SKINNY_WARPS * SKINNY_MAX_M];
    __shared__ float ngs_slots[32];
    float* xs = (float*)ngs_dyn;
    ngs_norm_rows(x, sxm, z, szm, nw, eps, group, vthreads, M, K, nvec, xs, ngs_slots);
    // 3. The weight stream over the normalised rows.
    skinny_gemv(xs, K, wt, swn, y, N, M, N, K, 1.0f, 0.0f, vec, split, blockIdx.x, ngs_partial);
}
