// Copy: strided gather from one view into another (each with its own collapsed shape, same element count),
// converting dtype on the way. One kernel per (source, destination) dtype pair: copy_<src>_<dst>.
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
