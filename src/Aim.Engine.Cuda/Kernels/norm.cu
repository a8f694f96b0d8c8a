// Normalisation kernels: RMSNorm, fused residual add + RMSNorm and the Mamba-2 gated RMSNorm (one kernel
// over "segments"), LayerNorm and GroupNorm, forward and backward; the decode step's modulated add + RMSNorm
// (forward only). Formulas are the reference kernels' (ReferenceKernels.Norm.cs, IKernels.Norm.cs):
// rstd = 1/sqrt(mean(g²) + eps); RMS backward dg = rstd·(dy·w - ĝ·mean(dy·w·ĝ)); LayerNorm/GroupNorm use the
// biased variance (two passes: mean, then Σ(x - mean)²) and dx = rstd·(dx̂ - mean(dx̂) - x̂·mean(dx̂·x̂)).
// One block per row (or per group segment); each thread strides over the row, fp32 accumulation, block
// reductions in reduce.cuh; the float32 RMS forward over many segments of at most 2048 elements takes rms_norm_warp
// instead (one warp per segment, shuffle reductions only). The weight/bias gradients are column sums over rows, deterministic (no atomics): the
// RMS backwards sum fixed chunks of rows per column in the same pass (rms_norm_backward_wgrad, or rms_norm_backward_rows
// for many float32 rows of one segment ≤ 1536: a few warps a row, the column sums in registers; rms_norm_backward +
// param_grad_partial from the saved per-row statistics for rows too wide for its shared accumulator, and for
// LayerNorm), and param_grad_finish adds the chunks in a fixed order. bf16 storage computes in float32.
// dx̂ = dy·w is rounded with __fmul_rn (no FMA contraction) wherever it feeds dx̂ - mean(dx̂): a group of one
// element must give dx̂ - mean(dx̂) = 0 exactly, and a contracted fma(dy, w, -mean) leaves the product's
// rounding error, which rstd = 1/sqrt(eps) magnifies (seen on the H200: 1.3e-5 where the reference has 0).
#include "reduce.cuh"

__device__ __forceinline__ float sigmoid_f(float z) { return 1.0f / (1.0f + expf(-z)); }

// The normalised value g of one element from its loaded x, residual r and gate zz: x (+ r, rounded to T as a
// separate Add would) (· silu(zz)); r is used only when res is given, zz only when z is.
template <typename T>
__device__ __forceinline__ float rms_value(float v, const T* res, float r, const T* z, float zz)
{
    if (res) v = round_to<T>(v + r);
    if (z) v = v * zz * sigmoid_f(zz);
    return v;
}

// The normalised value g of element i: x (+ residual, rounded to T as a separate Add would) (· silu(z)).
template <typename T>
__device__ __forceinline__ float rms_input(const T* x, const T* res, const T* z, i64 i)
{
    return rms_value<T>(load_c(x, i), res, res ? load_c(res, i) : 0.0f, z, z ? load_c(z, i) : 0.0f);
}

// Segments of seg consecutive elements (a row for RMSNorm, a group of channels for the gated norm), each
// normalised by its own rstd; the weight index restarts every segsPerRow segments. resOut, when given,
// receives x + residual. x and z rows (segsPerRow·seg elements) start sx and sz elements apart (the row width when
// contiguous; the decode's gated norm reads z as a column block of in_proj's output); res, out and resOut are
// contiguous.
// Elements per thread that the RMS row kernels keep in registers between their two passes (RowThreads gives at most
// 4 up to 2048-element segments); longer segments are walked in tiles of RMS_TILE · blockDim.x and read twice.
#define RMS_TILE 4
// rms_norm and rms_norm_backward_wgrad are launched with RowThreads(seg) ≤ MaxRowThreads = 512 threads
// (CudaKernels.Norm.cs); asking for 3 resident blocks of 512 caps them at 40 registers without spills (54 and 45
// uncapped), so an SM keeps 1536 of them resident instead of 1024.
#define RMS_MAX_THREADS 512
#define RMS_MIN_BLOCKS 3

template <typename T>
__device__ __forceinline__ void rms_norm(const T* x, i64 sx, const T* res, const T* z, i64 sz, const T* w, float eps, int seg,
    int segsPerRow, i64 segments, T* out, T* resOut)
{
    const int tile = RMS_TILE * (int)blockDim.x;
    const bool cached = seg <= tile;
    for (i64 s = blockIdx.x; s < segments; s += gridDim.x)
    {
        i64 at = s * seg, row = s / segsPerRow;
        int wOff = (int)(s % segsPerRow) * seg;
        const T* xs = x + row * sx + wOff;
        const T* zs = z ? z + row * sz + wOff : nullptr;
        const T* rs = res ? res + at : nullptr;
        float gv[RMS_TILE];
        float ss = 0.0f;
        for (int j0 = 0; j0 < seg; j0 += tile)
        {
#pragma unroll
            for (int k = 0; k < RMS_TILE; k++)
            {
                int j = j0 + (int)threadIdx.x + k * (int)blockDim.x;
                gv[k] = j < seg ? rms_input(xs, rs, zs, j) : 0.0f;
            }
#pragma unroll
            for (int k = 0; k < RMS_TILE; k++)
            {
                int j = j0 + (int)threadIdx.x + k * (int)blockDim.x;
                if (j < seg)
                {
                    if (resOut) store_c(resOut, at + j, gv[k]);
                    ss += gv[k] * gv[k];
                }
            }
        }
        float rstd = 1.0f / sqrtf(block_sum(ss) / (float)seg + eps);
        for (int j0 = 0; j0 < seg; j0 += tile)
        {
#pragma unroll
            for (int k = 0; k < RMS_TILE; k++)
            {
                int j = j0 + (int)threadIdx.x + k * (int)blockDim.x;
                if (j < seg) store_c(out, at + j, (cached ? gv[k] : rms_input(xs, rs, zs, j)) * rstd * load_c(w, wOff + j));
            }
        }
    }
}

// rms_norm with one warp per segment (session 6), float32, for segments of at most 4·K·32 elements and many of them
// (the training's gated norm, 1536, and AddRmsNorm, 768, at 8192 rows): rms_norm's arithmetic (rms_value, rstd =
// 1/sqrt(Σg²/seg + eps), out = g·rstd·w), but a block of RMS_WARP_THREADS holds RMS_WARP_THREADS/32 warps, each walks
// its own segments (grid-stride over warps), keeps its 4·K elements a lane in registers between the sum and the write
// and reduces with shuffles only: no block barrier, and every warp issues all loads of a segment at once (Little's
// law: CudaKernels.Norm.cs LaunchRmsNorm). Lane l holds elements 4(32c + l) .. 4(32c + l) + 3 of chunk c = 0 .. K-1
// (g[4c + q]). VEC: 16-byte loads and stores, which the host takes only when seg % 4 == 0 and every base pointer and
// row stride is 16-byte aligned; scalar: the same elements one float at a time (4 instructions cover a chunk's 512
// bytes: L1 serves the repeats), for misaligned views and seg % 4 != 0. A lane sums its own elements in index order,
// then warp_sum, in both forms: the bits do not depend on alignment. Only the order of the sum differs from rms_norm
// (rstd within float32 reduction error; every other rounding is the same).
#define RMS_WARP_THREADS 128

template <int K, bool VEC>
__device__ __forceinline__ void rms_norm_warp(const float* x, i64 sx, const float* res, const float* z, i64 sz, const float* w, float eps,
    int seg, int segsPerRow, i64 segments, float* out, float* resOut)
{
    const int lane = (int)threadIdx.x & 31, warpsPerBlock = (int)blockDim.x >> 5;
    const i64 stride = (i64)gridDim.x * warpsPerBlock;
    for (i64 s = (i64)blockIdx.x * warpsPerBlock + ((int)threadIdx.x >> 5); s < segments; s += stride)
    {
        i64 p, row = index_divmod(s, segsPerRow, p);
        i64 at = s * seg;
        int wOff = (int)p * seg;
        const float* xs = x + row * sx + wOff;
        const float* zs = z ? z + row * sz + wOff : nullptr;
        const float* rs = res ? res + at : nullptr;
        float g[4 * K];
        float ss = 0.0f;
        if (VEC)
        {
            // x and the one other operand (the residual or the gate; never both, the host's rule) of each chunk: 8K
            // registers for all of a segment's loads in flight, g then computed in place.
            const float* os = z ? zs : rs;
            const float* r1 = z ? nullptr : res;
            float4 xv[K], ov[K];
#pragma unroll
            for (int c = 0; c < K; c++)
            {
                int j = 4 * (32 * c + lane);
                const float4 zero = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
                bool in = j < seg;
                xv[c] = in ? *reinterpret_cast<const float4*>(xs + j) : zero;
                ov[c] = in && os ? *reinterpret_cast<const float4*>(os + j) : zero;
            }
#pragma unroll
            for (int c = 0; c < K; c++)
            {
                g[4 * c] = rms_value<float>(xv[c].x, r1, ov[c].x, z, ov[c].x);
                g[4 * c + 1] = rms_value<float>(xv[c].y, r1, ov[c].y, z, ov[c].y);
                g[4 * c + 2] = rms_value<float>(xv[c].z, r1, ov[c].z, z, ov[c].z);
                g[4 * c + 3] = rms_value<float>(xv[c].w, r1, ov[c].w, z, ov[c].w);
                int j = 4 * (32 * c + lane);
                if (j < seg)
                {
                    if (resOut) *reinterpret_cast<float4*>(resOut + at + j) = make_float4(g[4 * c], g[4 * c + 1], g[4 * c + 2], g[4 * c + 3]);
                    ss += g[4 * c] * g[4 * c];
                    ss += g[4 * c + 1] * g[4 * c + 1];
                    ss += g[4 * c + 2] * g[4 * c + 2];
                    ss += g[4 * c + 3] * g[4 * c + 3];
                }
            }
        }
        else
        {
#pragma unroll
            for (int i = 0; i < 4 * K; i++)
            {
                int j = 4 * (32 * (i >> 2) + lane) + (i & 3);
                g[i] = j < seg ? rms_input<float>(xs, rs, zs, j) : 0.0f;
            }
#pragma unroll
            for (int i = 0; i < 4 * K; i++)
            {
                int j = 4 * (32 * (i >> 2) + lane) + (i & 3);
                if (j < seg)
                {
                    if (resOut) resOut[at + j] = g[i];
                    ss += g[i] * g[i];
                }
            }
        }
        float rstd = 1.0f / sqrtf(warp_sum(ss) / (float)seg + eps);
        if (VEC)
        {
#pragma unroll
            for (int c = 0; c < K; c++)
            {
                int j = 4 * (32 * c + lane);
                if (j < seg)
                {
                    float4 wv = *reinterpret_cast<const float4*>(w + wOff + j);
                    *reinterpret_cast<float4*>(out + at + j) = make_float4(g[4 * c] * rstd * wv.x, g[4 * c + 1] * rstd * wv.y,
                        g[4 * c + 2] * rstd * wv.z, g[4 * c + 3] * rstd * wv.w);
                }
            }
        }
        else
        {
#pragma unroll
            for (int i = 0; i < 4 * K; i++)
            {
                int j = 4 * (32 * (i >> 2) + lane) + (i & 3);
                if (j < seg) out[at + j] = g[i] * rstd * w[wOff + j];
            }
        }
    }
}

// The decode step's gated residual add + RMSNorm + adaLN modulation (IKernels.ModulatedAddRmsNorm), one block
// per row of d: resOut = (res +) (gate ·) x, out = resOut · rstd · w (· scale1) (+ shift). Rounds as the composition
// it replaces (mul, rms_norm with a residual, mul, add kernels) does: __fmul_rn / __fadd_rn keep the compiler from
// contracting gate·x + res or n·scale1 + shift into an FMA that the separate kernels cannot form. The second
// pass reads resOut back, not x and res: with resOut == res (in place) res already holds the sum; each thread
// reads back only the elements it wrote itself. resOut may be null only without gate and res (the second pass then
// reads x: CudaKernels.DecodeLayer.cs's gated norm of g). O, the output's type, is bf16 where a cuBLAS product
// takes the result: the f32 value rounded once, as a cast after the f32 kernel gives.
template <typename T, typename O>
__device__ __forceinline__ void mod_add_rms_norm(const T* x, const T* gate, const T* res, const T* w, float eps, const T* scale1,
    const T* shift, int d, i64 rows, O* out, T* resOut)
{
    const T* back = resOut ? resOut : x;
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x)
    {
        i64 at = r * d;
        float ss = 0.0f;
        for (int j = threadIdx.x; j < d; j += blockDim.x)
        {
            float v = load_c(x, at + j);
            if (gate) v = round_to<T>(__fmul_rn(load_c(gate, at + j), v));
            if (res) v = round_to<T>(__fadd_rn(v, load_c(res, at + j)));
            if (resOut) store_c(resOut, at + j, v);
            ss += v * v;
        }
        float rstd = 1.0f / sqrtf(block_sum(ss) / (float)d + eps);
        for (int j = threadIdx.x; j < d; j += blockDim.x)
        {
            float n = round_to<T>(load_c(back, at + j) * rstd * load_c(w, j));
            if (scale1) n = round_to<T>(__fmul_rn(n, load_c(scale1, at + j)));
            if (shift) n = __fadd_rn(n, load_c(shift, at + j));
            store_c(out, at + j, n);
        }
    }
}

// The L2 prefetch of a mod_add_rms_norm block's first row of the operands a decode step does not write just before it
// (x is the previous product's output), for AIM_PDL_PROLOGUE_PREFETCHING.
template <typename T>
__device__ __forceinline__ void mod_add_rms_norm_prefetch(const T* gate, const T* res, const T* w, const T* scale1, const T* shift, int d,
                                                          i64 rows)
{
    const i64 r = blockIdx.x, bytes = (i64)d * (i64)sizeof(T);
    if (r >= rows) return;
    aim_prefetch_l2(w, bytes);
    aim_prefetch_l2(gate ? gate + r * d : nullptr, bytes);
    aim_prefetch_l2(res ? res + r * d : nullptr, bytes);
    aim_prefetch_l2(scale1 ? scale1 + r * d : nullptr, bytes);
    aim_prefetch_l2(shift ? shift + r * d : nullptr, bytes);
}

// Backward of rms_norm (x is the forward's normalised input: residualOut for AddRmsNorm). Writes dx (+ extra,
// the gradient that reached the residual sum directly), dz for the gated norm, and stats[s] = rstd. x and z rows
// start sx and sz elements apart as in rms_norm (the training's gated norm reads z as a column block of in_proj's
// output); dy, extra, dx and dz are contiguous.
template <typename T>
__device__ __forceinline__ void rms_norm_backward(const T* x, i64 sx, const T* z, i64 sz, const T* w, const T* dy, const T* extra, float eps,
    int seg, int segsPerRow, i64 segments, T* dx, T* dz, float* stats)
{
    for (i64 s = blockIdx.x; s < segments; s += gridDim.x)
    {
        i64 at = s * seg, row = s / segsPerRow;
        int wOff = (int)(s % segsPerRow) * seg;
        const T* xs = x + row * sx + wOff;
        const T* zs = z ? z + row * sz + wOff : nullptr;
        float2 acc = make_float2(0.0f, 0.0f);
        for (int j = threadIdx.x; j < seg; j += blockDim.x)
        {
            float g = rms_input<T>(xs, nullptr, zs, j);
            acc.x += g * g;
            acc.y += load_c(dy, at + j) * load_c(w, wOff + j) * g;
        }
        acc = block_sum2(acc);
        float rstd = 1.0f / sqrtf(acc.x / (float)seg + eps);
        float mean = acc.y * rstd / (float)seg;
        if (threadIdx.x == 0) stats[s] = rstd;
        for (int j = threadIdx.x; j < seg; j += blockDim.x)
        {
            i64 i = at + j;
            float g = rms_input<T>(xs, nullptr, zs, j);
            float dg = rstd * (load_c(dy, i) * load_c(w, wOff + j) - g * rstd * mean);
            if (z)
            {
                float xv = load_c(xs, j), zv = load_c(zs, j), sg = sigmoid_f(zv);
                store_c(dx, i, dg * zv * sg);
                store_c(dz, i, dg * xv * sg * (1.0f + zv * (1.0f - sg)));
            }
            else
            {
                store_c(dx, i, extra ? dg + load_c(extra, i) : dg);
            }
        }
    }
}

// rms_norm_backward with the weight gradient's partial sums in the same pass, so x, z and dy are read once. Block b
// takes rows [b·rowsPerChunk, (b + 1)·rowsPerChunk) whole (every segment in turn) and adds dy·x̂ (x̂ = g·rstd, as
// param_grad_partial mode 0) of each element into a shared column accumulator of d = seg·segsPerRow floats (dynamic
// shared memory); each column is only ever touched by one thread (j ≡ threadIdx.x mod blockDim.x), so the sums run in
// row order with no atomics. partial[b·d + col] receives the block's sums for param_grad_finish (planes = 1).
// Per element the arithmetic is rms_norm_backward's; a thread's elements of a segment stay in registers between the
// two passes (tiles of RMS_TILE · blockDim.x; segments longer than one tile are read again in the second pass).
template <typename T>
__device__ __forceinline__ void rms_norm_backward_wgrad(const T* x, i64 sx, const T* z, i64 sz, const T* w, const T* dy, const T* extra,
    float eps, int seg, int segsPerRow, i64 rows, i64 rowsPerChunk, T* dx, T* dz, float* partial)
{
    extern __shared__ float wsum[];
    const int d = seg * segsPerRow, tile = RMS_TILE * (int)blockDim.x;
    const bool cached = seg <= tile;
    for (int c = threadIdx.x; c < d; c += blockDim.x) wsum[c] = 0.0f;
    __syncthreads();
    i64 r0 = (i64)blockIdx.x * rowsPerChunk, r1 = min(rows, r0 + rowsPerChunk);
    for (i64 row = r0; row < r1; row++)
    {
        for (int p = 0; p < segsPerRow; p++)
        {
            i64 at = (row * segsPerRow + p) * seg;
            int wOff = p * seg;
            const T* xs = x + row * sx + wOff;
            const T* zs = z ? z + row * sz + wOff : nullptr;
            float xv[RMS_TILE], zv[RMS_TILE], dv[RMS_TILE], wv[RMS_TILE], ev[RMS_TILE];
            // The tile of the segment starting at j0: this thread's RMS_TILE elements (0 past the segment's end).
            auto load_tile = [&](int j0)
            {
#pragma unroll
                for (int k = 0; k < RMS_TILE; k++)
                {
                    int j = j0 + (int)threadIdx.x + k * (int)blockDim.x;
                    bool in = j < seg;
                    xv[k] = in ? load_c(xs, j) : 0.0f;
                    zv[k] = in && z ? load_c(zs, j) : 0.0f;
                    dv[k] = in ? load_c(dy, at + j) : 0.0f;
                    wv[k] = in ? load_c(w, wOff + j) : 0.0f;
                    ev[k] = in && extra ? load_c(extra, at + j) : 0.0f;
                }
            };
            float2 acc = make_float2(0.0f, 0.0f);
            for (int j0 = 0; j0 < seg; j0 += tile)
            {
                load_tile(j0);
#pragma unroll
                for (int k = 0; k < RMS_TILE; k++)
                {
                    if (j0 + (int)threadIdx.x + k * (int)blockDim.x < seg)
                    {
                        float g = z ? xv[k] * zv[k] * sigmoid_f(zv[k]) : xv[k];
                        acc.x += g * g;
                        acc.y += dv[k] * wv[k] * g;
                    }
                }
            }
            acc = block_sum2(acc);
            float rstd = 1.0f / sqrtf(acc.x / (float)seg + eps);
            float mean = acc.y * rstd / (float)seg;
            for (int j0 = 0; j0 < seg; j0 += tile)
            {
                if (!cached) load_tile(j0);
#pragma unroll
                for (int k = 0; k < RMS_TILE; k++)
                {
                    int j = j0 + (int)threadIdx.x + k * (int)blockDim.x;
                    if (j < seg)
                    {
                        i64 i = at + j;
                        float g = z ? xv[k] * zv[k] * sigmoid_f(zv[k]) : xv[k];
                        float dg = rstd * (dv[k] * wv[k] - g * rstd * mean);
                        if (z)
                        {
                            float sg = sigmoid_f(zv[k]);
                            store_c(dx, i, dg * zv[k] * sg);
                            store_c(dz, i, dg * xv[k] * sg * (1.0f + zv[k] * (1.0f - sg)));
                        }
                        else
                        {
                            store_c(dx, i, extra ? dg + ev[k] : dg);
                        }
                        wsum[wOff + j] += dv[k] * (g * rstd);
                    }
                }
            }
        }
    }
    __syncthreads();
    for (int c = threadIdx.x; c < d; c += blockDim.x) partial[(i64)blockIdx.x * d + c] = wsum[c];
}

// rms_norm_backward_wgrad with a team of warpsPerRow warps a row (session 7; session 6 had one warp a row), float32, one
// segment a row (seg = d ≤ 128·K·warpsPerRow; the training's gated norm, 1536: 6 warps a row, and AddRmsNorm, 768: 3).
// Block b takes rows [b·rowsPerChunk, (b + 1)·rowsPerChunk); its teams = blockDim.x / (32·warpsPerRow) teams go over them
// in lock step, team g taking rows r0 + g, r0 + g + teams, ... Thread t of a team (T = 32·warpsPerRow threads) holds
// elements 4(T·c + t) .. +3 of chunk c = 0 .. K-1: x, dy and one other operand (z for the gated norm, extra otherwise: the
// host never sends both) of a row, all loaded at once. Σg² and Σdy·w·g are summed by the thread in index order, then
// warp_sum2 (shuffles), then over the team's warps in warp order through a shared slot a warp: one barrier a row. The slots
// alternate between two banks by row parity, so a warp writing row i + 1's sums cannot overwrite row i's before every warp
// has read them (that needs the barrier of row i + 1, which a warp reaches only after its reads of row i). Every thread of
// a team adds the same values in the same order, so the team agrees on rstd and mean. dx and dz (rows sdz apart: the tape's
// gradient slot for a z sliced from in_proj's output) are written from registers
// and dy·x̂ is added into acc[i], the thread's weight-gradient sums of its own 4K columns, kept in registers across the
// team's rows (row order). Once per block the teams' acc are added in team order through a d-float shared row (team 0
// writes, then 1 adds, ...: a barrier a team) and written as the block's partial row, param_grad_finish's contract
// unchanged. A thread holds 12·K values (x, dy, z or extra, acc; w is read again per pass from L1), K ≤ 2, so registers no
// longer bound residency (the one-warp-a-row kernel held 16·12 at 1536: 242 registers, 8 warps an SM). Per element the
// arithmetic is rms_norm_backward_wgrad's (the same expressions: g, dg = rstd·(dy·w − g·rstd·mean), dx / dz, dy·(g·rstd));
// only the two row sums run in another order (rstd, mean within float32 reduction error) and the weight gradient's sums
// group rows differently. VEC: 16-byte loads and stores (the host: seg % 4 == 0, every pointer and row stride 16-byte
// aligned); scalar: the same elements one float at a time, the same sums in the same order, so the bits do not depend on
// alignment.
#define RMS_BWD_THREADS 256
#define RMS_BWD_MAX_WARPS (RMS_BWD_THREADS / 32)

template <int K, bool VEC>
__device__ __forceinline__ void rms_norm_backward_rows(const float* x, i64 sx, const float* z, i64 sz, const float* w, const float* dy,
    const float* extra, float eps, int seg, i64 rows, i64 rowsPerChunk, int warpsPerRow, float* dx, float* dz, i64 sdz, float* partial)
{
    extern __shared__ float wsum[];
    __shared__ float2 rsum[2][RMS_BWD_MAX_WARPS];
    const int T = 32 * warpsPerRow, teams = (int)blockDim.x / T, team = (int)threadIdx.x / T, t = (int)threadIdx.x % T;
    const int lane = (int)threadIdx.x & 31, warp = (int)threadIdx.x >> 5, warp0 = team * warpsPerRow;
    // The weights of chunk c of the thread's columns (0 past the row's end): one 16-byte load (VEC) or four, read again
    // per pass and row (d floats, held in L1) rather than kept in 4K more registers.
    auto load_w = [&](int c) -> float4
    {
        int j0 = 4 * (T * c + t);
        if (VEC) return j0 < seg ? *reinterpret_cast<const float4*>(w + j0) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        return make_float4(j0 < seg ? w[j0] : 0.0f, j0 + 1 < seg ? w[j0 + 1] : 0.0f, j0 + 2 < seg ? w[j0 + 2] : 0.0f,
            j0 + 3 < seg ? w[j0 + 3] : 0.0f);
    };
    // The thread's weight-gradient sums.
    float acc[4 * K];
#pragma unroll
    for (int i = 0; i < 4 * K; i++) acc[i] = 0.0f;
    const i64 r0 = (i64)blockIdx.x * rowsPerChunk, r1 = min(rows, r0 + rowsPerChunk);
    int parity = 0;
    for (i64 base = r0; base < r1; base += teams, parity ^= 1)
    {
        const i64 row = base + team;
        const bool live = row < r1;
        const i64 at = row * seg;
        const float* xs = x + row * sx;
        const float* zs = z ? z + row * sz : nullptr;
        const float* os = z ? zs : extra ? extra + at : nullptr;
        float xv[4 * K], ov[4 * K], dv[4 * K];
#pragma unroll
        for (int c = 0; c < K; c++)
        {
            int j0 = 4 * (T * c + t);
            bool in = live && j0 < seg;
            if (VEC)
            {
                const float4 zero = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
                float4 a = in ? *reinterpret_cast<const float4*>(xs + j0) : zero;
                float4 o = in && os ? *reinterpret_cast<const float4*>(os + j0) : zero;
                float4 e = in ? *reinterpret_cast<const float4*>(dy + at + j0) : zero;
                xv[4 * c] = a.x, xv[4 * c + 1] = a.y, xv[4 * c + 2] = a.z, xv[4 * c + 3] = a.w;
                ov[4 * c] = o.x, ov[4 * c + 1] = o.y, ov[4 * c + 2] = o.z, ov[4 * c + 3] = o.w;
                dv[4 * c] = e.x, dv[4 * c + 1] = e.y, dv[4 * c + 2] = e.z, dv[4 * c + 3] = e.w;
            }
            else
            {
#pragma unroll
                for (int q = 0; q < 4; q++)
                {
                    bool iq = live && j0 + q < seg;
                    xv[4 * c + q] = iq ? xs[j0 + q] : 0.0f;
                    ov[4 * c + q] = iq && os ? os[j0 + q] : 0.0f;
                    dv[4 * c + q] = iq ? dy[at + j0 + q] : 0.0f;
                }
            }
        }
        float2 s = make_float2(0.0f, 0.0f);
#pragma unroll
        for (int c = 0; c < K; c++)
        {
            float4 w4 = load_w(c);
            const float wq[4] = {w4.x, w4.y, w4.z, w4.w};
#pragma unroll
            for (int q = 0; q < 4; q++)
            {
                int i = 4 * c + q;
                if (4 * (T * c + t) + q < seg)
                {
                    float g = z ? xv[i] * ov[i] * sigmoid_f(ov[i]) : xv[i];
                    s.x += g * g;
                    s.y += dv[i] * wq[q] * g;
                }
            }
        }
        s = warp_sum2(s);
        if (lane == 0) rsum[parity][warp] = s;
        __syncthreads();
        if (!live) continue;
        float2 tot = rsum[parity][warp0];
        for (int v = 1; v < warpsPerRow; v++)
        {
            float2 o = rsum[parity][warp0 + v];
            tot.x += o.x;
            tot.y += o.y;
        }
        float rstd = 1.0f / sqrtf(tot.x / (float)seg + eps);
        float mean = tot.y * rstd / (float)seg;
#pragma unroll
        for (int c = 0; c < K; c++)
        {
            int j0 = 4 * (T * c + t);
            float ox[4], oz[4];
            float4 w4 = load_w(c);
            const float wq[4] = {w4.x, w4.y, w4.z, w4.w};
#pragma unroll
            for (int q = 0; q < 4; q++)
            {
                int i = 4 * c + q;
                float g = z ? xv[i] * ov[i] * sigmoid_f(ov[i]) : xv[i];
                float dg = rstd * (dv[i] * wq[q] - g * rstd * mean);
                if (z)
                {
                    float sg = sigmoid_f(ov[i]);
                    ox[q] = dg * ov[i] * sg;
                    oz[q] = dg * xv[i] * sg * (1.0f + ov[i] * (1.0f - sg));
                }
                else
                {
                    ox[q] = extra ? dg + ov[i] : dg;
                    oz[q] = 0.0f;
                }
                if (j0 + q < seg) acc[i] += dv[i] * (g * rstd);
            }
            if (VEC)
            {
                if (j0 < seg)
                {
                    *reinterpret_cast<float4*>(dx + at + j0) = make_float4(ox[0], ox[1], ox[2], ox[3]);
                    if (z) *reinterpret_cast<float4*>(dz + row * sdz + j0) = make_float4(oz[0], oz[1], oz[2], oz[3]);
                }
            }
            else
            {
#pragma unroll
                for (int q = 0; q < 4; q++)
                {
                    if (j0 + q < seg)
                    {
                        dx[at + j0 + q] = ox[q];
                        if (z) dz[row * sdz + j0 + q] = oz[q];
                    }
                }
            }
        }
    }
    for (int g = 0; g < teams; g++)
    {
        if (team == g)
        {
#pragma unroll
            for (int i = 0; i < 4 * K; i++)
            {
                int j = 4 * (T * (i >> 2) + t) + (i & 3);
                if (j < seg) wsum[j] = g == 0 ? acc[i] : wsum[j] + acc[i];
            }
        }
        __syncthreads();
    }
    for (int c = threadIdx.x; c < seg; c += blockDim.x) partial[(i64)blockIdx.x * seg + c] = wsum[c];
}

// Mean and rstd of n values starting at x[at] (two passes, biased variance).
template <typename T>
__device__ __forceinline__ float2 mean_rstd(const T* x, i64 at, i64 n, float eps)
{
    float sum = 0.0f;
    for (i64 k = threadIdx.x; k < n; k += blockDim.x) sum += load_c(x, at + k);
    float mean = block_sum(sum) / (float)n;
    float sq = 0.0f;
    for (i64 k = threadIdx.x; k < n; k += blockDim.x)
    {
        float c = load_c(x, at + k) - mean;
        sq += c * c;
    }
    return make_float2(mean, 1.0f / sqrtf(block_sum(sq) / (float)n + eps));
}

template <typename T>
__device__ __forceinline__ void layer_norm(const T* x, const T* w, const T* b, float eps, int d, i64 rows, T* out)
{
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x)
    {
        i64 at = r * d;
        float2 mr = mean_rstd(x, at, d, eps);
        for (int j = threadIdx.x; j < d; j += blockDim.x)
        {
            float v = (load_c(x, at + j) - mr.x) * mr.y;
            if (w) v *= load_c(w, j);
            if (b) v += load_c(b, j);
            store_c(out, at + j, v);
        }
    }
}

// Writes dx and stats[2r] = mean, stats[2r + 1] = rstd.
template <typename T>
__device__ __forceinline__ void layer_norm_backward(const T* x, const T* w, const T* dy, float eps, int d, i64 rows, T* dx, float* stats)
{
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x)
    {
        i64 at = r * d;
        float2 mr = mean_rstd(x, at, d, eps);
        float2 m = make_float2(0.0f, 0.0f);
        for (int j = threadIdx.x; j < d; j += blockDim.x)
        {
            float xh = (load_c(x, at + j) - mr.x) * mr.y;
            float dxh = __fmul_rn(load_c(dy, at + j), w ? load_c(w, j) : 1.0f);
            m.x += dxh;
            m.y += dxh * xh;
        }
        m = block_sum2(m);
        m.x /= (float)d;
        m.y /= (float)d;
        if (threadIdx.x == 0)
        {
            stats[2 * r] = mr.x;
            stats[2 * r + 1] = mr.y;
        }
        for (int j = threadIdx.x; j < d; j += blockDim.x)
        {
            float xh = (load_c(x, at + j) - mr.x) * mr.y;
            float dxh = __fmul_rn(load_c(dy, at + j), w ? load_c(w, j) : 1.0f);
            store_c(dx, at + j, mr.y * (dxh - m.x - xh * m.y));
        }
    }
}

#define PARAM_COLS 32
#define PARAM_LANES 8

// Per-column partial sums of the weight (and bias) gradient over one chunk of rows. Block of
// PARAM_COLS x PARAM_LANES threads (flattened): 32 consecutive columns, 8 row lanes; blockIdx.x =
// column block + colBlocks · chunk. partial is [chunks][2][d]: plane 0 Σ dy·x̂, plane 1 Σ dy.
// mode 0 (RMS / gated): x̂ = g · stats[r · segsPerRow + col / seg]; mode 1 (LayerNorm): x̂ = (x - mean) · rstd.
// x and z rows start sx and sz elements apart (d when contiguous; the gated norm's row views); dy is contiguous.
template <typename T>
__device__ __forceinline__ void param_grad_partial(int mode, const T* x, i64 sx, const T* z, i64 sz, const T* dy, const float* stats, i64 rows,
    int d, int seg, int segsPerRow, i64 rowsPerChunk, int colBlocks, float* partial)
{
    __shared__ float sw[PARAM_LANES][PARAM_COLS + 1];
    __shared__ float sb[PARAM_LANES][PARAM_COLS + 1];
    int tx = threadIdx.x % PARAM_COLS, ty = threadIdx.x / PARAM_COLS;
    int col = (blockIdx.x % colBlocks) * PARAM_COLS + tx;
    i64 chunk = blockIdx.x / colBlocks;
    i64 r0 = chunk * rowsPerChunk, r1 = min(rows, r0 + rowsPerChunk);
    float aw = 0.0f, ab = 0.0f;
    if (col < d)
    {
        for (i64 r = r0 + ty; r < r1; r += PARAM_LANES)
        {
            float g = load_c(dy, r * d + col);
            float xh;
            if (mode == 0) xh = rms_input<T>(x + r * sx, nullptr, z ? z + r * sz : nullptr, col) * stats[r * segsPerRow + col / seg];
            else xh = (load_c(x, r * sx + col) - stats[2 * r]) * stats[2 * r + 1];
            aw += g * xh;
            ab += g;
        }
    }
    sw[ty][tx] = aw;
    sb[ty][tx] = ab;
    __syncthreads();
    if (ty == 0 && col < d)
    {
        for (int k = 1; k < PARAM_LANES; k++)
        {
            aw += sw[k][tx];
            ab += sb[k][tx];
        }
        partial[(chunk * 2) * d + col] = aw;
        partial[(chunk * 2 + 1) * d + col] = ab;
    }
}

#define FINISH_COLS 8
#define FINISH_LANES 64
#define FINISH_GROUP 8

// Sums the chunks of partial ([chunks][planes][d], planes 1 or 2) per column: out0 from plane 0, out1 from plane 1
// (either may be null; out1 needs planes = 2). Block of FINISH_COLS x FINISH_LANES threads (flattened): 8 consecutive
// columns (one 32-byte sector per chunk row), lane l sums chunks l, l + 64, ... in order, then groups of
// FINISH_GROUP lanes and the groups are added in lane order: a fixed tree, deterministic.
template <typename T>
__device__ __forceinline__ void param_grad_finish(const float* partial, i64 chunks, int planes, int d, T* out0, T* out1)
{
    __shared__ float sa[FINISH_LANES][FINISH_COLS + 1];
    __shared__ float sb[FINISH_LANES][FINISH_COLS + 1];
    int tx = threadIdx.x % FINISH_COLS, ty = threadIdx.x / FINISH_COLS;
    int col = blockIdx.x * FINISH_COLS + tx;
    bool two = out1 && planes > 1;
    float a = 0.0f, b = 0.0f;
    if (col < d)
    {
#pragma unroll 4
        for (i64 c = ty; c < chunks; c += FINISH_LANES)
        {
            a += partial[(c * planes) * d + col];
            if (two) b += partial[(c * planes + 1) * d + col];
        }
    }
    sa[ty][tx] = a;
    sb[ty][tx] = b;
    __syncthreads();
    if (ty < FINISH_LANES / FINISH_GROUP)
    {
        a = sa[ty * FINISH_GROUP][tx];
        b = sb[ty * FINISH_GROUP][tx];
        for (int k = 1; k < FINISH_GROUP; k++)
        {
            a += sa[ty * FINISH_GROUP + k][tx];
            b += sb[ty * FINISH_GROUP + k][tx];
        }
    }
    __syncthreads();
    if (ty < FINISH_LANES / FINISH_GROUP)
    {
        sa[ty][tx] = a;
        sb[ty][tx] = b;
    }
    __syncthreads();
    if (ty == 0 && col < d)
    {
        for (int k = 1; k < FINISH_LANES / FINISH_GROUP; k++)
        {
            a += sa[k][tx];
            b += sb[k][tx];
        }
        if (out0) store_c(out0, col, a);
        if (two) store_c(out1, col, b);
    }
}

// GroupNorm over segments (sample n, group g) of cg·S contiguous elements; channel of element k is
// g·cg + k / S.
template <typename T>
__device__ __forceinline__ void group_norm(const T* x, const T* w, const T* b, float eps, int groups, int cg, i64 S, i64 segments, T* out)
{
    i64 m = (i64)cg * S;
    for (i64 s = blockIdx.x; s < segments; s += gridDim.x)
    {
        i64 at = s * m;
        int c0 = (int)(s % groups) * cg;
        float2 mr = mean_rstd(x, at, m, eps);
        for (i64 k = threadIdx.x; k < m; k += blockDim.x)
        {
            int c = c0 + (int)(k / S);
            store_c(out, at + k, (load_c(x, at + k) - mr.x) * mr.y * load_c(w, c) + load_c(b, c));
        }
    }
}

// Backward of group_norm: writes dx and partial[(n · 2 + p) · C + c] (p = 0: Σ_s dy·x̂, p = 1: Σ_s dy) for
// param_grad_finish with chunks = N.
template <typename T>
__device__ __forceinline__ void group_norm_backward(const T* x, const T* w, const T* dy, float eps, int groups, int cg, i64 S, i64 segments,
    T* dx, float* partial)
{
    i64 m = (i64)cg * S;
    int channels = groups * cg;
    for (i64 s = blockIdx.x; s < segments; s += gridDim.x)
    {
        i64 at = s * m, n = s / groups;
        int c0 = (int)(s % groups) * cg;
        float2 mr = mean_rstd(x, at, m, eps);
        float m1 = 0.0f, m2 = 0.0f;
        for (int ci = 0; ci < cg; ci++)
        {
            i64 cat = at + (i64)ci * S;
            float2 acc = make_float2(0.0f, 0.0f);
            for (i64 k = threadIdx.x; k < S; k += blockDim.x)
            {
                float g = load_c(dy, cat + k);
                acc.x += g * (load_c(x, cat + k) - mr.x) * mr.y;
                acc.y += g;
            }
            acc = block_sum2(acc);
            int c = c0 + ci;
            if (threadIdx.x == 0)
            {
                partial[(n * 2) * channels + c] = acc.x;
                partial[(n * 2 + 1) * channels + c] = acc.y;
            }
            float wc = load_c(w, c);
            m1 += __fmul_rn(wc, acc.y);
            m2 += __fmul_rn(wc, acc.x);
        }
        m1 /= (float)m;
        m2 /= (float)m;
        for (i64 k = threadIdx.x; k < m; k += blockDim.x)
        {
            int c = c0 + (int)(k / S);
            float xh = (load_c(x, at + k) - mr.x) * mr.y;
            float dxh = __fmul_rn(load_c(dy, at + k), load_c(w, c));
            store_c(dx, at + k, mr.y * (dxh - m1 - xh * m2));
        }
    }
}

#define AIM_NORM(N, T) \
    extern "C" __global__ void __launch_bounds__(RMS_MAX_THREADS, RMS_MIN_BLOCKS) rms_norm_##N(const T* x, i64 sx, const T* res, const T* z, i64 sz, const T* w, float eps, int seg, \
        int segsPerRow, i64 segments, T* out, T* resOut) \
    { AIM_PDL_PROLOGUE(); rms_norm<T>(x, sx, res, z, sz, w, eps, seg, segsPerRow, segments, out, resOut); } \
    extern "C" __global__ void rms_norm_backward_##N(const T* x, i64 sx, const T* z, i64 sz, const T* w, const T* dy, const T* extra, \
        float eps, int seg, int segsPerRow, i64 segments, T* dx, T* dz, float* stats) \
    { AIM_PDL_PROLOGUE(); rms_norm_backward<T>(x, sx, z, sz, w, dy, extra, eps, seg, segsPerRow, segments, dx, dz, stats); } \
    extern "C" __global__ void layer_norm_##N(const T* x, const T* w, const T* b, float eps, int d, i64 rows, T* out) \
    { AIM_PDL_PROLOGUE(); layer_norm<T>(x, w, b, eps, d, rows, out); } \
    extern "C" __global__ void layer_norm_backward_##N(const T* x, const T* w, const T* dy, float eps, int d, i64 rows, T* dx, float* stats) \
    { AIM_PDL_PROLOGUE(); layer_norm_backward<T>(x, w, dy, eps, d, rows, dx, stats); } \
    extern "C" __global__ void __launch_bounds__(PARAM_COLS * PARAM_LANES) param_grad_partial_##N(int mode, const T* x, i64 sx, \
        const T* z, i64 sz, const T* dy, const float* stats, i64 rows, int d, int seg, int segsPerRow, i64 rowsPerChunk, int colBlocks, \
        float* partial) \
    { AIM_PDL_PROLOGUE(); param_grad_partial<T>(mode, x, sx, z, sz, dy, stats, rows, d, seg, segsPerRow, rowsPerChunk, colBlocks, partial); } \
    extern "C" __global__ void __launch_bounds__(RMS_MAX_THREADS, RMS_MIN_BLOCKS) rms_norm_backward_wgrad_##N(const T* x, i64 sx, const T* z, i64 sz, const T* w, const T* dy, \
        const T* extra, float eps, int seg, int segsPerRow, i64 rows, i64 rowsPerChunk, T* dx, T* dz, float* partial) \
    { AIM_PDL_PROLOGUE(); rms_norm_backward_wgrad<T>(x, sx, z, sz, w, dy, extra, eps, seg, segsPerRow, rows, rowsPerChunk, dx, dz, partial); } \
    extern "C" __global__ void __launch_bounds__(FINISH_COLS * FINISH_LANES) param_grad_finish_##N(const float* partial, i64 chunks, \
        int planes, int d, T* out0, T* out1) \
    { AIM_PDL_PROLOGUE(); param_grad_finish<T>(partial, chunks, planes, d, out0, out1); } \
    extern "C" __global__ void group_norm_##N(const T* x, const T* w, const T* b, float eps, int groups, int cg, i64 S, i64 segments, T* out) \
    { AIM_PDL_PROLOGUE(); group_norm<T>(x, w, b, eps, groups, cg, S, segments, out); } \
    extern "C" __global__ void group_norm_backward_##N(const T* x, const T* w, const T* dy, float eps, int groups, int cg, i64 S, \
        i64 segments, T* dx, float* partial) \
    { AIM_PDL_PROLOGUE(); group_norm_backward<T>(x, w, dy, eps, groups, cg, S, segments, dx, partial); }

AIM_NORM(f32, float)
AIM_NORM(bf16, bf16)

// rms_norm_warp's kernels: rms_norm_warp{K}_f32 (scalar) and rms_norm_warp{K}_vec_f32 (16-byte) for segments of at most
// 128·K elements. MINB resident blocks of RMS_WARP_THREADS cap the registers at 65536 / (128·MINB): 3 → 170, 4 → 128, 5 → 102,
// 6 → 85, 8 → 64 (ptxas counts in CudaKernels.Norm.cs). res and z are never both given (the host's rule).
#define AIM_RMS_WARP(K, MINB) \
    extern "C" __global__ void __launch_bounds__(RMS_WARP_THREADS, MINB) rms_norm_warp##K##_f32(const float* x, i64 sx, const float* res, \
        const float* z, i64 sz, const float* w, float eps, int seg, int segsPerRow, i64 segments, float* out, float* resOut) \
    { AIM_PDL_PROLOGUE(); rms_norm_warp<K, false>(x, sx, res, z, sz, w, eps, seg, segsPerRow, segments, out, resOut); } \
    extern "C" __global__ void __launch_bounds__(RMS_WARP_THREADS, MINB) rms_norm_warp##K##_vec_f32(const float* x, i64 sx, const float* res, \
        const float* z, i64 sz, const float* w, float eps, int seg, int segsPerRow, i64 segments, float* out, float* resOut) \
    { AIM_PDL_PROLOGUE(); rms_norm_warp<K, true>(x, sx, res, z, sz, w, eps, seg, segsPerRow, segments, out, resOut); }

AIM_RMS_WARP(2, 8)
AIM_RMS_WARP(4, 8)
AIM_RMS_WARP(6, 6)
AIM_RMS_WARP(8, 5)
AIM_RMS_WARP(12, 4)
AIM_RMS_WARP(16, 3)

// rms_norm_backward_rows's kernels: rms_norm_backward_rows{K}_f32 (scalar) and rms_norm_backward_rows{K}_vec_f32 (16-byte) for
// rows of at most 128·K·warpsPerRow elements (one segment a row), blocks of at most RMS_BWD_THREADS threads. MINB resident
// blocks of RMS_BWD_THREADS cap the registers at 65536 / (256·MINB): the 16-byte forms 64 (4), the scalar ones 85 (3: at 64
// the scalar K = 2 spills); ptxas counts in CudaKernels.Norm.cs.
#define AIM_RMS_BWD_ROWS_KERNEL(K, MINB, NAME, VEC) \
    extern "C" __global__ void __launch_bounds__(RMS_BWD_THREADS, MINB) NAME(const float* x, i64 sx, const float* z, i64 sz, \
        const float* w, const float* dy, const float* extra, float eps, int seg, i64 rows, i64 rowsPerChunk, int warpsPerRow, \
        float* dx, float* dz, i64 sdz, float* partial) \
    { AIM_PDL_PROLOGUE(); rms_norm_backward_rows<K, VEC>(x, sx, z, sz, w, dy, extra, eps, seg, rows, rowsPerChunk, warpsPerRow, dx, dz, sdz, partial); }
#define AIM_RMS_BWD_ROWS(K) \
    AIM_RMS_BWD_ROWS_KERNEL(K, 3, rms_norm_backward_rows##K##_f32, false) \
    AIM_RMS_BWD_ROWS_KERNEL(K, 4, rms_norm_backward_rows##K##_vec_f32, true)

AIM_RMS_BWD_ROWS(1)
AIM_RMS_BWD_ROWS(2)

// Float32 only: the decode keeps its residual stream in float32 (other dtypes are refused on the host). The _bf16 form
// writes out in bf16 for a cuBLAS product (CudaKernels.DecodeLayer.cs).
#define MOD_ADD_RMS_NORM_KERNEL(NAME, O)                                                                                     \
    extern "C" __global__ void NAME(const float* x, const float* gate, const float* res, const float* w, float eps,           \
        const float* scale1, const float* shift, int d, i64 rows, O* out, float* resOut)                                      \
    {                                                                                                                        \
        AIM_PDL_PROLOGUE_PREFETCHING(mod_add_rms_norm_prefetch(gate, res, w, scale1, shift, d, rows));                        \
        mod_add_rms_norm<float, O>(x, gate, res, w, eps, scale1, shift, d, rows, out, resOut);                               \
    }
MOD_ADD_RMS_NORM_KERNEL(mod_add_rms_norm_f32, float)
MOD_ADD_RMS_NORM_KERNEL(mod_add_rms_norm_f32_bf16, bf16)
