// Runs sum_to.cu's SumTo kernels under the CPU emulation (cuda_emu.hpp) on cases built here (no emitted files):
// x of shapes [a, 9, d] for a, d in {1, 7, 31, 257} (not both 257) summed to [1, 1, d], [a, 1, d], [a, 9, 1] and [1, 9, 1], as
// contiguous tensors, transposed views ([d, 9, a] storage) and column slices (rows of d + 5 at column 2); the
// AiM-sized [2, 2048, 768] -> [1, 1, 768]; an empty reduction ([5, 1, 33] -> itself) and an empty x ([0, 5] -> [1, 5]);
// float32 and bf16. Each case runs
//   * the dispatch of src/Aim.Engine.Cuda/Kernels/CudaKernels.Core.cs SumTo for the H200's 132 multiprocessors
//     (mirrored below: dimension split, StridedDesc.Collapse, the row / column choice and SumToColumnPlan),
//   * sum_to_cols with forced split counts 1, 2, 3, 7 (and the plan's; bf16: 2 only), with the planned tile width and 1,
//   * sum_to_rows (the row kernel is correct for any strides; skipped above 4096 outputs to keep the run short),
// each against a float64 sum of the same inputs. Outputs and the partials workspace start as NaN, so a value a
// kernel forgets to write shows up. float32 tolerance: NMSE 1e-10; bf16 output (rounded once from the float32
// sum): NMSE 2e-5 (one value rounded by half an ulp at the bottom of its binade is 1.5e-5) and every value within 2^-8 relative of the float64 sum (plus 1e-6 absolute).
// Usage: sum_to_check [case-name-substring]    exit 1 when any run exceeds its tolerance.
#include "cuda_emu.hpp"
#include "emu_cases.hpp"
#include "sum_to.cu"
#include "emu_strided.hpp"

#include <cstdint>
#include <cstring>
#include <functional>

namespace
{
constexpr int SumToThreads = 256;                       // SUM_TO_THREADS
constexpr int SumToBlocksPerMultiprocessor = 16;        // CudaKernels.Core.cs constants
constexpr int SumToRowMinBlocksPerMultiprocessor = 2;
constexpr int SumToMaxCols = 32;
constexpr int SumToColumnBlocksPerMultiprocessor = 8;
constexpr int SumToMinLoadsPerThread = 8;
constexpr long long SumToMaxSplits = 1LL << 16;
constexpr long long RowKernelMaxOutputs = 4096;

/// A view of x: shape and element strides over a storage buffer, starting at `offset`.
struct View
{
    std::vector<int> shape;
    std::vector<long long> strides;
    long long offset = 0;
    size_t storage = 0;
};

View contiguous(std::vector<int> shape)
{
    View v{shape, std::vector<long long>(shape.size()), 0, 1};
    long long s = 1;
    for (int d = (int)shape.size() - 1; d >= 0; d--)
    {
        v.strides[d] = s;
        s *= shape[d];
    }
    v.storage = (size_t)std::max(s, 1LL);
    return v;
}

/// [a, m, d] as the transpose (dims 0, 2) of a contiguous [d, m, a].
View transposed(int a, int m, int d)
{
    View v = contiguous({d, m, a});
    std::swap(v.shape[0], v.shape[2]);
    std::swap(v.strides[0], v.strides[2]);
    return v;
}

/// [a, m, d] as columns 2 .. d + 1 of a contiguous [a, m, d + 5].
View column_slice(int a, int m, int d)
{
    View v = contiguous({a, m, d + 5});
    v.shape[2] = d;
    v.offset = 2;
    return v;
}

long long next_pow2(long long n)
{
    long long p = 1;
    while (p < n) p *= 2;
    return p;
}

struct Plan
{
    int rows;
    long long colBlocks, splits, rowsPerSplit;
};

/// CudaKernels.Core.cs SumToColumnPlan; forcedSplits > 0 replaces the split count it would choose.
Plan column_plan(long long outputs, long long perOutput, int cols, int multiprocessors, long long forcedSplits = 0)
{
    int rows = (int)std::min<long long>(SumToThreads / cols, next_pow2(perOutput));
    long long colBlocks = (outputs + cols - 1) / cols;
    long long target = (long long)multiprocessors * SumToColumnBlocksPerMultiprocessor;
    long long splits = std::min((target + colBlocks - 1) / colBlocks, perOutput / ((long long)rows * SumToMinLoadsPerThread));
    if (forcedSplits > 0) splits = forcedSplits;
    splits = std::clamp(splits, 1LL, SumToMaxSplits);
    long long rowsPerSplit = std::max((perOutput + splits - 1) / splits, 1LL);
    splits = std::max((perOutput + rowsPerSplit - 1) / rowsPerSplit, 1LL);
    return {rows, colBlocks, splits, rowsPerSplit};
}

template <typename T> struct Kernels;
template <> struct Kernels<float>
{
    static constexpr auto rows = sum_to_f32;
    static constexpr auto cols = sum_to_cols_f32;
    static constexpr auto finish = sum_to_finish_f32;
    static constexpr const char* name = "f32";
};
template <> struct Kernels<bf16>
{
    static constexpr auto rows = sum_to_bf16;
    static constexpr auto cols = sum_to_cols_bf16;
    static constexpr auto finish = sum_to_finish_bf16;
    static constexpr const char* name = "bf16";
};

float to_float(float v) { return v; }
float to_float(bf16 v)
{
    uint32_t u = (uint32_t)v.bits << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
template <typename T> T from_float(float f);
template <> float from_float<float>(float f) { return f; }
template <> bf16 from_float<bf16>(float f) { return f32_to_bf16(f); }
template <typename T> T nan_value() { return from_float<T>(std::numeric_limits<float>::quiet_NaN()); }

/// The column launch (sum_to_cols, then sum_to_finish when split), as CudaKernels.Core.cs issues it.
template <typename T>
void launch_cols(const T* x, const Strided& kept, const Strided& reduced, long long outputs, long long perOutput, int cols,
    const Plan& p, T* out)
{
    std::vector<float> partial = p.splits > 1 ? nan_buffer((size_t)(p.splits * outputs)) : std::vector<float>();
    float* pp = p.splits > 1 ? partial.data() : nullptr;
    emu::launch(dim3((unsigned)(p.colBlocks * p.splits)), dim3((unsigned)(cols * p.rows)), 0, Kernels<T>::cols, x, kept, reduced,
        outputs, perOutput, cols, p.colBlocks, p.rowsPerSplit, out, pp);
    if (pp) launch_elementwise(outputs, Kernels<T>::finish, (const float*)pp, p.splits, outputs, out);
}

void launch_rows_kernel(const float* x, const Strided& kept, const Strided& reduced, long long outputs, long long perOutput, float* out)
{
    long long blocks = std::min<long long>(outputs, (long long)H200Multiprocessors * SumToBlocksPerMultiprocessor);
    emu::launch(dim3((unsigned)blocks), dim3(SumToThreads), 0, Kernels<float>::rows, x, kept, reduced, out, outputs, perOutput);
}
void launch_rows_kernel(const bf16* x, const Strided& kept, const Strided& reduced, long long outputs, long long perOutput, bf16* out)
{
    long long blocks = std::min<long long>(outputs, (long long)H200Multiprocessors * SumToBlocksPerMultiprocessor);
    emu::launch(dim3((unsigned)blocks), dim3(SumToThreads), 0, Kernels<bf16>::rows, x, kept, reduced, out, outputs, perOutput);
}

int failures = 0, runs = 0;
double worstF32 = 0, worstBf16 = 0; // largest NMSE seen per dtype

template <typename T>
void check(const std::string& what, const std::vector<T>& got, const std::vector<double>& want)
{
    runs++;
    std::vector<float> g(want.size());
    for (size_t i = 0; i < want.size(); i++) g[i] = to_float(got[i]);
    Error e = error_of(g.data(), want);
    bool ok;
    double& worst = std::is_same_v<T, float> ? worstF32 : worstBf16;
    worst = std::max(worst, e.nmse);
    if constexpr (std::is_same_v<T, float>) ok = e.nmse <= 1e-10;
    else
    {
        ok = e.nmse <= 2e-5;
        for (size_t i = 0; ok && i < want.size(); i++) ok = std::fabs(g[i] - want[i]) <= std::fabs(want[i]) / 256 + 1e-6;
    }
    if (!ok)
    {
        failures++;
        std::printf("FAIL %s: nmse %.3g max|err| %.3g\n", what.c_str(), e.nmse, e.maxAbs);
    }
}

template <typename T>
void run_case(const std::string& name, const View& v, const std::vector<int>& outShape, uint64_t seed)
{
    const int rank = (int)v.shape.size();
    const long long outputs = count(outShape), n = count(v.shape);
    // Inputs: uniform in [-1, 1) from a 64-bit LCG, stored as T (bf16 rounds); the reference sums the stored values.
    std::vector<T> storage(v.storage + v.offset);
    uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    for (auto& e : storage)
    {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        e = from_float<T>((float)((double)(s >> 11) / 9007199254740992.0 * 2 - 1));
    }
    const T* x = storage.data() + v.offset;
    std::vector<double> want((size_t)outputs, 0.0);
    std::vector<long long> outStrides(rank);
    {
        long long st = 1;
        for (int d = rank - 1; d >= 0; d--)
        {
            outStrides[d] = outShape[d] == 1 && v.shape[d] != 1 ? 0 : st;
            st *= outShape[d];
        }
    }
    for (long long i = 0; i < n; i++)
    {
        long long rem = i, at = 0, o = 0;
        for (int d = rank - 1; d >= 0; d--)
        {
            long long k = rem % v.shape[d];
            rem /= v.shape[d];
            at += k * v.strides[d];
            o += k * outStrides[d];
        }
        want[(size_t)o] += (double)to_float(x[at]);
    }

    // CudaKernels.Core.cs SumTo: split dims, collapse, choose.
    std::vector<int> ks, rs;
    std::vector<long long> kst, rst;
    for (int d = 0; d < rank; d++)
    {
        if (outShape[d] == v.shape[d]) { ks.push_back(v.shape[d]); kst.push_back(v.strides[d]); }
        else { rs.push_back(v.shape[d]); rst.push_back(v.strides[d]); }
    }
    const long long perOutput = count(rs);
    if (outputs == 0) return;
    Strided kept = collapse(ks, kst), reduced = collapse(rs, rst);
    long long keptInnerStride = kept.stride[kept.rank - 1], keptInner = kept.shape[kept.rank - 1];
    bool reducedContiguous = perOutput > 1 && reduced.stride[reduced.rank - 1] == 1;
    const std::string tag = name + " " + Kernels<T>::name;
    bool rowPath = reducedContiguous && outputs >= (long long)H200Multiprocessors * SumToRowMinBlocksPerMultiprocessor;
    int cols = !reducedContiguous && keptInnerStride == 1 ? (int)std::min<long long>(SumToMaxCols, next_pow2(keptInner)) : 1;
    Plan plan = column_plan(outputs, perOutput, cols, H200Multiprocessors);
    {
        std::vector<T> out((size_t)outputs, nan_value<T>());
        if (rowPath) launch_rows_kernel(x, kept, reduced, outputs, perOutput, out.data());
        else launch_cols(x, kept, reduced, outputs, perOutput, cols, plan, out.data());
        char buf[160];
        if (rowPath) std::snprintf(buf, sizeof buf, " [dispatch: rows]");
        else std::snprintf(buf, sizeof buf, " [dispatch: cols=%d rows=%d splits=%lld]", cols, plan.rows, plan.splits);
        check(tag + buf, out, want);
        std::printf("%-44s %s\n", tag.c_str(), buf + 1);
    }
    // Forced split counts and tile widths of the column kernel.
    std::vector<int> widths = {cols};
    if (cols != 1) widths.push_back(1);
    const bool f32 = std::is_same_v<T, float>;
    for (int c : widths)
        for (long long forced : {0LL, 1LL, 2LL, 3LL, 7LL})
        {
            if (forced > std::max(perOutput, 1LL) || (!f32 && forced != 2)) continue;
            Plan p = column_plan(outputs, perOutput, c, H200Multiprocessors, forced);
            std::vector<T> out((size_t)outputs, nan_value<T>());
            launch_cols(x, kept, reduced, outputs, perOutput, c, p, out.data());
            check(tag + " cols=" + std::to_string(c) + " splits=" + std::to_string(p.splits), out, want);
        }
    if (!rowPath && outputs <= RowKernelMaxOutputs)
    {
        std::vector<T> out((size_t)outputs, nan_value<T>());
        launch_rows_kernel(x, kept, reduced, outputs, perOutput, out.data());
        check(tag + " rows", out, want);
    }
}

template <typename T> void run_all(const std::string& filter)
{
    auto want_case = [&](const std::string& n) { return filter.empty() || n.find(filter) != std::string::npos; };
    uint64_t seed = 1;
    const int sizes[] = {1, 7, 31, 257};
    for (int a : sizes)
        for (int d : sizes)
        {
            if (a == 257 && d == 257) continue; // 3 minutes of emulation; 257 meets 1, 7 and 31 on either side
            std::string base = "[" + std::to_string(a) + ",9," + std::to_string(d) + "]";
            std::vector<std::pair<std::string, View>> views = {
                {"", contiguous({a, 9, d})}, {" transposed", transposed(a, 9, d)}, {" column-slice", column_slice(a, 9, d)}};
            std::vector<std::pair<std::string, std::vector<int>>> outs = {
                {"[1,1," + std::to_string(d) + "]", {1, 1, d}}, {"[" + std::to_string(a) + ",1," + std::to_string(d) + "]", {a, 1, d}},
                {"[" + std::to_string(a) + ",9,1]", {a, 9, 1}}, {"[1,9,1]", {1, 9, 1}}};
            for (auto& [vn, v] : views)
                for (auto& [on, os] : outs)
                {
                    std::string name = base + vn + "->" + on;
                    seed++;
                    if (want_case(name)) run_case<T>(name, v, os, seed);
                }
        }
    if (want_case("[2,2048,768]->[1,1,768]")) run_case<T>("[2,2048,768]->[1,1,768]", contiguous({2, 2048, 768}), {1, 1, 768}, ++seed);
    if (want_case("[5,1,33]->[5,1,33]")) run_case<T>("[5,1,33]->[5,1,33]", contiguous({5, 1, 33}), {5, 1, 33}, ++seed);
    if (want_case("[0,5]->[1,5]")) run_case<T>("[0,5]->[1,5]", contiguous({0, 5}), {1, 5}, ++seed);
}
} // namespace

int main(int argc, char** argv)
{
    std::string filter = argc > 1 ? argv[1] : "";
    run_all<float>(filter);
    run_all<bf16>(filter);
    std::printf("sum_to_check: %d of %d runs failed; worst NMSE f32 %.2g, bf16 %.2g\n", failures, runs, worstF32, worstBf16);
    return failures == 0 ? 0 : 1;
}
