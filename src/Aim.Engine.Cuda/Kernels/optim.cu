// Optimizer kernels (IKernels.Optim.cs): the fused AdamW update and the EMA update, float32, one element per
// thread in a grid-stride loop; and the partial sums of squares of the gradient norm, one block per chunk. Same
// formula and operation order as CpuKernels.Optim.cs (scalars precomputed on the host in double and rounded to
// float32 once); the compiler may contract multiply-adds, so results agree with the CPU to rounding, not bit for bit.
#include "common.cuh"
#include "reduce.cuh"

extern "C" __global__ void adamw_f32(const float* g, float* p, float* m, float* v, float scale, float b1, float c1,
    float b2, float c2, float eps, float decay, float step_size, float inv_sqrt_bc2, i64 n)
{
    AIM_PDL_PROLOGUE();
    AIM_GRID_STRIDE(i, n)
    {
        float gi = g[i] * scale;
        float mi = b1 * m[i] + c1 * gi;
        float vi = b2 * v[i] + c2 * (gi * gi);
        float pi = p[i] * decay;
        pi -= step_size * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
        m[i] = mi;
        v[i] = vi;
        p[i] = pi;
    }
}

extern "C" __global__ void ema_f32(const float* s, float* e, float rate, i64 n)
{
    AIM_PDL_PROLOGUE();
    AIM_GRID_STRIDE(i, n) e[i] += rate * (s[i] - e[i]);
}

// SquaredNormPartials: out[j] = sum of x[i]^2 over chunk j = [j*c, min(n, (j+1)*c)), one block per chunk (grid-stride
// over chunks), each thread a strided float32 sum, then block_sum (reduce.cuh): the order depends only on blockDim.
extern "C" __global__ void squared_norm_partials_f32(const float* x, float* out, i64 n, i64 chunk, i64 k)
{
    AIM_PDL_PROLOGUE();
    for (i64 j = blockIdx.x; j < k; j += gridDim.x)
    {
        i64 start = j * chunk;
        i64 end = start + chunk < n ? start + chunk : n;
        float acc = 0.0f;
        for (i64 i = start + threadIdx.x; i < end; i += blockDim.x)
        {
            float v = x[i];
            acc = fmaf(v, v, acc);
        }
        acc = block_sum(acc);
        if (threadIdx.x == 0) out[j] = acc;
    }
}
