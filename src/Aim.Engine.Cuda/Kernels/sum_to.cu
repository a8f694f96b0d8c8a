// SumTo: sums a strided tensor down to a shape that keeps or collapses (to 1) each dimension. The host
// (CudaKernels.Core.cs SumTo) splits x's dimensions into kept ones (output order) and reduced ones, each a
// Strided descriptor over x, and picks one of two layouts; both accumulate in float32 in a fixed order, so a
// result depends only on the shapes and the multiprocessor count (deterministic, no atomics).
//
// sum_to_rows: the reduced elements are contiguous (innermost reduced stride 1, e.g. [B, L, D] -> [B, L, 1]).
//   One block per output element (grid-stride over outputs); each thread sums a strided slice, a shared-memory
//   tree combines the 256 partial sums.
// sum_to_cols: consecutive outputs are consecutive in x (innermost kept stride 1, e.g. [B, L, D] -> [1, 1, D] or
//   [B, 1, D], the bias / adaLN gradients), or there are too few outputs to fill the GPU with one block each. A
//   block is a tile of `cols` outputs (lanes, consecutive threads: coalesced loads) × 256/cols rows of the reduced
//   index; the reduced range is cut into `splits` chunks of rowsPerSplit rows, one block per (chunk, column tile),
//   so that few outputs still give enough blocks. Each thread keeps four independent accumulators (four loads in
//   flight), combined as (a0 + a1) + (a2 + a3), then a shared-memory tree over the rows. With one split the block
//   writes the output; otherwise it writes float32 partials[split, output] and sum_to_finish adds the splits in
//   order. With cols = 1 the block's 256 threads walk the reduced index, i.e. a row reduction split across blocks.
//
// Floor: SumTo reads x once, so time ≥ bytes(x) / DRAM bandwidth (H200: about 4.3 TB/s for copies): the AiM-B
// training step's ~6 MB inputs give ≥ 1.4 µs, plus a launch (~2-3 µs) and the tiny finish kernel. The
// one-block-per-output layout used for these shapes before measured 0.32 ms per call (20 GB/s): each thread's
// loads were D elements apart and only D or B·D blocks ran.
#include "common.cuh"

#define SUM_TO_THREADS 256

template <typename T>
__device__ __forceinline__ void sum_to_rows(const T* x, Strided kept, Strided reduced, T* out, i64 outputs, i64 perOutput)
{
    __shared__ float partial[SUM_TO_THREADS];
    for (i64 o = blockIdx.x; o < outputs; o += gridDim.x)
    {
        i64 base = strided_offset(kept, o);
        float acc = 0.0f;
        for (i64 r = threadIdx.x; r < perOutput; r += blockDim.x) acc += load_c(x, base + strided_offset(reduced, r));
        partial[threadIdx.x] = acc;
        __syncthreads();
        for (int s = SUM_TO_THREADS / 2; s > 0; s >>= 1)
        {
            if ((int)threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
            __syncthreads();
        }
        if (threadIdx.x == 0) store_c(out, o, partial[0]);
        __syncthreads();
    }
}

// Block b = split · colBlocks + column tile; thread t = row · cols + lane. cols and blockDim.x / cols are powers of
// two. partial == nullptr: one split, write out directly.
template <typename T>
__device__ __forceinline__ void sum_to_cols(const T* x, Strided kept, Strided reduced, i64 outputs, i64 perOutput,
    int cols, i64 colBlocks, i64 rowsPerSplit, T* out, float* partial)
{
    __shared__ float tile[SUM_TO_THREADS];
    int rows = blockDim.x / cols;
    int lane = threadIdx.x % cols, row = threadIdx.x / cols;
    i64 split = blockIdx.x / colBlocks;
    i64 o = (blockIdx.x - split * colBlocks) * cols + lane;
    i64 r1 = (split + 1) * rowsPerSplit;
    if (r1 > perOutput) r1 = perOutput;
    float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
    if (o < outputs)
    {
        i64 base = strided_offset(kept, o);
        i64 r = split * rowsPerSplit + row;
        for (; r + 3 * rows < r1; r += 4 * rows)
        {
            a0 += load_c(x, base + strided_offset(reduced, r));
            a1 += load_c(x, base + strided_offset(reduced, r + rows));
            a2 += load_c(x, base + strided_offset(reduced, r + 2 * rows));
            a3 += load_c(x, base + strided_offset(reduced, r + 3 * rows));
        }
        for (; r < r1; r += rows) a0 += load_c(x, base + strided_offset(reduced, r));
    }
    tile[threadIdx.x] = (a0 + a1) + (a2 + a3);
    __syncthreads();
    for (int s = rows / 2; s > 0; s >>= 1)
    {
        if (row < s) tile[threadIdx.x] += tile[threadIdx.x + s * cols];
        __syncthreads();
    }
    if (row == 0 && o < outputs)
    {
        if (partial) partial[split * outputs + o] = tile[lane];
        else store_c(out, o, tile[lane]);
    }
}

// out[o] = Σ_s partial[s, o], s in increasing order.
template <typename T>
__device__ __forceinline__ void sum_to_finish(const float* partial, i64 splits, i64 outputs, T* out)
{
    AIM_GRID_STRIDE(o, outputs)
    {
        float acc = 0.0f;
        for (i64 s = 0; s < splits; s++) acc += partial[s * outputs + o];
        store_c(out, o, acc);
    }
}

#define AIM_SUM_TO_KERNELS(T, sfx)                                                                              \
    extern "C" __global__ void __launch_bounds__(SUM_TO_THREADS) sum_to_##sfx(const T* x, Strided kept,        \
        Strided reduced, T* out, i64 outputs, i64 perOutput)                                                    \
    {                                                                                                           \
        AIM_PDL_PROLOGUE();                                                                                     \
        sum_to_rows<T>(x, kept, reduced, out, outputs, perOutput);                                              \
    }                                                                                                           \
    extern "C" __global__ void __launch_bounds__(SUM_TO_THREADS) sum_to_cols_##sfx(const T* x, Strided kept,   \
        Strided reduced, i64 outputs, i64 perOutput, int cols, i64 colBlocks, i64 rowsPerSplit, T* out,         \
        float* partial)                                                                                         \
    {                                                                                                           \
        AIM_PDL_PROLOGUE();                                                                                     \
        sum_to_cols<T>(x, kept, reduced, outputs, perOutput, cols, colBlocks, rowsPerSplit, out, partial);      \
    }                                                                                                           \
    extern "C" __global__ void sum_to_finish_##sfx(const float* partial, i64 splits, i64 outputs, T* out)      \
    {                                                                                                           \
        AIM_PDL_PROLOGUE();                                                                                     \
        sum_to_finish<T>(partial, splits, outputs, out);                                                        \
    }

AIM_SUM_TO_KERNELS(float, f32)
AIM_SUM_TO_KERNELS(bf16, bf16)
