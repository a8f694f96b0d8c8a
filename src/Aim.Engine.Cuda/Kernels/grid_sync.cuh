// A grid-wide barrier for persistent kernels launched cooperatively (cuLaunchCooperativeKernel guarantees that
// every block of the grid is resident at once, which a spinning barrier needs). Two words of global memory per
// barrier object, zeroed once: an arrival count and a generation. Thread 0 of each block reads the generation,
// arrives with atomicAdd; the last arrival resets the count and bumps the generation, the others spin until it
// changes. The fences order every block's writes before the barrier with every block's reads after it.
//
// AIM_SPIN_HINT() is called once per iteration of the spin loop. On the GPU it is empty (the loop is exactly the
// plain volatile poll: only thread 0 of each block polls one word, and a __nanosleep back-off would add latency to
// the very barrier GridBarrierPerf measures). The CPU emulation (tests/cuda-emulation/cuda_emu.hpp) defines it to
// yield the polling thread, so the other blocks of an emu::launch_cooperative can run and arrive.
#pragma once

#ifndef AIM_SPIN_HINT
#define AIM_SPIN_HINT() ((void)0)
#endif

__device__ __forceinline__ void grid_barrier(unsigned* count, volatile unsigned* generation)
{
    __syncthreads();
    if (threadIdx.x == 0 && threadIdx.y == 0 && threadIdx.z == 0) // one arrival per block, whatever its shape
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
            while (*generation == seen) AIM_SPIN_HINT();
        }
        __threadfence();
    }
    __syncthreads();
}
