// A grid-wide barrier for persistent kernels launched cooperatively (cuLaunchCooperativeKernel guarantees that
// every block of the grid is resident at once, which a spinning barrier needs). Two words of global memory per
// barrier object, zeroed once: an arrival count and a generation. Thread 0 of each block reads the generation,
// arrives with atomicAdd; the last arrival resets the count and bumps the generation, the others spin until it
// changes. The fences order every block's writes before the barrier with every block's reads after it.
#pragma once

__device__ __forceinline__ void grid_barrier(unsigned* count, volatile unsigned* generation)
{
    __syncthreads();
    if (threadIdx.x == 0)
    {
        unsigned seen = *generation;
        __threadfence();
        if (atomicAdd(count, 1u) == gridDim.x * gridDim.y * gridDim.z - 1)
        {
            atomicExch(count, 0u);
            __threadfence();
            atomicAdd((unsigned*)generation, 1u);
        }
        else
        {
            while (*generation == seen) { }
        }
        __threadfence();
    }
    __syncthreads();
}
