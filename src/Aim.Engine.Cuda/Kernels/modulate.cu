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
// modulate_backward4_f32: the same, four adjacent channels a lane (16-byte loads of dOut and x, 16-byte stores of dX),
// for D % 4 == 0 and every pointer 16-byte aligned (CudaKernels.Modulate picks it). It keeps the scalar kernel's plan
// (rows, splits, positions per split, channel tiles) and gives a block cols / 4 lanes × the same rows, so each channel
// is summed over the same positions, in the same order, into the same two accumulators and through the same tree:
// bit-identical to modulate_backward_f32 (both write `s += g * x`, which NVRTC's default --fmad=true contracts the
// same way in both: the PTX of each has one fma.rn.f32 per product and no separate multiply).
//
// Floor (H200, AiM-B training step: B = 32, L = 256, D = 768, 25 MB per (B, L, D) float32 tensor): the forward moves
// 2 tensors (x in, u out), the backward 3 (dOut and x in, dX out), so ≥ 12 µs and ≥ 18 µs at ~4.3 TB/s. The
// composition it replaces moved 3 tensors per Binary (two forward, four backward ones) plus the SumTo reads.
// modulate_backward_f32 took ~28 µs a call there (49 calls a step, 1.39 ms): one channel a lane, 4-byte loads, two
// positions (16 bytes a thread) in flight. modulate_backward4_f32 keeps MODULATE_BWD4_PAIRS · 2 positions of both
// tensors in flight a lane (8 · 32 bytes), ~12 MB over AiM-B's 49 152 lanes against the ~4 MB that ~1 µs of HBM
// latency at 4.3 TB/s needs; aim: the 18 µs floor (not yet measured).
#include "common.cuh"

#define MODULATE_THREADS 256
#define MODULATE_BWD4_PAIRS 4   // position pairs a step of modulate_backward4_f32 (8 positions in flight a lane)

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

// s += g·x and h += g for four channels, each written as modulate_backward_f32 writes it.
__device__ __forceinline__ void modulate_acc4(float4& s, float4& h, float4 g, float4 v)
{
    s.x += g.x * v.x;
    s.y += g.y * v.y;
    s.z += g.z * v.z;
    s.w += g.w * v.w;
    h.x += g.x;
    h.y += g.y;
    h.z += g.z;
    h.w += g.w;
}

__device__ __forceinline__ float4 modulate_add4(float4 a, float4 b)
{
    return make_float4(a.x + b.x, a.y + b.y, a.z + b.z, a.w + b.w);
}

__device__ __forceinline__ float4 modulate_mul4(float4 g, float4 s)
{
    return make_float4(__fmul_rn(g.x, s.x), __fmul_rn(g.y, s.y), __fmul_rn(g.z, s.z), __fmul_rn(g.w, s.w));
}

// modulate_backward_f32 four channels a lane. cols: channels per block tile (the scalar plan's, a multiple of 4);
// thread t = row · (cols / 4) + lane, lane owning channels tile · cols + 4·lane .. + 3. The position walk is the scalar
// kernel's pair loop (r → s0, r + rows → s1) taken MODULATE_BWD4_PAIRS pairs at a time with all their loads first,
// then single pairs, then a last position into s0: per channel the same sequence of additions.
extern "C" __global__ void __launch_bounds__(MODULATE_THREADS / 4) modulate_backward4_f32(const float4* x,
    const float* scale, const float4* dOut, float4* dX, float* dScale, float* dShift, int images, i64 l, int d, int cols,
    i64 colTiles, i64 rowsPerSplit, float* partial)
{
    AIM_PDL_PROLOGUE();
    __shared__ float4 tileScale[MODULATE_THREADS / 4];
    __shared__ float4 tileShift[MODULATE_THREADS / 4];
    int lanes = cols / 4, rows = blockDim.x / lanes;
    int lane = threadIdx.x % lanes, row = threadIdx.x / lanes;
    i64 perSplit = (i64)images * colTiles;
    i64 split = blockIdx.x / perSplit;
    i64 rest = blockIdx.x - split * perSplit;
    i64 image = rest / colTiles;
    i64 c = (rest - image * colTiles) * cols + 4 * lane;
    i64 r1 = (split + 1) * rowsPerSplit;
    if (r1 > l) r1 = l;
    const float4 zero = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    float4 s0 = zero, s1 = zero, h0 = zero, h1 = zero;
    if (c < d)
    {
        float4 s = *reinterpret_cast<const float4*>(scale + image * d + c);
        i64 d4 = d / 4, step = rows * d4;
        i64 base = image * l * d4 + c / 4;
        const float4* xs = x + base;
        const float4* gs = dOut + base;
        float4* dxs = dX + (dX ? base : 0);   // null stays null; a select of null and dX + base made the stores generic
        i64 r = split * rowsPerSplit + row;
        for (; r + (2 * MODULATE_BWD4_PAIRS - 1) * rows < r1; r += 2 * MODULATE_BWD4_PAIRS * rows)
        {
            float4 g[2 * MODULATE_BWD4_PAIRS], v[2 * MODULATE_BWD4_PAIRS];
            const float4* gp = gs + r * d4;
            const float4* xp = xs + r * d4;
#pragma unroll
            for (int k = 0; k < 2 * MODULATE_BWD4_PAIRS; k++)
            {
                g[k] = gp[k * step];
                v[k] = xp[k * step];
            }
            if (dxs)
            {
                float4* dp = dxs + r * d4;
#pragma unroll
                for (int k = 0; k < 2 * MODULATE_BWD4_PAIRS; k++) dp[k * step] = modulate_mul4(g[k], s);
            }
#pragma unroll
            for (int k = 0; k < MODULATE_BWD4_PAIRS; k++)
            {
                modulate_acc4(s0, h0, g[2 * k], v[2 * k]);
                modulate_acc4(s1, h1, g[2 * k + 1], v[2 * k + 1]);
            }
        }
        for (; r + rows < r1; r += 2 * rows)
        {
            float4 g0 = gs[r * d4], g1 = gs[(r + rows) * d4];
            float4 x0 = xs[r * d4], x1 = xs[(r + rows) * d4];
            if (dxs)
            {
                dxs[r * d4] = modulate_mul4(g0, s);
                dxs[(r + rows) * d4] = modulate_mul4(g1, s);
            }
            modulate_acc4(s0, h0, g0, x0);
            modulate_acc4(s1, h1, g1, x1);
        }
        if (r < r1)
        {
            float4 g0 = gs[r * d4], x0 = xs[r * d4];
            if (dxs) dxs[r * d4] = modulate_mul4(g0, s);
            modulate_acc4(s0, h0, g0, x0);
        }
    }
    tileScale[threadIdx.x] = modulate_add4(s0, s1);
    tileShift[threadIdx.x] = modulate_add4(h0, h1);
    __syncthreads();
    for (int k = rows / 2; k > 0; k >>= 1)
    {
        if (row < k)
        {
            tileScale[threadIdx.x] = modulate_add4(tileScale[threadIdx.x], tileScale[threadIdx.x + k * lanes]);
            tileShift[threadIdx.x] = modulate_add4(tileShift[threadIdx.x], tileShift[threadIdx.x + k * lanes]);
        }
        __syncthreads();
    }
    if (row == 0 && c < d)
    {
        i64 o = image * d + c, outputs = (i64)images * d;
        if (partial)
        {
            *reinterpret_cast<float4*>(partial + (split * 2) * outputs + o) = tileScale[lane];
            *reinterpret_cast<float4*>(partial + (split * 2 + 1) * outputs + o) = tileShift[lane];
        }
        else
        {
            if (dScale) *reinterpret_cast<float4*>(dScale + o) = tileScale[lane];
            if (dShift) *reinterpret_cast<float4*>(dShift + o) = tileShift[lane];
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
