// Runs norm.cu's gated RMSNorm forward and backward under the CPU emulation (cuda_emu.hpp) on cases built here (no
// emitted files), with exactly the launches of src/Aim.Engine.Cuda/Kernels/CudaKernels.Norm.cs: rms_norm_f32
// (LaunchRmsNorm), rms_norm_backward_f32 (LaunchRmsNormBackward) and the weight gradient's param_grad_partial_f32 +
// param_grad_finish_f32 (LaunchParamGrad: chunks of at least 64 rows, 32-column blocks of 256 threads). x and z are
// row views (IKernels.Norm.cs, NormChecks.RowStride) read at their row strides: contiguous, 16-byte aligned column
// blocks of wider rows, misaligned ones, and the AiM-B training layout (z = columns 0..1535 of in_proj's 3352-wide
// rows, x contiguous). D 1, 7, 31, 257 (one group), 62 in groups of 31, 1536; 3, 74 and 300 rows (one, two and
// five chunks of the weight gradient). Per case and layout it checks
//   forward:  out vs a float64 reference of ReferenceKernels.GatedRmsNorm (NMSE ≤ 1e-10);
//   backward: dx, dz, dweight vs a float64 reference of ReferenceKernels.GatedRmsNormBackward (NMSE ≤ 1e-10; groups of
//             one element 1e-5: there dg = rstd·(dy·w − ĝ·mean(dy·w·ĝ)) with ĝ² = g²/(g² + eps) ≈ 1 is a float32
//             cancellation leaving O(eps/g²) — on contiguous rows alike, 1.2e-6 on 3 rows);
//   strided:  every output of the strided launches bit-equal to the same launches on contiguous copies (the row
//             strides only move the reads).
// Outputs start as NaN so a value a kernel forgets to write shows up.
// Usage: gated_norm_check [case-name-substring]    exit 1 when any check fails.
#include "cuda_emu.hpp"
#include "emu_cases.hpp"
#include "norm.cu"

#include <cstdint>
#include <cstring>
#include <limits>

namespace
{
constexpr int RowBlocksPerMultiprocessor = 64, ParamCols = 32, ParamThreads = 256; // CudaKernels.Norm.cs
constexpr long long MaxParamChunks = 128, MinParamChunkRows = 64;
constexpr double Tol = 1e-10, GroupOfOneTol = 1e-5, Eps = 1e-5;

/// A deterministic generator (SplitMix64) for the inputs: uniform in [lo, hi).
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

/// Rows of `cols` floats inside rows of `width` floats starting at column `at`, the buffer's row 0 16-byte aligned.
struct Laid
{
    std::vector<float> buf;
    float* at;
    long long stride;
};

Laid lay_out(const std::vector<float>& src, long long rows, int cols, int width, int at)
{
    Laid l;
    l.buf.assign((size_t)(rows * width) + 8, std::numeric_limits<float>::quiet_NaN());
    uintptr_t p = reinterpret_cast<uintptr_t>(l.buf.data());
    float* base = l.buf.data() + ((16 - p % 16) % 16) / sizeof(float);
    for (long long r = 0; r < rows; r++)
        for (int k = 0; k < cols; k++) base[(size_t)(r * width + at + k)] = src[(size_t)(r * cols + k)];
    l.at = base + at;
    l.stride = width;
    return l;
}

struct Outputs
{
    std::vector<float> out, dx, dz, dw;
};

/// The C# launches of GatedRmsNorm and GatedRmsNormBackward on x and z as laid out.
Outputs run(const Laid& x, const Laid& z, const std::vector<float>& w, const std::vector<float>& dy, long long rows, int d, int group)
{
    Outputs o{nan_buffer((size_t)(rows * d)), nan_buffer((size_t)(rows * d)), nan_buffer((size_t)(rows * d)), nan_buffer((size_t)d)};
    long long segments = rows * (d / group);
    unsigned rowGrid = (unsigned)std::max(1LL, std::min(segments, (long long)H200Multiprocessors * RowBlocksPerMultiprocessor));
    emu::launch(dim3(rowGrid), dim3(row_threads(group)), 0, rms_norm_f32, (const float*)x.at, (i64)x.stride, (const float*)nullptr,
                (const float*)z.at, (i64)z.stride, w.data(), (float)Eps, group, d / group, (i64)segments, o.out.data(), (float*)nullptr);
    std::vector<float> stats = nan_buffer((size_t)segments);
    emu::launch(dim3(rowGrid), dim3(row_threads(group)), 0, rms_norm_backward_f32, (const float*)x.at, (i64)x.stride, (const float*)z.at,
                (i64)z.stride, w.data(), dy.data(), (const float*)nullptr, (float)Eps, group, d / group, (i64)segments, o.dx.data(), o.dz.data(),
                stats.data());
    long long rowsPerChunk = std::max(MinParamChunkRows, (rows + MaxParamChunks - 1) / MaxParamChunks);
    long long chunks = (rows + rowsPerChunk - 1) / rowsPerChunk;
    int colBlocks = (d + ParamCols - 1) / ParamCols;
    std::vector<float> partial = nan_buffer((size_t)(chunks * 2 * d));
    emu::launch(dim3((unsigned)(colBlocks * chunks)), dim3(ParamThreads), 0, param_grad_partial_f32, 0, (const float*)x.at, (i64)x.stride,
                (const float*)z.at, (i64)z.stride, dy.data(), (const float*)stats.data(), (i64)rows, d, group, d / group, (i64)rowsPerChunk,
                colBlocks, partial.data());
    launch_elementwise(d, param_grad_finish_f32, (const float*)partial.data(), (i64)chunks, d, o.dw.data(), (float*)nullptr);
    return o;
}

/// float64 references of ReferenceKernels.GatedRmsNorm / GatedRmsNormBackward on the contiguous values.
void reference(const std::vector<float>& x, const std::vector<float>& z, const std::vector<float>& w, const std::vector<float>& dy, long long rows,
               int d, int group, std::vector<double>& out, std::vector<double>& dx, std::vector<double>& dz, std::vector<double>& dw)
{
    out.assign((size_t)(rows * d), 0);
    dx.assign((size_t)(rows * d), 0);
    dz.assign((size_t)(rows * d), 0);
    dw.assign((size_t)d, 0);
    std::vector<double> g(d), dg(d);
    for (long long r = 0; r < rows; r++)
    {
        size_t at = (size_t)(r * d);
        for (int j = 0; j < d; j++)
        {
            double zv = z[at + j];
            g[j] = (double)x[at + j] * zv / (1 + std::exp(-zv));
        }
        for (int s = 0; s < d; s += group)
        {
            double ss = 0, dot = 0;
            for (int j = s; j < s + group; j++) ss += g[j] * g[j];
            double rstd = 1.0 / std::sqrt(ss / group + Eps);
            for (int j = s; j < s + group; j++) dot += (double)dy[at + j] * w[j] * g[j] * rstd;
            double mean = dot / group;
            for (int j = s; j < s + group; j++)
            {
                double xh = g[j] * rstd;
                out[at + j] = xh * w[j];
                dg[j] = rstd * ((double)dy[at + j] * w[j] - xh * mean);
                dw[j] += (double)dy[at + j] * xh;
            }
        }
        for (int j = 0; j < d; j++)
        {
            double zv = z[at + j], sg = 1 / (1 + std::exp(-zv));
            dx[at + j] = dg[j] * zv * sg;
            dz[at + j] = dg[j] * x[at + j] * sg * (1 + zv * (1 - sg));
        }
    }
}

size_t differing(const std::vector<float>& a, const std::vector<float>& b)
{
    size_t n = 0;
    for (size_t i = 0; i < a.size(); i++) n += std::memcmp(&a[i], &b[i], sizeof(float)) != 0;
    return n;
}

struct Case
{
    long long rows;
    int d, group;
};

} // namespace

int main(int argc, char** argv)
{
    std::string filter = argc > 1 ? argv[1] : "";
    std::vector<Case> cases;
    for (int d : {1, 7, 31, 257})
        for (long long rows : {3LL, 74LL}) cases.push_back({rows, d, d});
    cases.push_back({74, 62, 31});
    cases.push_back({300, 31, 31});
    cases.push_back({74, 1536, 1536});
    int pass = 0, fail = 0;
    double worst = 0;
    for (const Case& c : cases)
    {
        const size_t n = (size_t)(c.rows * c.d);
        Gen gen{(uint64_t)(c.rows * 1000003 + c.d * 31 + c.group)};
        std::vector<float> x(n), z(n), dy(n), w(c.d);
        for (auto& v : x) v = (float)gen.uniform(-2, 2);
        for (auto& v : z) v = (float)gen.uniform(-3, 3);
        for (auto& v : dy) v = (float)gen.uniform(-1, 1);
        for (auto& v : w) v = (float)gen.uniform(0.5, 1.5);
        std::vector<double> rOut, rDx, rDz, rDw;
        reference(x, z, w, dy, c.rows, c.d, c.group, rOut, rDx, rDz, rDw);
        Laid xc = lay_out(x, c.rows, c.d, c.d, 0), zc = lay_out(z, c.rows, c.d, c.d, 0);
        Outputs contiguous = run(xc, zc, w, dy, c.rows, c.d, c.group);
        // 0 contiguous; 1 aligned blocks (x at 4 of D+4, z at 0 of D+8); 2 misaligned (x at 1 of D+3, z at 1 of D+5);
        // 3 the AiM-B training layout when D = 1536: z = columns 0..1535 of 3352-wide rows, x contiguous.
        for (int layout = 0; layout < 4; layout++)
        {
            if (layout == 3 && c.d != 1536) continue;
            int d = c.d;
            int xw = layout == 1 ? d + 4 : layout == 2 ? d + 3 : d, xa = layout == 1 ? 4 : layout == 2 ? 1 : 0;
            int zw = layout == 1 ? d + 8 : layout == 2 ? d + 5 : layout == 3 ? 3352 : d, za = layout == 2 ? 1 : 0;
            char name[96];
            std::snprintf(name, sizeof name, "rows=%lld,D=%d,group=%d", c.rows, d, c.group);
            if (!filter.empty() && std::string(name).find(filter) == std::string::npos) continue;
            Laid xv = lay_out(x, c.rows, d, xw, xa), zv = lay_out(z, c.rows, d, zw, za);
            Outputs o = run(xv, zv, w, dy, c.rows, d, c.group);
            double eOut = error_of(o.out.data(), rOut).nmse, eDx = error_of(o.dx.data(), rDx).nmse;
            double eDz = error_of(o.dz.data(), rDz).nmse, eDw = error_of(o.dw.data(), rDw).nmse;
            double e = std::max({eOut, eDx, eDz, eDw});
            size_t differ = differing(o.out, contiguous.out) + differing(o.dx, contiguous.dx) + differing(o.dz, contiguous.dz)
                + differing(o.dw, contiguous.dw);
            bool ok = e <= (c.group == 1 ? GroupOfOneTol : Tol) && differ == 0;
            if (c.group > 1) worst = std::max(worst, e);
            static const char* names[] = {"contig", "aligned", "misalign", "aim-b"};
            std::printf("%-28s %-8s %s out %.1e dx %.1e dz %.1e dw %.1e, strided %s\n", name, names[layout], ok ? "pass" : "FAIL", eOut, eDx, eDz, eDw,
                        differ == 0 ? "bit-equal" : (std::to_string(differ) + " values differ (FAIL)").c_str());
            (ok ? pass : fail)++;
        }
    }
    std::printf("gated_norm_check: %d pass, %d fail, worst NMSE %.1e over groups of more than one (tolerance %.0e)\n", pass, fail, worst, Tol);
    return fail == 0 ? 0 : 1;
}
