// Measures grid_barrier (grid_sync.cuh): `iters` barriers back to back with a token of work between them, so the
// time per barrier is what a persistent decode kernel would pay per phase. Launched cooperatively by
// tests/Aim.Cuda.Check (GridBarrierPerf.cs); sink is written only to keep the work from being optimised away.
#include "common.cuh"
#include "grid_sync.cuh"

extern "C" __global__ void grid_barrier_bench(unsigned* barrier, int iters, float* sink)
{
    AIM_PDL_PROLOGUE();
    float acc = 0.0f;
    for (int it = 0; it < iters; it++)
    {
        acc = fmaf(acc, 0.5f, (float)(threadIdx.x + it));
        grid_barrier(barrier, barrier + 1);
    }
    if (acc == -1.0f) sink[blockIdx.x] = acc;
}
