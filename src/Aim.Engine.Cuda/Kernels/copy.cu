// Copy: strided gather from one view into another (each with its own collapsed shape, same element count),
// converting dtype on the way. One generic kernel per (source, destination) dtype pair: copy_<src>_<dst>; flat and
// row fast paths for f32→f32, f32→bf16 and bf16→f32 below (copy_flat_*, copy_rows_*).
#include "common.cuh"

template <typename S, typename D, bool Integral>
struct converter;

template <typename S, typename D>
struct converter<S, D, true>
{
    static __device__ __forceinline__ D run(S v) { return (D)to_i64(v); }
};

template <typename S, typename D>
struct converter<S, D, false>
{
    static __device__ __forceinline__ D run(S v) { return from_f64<D>(to_f64(v)); }
};

template <typename S, typename D>
__device__ __forceinline__ void copy_strided(const S* src, Strided s, D* dst, Strided d, i64 n)
{
    const bool integral = is_integral_type<S>::value && is_integral_type<D>::value;
    AIM_GRID_STRIDE(i, n)
    {
        dst[strided_offset(d, i)] = converter<S, D, integral>::run(src[strided_offset(s, i)]);
    }
}

#define AIM_COPY(SN, ST, DN, DT) \
    extern "C" __global__ void copy_##SN##_##DN(const ST* src, Strided s, DT* dst, Strided d, i64 n) \
    { AIM_PDL_PROLOGUE(); copy_strided<ST, DT>(src, s, dst, d, n); }

#define AIM_COPY_FROM(SN, ST) \
    AIM_COPY(SN, ST, f32, float) \
    AIM_COPY(SN, ST, f64, double) \
    AIM_COPY(SN, ST, bf16, bf16) \
    AIM_COPY(SN, ST, i32, int) \
    AIM_COPY(SN, ST, i64, i64)

AIM_COPY_FROM(f32, float)
AIM_COPY_FROM(f64, double)
AIM_COPY_FROM(bf16, bf16)
AIM_COPY_FROM(i32, int)
AIM_COPY_FROM(i64, i64)

// ---- Fast paths (session 6): flat and row copies for f32→f32, f32→bf16, bf16→f32 ----
// The generic kernel above pays, per element, a strided_offset on both sides (a 32-bit divide per collapsed
// dimension) and a detour through double; an AiM-B bf16-autocast training step (H200, batch 32 × 256 tokens) spent
// 10.8 ms in it over 518 launches. Most of those copies are either one contiguous run on both sides (the autocast
// casts of matrix-product operands, contiguous() of views that collapse to one run) or (rows, cols) with unit inner
// stride on both sides (slices of the last dimension, row views, gradient assembly of slices). CudaKernels.Core.cs
// Copy (CopyPlan) picks, on the collapsed descriptors (StridedDesc.Collapse, the same ones the generic kernel gets):
//   copy_flat_<s>_<d>(src, dst, n, vec, head)                     both sides one contiguous run
//   copy_rows_<s>_<d>(src, ss, dst, ds, rows, cols, vec, head)    both sides (rows, cols) with unit inner stride
//                                                                 (a contiguous side reads as row stride cols)
// and the generic copy_<s>_<d> for everything else (other dtype pairs, transposes, non-unit inner strides, rank > 2).
// Work is cut into pieces: with vec = 1 (both sides at the same element alignment mod 4, and for rows both row strides
// multiples of 4) a piece is 4 elements read and written as one aligned access each (float4 for f32: 16 bytes; uint2
// for bf16: 8 bytes, four values), except one scalar head piece (the 0..3 elements before the first aligned element
// of a run) and one scalar tail piece (the 0..3 after the last whole vector); with vec = 0 (its own instantiation) a
// piece is one element. A thread takes COPY_UNROLL pieces a grid stride apart per round, issuing all loads before the
// stores. Rows: piece index -> (row, piece in row) is one 32-bit division (index_divmod), against two per side per
// element in the generic kernel at rank 2.
// Conversions are direct and bit-identical to the generic kernel's double detour (f32 -> f64 is exact and f64 -> f32
// returns the same float; NVRTC compiles without ftz, so denormals survive both): f32 -> bf16 is f32_to_bf16 (round to
// nearest even, NaN kept quiet), bf16 -> f32 the exact widening, f32 -> f32 a plain copy of the bits (as the
// cuMemcpy path of contiguous same-dtype copies; the generic kernel's cvt may not keep a NaN's payload).
// Floor (bytes moved / ~4.8 TB/s H200 HBM3e; 4.3 TB/s measured copy ceiling): f32 -> bf16 moves 6 bytes per element:
// 8192×768 (37.7 MB) 7.9 µs, 8192×1536 (75.5 MB) 15.7 µs, 8192×3352 (165 MB) 34 µs; f32 -> f32 8 bytes per element:
// 8192×768 (50.3 MB) 10.5 µs. tests/cuda-emulation/copy_check.cpp checks every path bit for bit against the generic kernel.
// Measured (H200, these kernels built by nvcc 13 for sm_90 in a standalone harness with the C# launch geometry, CUDA
// events, median of 15; cudaMemcpy of 220 MB ran at 3.62 TB/s in the same run), generic -> fast: f32 -> bf16 8192×768
// 21.2 -> 14.6 µs, 8192×1536 47.4 -> 26.7 µs, 8192×3352 90.3 -> 47.9 µs (3.44 TB/s), 3352×768 14.0 -> 10.6 µs, columns
// 0..1535 of 8192×3352 rows 78.8 -> 29.2 µs; bf16 -> f32 8192×768 19.1 -> 14.7 µs; f32 -> f32 8192×768 flat 27.7 ->
// 18.8 µs, 8192×1536 slices of 3352-wide rows 64..76 -> 33..34 µs (3.0 TB/s), 8192×256 18.7 -> 10.7 µs; misaligned
// (scalar) flat f32 -> bf16 20.7 -> 18.6 µs, rows of 771 at column 1 42.9 -> 26.6 µs. Before the head / tail loops ran
// over constant indices, v sat in local memory (a 16-32 byte stack frame) and the large copies reached 2.5-3.0 TB/s.
// COPY_UNROLL 4 was no better, 8 slower (8192×3352 f32 -> bf16 63 µs against 54 at 2, both with the stack frame).
#ifndef COPY_UNROLL
#define COPY_UNROLL 2
#endif

template <typename S, typename D> struct fast_cast;
template <> struct fast_cast<float, float> { static __device__ __forceinline__ float run(float v) { return v; } };
template <> struct fast_cast<float, bf16> { static __device__ __forceinline__ bf16 run(float v) { return f32_to_bf16(v); } };
template <> struct fast_cast<bf16, float> { static __device__ __forceinline__ float run(bf16 v) { return bf16_to_f32(v); } };

// Four consecutive elements as one access; p must be aligned to four elements (16 bytes f32, 8 bytes bf16).
__device__ __forceinline__ void load4(const float* p, float (&v)[4])
{
    float4 q = *reinterpret_cast<const float4*>(p);
    v[0] = q.x; v[1] = q.y; v[2] = q.z; v[3] = q.w;
}
__device__ __forceinline__ void load4(const bf16* p, bf16 (&v)[4])
{
    uint2 q = *reinterpret_cast<const uint2*>(p);
    v[0].bits = (unsigned short)(q.x & 0xffffu); v[1].bits = (unsigned short)(q.x >> 16);
    v[2].bits = (unsigned short)(q.y & 0xffffu); v[3].bits = (unsigned short)(q.y >> 16);
}
__device__ __forceinline__ void store4(float* p, const float (&v)[4])
{
    *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
}
__device__ __forceinline__ void store4(bf16* p, const bf16 (&v)[4])
{
    *reinterpret_cast<uint2*>(p) = make_uint2((unsigned)v[0].bits | ((unsigned)v[1].bits << 16),
                                              (unsigned)v[2].bits | ((unsigned)v[3].bits << 16));
}

// One vector piece: count == 4 is an aligned vector, otherwise count (0..3) scalars (a head or tail, or none).
template <typename S, typename D>
__device__ __forceinline__ void load_piece(const S* p, int count, D (&v)[4])
{
    if (count == 4)
    {
        S t[4];
        load4(p, t);
#pragma unroll
        for (int k = 0; k < 4; k++) v[k] = fast_cast<S, D>::run(t[k]);
        return;
    }
#pragma unroll
    for (int k = 0; k < 3; k++) // constant indices keep v in registers (a loop to count put it in local memory)
        if (k < count) v[k] = fast_cast<S, D>::run(p[k]);
}
template <typename D>
__device__ __forceinline__ void store_piece(D* p, int count, const D (&v)[4])
{
    if (count == 4) { store4(p, v); return; }
#pragma unroll
    for (int k = 0; k < 3; k++)
        if (k < count) p[k] = v[k];
}

// Piece j of a run of `len` elements whose first aligned element is at `head`: piece 0 is the head (when head > 0),
// then nvec = (len - head) / 4 vectors, then the tail (when any is left). Writes the piece's first element and count.
__device__ __forceinline__ void run_piece(i64 j, i64 len, int head, i64& at, int& count)
{
    if (head > 0)
    {
        if (j == 0) { at = 0; count = head; return; }
        j--;
    }
    i64 nvec = (len - head) / 4;
    if (j < nvec) { at = head + 4 * j; count = 4; return; }
    at = head + 4 * nvec;
    count = (int)(len - at);
}

// Pieces of a run (one per element without vectors); CudaKernels.Core.cs CopyPieces computes the same for the grid.
__device__ __forceinline__ i64 run_pieces(i64 len, int vec, int head)
{
    if (!vec) return len;
    i64 nvec = (len - head) / 4;
    return (head > 0 ? 1 : 0) + nvec + (len - head - 4 * nvec > 0 ? 1 : 0);
}

template <typename S, typename D, bool Vec>
__device__ __forceinline__ void copy_flat(const S* src, D* dst, i64 n, int head)
{
    const i64 pieces = run_pieces(n, Vec, head);
    const i64 step = (i64)gridDim.x * blockDim.x;
    for (i64 p0 = (i64)blockIdx.x * blockDim.x + threadIdx.x; p0 < pieces; p0 += COPY_UNROLL * step)
    {
        if (Vec)
        {
            i64 at[COPY_UNROLL];
            int count[COPY_UNROLL];
            D v[COPY_UNROLL][4];
#pragma unroll
            for (int u = 0; u < COPY_UNROLL; u++)
            {
                i64 p = p0 + u * step;
                count[u] = 0;
                at[u] = 0;
                if (p < pieces) run_piece(p, n, head, at[u], count[u]);
                load_piece<S, D>(src + at[u], count[u], v[u]);
            }
#pragma unroll
            for (int u = 0; u < COPY_UNROLL; u++) store_piece<D>(dst + at[u], count[u], v[u]);
        }
        else
        {
            D v[COPY_UNROLL];
#pragma unroll
            for (int u = 0; u < COPY_UNROLL; u++)
                if (p0 + u * step < n) v[u] = fast_cast<S, D>::run(src[p0 + u * step]);
#pragma unroll
            for (int u = 0; u < COPY_UNROLL; u++)
                if (p0 + u * step < n) dst[p0 + u * step] = v[u];
        }
    }
}

template <typename S, typename D, bool Vec>
__device__ __forceinline__ void copy_rows(const S* src, i64 ss, D* dst, i64 ds, i64 rows, i64 cols, int head)
{
    const i64 perRow = run_pieces(cols, Vec, head), pieces = rows * perRow;
    const i64 step = (i64)gridDim.x * blockDim.x;
    for (i64 p0 = (i64)blockIdx.x * blockDim.x + threadIdx.x; p0 < pieces; p0 += COPY_UNROLL * step)
    {
        i64 so[COPY_UNROLL], dO[COPY_UNROLL];
        int count[COPY_UNROLL];
        D v[COPY_UNROLL][4];
#pragma unroll
        for (int u = 0; u < COPY_UNROLL; u++)
        {
            i64 p = p0 + u * step;
            count[u] = 0;
            so[u] = 0;
            dO[u] = 0;
            if (p < pieces)
            {
                i64 j, at;
                i64 r = index_divmod(p, perRow, j);
                if (Vec) run_piece(j, cols, head, at, count[u]);
                else
                {
                    at = j;
                    count[u] = 1;
                }
                so[u] = r * ss + at;
                dO[u] = r * ds + at;
            }
            if (Vec) load_piece<S, D>(src + so[u], count[u], v[u]);
            else if (count[u]) v[u][0] = fast_cast<S, D>::run(src[so[u]]);
        }
#pragma unroll
        for (int u = 0; u < COPY_UNROLL; u++)
        {
            if (Vec) store_piece<D>(dst + dO[u], count[u], v[u]);
            else if (count[u]) dst[dO[u]] = v[u][0];
        }
    }
}

#define AIM_COPY_FAST(SN, ST, DN, DT) \
    extern "C" __global__ void copy_flat_##SN##_##DN(const ST* src, DT* dst, i64 n, int vec, int head) \
    { AIM_PDL_PROLOGUE(); if (vec) copy_flat<ST, DT, true>(src, dst, n, head); else copy_flat<ST, DT, false>(src, dst, n, 0); } \
    extern "C" __global__ void copy_rows_##SN##_##DN(const ST* src, i64 ss, DT* dst, i64 ds, i64 rows, i64 cols, int vec, int head) \
    { AIM_PDL_PROLOGUE(); if (vec) copy_rows<ST, DT, true>(src, ss, dst, ds, rows, cols, head); else copy_rows<ST, DT, false>(src, ss, dst, ds, rows, cols, 0); }

AIM_COPY_FAST(f32, float, f32, float)
AIM_COPY_FAST(f32, float, bf16, bf16)
AIM_COPY_FAST(bf16, bf16, f32, float)
