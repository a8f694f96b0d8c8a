// SumTo: sums a strided tensor down to a shape that keeps or collapses (to 1) each dimension. The host
// splits x's dimensions into kept ones (output order) and reduced ones, each a Strided descriptor over x.
// One block per output element (grid-stride over outputs); each thread sums a strided slice in float32,
// then a shared-memory tree combines the 256 partial sums. Not tuned: a coalescing layout for reductions
// over the leading dimension is future work.
#include "common.cuh"

#define SUM_TO_THREADS 256

template <typename T>
__device__ __forceinline__ void sum_to(const T* x, Strided kept, Strided reduced, T* out, i64 outputs, i64 perOutput)
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
            if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
            __syncthreads();
        }
        if (threadIdx.x == 0) store_c(out, o, partial[0]);
        __syncthreads();
    }
}

extern "C" __global__ void __launch_bounds__(SUM_TO_THREADS) sum_to_f32(const float* x, Strided kept, Strided reduced, float* out, i64 outputs, i64 perOutput)
{
    sum_to<float>(x, kept, reduced, out, outputs, perOutput);
}

extern "C" __global__ void __launch_bounds__(SUM_TO_THREADS) sum_to_bf16(const bf16* x, Strided kept, Strided reduced, bf16* out, i64 outputs, i64 perOutput)
{
    sum_to<bf16>(x, kept, reduced, out, outputs, perOutput);
}
