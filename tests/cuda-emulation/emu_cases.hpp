// Shared by the *_check.cpp runners: reading the case files that `Aim.Cuda.Check --emit-*` writes (raw little-endian
// arrays, one per tensor), the error measure, NaN-filled outputs, an input generator, and the C# launch geometry they
// mirror.
// Include after cuda_emu.hpp.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

/// The `count` values of type T in `path`; exits with status 2 when the file is missing or its size differs.
template <typename T> std::vector<T> read_file(const std::string& path, size_t count)
{
    std::ifstream f(path, std::ios::binary);
    if (!f) { std::fprintf(stderr, "missing %s\n", path.c_str()); std::exit(2); }
    std::vector<T> v(count);
    f.read(reinterpret_cast<char*>(v.data()), (std::streamsize)(count * sizeof(T)));
    if ((size_t)f.gcount() != count * sizeof(T) || f.peek() != EOF)
    {
        std::fprintf(stderr, "%s: expected %zu values of %zu bytes\n", path.c_str(), count, sizeof(T));
        std::exit(2);
    }
    return v;
}

/// NMSE = Σ(got - want)² / Σ want² (the plain sum when want is all zero) and the largest |got - want|; both are
/// infinite when got holds a value that is not finite (a kernel that forgot to write a NaN-filled output).
struct Error
{
    double nmse, maxAbs;
};

inline Error error_of(const float* got, const std::vector<double>& want)
{
    double num = 0, den = 0, maxAbs = 0;
    for (size_t i = 0; i < want.size(); i++)
    {
        double g = got[i], e = g - want[i];
        if (!std::isfinite(g)) return {std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity()};
        num += e * e;
        den += want[i] * want[i];
        maxAbs = std::max(maxAbs, std::fabs(e));
    }
    return {den > 0 ? num / den : num, maxAbs};
}

/// n values (at least 1) set to NaN, so that an output a kernel forgets to write shows up.
inline std::vector<float> nan_buffer(size_t n) { return std::vector<float>(std::max<size_t>(n, 1), std::numeric_limits<float>::quiet_NaN()); }

// The launch geometry of the C# side on the H200 the kernels are tuned for.
constexpr int H200Multiprocessors = 132;
constexpr int ElementwiseThreads = 256;                                   // CudaKernels.cs LaunchElementwise
constexpr int ElementwiseBlockCap = H200Multiprocessors * 32;

/// CudaKernels.LaunchElementwise: a grid-stride kernel over n elements, at most 32 blocks per multiprocessor.
template <typename Kernel, typename... Args> void launch_elementwise(long long n, Kernel kernel, Args... args)
{
    if (n == 0) return;
    long long blocks = std::min<long long>((n + ElementwiseThreads - 1) / ElementwiseThreads, ElementwiseBlockCap);
    emu::launch(dim3((unsigned)std::max(blocks, 1LL)), dim3(ElementwiseThreads), 0, kernel, args...);
}

/// CudaKernels.Norm.cs RowThreads: threads per row of a norm kernel (its reduction order).
inline int row_threads(long long n)
{
    long long t = 32;
    while (t < 512 && t * 4 < n) t *= 2;
    return (int)t;
}

/// Gemm.cs SkinnySplit: warps per output column of the skinny bf16 GEMV (warps per block: SKINNY_WARPS).
inline int skinny_split(int n, int k, int warps)
{
    int split = 1, target = 32 * H200Multiprocessors;
    while (split < warps && (long long)n * split * 2 <= target && k / (8 * 32 * split * 2) >= 1) split *= 2;
    return split;
}

/// A deterministic generator (SplitMix64) for inputs: uniform in [lo, hi).
struct Gen
{
    uint64_t s;
    double uniform(double lo, double hi)
    {
        uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        return lo + (hi - lo) * (double)(z >> 11) / 9007199254740992.0;
    }
};
