// Test kernels for grid_sync_check.cpp (CUDA emulation only; not part of the engine, not compiled by NVRTC): blocks
// exchange values through global memory across grid_barrier (src/Aim.Engine.Cuda/Kernels/grid_sync.cuh), with
// mutated barriers the check must catch, and a kernel that uses static __shared__ memory, which
// emu::launch_cooperative must refuse. emu_prep.sh copies this folder like the engine's kernels.
#include "grid_sync.cuh"

// How exchange_rounds separates its write and read phases.
enum ExchangeMode
{
    ExchangeGridBarrier = 0,  // grid_barrier: correct
    ExchangeBlockOnly = 1,    // __syncthreads only: blocks read each other's slots before they are written
    ExchangeNoTrailing = 2,   // grid_barrier without its final __syncthreads: threads other than 0 run ahead of it
    ExchangeNoLeading = 3,    // grid_barrier without its first __syncthreads: thread 0 arrives before its block wrote
    ExchangeLastSkips = 4,    // the last block skips the first barrier of round 0: arrivals never add up (deadlock)
};

// grid_barrier with either __syncthreads removed (the mutations above).
__device__ void mutated_grid_barrier(unsigned* count, volatile unsigned* generation, bool leading, bool trailing)
{
    if (leading) __syncthreads();
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
            while (*generation == seen) AIM_SPIN_HINT();
        }
        __threadfence();
    }
    if (trailing) __syncthreads();
}

__device__ void exchange_phase(int mode, unsigned* barrier, int round)
{
    switch (mode)
    {
    case ExchangeBlockOnly: __syncthreads(); break;
    case ExchangeNoTrailing: mutated_grid_barrier(barrier, barrier + 1, true, false); break;
    case ExchangeNoLeading: mutated_grid_barrier(barrier, barrier + 1, false, true); break;
    case ExchangeLastSkips:
        if (!(round == 0 && blockIdx.x == gridDim.x - 1)) grid_barrier(barrier, barrier + 1);
        break;
    default: grid_barrier(barrier, barrier + 1); break;
    }
}

__device__ __forceinline__ unsigned exchange_tag(int round, unsigned block, unsigned thread)
{
    return ((unsigned)round << 24) | (block << 12) | thread;
}

// 1-D grid and block. Each round every thread writes its tag to its slot (slots: gridDim.x × blockDim.x) and to the
// block's dynamic shared memory (blockDim.x unsigned), the grid meets, and every thread reads the neighbour slot
// (t + 1) % blockDim.x of EVERY block and of its own block's shared memory; a second meeting keeps the next round's
// writes after all reads. errors[block · blockDim.x + t] = how many of those reads were not the expected tag.
extern "C" __global__ void exchange_rounds(unsigned* barrier, unsigned* slots, unsigned* errors, int rounds, int mode)
{
    extern __shared__ unsigned mine[];
    const unsigned T = blockDim.x, b = blockIdx.x, t = threadIdx.x, n = (t + 1) % T;
    unsigned bad = 0;
    for (int r = 0; r < rounds; r++)
    {
        mine[t] = exchange_tag(r, b, t);
        slots[b * T + t] = exchange_tag(r, b, t);
        exchange_phase(mode, barrier, r);
        for (unsigned o = 0; o < gridDim.x; o++) bad += slots[o * T + n] != exchange_tag(r, o, n);
        bad += mine[n] != exchange_tag(r, b, n);
        exchange_phase(mode, barrier, r);
    }
    errors[b * T + t] = bad;
}

// Uses static shared memory: fine under emu::launch, refused by emu::launch_cooperative.
extern "C" __global__ void static_shared_user(unsigned* out)
{
    __shared__ unsigned total;
    if (threadIdx.x == 0) total = 0;
    __syncthreads();
    atomicAdd(&total, threadIdx.x);
    __syncthreads();
    if (threadIdx.x == 0) out[blockIdx.x] = total;
}
