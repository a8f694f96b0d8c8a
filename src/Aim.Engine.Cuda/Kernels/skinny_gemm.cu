// y (M, N) f32 = alpha · x (M, K) f32 · W (N, K)ᵀ bf16 for the few rows of a decode step (Gemm.cs's TrySkinny). The
// device code (the weight stream) and its comments are in skinny_gemv.cuh; this kernel gives it static shared memory.
#include "skinny_gemv.cuh"

extern "C" __global__ void __launch_bounds__(SKINNY_WARPS * 32) skinny_gemm_bf16(
    const float* x, i64 sxm, const bf16* wt, i64 swn, float* y, i64 sym, int M, int N, int K, float alpha, float beta, int vec, int split)
{
    AIM_PDL_PROLOGUE();
    __shared__ float partial[SKINNY_WARPS * SKINNY_MAX_M];
    skinny_gemv(x, sxm, wt, swn, y, sym, M, N, K, alpha, beta, vec, split, blockIdx.x, partial);
}
