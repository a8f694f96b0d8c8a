// Optimizer kernels (IKernels.Optim.cs): the fused AdamW update and the EMA update, float32, one element per
// thread in a grid-stride loop; and the partial sums of squares of the gradient norm, one block per chunk. Same
// formula and operation order as CpuKernels.Optim.cs (scalars precomputed on the host in double and rounded to
// float32 once); the compiler may contract multiply-adds, so results agree with the CPU to rounding, not bit for bit.
// The list versions (adamw_many_f32, squared_norm_partials_many_f32) take up to OPTIM_MANY_* tensors per launch in a
// descriptor table passed by value (a __grid_constant__ kernel parameter of at most 4 KB, filled by
// CudaKernels.Optim.cs with the same layout); a prefix table of block starts maps each block to (tensor, tile or
// chunk), so small and large tensors share one grid. They run the single-tensor kernels' per-element and per-chunk
// code (adamw_element, chunk_square_sum), so every value has the single kernels' bits. grad_clip_scale_f32
// evaluates GradClip.Scale in double with explicitly rounded operations (no contraction), as the host does.
#include "common.cuh"
#include "reduce.cuh"

// Tensors per launch of the list kernels and elements per block of adamw_many_f32 (CudaKernels.Optim.cs mirrors them).
#define OPTIM_MANY_ADAMW 48
#define OPTIM_MANY_NORM 128
#define OPTIM_ADAMW_TILE 4096

// One element of the AdamW update (IKernels.AdamWStep), shared by the single and the list kernel.
__device__ __forceinline__ void adamw_element(const float* g, float* p, float* m, float* v, i64 i, float scale, float b1,
    float c1, float b2, float c2, float eps, float decay, float step_size, float inv_sqrt_bc2)
{
    // Every operation explicitly rounded (no contraction into FMAs): the compiler would otherwise contract differently
    // in the single and the list kernel (H200: the list kernel's bits differed, NMSE 1e-12), and this is also the
    // CPU kernel's order (CpuKernels.Optim.cs: separate multiplies and adds).
    float gi = __fmul_rn(g[i], scale);
    float mi = __fadd_rn(__fmul_rn(b1, m[i]), __fmul_rn(c1, gi));
    float vi = __fadd_rn(__fmul_rn(b2, v[i]), __fmul_rn(c2, __fmul_rn(gi, gi)));
    float pi = __fmul_rn(p[i], decay);
    pi = __fsub_rn(pi, __fdiv_rn(__fmul_rn(step_size, mi), __fadd_rn(__fmul_rn(__fsqrt_rn(vi), inv_sqrt_bc2), eps)));
    m[i] = mi;
    v[i] = vi;
    p[i] = pi;
}

extern "C" __global__ void adamw_f32(const float* g, float* p, float* m, float* v, float scale, float b1, float c1,
    float b2, float c2, float eps, float decay, float step_size, float inv_sqrt_bc2, i64 n)
{
    AIM_PDL_PROLOGUE();
    AIM_GRID_STRIDE(i, n) adamw_element(g, p, m, v, i, scale, b1, c1, b2, c2, eps, decay, step_size, inv_sqrt_bc2);
}

// One tensor of adamw_many_f32: its buffers, element count and scalars (as adamw_f32's arguments). 80 bytes.
struct AdamWEntry
{
    const float* g;
    float* p;
    float* m;
    float* v;
    i64 n;
    float scale, b1, c1, b2, c2, eps, decay, step_size, inv_sqrt_bc2;
};

// The descriptor table of one adamw_many_f32 launch: tensor t owns blocks [block_start[t], block_start[t + 1]),
// ⌈n / OPTIM_ADAMW_TILE⌉ of them. 4040 bytes.
struct AdamWTable
{
    AdamWEntry t[OPTIM_MANY_ADAMW];
    int block_start[OPTIM_MANY_ADAMW + 1];
    int count;
};
static_assert(sizeof(AdamWEntry) == 80, "AdamWEntry layout is mirrored in CudaKernels.Optim.cs");
static_assert(sizeof(AdamWTable) == 4040, "AdamWTable layout is mirrored in CudaKernels.Optim.cs");

// The largest t < count with starts[t] <= b (starts ascending, starts[0] = 0): the tensor that owns block b (tensors
// without blocks have starts[t] = starts[t + 1] and are passed over).
__device__ __forceinline__ int owner_of_block(const int* starts, int count, int b)
{
    int lo = 0, hi = count - 1;
    while (lo < hi)
    {
        int mid = (lo + hi + 1) >> 1;
        if (starts[mid] <= b) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

// AdamWStepMany: block b updates tile b - block_start[t] of tensor t (OPTIM_ADAMW_TILE elements, strided over the
// block's threads). The gradient scale is the entry's times grad_scale[0] when grad_scale is not null; a non-finite
// grad_scale[0] (a NaN or infinite norm under clipping) leaves every tensor as it was.
extern "C" __global__ void adamw_many_f32(const __grid_constant__ AdamWTable table, const float* grad_scale)
{
    AIM_PDL_PROLOGUE();
    if (grad_scale != nullptr && !isfinite(grad_scale[0])) return;
    int t = owner_of_block(table.block_start, table.count, (int)blockIdx.x);
    const AdamWEntry& e = table.t[t];
    float scale = grad_scale != nullptr ? e.scale * grad_scale[0] : e.scale;
    i64 start = (i64)((int)blockIdx.x - table.block_start[t]) * OPTIM_ADAMW_TILE;
    i64 end = start + OPTIM_ADAMW_TILE < e.n ? start + OPTIM_ADAMW_TILE : e.n;
    for (i64 i = start + threadIdx.x; i < end; i += blockDim.x)
        adamw_element(e.g, e.p, e.m, e.v, i, scale, e.b1, e.c1, e.b2, e.c2, e.eps, e.decay, e.step_size, e.inv_sqrt_bc2);
}

extern "C" __global__ void ema_f32(const float* s, float* e, float rate, i64 n)
{
    AIM_PDL_PROLOGUE();
    AIM_GRID_STRIDE(i, n) e[i] += rate * (s[i] - e[i]);
}

// Σ x[i]^2 over [start, min(n, start + chunk)) for the whole block: each thread a strided float32 sum, then block_sum
// (reduce.cuh): the order depends only on blockDim. Every thread receives the sum.
__device__ __forceinline__ float chunk_square_sum(const float* x, i64 n, i64 chunk, i64 j)
{
    i64 start = j * chunk;
    i64 end = start + chunk < n ? start + chunk : n;
    float acc = 0.0f;
    for (i64 i = start + threadIdx.x; i < end; i += blockDim.x)
    {
        float v = x[i];
        acc = fmaf(v, v, acc);
    }
    return block_sum(acc);
}

// SquaredNormPartials: out[j] = sum of x[i]^2 over chunk j = [j*c, min(n, (j+1)*c)), one block per chunk (grid-stride
// over chunks).
extern "C" __global__ void squared_norm_partials_f32(const float* x, float* out, i64 n, i64 chunk, i64 k)
{
    AIM_PDL_PROLOGUE();
    for (i64 j = blockIdx.x; j < k; j += gridDim.x)
    {
        float acc = chunk_square_sum(x, n, chunk, j);
        if (threadIdx.x == 0) out[j] = acc;
    }
}

// The descriptor table of one squared_norm_partials_many_f32 launch: tensor t has partials [start[t], start[t + 1])
// of the launch's output, one block each. 2568 bytes.
struct NormTable
{
    const float* x[OPTIM_MANY_NORM];
    i64 n[OPTIM_MANY_NORM];
    int start[OPTIM_MANY_NORM + 1];
    int count;
};
static_assert(sizeof(NormTable) == 2568, "NormTable layout is mirrored in CudaKernels.Optim.cs");

// SquaredNormPartialsMany: block b writes out[b], partial b - start[t] of tensor t, with the chunk length of
// SquaredNormPartials for k = start[t + 1] - start[t] partials (OptimChecks.SquaredNormChunk).
extern "C" __global__ void squared_norm_partials_many_f32(const __grid_constant__ NormTable table, float* out)
{
    AIM_PDL_PROLOGUE();
    int t = owner_of_block(table.start, table.count, (int)blockIdx.x);
    i64 n = table.n[t], k = table.start[t + 1] - table.start[t];
    i64 chunk = (n + k - 1) / k;
    if (chunk < 1) chunk = 1;
    float acc = chunk_square_sum(table.x[t], n, chunk, (int)blockIdx.x - table.start[t]);
    if (threadIdx.x == 0) out[blockIdx.x] = acc;
}

// GradClipScale: out[0] = grad_scale * GradClip.Coefficient(sqrt(sum[0]) * |grad_scale|, max_norm) in double, each
// operation rounded on its own (the __d*_rn intrinsics are never contracted), then rounded to float32 once.
extern "C" __global__ void grad_clip_scale_f32(const float* sum, float* out, double grad_scale, double max_norm)
{
    AIM_PDL_PROLOGUE();
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    double norm = __dmul_rn(__dsqrt_rn((double)sum[0]), fabs(grad_scale));
    double c = 1.0;
    if (max_norm > 0)
    {
        c = __ddiv_rn(max_norm, __dadd_rn(norm, 1e-6));
        if (!(c < 1.0)) c = isfinite(c) ? 1.0 : c;
    }
    out[0] = (float)__dmul_rn(grad_scale, c);
}
