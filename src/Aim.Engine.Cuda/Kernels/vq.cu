// Quantizer kernels of the VQ tokenizer (IKernels.Conv.cs, spec §8.5): F.normalize over rows and its backward,
// and the nearest-codebook-row search.
//
// L2Normalize(+Backward): one thread per row, summing in float64 in increasing index order and dividing in
// float64, exactly as CpuKernels.Conv.cs does, so CUDA and CPU give the same bits (the quantizer's argmin reads
// these values). Rows are short in the tokenizer (embed_dim 4 to 8).
//
// NearestCode: d[m, k] = (|z_m|^2 + |e_k|^2) - 2 (z_m . e_k) in float32, each sum accumulated in increasing
// index order with separately rounded multiply and add (__fmul_rn / __fadd_rn: no FMA contraction), which is the
// reference's and the CPU's arithmetic; argmin with ties to the lowest index (torch.argmin). A prepass writes
// |e_k|^2 and the codebook transposed to (D, K) so that the search reads it coalesced; then one block per row of z,
// each thread scanning codes tid, tid + blockDim, ... and a shared-memory reduction on (distance, index).
#include "common.cuh"

#define NEAREST_THREADS 256

extern "C" __global__ void l2_normalize_f32(const float* x, double eps, float* y, i64 rows, int d)
{
    AIM_PDL_PROLOGUE();
    AIM_GRID_STRIDE(r, rows)
    {
        const float* row = x + r * d;
        double ss = 0.0;
        for (int i = 0; i < d; i++) ss = __dadd_rn(ss, __dmul_rn((double)row[i], (double)row[i]));
        double denom = fmax(sqrt(ss), eps);
        for (int i = 0; i < d; i++) y[r * d + i] = (float)((double)row[i] / denom);
    }
}

// dx = (g - y (y . g)) / n with y = x / n when n >= eps, else g / eps.
extern "C" __global__ void l2_normalize_backward_f32(const float* x, const float* g, double eps, float* dx, i64 rows, int d)
{
    AIM_PDL_PROLOGUE();
    AIM_GRID_STRIDE(r, rows)
    {
        const float* xr = x + r * d;
        const float* gr = g + r * d;
        double ss = 0.0;
        for (int i = 0; i < d; i++) ss = __dadd_rn(ss, __dmul_rn((double)xr[i], (double)xr[i]));
        double norm = sqrt(ss);
        if (norm >= eps)
        {
            double dot = 0.0;
            for (int i = 0; i < d; i++) dot = __dadd_rn(dot, __dmul_rn((double)xr[i] / norm, (double)gr[i]));
            for (int i = 0; i < d; i++) dx[r * d + i] = (float)(((double)gr[i] - __dmul_rn((double)xr[i] / norm, dot)) / norm);
        }
        else
        {
            for (int i = 0; i < d; i++) dx[r * d + i] = (float)((double)gr[i] / eps);
        }
    }
}

// ee[k] = |e_k|^2 and et[c*K + k] = e[k*D + c].
extern "C" __global__ void nearest_code_prepare_f32(const float* e, float* et, float* ee, int k, int d)
{
    AIM_PDL_PROLOGUE();
    AIM_GRID_STRIDE(j, (i64)k)
    {
        const float* row = e + j * d;
        float s = 0.0f;
        for (int c = 0; c < d; c++)
        {
            float v = row[c];
            s = __fadd_rn(s, __fmul_rn(v, v));
            et[(i64)c * k + j] = v;
        }
        ee[j] = s;
    }
}

// True when (v, i) comes before (bv, bi): smaller distance, or equal distance and lower index. NaN never wins.
__device__ __forceinline__ bool nearest_before(float v, int i, float bv, int bi)
{
    return v < bv || (v == bv && i < bi);
}

extern "C" __global__ void __launch_bounds__(NEAREST_THREADS) nearest_code_f32(const float* z, const float* et, const float* ee,
    i64* out, i64 m, int k, int d)
{
    AIM_PDL_PROLOGUE();
    __shared__ float best_v[NEAREST_THREADS];
    __shared__ int best_i[NEAREST_THREADS];
    for (i64 row = blockIdx.x; row < m; row += gridDim.x)
    {
        const float* zi = z + row * d;
        float zz = 0.0f;
        for (int c = 0; c < d; c++) zz = __fadd_rn(zz, __fmul_rn(zi[c], zi[c]));
        // A thread's own scan runs in increasing index with a strict '<', so it keeps its first minimum;
        // the index sentinel k means "nothing below +inf", which the reference reports as index 0.
        float bv = __int_as_float(0x7f800000);
        int bi = k;
        for (int j = threadIdx.x; j < k; j += blockDim.x)
        {
            float dot = 0.0f;
            for (int c = 0; c < d; c++) dot = __fadd_rn(dot, __fmul_rn(zi[c], et[(i64)c * k + j]));
            float dist = __fsub_rn(__fadd_rn(zz, ee[j]), __fmul_rn(2.0f, dot));
            if (dist < bv)
            {
                bv = dist;
                bi = j;
            }
        }
        best_v[threadIdx.x] = bv;
        best_i[threadIdx.x] = bi;
        __syncthreads();
        for (int s = NEAREST_THREADS / 2; s > 0; s >>= 1)
        {
            if (threadIdx.x < s && nearest_before(best_v[threadIdx.x + s], best_i[threadIdx.x + s], best_v[threadIdx.x], best_i[threadIdx.x]))
            {
                best_v[threadIdx.x] = best_v[threadIdx.x + s];
                best_i[threadIdx.x] = best_i[threadIdx.x + s];
            }
            __syncthreads();
        }
        if (threadIdx.x == 0) out[row] = best_i[0] == k ? 0 : best_i[0];
        __syncthreads();
    }
}
