// Elementwise kernels: binary ops over broadcast strided views, unary ops and their backward, affine.
// The formulas are the scalar definitions in ReferenceKernels.Core.cs (UnaryScalar, UnaryDerivative);
// softplus passes x through above 20 like the original's kernels. Float32 math uses the precise library
// functions (no fast-math); bf16 loads to float32, computes there and rounds once on store.
#include "common.cuh"

__device__ __forceinline__ float unary_op(int op, float v)
{
    switch (op)
    {
        case AIM_UN_NEG: return -v;
        case AIM_UN_EXP: return expf(v);
        case AIM_UN_LOG: return logf(v);
        case AIM_UN_SQRT: return sqrtf(v);
        case AIM_UN_SQUARE: return v * v;
        case AIM_UN_SILU: return v / (1.0f + expf(-v));
        case AIM_UN_SIGMOID: return 1.0f / (1.0f + expf(-v));
        case AIM_UN_SOFTPLUS: return v > 20.0f ? v : log1pf(expf(v));
        case AIM_UN_TANH: return tanhf(v);
        default: return __int_as_float(0x7fffffff);
    }
}

__device__ __forceinline__ float unary_derivative(int op, float v)
{
    switch (op)
    {
        case AIM_UN_NEG: return -1.0f;
        case AIM_UN_EXP: return expf(v);
        case AIM_UN_LOG: return 1.0f / v;
        case AIM_UN_SQRT: return 1.0f / (2.0f * sqrtf(v));
        case AIM_UN_SQUARE: return 2.0f * v;
        case AIM_UN_SILU: { float s = 1.0f / (1.0f + expf(-v)); return s * (1.0f + v * (1.0f - s)); }
        case AIM_UN_SIGMOID: { float s = 1.0f / (1.0f + expf(-v)); return s * (1.0f - s); }
        case AIM_UN_SOFTPLUS: return v > 20.0f ? 1.0f : 1.0f / (1.0f + expf(-v));
        case AIM_UN_TANH: { float t = tanhf(v); return 1.0f - t * t; }
        default: return __int_as_float(0x7fffffff);
    }
}

__device__ __forceinline__ float binary_op(int op, float x, float y)
{
    switch (op)
    {
        case AIM_BIN_ADD: return x + y;
        case AIM_BIN_SUB: return x - y;
        case AIM_BIN_MUL: return x * y;
        case AIM_BIN_DIV: return x / y;
        default: return __int_as_float(0x7fffffff);
    }
}

template <typename T>
__device__ __forceinline__ void binary(int op, const T* a, Strided sa, const T* b, Strided sb, T* out, i64 n)
{
    AIM_GRID_STRIDE(i, n)
    {
        float x = load_c(a, strided_offset(sa, i));
        float y = load_c(b, strided_offset(sb, i));
        store_c(out, i, binary_op(op, x, y));
    }
}

template <typename T>
__device__ __forceinline__ void unary_forward(int op, const T* x, T* y, i64 n)
{
    AIM_GRID_STRIDE(i, n) store_c(y, i, unary_op(op, load_c(x, i)));
}

template <typename T>
__device__ __forceinline__ void unary_backward(int op, const T* x, const T* dy, T* dx, i64 n)
{
    AIM_GRID_STRIDE(i, n) store_c(dx, i, load_c(dy, i) * unary_derivative(op, load_c(x, i)));
}

// output = x * scale + shift; the product and sum are done in double like the reference, then rounded.
template <typename T>
__device__ __forceinline__ void affine(const T* x, double scale, double shift, T* y, i64 n)
{
    AIM_GRID_STRIDE(i, n) store_c(y, i, (float)((double)load_c(x, i) * scale + shift));
}

#define AIM_ELEMENTWISE(N, T) \
    extern "C" __global__ void binary_##N(int op, const T* a, Strided sa, const T* b, Strided sb, T* out, i64 n) \
    { AIM_PDL_PROLOGUE(); binary<T>(op, a, sa, b, sb, out, n); } \
    extern "C" __global__ void unary_forward_##N(int op, const T* x, T* y, i64 n) { AIM_PDL_PROLOGUE(); unary_forward<T>(op, x, y, n); } \
    extern "C" __global__ void unary_backward_##N(int op, const T* x, const T* dy, T* dx, i64 n) \
    { AIM_PDL_PROLOGUE(); unary_backward<T>(op, x, dy, dx, n); } \
    extern "C" __global__ void affine_##N(const T* x, double scale, double shift, T* y, i64 n) \
    { AIM_PDL_PROLOGUE(); affine<T>(x, scale, shift, y, n); }

AIM_ELEMENTWISE(f32, float)
AIM_ELEMENTWISE(bf16, bf16)
