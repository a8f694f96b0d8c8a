// The host's stride descriptors for the runners that launch strided kernels (copy_check, sum_to_check): element
// counts and StridedDesc.Collapse (CudaKernels.cs) as the host builds the kernels' Strided arguments. Include after a
// kernel file (common.cuh defines Strided and AIM_MAX_DIMS).
#pragma once
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

inline long long count(const std::vector<int>& shape)
{
    long long n = 1;
    for (int s : shape) n *= s;
    return n;
}

/// StridedDesc.Collapse (CudaKernels.cs): drop size-1 dims, merge dims contiguous with each other.
inline Strided collapse(const std::vector<int>& shape, const std::vector<long long>& strides)
{
    Strided d{};
    int r = 0;
    for (size_t i = 0; i < shape.size(); i++)
    {
        if (shape[i] == 1) continue;
        if (r > 0 && d.stride[r - 1] == strides[i] * shape[i])
        {
            d.shape[r - 1] *= shape[i];
            d.stride[r - 1] = strides[i];
            continue;
        }
        d.shape[r] = shape[i];
        d.stride[r] = strides[i];
        r++;
    }
    if (r > AIM_MAX_DIMS) { std::fprintf(stderr, "too many dims\n"); std::exit(2); }
    d.rank = std::max(r, 1);
    if (r == 0)
    {
        d.shape[0] = 1;
        d.stride[0] = 1;
    }
    return d;
}
