// Softmax, log-softmax and the fused cross-entropy loss over the last dimension, forward and backward.
// Formulas are the reference kernels' (ReferenceKernels.Softmax.cs, IKernels.Softmax.cs): max-subtracted
// exponentials, softmax backward dx = y (dy - Σ dy·y), log-softmax backward dx = dy - e^y Σ dy,
// cross-entropy mean_n (lse_n - x_n[t_n]) with dLogits = (softmax - onehot) · dLoss / N.
// One block per row; the row max and Σ e^(x - max) come from one pass with an online (max, sum) state per
// thread (rescaled when the max grows) merged across the block (reduce.cuh). fp32 math; bf16 storage
// computes in float32. The loss mean sums per-row losses in a fixed order (deterministic).
#include "reduce.cuh"

// (max, Σ e^(x - max)) of the v values at x[at].
template <typename T>
__device__ __forceinline__ MaxSum row_maxsum(const T* x, i64 at, int v)
{
    MaxSum st;
    st.m = AIM_NEG_INF;
    st.s = 0.0f;
    for (int j = threadIdx.x; j < v; j += blockDim.x) st = maxsum_add(st, load_c(x, at + j));
    return block_maxsum(st);
}

template <typename T>
__device__ __forceinline__ void softmax(int logMode, const T* x, int v, i64 rows, T* y)
{
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x)
    {
        i64 at = r * v;
        MaxSum st = row_maxsum(x, at, v);
        float logSum = logf(st.s);
        for (int j = threadIdx.x; j < v; j += blockDim.x)
        {
            float shifted = load_c(x, at + j) - st.m - logSum;
            store_c(y, at + j, logMode ? shifted : expf(shifted));
        }
    }
}

template <typename T>
__device__ __forceinline__ void softmax_backward(int logMode, const T* y, const T* dy, int v, i64 rows, T* dx)
{
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x)
    {
        i64 at = r * v;
        float s = 0.0f;
        for (int j = threadIdx.x; j < v; j += blockDim.x) s += load_c(dy, at + j) * (logMode ? 1.0f : load_c(y, at + j));
        s = block_sum(s);
        for (int j = threadIdx.x; j < v; j += blockDim.x)
        {
            float yv = load_c(y, at + j), g = load_c(dy, at + j);
            store_c(dx, at + j, logMode ? g - expf(yv) * s : yv * (g - s));
        }
    }
}

// Per-row losses lse_n - x_n[t_n] into rowLoss (float32); ce_mean reduces them.
template <typename T, typename I>
__device__ __forceinline__ void ce_rows(const T* x, const I* targets, int v, i64 rows, float* rowLoss)
{
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x)
    {
        i64 at = r * v;
        MaxSum st = row_maxsum(x, at, v);
        // (max - x_t) first: exact for nearby values, so large logits lose nothing to the cancellation.
        if (threadIdx.x == 0) rowLoss[r] = (st.m - load_c(x, at + (i64)targets[r])) + logf(st.s);
    }
}

// One block: loss[0] = Σ rowLoss / rows, summed in a fixed order.
template <typename T>
__device__ __forceinline__ void ce_mean(const float* rowLoss, i64 rows, T* loss)
{
    float s = 0.0f;
    for (i64 r = threadIdx.x; r < rows; r += blockDim.x) s += rowLoss[r];
    s = block_sum(s);
    if (threadIdx.x == 0) store_c(loss, 0, s / (float)rows);
}

// dLogits = (softmax - onehot(t)) · dLoss[0] / rows; dLoss is read on the device.
template <typename T, typename I>
__device__ __forceinline__ void ce_backward(const T* x, const I* targets, const T* dLoss, int v, i64 rows, T* dx)
{
    float scale = load_c(dLoss, 0) / (float)rows;
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x)
    {
        i64 at = r * v;
        MaxSum st = row_maxsum(x, at, v);
        float logSum = logf(st.s);
        i64 t = (i64)targets[r];
        for (int j = threadIdx.x; j < v; j += blockDim.x)
        {
            float p = expf(load_c(x, at + j) - st.m - logSum);
            store_c(dx, at + j, (p - (j == t ? 1.0f : 0.0f)) * scale);
        }
    }
}

#define AIM_SOFTMAX(N, T) \
    extern "C" __global__ void softmax_##N(int logMode, const T* x, int v, i64 rows, T* y) { AIM_PDL_PROLOGUE(); softmax<T>(logMode, x, v, rows, y); } \
    extern "C" __global__ void softmax_backward_##N(int logMode, const T* y, const T* dy, int v, i64 rows, T* dx) \
    { AIM_PDL_PROLOGUE(); softmax_backward<T>(logMode, y, dy, v, rows, dx); } \
    extern "C" __global__ void ce_mean_##N(const float* rowLoss, i64 rows, T* loss) { AIM_PDL_PROLOGUE(); ce_mean<T>(rowLoss, rows, loss); }

#define AIM_CE(N, T, IN, I) \
    extern "C" __global__ void ce_rows_##N##_##IN(const T* x, const I* targets, int v, i64 rows, float* rowLoss) \
    { AIM_PDL_PROLOGUE(); ce_rows<T, I>(x, targets, v, rows, rowLoss); } \
    extern "C" __global__ void ce_backward_##N##_##IN(const T* x, const I* targets, const T* dLoss, int v, i64 rows, T* dx) \
    { AIM_PDL_PROLOGUE(); ce_backward<T, I>(x, targets, dLoss, v, rows, dx); }

AIM_SOFTMAX(f32, float)
AIM_SOFTMAX(bf16, bf16)
AIM_CE(f32, float, i32, int)
AIM_CE(f32, float, i64, i64)
AIM_CE(bf16, bf16, i32, int)
AIM_CE(bf16, bf16, i64, i64)
