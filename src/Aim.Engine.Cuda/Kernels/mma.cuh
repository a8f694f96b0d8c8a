// Warp-level tensor-core products for the hand-written tile kernels (ssd_tiles.cuh): TF32 conversion and the
// mma.sync m16n8k8 TF32 instruction (sm_80 and newer), written as inline PTX so NVRTC needs no CUDA headers.
//
// Fragment layout of m16n8k8 (PTX ISA, "Matrix fragments for mma.m16n8k8" with .tf32), lane = 4·g + t:
//   A (16×8, row):  a0 = A[g][t],   a1 = A[g+8][t],   a2 = A[g][t+4],   a3 = A[g+8][t+4]
//   B (8×8, col):   b0 = B[t][g],   b1 = B[t+4][g]
//   C, D (16×8):    d0 = D[g][2t],  d1 = D[g][2t+1],  d2 = D[g+8][2t], d3 = D[g+8][2t+1]
// tests/cuda-emulation emulates these two functions with the same layout (AIM_CUDA_EMULATION).
#pragma once

#ifndef AIM_CUDA_EMULATION
// Rounds to TF32 (10 mantissa bits; round to nearest, ties away from zero), as a 32-bit pattern.
__device__ __forceinline__ unsigned f32_to_tf32(float f)
{
#if __CUDA_ARCH__ >= 800
    unsigned r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(f));
    return r;
#else
    __trap();    // never reached: before sm_80 the host picks the FMA engine
    return 0;
#endif
}

// d += A·B for one 16×8×8 TF32 tile held in the fragments above (fp32 accumulation).
__device__ __forceinline__ void mma_tf32_16x8x8(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2])
{
#if __CUDA_ARCH__ >= 800
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
    __trap();
#endif
}
#endif

// Splits v into TF32 hi + lo (v ≈ hi + lo to about 21 bits): the "3xTF32" operands.
__device__ __forceinline__ void split_tf32(float v, unsigned& hi, unsigned& lo)
{
    hi = f32_to_tf32(v);
    lo = f32_to_tf32(v - __uint_as_float(hi));
}
