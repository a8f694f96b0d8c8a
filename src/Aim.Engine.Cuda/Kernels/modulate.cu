// The row modulation family (IKernels.Modulate.cs) on CUDA, float32: an AiM training block's adaLN modulation
// u = x · (1 + scale) + shift and its gate out = gate · y, with per-image rows (B, D) broadcast over the L positions
// of (B, L, D) activations. Formulas are the reference kernels' (ReferenceKernels.Modulate.cs).
//
// modulate_f32: grid-stride over the B·L·D elements (32-bit index division where it fits, index_divmod). __fmul_rn / __fadd_rn keep the product and the sum two
// roundings (no contraction into an fma), so the result is bit-identical to binary_f32's Mul then Add.
//
// modulate_backward_f32: dX = dOut · scale, and the row sums dScale[b, d] = Σ_l dOut·x, dShift[b, d] = Σ_l dOut in one
// pass over dOut and x. The layout is sum_to.cu's column kernel (sum_to_cols) with the image added: a block is a
// tile of `cols` consecutive channels of one image (lanes, consecutive threads: coalesced loads) × blockDim/cols rows
// of the position index; block b = split · (B · colTiles) + image · colTiles + tile. Each thread keeps two
// independent accumulators per sum (two loads in flight), combined as a0 + a1, then a shared-memory tree over the
// rows. With one split the block writes dScale / dShift; otherwise it writes float32 partials[split, sum, b·D + d]
// and modulate_backward_finish adds the splits in order. Every sum runs in an order fixed by the shapes and the
// launch plan (CudaKernels.Modulate.cs): deterministic, no atomics.
//
// Floor (H200, AiM-B training step: B = 32, L = 256, D = 768, 25 MB per (B, L, D) float32 tensor): the forward moves
// 2 tensors (x in, u out), the backward 3 (dOut and x in, dX out), so ≥ 12 µs and ≥ 18 µs at ~4.3 TB/s. The
// composition it replaces moved 3 tensors per Binary (two forward, four backward ones) plus the SumTo reads.
#include "common.cuh"

#define MODULATE_THREADS 256

extern "C" __global__ void modulate_f32(const float* x, const float* scale, const float* shift, float* out,
    i64 n, i64 l, i64 d)
{
    AIM_PDL_PROLOGUE();
    AIM_GRID_STRIDE(i, n)
    {
        i64 c, position;
        i64 image = index_divmod(index_divmod(i, d, c), l, position);
        i64 row = image * d + c;
        float p = __fmul_rn(x[i], scale[row]);
        out[i] = shift ? __fadd_rn(p, shift[row]) : p;
    }
}

// modulate_f32 four channels at a time (16-byte loads and stores), for D a multiple of 4 and every pointer 16-byte
// aligned (CudaKernels.Modulate picks it): piece i4 covers elements 4·i4 .. 4·i4 + 3 of one row of D, so one index
// division per four elements and a quarter of the memory instructions; the same two roundings per element. (The
// scalar kernel ran at ~40% of the bandwidth: 28 µs a call for AiM-B's 25 MB (B, L, D) tensors, floor ~12.)
extern "C" __global__ void modulate4_f32(const float4* x, const float* scale, const float* shift, float4* out,
    i64 n4, i64 l, i64 d)
{
    AIM_PDL_PROLOGUE();
    AIM_GRID_STRIDE(i4, n4)
    {
        i64 c, position;
        i64 image = index_divmod(index_divmod(4 * i4, d, c), l, position);
        i64 row = image * d + c;
        float4 v = x[i4], sc = *reinterpret_cast<const float4*>(scale + row);
        float4 u = make_float4(__fmul_rn(v.x, sc.x), __fmul_rn(v.y, sc.y), __fmul_rn(v.z, sc.z), __fmul_rn(v.w, sc.w));
        if (shift)
        {
            float4 sh = *reinterpret_cast<const float4*>(shift + row);
            u = make_float4(__fadd_rn(u.x, sh.x), __fadd_rn(u.y, sh.y), __fadd_rn(u.z, sh.z), __fadd_rn(u.w, sh.w));
        }
        out[i4] = u;
    }
}

// Thread t = row · cols + lane; cols and blockDim.x / cols are powers of two. dX, dScale, dShift may each be null.
// partial == nullptr: one split, write dScale / dShift directly.
extern "C" __global__ void __launch_bounds__(MODULATE_THREADS) modulate_backward_f32(const float* x, const float* scale,
    const float* dOut, float* dX, float* dScale, float* dShift, int images, i64 l, int d, int cols, i64 colTiles,
    i64 rowsPerSplit, float* partial)
{
    AIM_PDL_PROLOGUE();
    __shared__ float tileScale[MODULATE_THREADS];
    __shared__ float tileShift[MODULATE_THREADS];
    int rows = blockDim.x / cols;
    int lane = threadIdx.x % cols, row = threadIdx.x / cols;
    i64 perSplit = (i64)images * colTiles;
    i64 split = blockIdx.x / perSplit;
    i64 rest = blockIdx.x - split * perSplit;
    i64 image = rest / colTiles;
    i64 c = (rest - image * colTiles) * cols + lane;
    i64 r1 = (split + 1) * rowsPerSplit;
    if (r1 > l) r1 = l;
    float s0 = 0.0f, s1 = 0.0f, h0 = 0.0f, h1 = 0.0f;
    if (c < d)
    {
        float s = scale[image * d + c];
        const float* xs = x + image * l * d + c;
        const float* gs = dOut + image * l * d + c;
        float* dxs = dX ? dX + image * l * d + c : nullptr;
        i64 r = split * rowsPerSplit + row;
        for (; r + rows < r1; r += 2 * rows)
        {
            float g0 = gs[r * d], g1 = gs[(r + rows) * d];
            float x0 = xs[r * d], x1 = xs[(r + rows) * d];
            if (dxs)
            {
                dxs[r * d] = __fmul_rn(g0, s);
                dxs[(r + rows) * d] = __fmul_rn(g1, s);
            }
            s0 += g0 * x0;
            s1 += g1 * x1;
            h0 += g0;
            h1 += g1;
        }
        if (r < r1)
        {
            float g0 = gs[r * d], x0 = xs[r * d];
            if (dxs) dxs[r * d] = __fmul_rn(g0, s);
            s0 += g0 * x0;
            h0 += g0;
        }
    }
    tileScale[threadIdx.x] = s0 + s1;
    tileShift[threadIdx.x] = h0 + h1;
    __syncthreads();
    for (int k = rows / 2; k > 0; k >>= 1)
    {
        if (row < k)
        {
            tileScale[threadIdx.x] += tileScale[threadIdx.x + k * cols];
            tileShift[threadIdx.x] += tileShift[threadIdx.x + k * cols];
        }
        __syncthreads();
    }
    if (row == 0 && c < d)
    {
        i64 o = image * d + c, outputs = (i64)images * d;
        if (partial)
        {
            partial[(split * 2) * outputs + o] = tileScale[lane];
            partial[(split * 2 + 1) * outputs + o] = tileShift[lane];
        }
        else
        {
            if (dScale) dScale[o] = tileScale[lane];
            if (dShift) dShift[o] = tileShift[lane];
        }
    }
}

// dScale[o] = Σ_s partial[s, 0, o], dShift[o] = Σ_s partial[s, 1, o], s in increasing order.
extern "C" __global__ void modulate_backward_finish_f32(const float* partial, i64 splits, i64 outputs, float* dScale, float* dShift)
{
    AIM_PDL_PROLOGUE();
    AIM_GRID_STRIDE(o, outputs)
    {
        float accScale = 0.0f, accShift = 0.0f;
        for (i64 s = 0; s < splits; s++)
        {
            accScale += partial[(s * 2) * outputs + o];
            accShift += partial[(s * 2 + 1) * outputs + o];
        }
        if (dScale) dScale[o] = accScale;
        if (dShift) dShift[o] = accShift;
    }
}
