// Runs norm.cu's RMSNorm family (gated RMSNorm forward and backward, AddRmsNorm forward and backward) under the CPU
// emulation (cuda_emu.hpp) on cases built here (no emitted files), with exactly the launches of
// src/Aim.Engine.Cuda/Kernels/CudaKernels.Norm.cs: rms_norm_f32 (LaunchRmsNorm) and both paths of LaunchRmsNormBackward:
// "fused", rms_norm_backward_wgrad_f32 (dx, dz and the weight gradient's per-chunk sums in one pass: chunks of at least
// 4 rows, at most 1024 chunks) + param_grad_finish_f32 (planes 1; 8-column blocks of 512 threads), which the host takes
// for d ≤ MaxFusedColumns; and "wide", rms_norm_backward_f32 + param_grad_partial_f32 (chunks of at least 64 rows,
// 32-column blocks of 256 threads) + param_grad_finish_f32 (planes 2), the host's path for wider rows, run here on every
// case. x and z are row views (IKernels.Norm.cs, NormChecks.RowStride) read at their row strides: contiguous, 16-byte
// aligned column blocks of wider rows, misaligned ones, and the AiM-B training layout (z = columns 0..1535 of
// in_proj's 3352-wide rows, x contiguous). D 1, 7, 31, 257 (one group), 62 in groups of 31, 1536, 4100 (longer than
// one register tile: the fused backward and the forward read again in their second pass); 3, 74, 300 and 5000 rows
// (1000 chunks of 5 rows: every lane of param_grad_finish). Per case, layout and path it checks
//   forward:  out vs a float64 reference of ReferenceKernels.GatedRmsNorm (NMSE ≤ 1e-10);
//   backward: dx, dz, dweight vs a float64 reference of ReferenceKernels.GatedRmsNormBackward (NMSE ≤ 1e-10; groups of
//             one element 1e-5: there dg = rstd·(dy·w − ĝ·mean(dy·w·ĝ)) with ĝ² = g²/(g² + eps) ≈ 1 is a float32
//             cancellation leaving O(eps/g²) — on contiguous rows alike, 1.2e-6 on 3 rows);
//   strided:  every output of the strided launches bit-equal to the same path's launches on contiguous copies (the
//             row strides only move the reads).
// AddRmsNorm (1, 7, 74, 300 rows × D 1, 7, 31, 257, 768): out and the residual sum of rms_norm_f32 with a residual, and
// the backward with and without the gradient of the sum (extra) on both paths vs float64 references, dx bit-equal
// across the paths.
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
constexpr long long MaxFusedChunks = 1024, MinFusedChunkRows = 4;
constexpr int FinishCols = 8, FinishThreads = 512;
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

/// Weight-gradient chunking of rms_norm_backward_wgrad (CudaKernels.Norm.cs: MaxFusedChunks, MinFusedChunkRows).
long long fused_rows_per_chunk(long long rows) { return std::max(MinFusedChunkRows, (rows + MaxFusedChunks - 1) / MaxFusedChunks); }

/// param_grad_finish_f32 as LaunchParamFinish launches it: one block of FinishThreads per FinishCols columns.
void finish(const std::vector<float>& partial, long long chunks, int planes, int d, float* out0)
{
    emu::launch(dim3((unsigned)((d + FinishCols - 1) / FinishCols)), dim3(FinishThreads), 0, param_grad_finish_f32, (const float*)partial.data(),
                (i64)chunks, planes, d, out0, (float*)nullptr);
}

/// The C# launches of RmsNormBackward / AddRmsNormBackward / GatedRmsNormBackward (LaunchRmsNormBackward): the fused
/// rms_norm_backward_wgrad + param_grad_finish when d ≤ MaxFusedColumns (legacy = false), or the path of wider rows
/// (rms_norm_backward, param_grad_partial, param_grad_finish), forced here on any d (legacy = true). z and dz may be null
/// (the plain RMSNorm: seg = d), extra may be null.
void backward(const float* x, long long sx, const float* z, long long sz, const std::vector<float>& w, const std::vector<float>& dy,
              const float* extra, long long rows, int d, int group, bool legacy, float* dx, float* dz, float* dw)
{
    long long segments = rows * (d / group);
    if (!legacy)
    {
        long long rowsPerChunk = fused_rows_per_chunk(rows), chunks = (rows + rowsPerChunk - 1) / rowsPerChunk;
        std::vector<float> partial = nan_buffer((size_t)(chunks * d));
        emu::launch(dim3((unsigned)chunks), dim3(row_threads(group)), (size_t)d * sizeof(float), rms_norm_backward_wgrad_f32, x, (i64)sx, z,
                    (i64)sz, w.data(), dy.data(), extra, (float)Eps, group, d / group, (i64)rows, (i64)rowsPerChunk, dx, dz, partial.data());
        finish(partial, chunks, 1, d, dw);
        return;
    }
    unsigned rowGrid = (unsigned)std::max(1LL, std::min(segments, (long long)H200Multiprocessors * RowBlocksPerMultiprocessor));
    std::vector<float> stats = nan_buffer((size_t)segments);
    emu::launch(dim3(rowGrid), dim3(row_threads(group)), 0, rms_norm_backward_f32, x, (i64)sx, z, (i64)sz, w.data(), dy.data(), extra, (float)Eps,
                group, d / group, (i64)segments, dx, dz, stats.data());
    long long rowsPerChunk = std::max(MinParamChunkRows, (rows + MaxParamChunks - 1) / MaxParamChunks);
    long long chunks = (rows + rowsPerChunk - 1) / rowsPerChunk;
    int colBlocks = (d + ParamCols - 1) / ParamCols;
    std::vector<float> partial = nan_buffer((size_t)(chunks * 2 * d));
    emu::launch(dim3((unsigned)(colBlocks * chunks)), dim3(ParamThreads), 0, param_grad_partial_f32, 0, x, (i64)sx, z, (i64)sz, dy.data(),
                (const float*)stats.data(), (i64)rows, d, group, d / group, (i64)rowsPerChunk, colBlocks, partial.data());
    finish(partial, chunks, 2, d, dw);
}

/// The C# launches of GatedRmsNorm and GatedRmsNormBackward on x and z as laid out.
Outputs run(const Laid& x, const Laid& z, const std::vector<float>& w, const std::vector<float>& dy, long long rows, int d, int group, bool legacy)
{
    Outputs o{nan_buffer((size_t)(rows * d)), nan_buffer((size_t)(rows * d)), nan_buffer((size_t)(rows * d)), nan_buffer((size_t)d)};
    long long segments = rows * (d / group);
    unsigned rowGrid = (unsigned)std::max(1LL, std::min(segments, (long long)H200Multiprocessors * RowBlocksPerMultiprocessor));
    emu::launch(dim3(rowGrid), dim3(row_threads(group)), 0, rms_norm_f32, (const float*)x.at, (i64)x.stride, (const float*)nullptr,
                (const float*)z.at, (i64)z.stride, w.data(), (float)Eps, group, d / group, (i64)segments, o.out.data(), (float*)nullptr);
    backward(x.at, x.stride, z.at, z.stride, w, dy, nullptr, rows, d, group, legacy, o.dx.data(), o.dz.data(), o.dw.data());
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

struct Case
{
    long long rows;
    int d, group;
};

size_t differing(const std::vector<float>& a, const std::vector<float>& b)
{
    size_t n = 0;
    for (size_t i = 0; i < a.size(); i++) n += std::memcmp(&a[i], &b[i], sizeof(float)) != 0;
    return n;
}

/// AddRmsNorm forward (rms_norm_f32 with a residual: out and residualOut) and AddRmsNormBackward / RmsNormBackward (seg = d,
/// no z, the gradient that reached the sum directly as extra, or none) with both backward paths, against float64 references
/// of ReferenceKernels.AddRmsNorm / AddRmsNormBackward, and dx bit-equal across the two paths. D = 1 without extra is the
/// cancellation described above at its worst (dx NMSE 4e-3 on one row, on both paths alike), so there dx is judged by the
/// bit-equality alone. Returns the worst NMSE over D > 1; counts into pass / fail.
double add_norm_check(long long rows, int d, const std::string& filter, int& pass, int& fail)
{
    char name[96];
    std::snprintf(name, sizeof name, "add rows=%lld,D=%d", rows, d);
    if (!filter.empty() && std::string(name).find(filter) == std::string::npos) return 0;
    const size_t n = (size_t)(rows * d);
    Gen gen{(uint64_t)(rows * 7919 + d)};
    std::vector<float> h(n), res(n), dy(n), extra(n), w(d);
    for (auto& v : h) v = (float)gen.uniform(-2, 2);
    for (auto& v : res) v = (float)gen.uniform(-2, 2);
    for (auto& v : dy) v = (float)gen.uniform(-1, 1);
    for (auto& v : extra) v = (float)gen.uniform(-1, 1);
    for (auto& v : w) v = (float)gen.uniform(0.5, 1.5);
    std::vector<float> out = nan_buffer(n), sum = nan_buffer(n);
    unsigned rowGrid = (unsigned)std::max(1LL, std::min(rows, (long long)H200Multiprocessors * RowBlocksPerMultiprocessor));
    emu::launch(dim3(rowGrid), dim3(row_threads(d)), 0, rms_norm_f32, (const float*)h.data(), (i64)d, (const float*)res.data(), (const float*)nullptr,
                (i64)d, w.data(), (float)Eps, d, 1, (i64)rows, out.data(), sum.data());
    std::vector<double> rOut(n), rSum(n), rDx(n), rDxNo(n), rDw(d, 0.0);
    for (long long r = 0; r < rows; r++)
    {
        size_t at = (size_t)(r * d);
        double ss = 0, dot = 0;
        for (int j = 0; j < d; j++)
        {
            rSum[at + j] = (double)(h[at + j] + res[at + j]); // the float32 sum the kernel stores, as a separate Add would
            ss += rSum[at + j] * rSum[at + j];
        }
        double rstd = 1.0 / std::sqrt(ss / d + Eps);
        for (int j = 0; j < d; j++) dot += (double)dy[at + j] * w[j] * rSum[at + j] * rstd;
        double mean = dot / d;
        for (int j = 0; j < d; j++)
        {
            double xh = rSum[at + j] * rstd;
            rOut[at + j] = xh * w[j];
            rDxNo[at + j] = rstd * ((double)dy[at + j] * w[j] - xh * mean);
            rDx[at + j] = rDxNo[at + j] + extra[at + j];
            rDw[j] += (double)dy[at + j] * xh;
        }
    }
    double worst = std::max(error_of(out.data(), rOut).nmse, error_of(sum.data(), rSum).nmse);
    bool fwdOk = worst <= Tol;
    for (int v = 0; v < 2; v++)
    {
        bool withExtra = v == 0;
        std::vector<float> dx[2], dw[2];
        double eDx[2], eDw[2];
        for (int path = 0; path < 2; path++)
        {
            dx[path] = nan_buffer(n);
            dw[path] = nan_buffer((size_t)d);
            backward(sum.data(), d, nullptr, d, w, dy, withExtra ? extra.data() : nullptr, rows, d, d, path == 1, dx[path].data(), nullptr,
                     dw[path].data());
            eDx[path] = error_of(dx[path].data(), withExtra ? rDx : rDxNo).nmse;
            eDw[path] = error_of(dw[path].data(), rDw).nmse;
        }
        // dx: the same per-element arithmetic on both paths, so the same bits (D = 1 is judged by that alone).
        bool same = differing(dx[0], dx[1]) == 0;
        for (int path = 0; path < 2; path++)
        {
            bool ok = fwdOk && same && eDw[path] <= Tol && (d == 1 || eDx[path] <= Tol);
            if (d > 1) worst = std::max({worst, eDx[path], eDw[path]});
            std::printf("%-28s %-6s %-8s %s out/sum %s dx %.1e dw %.1e, dx %s\n", name, path == 1 ? "wide" : "fused", withExtra ? "+extra" : "",
                        ok ? "pass" : "FAIL", fwdOk ? "ok" : "FAIL", eDx[path], eDw[path], same ? "bit-equal across paths" : "differs across paths (FAIL)");
            (ok ? pass : fail)++;
        }
    }
    return worst;
}

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
    cases.push_back({3, 4100, 4100});  // longer than one register tile (RMS_TILE x 512): the second pass reads again
    cases.push_back({5000, 31, 31});   // 1000 weight-gradient chunks of 5 rows: every lane of param_grad_finish
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
        Outputs contiguous[2] = {run(xc, zc, w, dy, c.rows, c.d, c.group, false),
                                 c.rows * c.d > 200000 ? Outputs{} : run(xc, zc, w, dy, c.rows, c.d, c.group, true)};
        // 0 contiguous; 1 aligned blocks (x at 4 of D+4, z at 0 of D+8); 2 misaligned (x at 1 of D+3, z at 1 of D+5);
        // 3 the AiM-B training layout when D = 1536: z = columns 0..1535 of 3352-wide rows, x contiguous.
        for (int run_ = 0; run_ < 8; run_++)
        {
            int layout = run_ % 4;
            bool legacy = run_ >= 4;
            if (layout == 3 && c.d != 1536) continue;
            if (legacy && c.rows * c.d > 200000) continue;
            int d = c.d;
            int xw = layout == 1 ? d + 4 : layout == 2 ? d + 3 : d, xa = layout == 1 ? 4 : layout == 2 ? 1 : 0;
            int zw = layout == 1 ? d + 8 : layout == 2 ? d + 5 : layout == 3 ? 3352 : d, za = layout == 2 ? 1 : 0;
            char name[96];
            std::snprintf(name, sizeof name, "rows=%lld,D=%d,group=%d", c.rows, d, c.group);
            if (!filter.empty() && std::string(name).find(filter) == std::string::npos) continue;
            Laid xv = lay_out(x, c.rows, d, xw, xa), zv = lay_out(z, c.rows, d, zw, za);
            Outputs o = run(xv, zv, w, dy, c.rows, d, c.group, legacy);
            double eOut = error_of(o.out.data(), rOut).nmse, eDx = error_of(o.dx.data(), rDx).nmse;
            double eDz = error_of(o.dz.data(), rDz).nmse, eDw = error_of(o.dw.data(), rDw).nmse;
            double e = std::max({eOut, eDx, eDz, eDw});
            const Outputs& same = contiguous[legacy ? 1 : 0];
            size_t differ = differing(o.out, same.out) + differing(o.dx, same.dx) + differing(o.dz, same.dz) + differing(o.dw, same.dw);
            bool ok = e <= (c.group == 1 ? GroupOfOneTol : Tol) && differ == 0;
            if (c.group > 1) worst = std::max(worst, e);
            static const char* names[] = {"contig", "aligned", "misalign", "aim-b"};
            std::printf("%-28s %-8s %-6s %s out %.1e dx %.1e dz %.1e dw %.1e, strided %s\n", name, names[layout], legacy ? "wide" : "fused", ok ? "pass" : "FAIL", eOut, eDx, eDz, eDw,
                        differ == 0 ? "bit-equal" : (std::to_string(differ) + " values differ (FAIL)").c_str());
            (ok ? pass : fail)++;
        }
    }
    for (long long rows : {1LL, 7LL, 74LL, 300LL})
        for (int d : {1, 7, 31, 257, 768}) worst = std::max(worst, add_norm_check(rows, d, filter, pass, fail));
    std::printf("gated_norm_check: %d pass, %d fail, worst NMSE %.1e over groups of more than one (tolerance %.0e)\n", pass, fail, worst, Tol);
    return fail == 0 ? 0 : 1;
}
