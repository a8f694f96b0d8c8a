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
// The forward's two kernels (session 6): rms_norm_f32 (a block a segment) and rms_norm_warp{K}[_vec]_f32 (a warp a segment;
// the host's choice for float32 segments ≤ 2048 from 1024 segments on) both run on every forward (forward_paths): each vs
// float64, warp vs block within WarpVsBlockRel (only rstd's sum order differs), the scalar warp form bit-equal to the
// 16-byte one, strided bit-equal to contiguous; forward_case adds AiM-B's shapes (8192 × 1536 gated with z in 3352-wide
// rows, 8192 × 768 AddRmsNorm) and edges (groups, K = 16, seg % 4 != 0, misaligned views).
// The backward's team kernel (session 7): rms_norm_backward_rows{K}[_vec]_f32 (a team of warps a row, the host's choice for
// float32 rows of one segment ≤ 1536 from 1024 rows on; BackwardRowsPath / BackwardRowsPlanFor mirrored) in warp_backward_case:
// AiM-B's shapes on 512 rows (1536 gated with z in 3352-wide rows, 768 AddRmsNorm with extra, RMSNorm without), D 1/7/31/257
// (seg % 4 != 0: the scalar form), 384/1000/1280 (masked chunks, a 5-warp team), aligned and misaligned views, the host's
// choice at 1030-1100 rows (groups: the old kernel) and 1037 × 130 (idle teams in a short last chunk), each also on a team
// of one warp more. Each run vs float64, vs rms_norm_backward_wgrad within DgVsFusedRel / DwVsFusedRel (their comment
// derives them), the scalar form bit-equal to the 16-byte one, dx / dz independent of the chunking, strided bit-equal to
// contiguous. The "fused" lines above force rms_norm_backward_wgrad (the host's choice on fewer rows and for groups).
// ModulatedAddRmsNorm (mod_norm_check, session 10): the f32 kernel and its bf16-output form on 1, 3, 7, 74 rows × D 1, 7,
// 31, 257, 768, 1536, with gate and residual, residual only, and as a plain RMSNorm with no modulation and no resOut.
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
constexpr long long AimRows = 8192; // AiM-B's training step: 32 images x 256 tokens

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

size_t differing(const std::vector<float>& a, const std::vector<float>& b)
{
    size_t n = 0;
    for (size_t i = 0; i < a.size(); i++) n += std::memcmp(&a[i], &b[i], sizeof(float)) != 0;
    return n;
}

// The forward's paths (CudaKernels.Norm.cs LaunchRmsNorm): rms_norm_f32 (one block of RowThreads per segment, "block"), or
// rms_norm_warp{K}[_vec]_f32 (one warp per segment, blocks of WarpRowThreads) for float32 segments of at most MaxWarpSegment
// elements when there are at least MinWarpSegments of them and not both a residual and a gate; the 16-byte form when
// seg % 4 == 0 and every pointer and row stride is 16-byte aligned (WarpVectorised).
constexpr int WarpRowThreads = 128, MaxWarpSegment = 2048;
constexpr long long MinWarpSegments = 1024;
using RmsKernel = void (*)(const float*, i64, const float*, const float*, i64, const float*, float, int, int, i64, float*, float*);

/// Which forward kernel runs: as the host chooses, the block kernel, the warp kernel with the host's 16-byte rule at any
/// segment count, or the warp kernel's scalar form.
enum class Fwd { Host, Block, Warp, WarpScalar };

/// CudaKernels.Norm.cs WarpChunks: float4 chunks a lane.
int warp_chunks(int seg)
{
    int k = (seg + 127) / 128;
    return k <= 2 ? 2 : k <= 4 ? 4 : k <= 6 ? 6 : k <= 8 ? 8 : k <= 12 ? 12 : 16;
}

RmsKernel warp_kernel(int k, bool vec)
{
    switch (k)
    {
    case 2: return vec ? rms_norm_warp2_vec_f32 : rms_norm_warp2_f32;
    case 4: return vec ? rms_norm_warp4_vec_f32 : rms_norm_warp4_f32;
    case 6: return vec ? rms_norm_warp6_vec_f32 : rms_norm_warp6_f32;
    case 8: return vec ? rms_norm_warp8_vec_f32 : rms_norm_warp8_f32;
    case 12: return vec ? rms_norm_warp12_vec_f32 : rms_norm_warp12_f32;
    default: return vec ? rms_norm_warp16_vec_f32 : rms_norm_warp16_f32;
    }
}

bool aligned16(const void* p) { return p == nullptr || reinterpret_cast<uintptr_t>(p) % 16 == 0; }

/// LaunchRmsNorm (RmsNorm: res = z = null; AddRmsNorm: res, resOut; GatedRmsNorm: z, groups of seg) on the given path;
/// returns the kernel's name.
std::string forward(Fwd path, const float* x, long long sx, const float* res, const float* z, long long sz, const std::vector<float>& w,
                    long long rows, int d, int seg, float* out, float* resOut)
{
    long long segments = rows * (d / seg);
    bool warpOk = seg <= MaxWarpSegment && !(res && z);
    bool warp = path == Fwd::Warp || path == Fwd::WarpScalar || (path == Fwd::Host && warpOk && segments >= MinWarpSegments);
    if (!warp || !warpOk)
    {
        unsigned rowGrid = (unsigned)std::max(1LL, std::min(segments, (long long)H200Multiprocessors * RowBlocksPerMultiprocessor));
        emu::launch(dim3(rowGrid), dim3(row_threads(seg)), 0, rms_norm_f32, x, (i64)sx, res, z, (i64)sz, w.data(), (float)Eps, seg, d / seg,
                    (i64)segments, out, resOut);
        return "rms_norm_f32";
    }
    bool vec = path != Fwd::WarpScalar && seg % 4 == 0 && sx % 4 == 0 && sz % 4 == 0 && aligned16(x) && aligned16(res) && aligned16(z) &&
               aligned16(w.data()) && aligned16(out) && aligned16(resOut);
    int k = warp_chunks(seg), warps = WarpRowThreads / 32;
    long long blocks = std::min((segments + warps - 1) / warps, (long long)H200Multiprocessors * RowBlocksPerMultiprocessor);
    emu::launch(dim3((unsigned)blocks), dim3(WarpRowThreads), 0, warp_kernel(k, vec), x, (i64)sx, res, z, (i64)sz, w.data(), (float)Eps, seg,
                d / seg, (i64)segments, out, resOut);
    return "rms_norm_warp" + std::to_string(k) + (vec ? "_vec" : "") + "_f32";
}

/// Largest |a - b| / |b| (0 where both are 0; infinite where one is not finite).
double max_rel(const std::vector<float>& a, const std::vector<float>& b)
{
    double m = 0;
    for (size_t i = 0; i < b.size(); i++)
    {
        if (!std::isfinite(a[i]) || !std::isfinite(b[i])) return std::numeric_limits<double>::infinity();
        if (a[i] == b[i]) continue;
        m = std::max(m, std::fabs((double)a[i] - b[i]) / std::fabs((double)b[i]));
    }
    return m;
}

// The warp kernel against the block kernel: the same per-element arithmetic, only rstd's sum runs in another order. Both
// sums of positive terms carry a relative error of at most (depth of the sum) · 2^-24: the warp's 4·K serial adds + 5
// shuffle levels (≤ 69 at K = 16), the block's ≤ 4 serial (RMS_TILE) + 5 warp + 4 block levels; so Σg² differ by at most
// ~82 · 6e-8 = 4.9e-6 relative, rstd = 1/sqrt(Σg²/seg + eps) by half that, and the two roundings of g·rstd·w add 2 ulp:
// ≤ 2.6e-6 per element. 1e-5 leaves a margin; the residual sum (no reduction) must be bit-equal.
constexpr double WarpVsBlockRel = 1e-5;

/// The forward of one case on the block kernel, the warp kernel (the host's 16-byte rule) and its scalar form: each vs the
/// float64 reference (NMSE ≤ Tol), warp vs block elementwise within WarpVsBlockRel, the sum bit-equal to the block's, the
/// scalar form bit-equal to the warp kernel, and (when given) the warp kernel bit-equal to its run on contiguous copies.
/// Returns the warp kernel's out (for that last comparison) and counts into pass / fail.
std::vector<float> forward_paths(const char* name, const char* layout, const float* x, long long sx, const float* res, const float* z, long long sz,
                                 const std::vector<float>& w, long long rows, int d, int seg, const std::vector<double>& rOut,
                                 const std::vector<double>* rSum, const std::vector<float>* contiguousWarp, double& worst, int& pass, int& fail)
{
    const size_t n = (size_t)(rows * d);
    std::vector<float> out[3], sum[3];
    std::string kernel[3];
    const Fwd paths[3] = {Fwd::Block, Fwd::Warp, Fwd::WarpScalar};
    for (int p = 0; p < 3; p++)
    {
        out[p] = nan_buffer(n);
        sum[p] = rSum ? nan_buffer(n) : std::vector<float>();
        kernel[p] = forward(paths[p], x, sx, res, z, sz, w, rows, d, seg, out[p].data(), rSum ? sum[p].data() : nullptr);
    }
    double e[3];
    for (int p = 0; p < 3; p++)
    {
        e[p] = error_of(out[p].data(), rOut).nmse;
        if (rSum) e[p] = std::max(e[p], error_of(sum[p].data(), *rSum).nmse);
    }
    std::vector<float> hostOut = nan_buffer(n), hostSum = rSum ? nan_buffer(n) : std::vector<float>();
    std::string hostKernel = forward(Fwd::Host, x, sx, res, z, sz, w, rows, d, seg, hostOut.data(), rSum ? hostSum.data() : nullptr);
    int hostPath = hostKernel == kernel[0] ? 0 : 1;
    size_t hostDiff = differing(hostOut, out[hostPath]) + (rSum ? differing(hostSum, sum[hostPath]) : 0);
    bool warpable = kernel[1] != kernel[0];
    double rel = warpable ? max_rel(out[1], out[0]) : 0;
    size_t sumDiff = rSum ? differing(sum[1], sum[0]) + differing(sum[2], sum[0]) : 0;
    size_t scalarDiff = differing(out[2], out[1]);
    size_t contigDiff = contiguousWarp ? differing(out[1], *contiguousWarp) : 0;
    double tol = seg == 1 ? GroupOfOneTol : Tol;
    bool ok = e[0] <= tol && e[1] <= tol && e[2] <= tol && rel <= WarpVsBlockRel && sumDiff == 0 && scalarDiff == 0 && contigDiff == 0 && hostDiff == 0;
    if (seg > 1) worst = std::max({worst, e[0], e[1], e[2]});
    std::printf("%-28s %-8s fwd    %s block %.1e, %s %.1e, scalar %.1e; warp vs block rel %.1e; host: %s%s%s%s%s\n", name, layout,
                ok ? "pass" : "FAIL", e[0], warpable ? kernel[1].c_str() : "(block only)", e[1], e[2], rel, hostKernel.c_str(),
                hostDiff ? " (differs from its path: FAIL)" : "", sumDiff ? ", sum differs (FAIL)" : "", scalarDiff ? ", scalar differs (FAIL)" : "",
                contigDiff ? ", differs from contiguous (FAIL)" : "");
    (ok ? pass : fail)++;
    return out[1];
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
    forward(Fwd::Host, x.at, x.stride, nullptr, z.at, z.stride, w, rows, d, group, o.out.data(), nullptr);
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
    forward(Fwd::Host, h.data(), d, res.data(), nullptr, d, w, rows, d, d, out.data(), sum.data());
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
    double fwdWorst = 0;
    forward_paths(name, "contig", h.data(), d, res.data(), nullptr, d, w, rows, d, d, rOut, &rSum, nullptr, fwdWorst, pass, fail);
    if (d > 1) worst = std::max(worst, fwdWorst);
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

/// A float64 forward reference of ReferenceKernels.RmsNorm / AddRmsNorm / GatedRmsNorm on contiguous values (res and z may
/// be empty): rSum = the float32 sum x + res the kernel stores (as a separate Add would), out = g·rstd·w per segment.
void forward_reference(const std::vector<float>& x, const std::vector<float>& res, const std::vector<float>& z, const std::vector<float>& w,
                       long long rows, int d, int seg, std::vector<double>& out, std::vector<double>& sum)
{
    const size_t n = (size_t)(rows * d);
    out.assign(n, 0);
    sum.assign(res.empty() ? 0 : n, 0);
    std::vector<double> g(d);
    for (long long r = 0; r < rows; r++)
    {
        size_t at = (size_t)(r * d);
        for (int j = 0; j < d; j++)
        {
            double v = x[at + j];
            if (!res.empty()) sum[at + j] = v = (double)(x[at + j] + res[at + j]);
            if (!z.empty()) v = v * z[at + j] / (1 + std::exp(-(double)z[at + j]));
            g[j] = v;
        }
        for (int s0 = 0; s0 < d; s0 += seg)
        {
            double ss = 0;
            for (int j = s0; j < s0 + seg; j++) ss += g[j] * g[j];
            double rstd = 1.0 / std::sqrt(ss / seg + Eps);
            for (int j = s0; j < s0 + seg; j++) out[at + j] = g[j] * rstd * w[j];
        }
    }
}

/// Forward-only cases of the warp kernel at the training's shapes and its edges: the block kernel, the warp kernel and its
/// scalar form (forward_paths) on x (and z) laid out contiguous (layout 0), as aligned column blocks (1: x at 4 of D+4, z at
/// 0 of D+8), misaligned (2: x at 1 of D+3, z at 1 of D+5) and, gated with D = 1536, the AiM-B training layout (3: z =
/// columns 0..1535 of 3352-wide rows). Kind: 0 RMSNorm, 1 AddRmsNorm (a residual; x contiguous), 2 gated.
void forward_case(long long rows, int d, int seg, int kind, std::initializer_list<int> layouts, const std::string& filter, double& worst, int& pass,
                  int& fail)
{
    static const char* kinds[] = {"rms", "add", "gated"};
    char name[96];
    std::snprintf(name, sizeof name, "fwd %s rows=%lld,D=%d,seg=%d", kinds[kind], rows, d, seg);
    if (!filter.empty() && std::string(name).find(filter) == std::string::npos) return;
    const size_t n = (size_t)(rows * d);
    Gen gen{(uint64_t)(rows * 104729 + d * 17 + seg + kind)};
    std::vector<float> x(n), res, z, w(d);
    for (auto& v : x) v = (float)gen.uniform(-2, 2);
    if (kind == 1)
    {
        res.resize(n);
        for (auto& v : res) v = (float)gen.uniform(-2, 2);
    }
    if (kind == 2)
    {
        z.resize(n);
        for (auto& v : z) v = (float)gen.uniform(-3, 3);
    }
    for (auto& v : w) v = (float)gen.uniform(0.5, 1.5);
    std::vector<double> rOut, rSum;
    forward_reference(x, res, z, w, rows, d, seg, rOut, rSum);
    std::vector<float> contiguousWarp;
    static const char* names[] = {"contig", "aligned", "misalign", "aim-b"};
    for (int layout : layouts)
    {
        int xw = layout == 1 ? d + 4 : layout == 2 ? d + 3 : d, xa = layout == 1 ? 4 : layout == 2 ? 1 : 0;
        int zw = layout == 1 ? d + 8 : layout == 2 ? d + 5 : layout == 3 ? 3352 : d, za = layout == 2 ? 1 : 0;
        if (kind == 1) xw = d, xa = 0;
        Laid xv = lay_out(x, rows, d, xw, xa);
        Laid zv = kind == 2 ? lay_out(z, rows, d, zw, za) : Laid{};
        std::vector<float> warpOut = forward_paths(name, names[layout], xv.at, xv.stride, kind == 1 ? res.data() : nullptr, kind == 2 ? zv.at : nullptr,
                                                   kind == 2 ? zv.stride : d, w, rows, d, seg, rOut, kind == 1 ? &rSum : nullptr,
                                                   contiguousWarp.empty() ? nullptr : &contiguousWarp, worst, pass, fail);
        if (layout == 0) contiguousWarp = warpOut;
    }
}

// The backward's team path (session 7; CudaKernels.Norm.cs BackwardRowsPath): rms_norm_backward_rows{K}[_vec]_f32, a team of
// warps a row, blocks of BackwardRowsPlanFor's threads over chunks of rows, one partial row a block, then
// param_grad_finish_f32 (planes 1). The host takes it for float32 rows of one segment ≤ 1536 from MinWarpSegments rows on,
// with the 16-byte rule (WarpVectorised) or the scalar form.
constexpr int BackwardRowsThreads = 256, BackwardRowsRegisters = 64, MaxBlocksPerMultiprocessor = 32, MaxBackwardRowsSegment = 1536;
using BwdKernel = void (*)(const float*, i64, const float*, i64, const float*, const float*, const float*, float, int, i64, i64, int, float*,
                           float*, i64, float*);

/// CudaKernels.Norm.cs BackwardRowsPlan / BackwardRowsPlanFor / BackwardRowsPath.
struct RowsPlan
{
    int warps, k, threads;
    long long rowsPerChunk;
};
RowsPlan bwd_rows_plan(int seg, long long rows)
{
    int warps = std::max(1, (seg + 255) / 256);
    int k = std::max(1, (seg + 128 * warps - 1) / (128 * warps));
    int teams = std::max(1, BackwardRowsThreads / (32 * warps));
    int threads = 32 * warps * teams;
    int resident = std::min(MaxBlocksPerMultiprocessor, 65536 / (threads * BackwardRowsRegisters));
    long long cap = 128LL * resident;
    return {warps, k, threads, std::max<long long>(teams, (rows + cap - 1) / cap)};
}
bool bwd_rows_path(int seg, int segsPerRow, long long rows) { return segsPerRow == 1 && rows >= MinWarpSegments && seg <= MaxBackwardRowsSegment; }

BwdKernel bwd_rows_kernel(int k, bool vec)
{
    if (k == 1) return vec ? rms_norm_backward_rows1_vec_f32 : rms_norm_backward_rows1_f32;
    return vec ? rms_norm_backward_rows2_vec_f32 : rms_norm_backward_rows2_f32;
}

/// Which backward kernel runs: as the host chooses, rms_norm_backward_wgrad ("fused"), the warp kernel with the host's
/// 16-byte rule, or its scalar form.
enum class Bwd { Host, Fused, Warp, WarpScalar };

/// LaunchRmsNormBackward's short-row paths on the given choice; rowsPerChunk > 0 overrides the team path's chunking, warps > 0
/// its warps a row (K and the teams a block follow as in BackwardRowsPlanFor). Returns the kernel's name, or "" where the team
/// kernel asked for does not exist (groups, rows wider than 128·K·warps). sdz > 0: dz's rows that far apart (the tape's
/// gradient slot, team kernel only); 0: contiguous.
std::string backward_path(Bwd path, const float* x, long long sx, const float* z, long long sz, const std::vector<float>& w,
                          const std::vector<float>& dy, const float* extra, long long rows, int d, int group, float* dx, float* dz, float* dw,
                          long long rowsPerChunk = 0, int warps = 0, long long sdz = 0)
{
    if (sdz == 0) sdz = d;
    bool vecOk = group % 4 == 0 && sx % 4 == 0 && sz % 4 == 0 && sdz % 4 == 0 && aligned16(x) && aligned16(z) && aligned16(w.data()) && aligned16(dy.data()) &&
                 aligned16(extra) && aligned16(dx) && aligned16(dz);
    bool warp = path == Bwd::Warp || path == Bwd::WarpScalar || (path == Bwd::Host && bwd_rows_path(group, d / group, rows));
    if (!warp)
    {
        backward(x, sx, z, sz, w, dy, extra, rows, d, group, false, dx, dz, dw);
        return "rms_norm_backward_wgrad_f32";
    }
    bool vec = path != Bwd::WarpScalar && vecOk;
    RowsPlan plan = bwd_rows_plan(group, rows);
    if (warps > 0)
    {
        plan.warps = warps;
        plan.k = std::max(1, (group + 128 * warps - 1) / (128 * warps));
        plan.threads = 32 * warps * std::max(1, BackwardRowsThreads / (32 * warps));
    }
    if (group != d || plan.k > 2) return "";
    BwdKernel kernel = bwd_rows_kernel(plan.k, vec);
    if (rowsPerChunk == 0) rowsPerChunk = plan.rowsPerChunk;
    long long chunks = (rows + rowsPerChunk - 1) / rowsPerChunk;
    std::vector<float> partial = nan_buffer((size_t)(chunks * d));
    emu::launch(dim3((unsigned)chunks), dim3((unsigned)plan.threads), (size_t)d * sizeof(float), kernel, x, (i64)sx, z, (i64)sz, w.data(), dy.data(),
                extra, (float)Eps, d, (i64)rows, (i64)rowsPerChunk, plan.warps, dx, dz, (i64)sdz, partial.data());
    finish(partial, chunks, 1, d, dw);
    return "rms_norm_backward_rows" + std::to_string(plan.k) + (vec ? "_vec" : "") + "_f32" +
           (warps > 0 ? "/" + std::to_string(warps) + "w" : "");
}

// The warp kernel against rms_norm_backward_wgrad. Per element both compute the same expressions with the same roundings;
// only the row sums Σg² and Σdy·w·g run in another order (the old: ≤ RMS_TILE serial adds a thread, 5 shuffle levels, ≤ 4
// block levels; the team: ≤ 8 serial adds a thread, 5 shuffle levels, ≤ 7 warps; session 6's warp: ≤ 48 serial adds a lane,
// 5 shuffle levels): depth ≤ 66, so each sum differs by at most
// 66·2⁻²⁴·Σ|terms| ≈ 3.9e-6·Σ|terms|. rstd then differs by ≤ 2e-6 relative and mean = Σdy·w·g·rstd/seg by ≤ 6e-6·M,
// M = Σ|dy·w·ĝ|/seg, so dg = rstd·(dy·w − ĝ·mean) by ≤ ~6e-6·rstd·(|dy·w| + |ĝ|·M), scaled into dx and dz by the same
// per-element factor (z·σ(z); x·σ(z)·(1 + z(1 − σ(z))); 1), plus the final roundings of a different value (≤ 4 ulp). The
// check allows DgVsFusedRel = 1e-5 times that scale + 4 ulp per element. The weight gradient: each term dy·(g·rstd) moves
// with rstd (≤ 2e-6 relative + 1 ulp of each of its two roundings), and the sums group rows differently (the old: a chunk's
// rows in order, then the finish; the team: a team's rows, the ≤ 8 teams, then the finish: depth ≤ rows a chunk + 30 ≤ 60
// here), so |Δdw| ≤ (2.2e-6 + 60·6e-8)·Σ_r|dy·x̂| ≈ 6e-6·Σ|terms|: DwVsFusedRel = 1e-5 of Σ_r|dy·x̂| per column.
constexpr double DgVsFusedRel = 1e-5, DwVsFusedRel = 1e-5;

/// ModulatedAddRmsNorm (mod_add_rms_norm_f32) and its bf16-output form (mod_add_rms_norm_f32_bf16: the norms before
/// the cuBLAS products of CudaKernels.DecodeLayer.cs's BlasDecodeLayer). kind 0: gate, residual and modulation (the
/// decode layer's first norm); 1: residual only; 2: neither, no modulation and no resOut (BlasDecodeLayer's gated norm
/// of g). Grids: the host's RowGrid (min(rows, 132 · 64)) and 2 blocks (rows grid-strided). Checks: out (and resOut)
/// vs float64 (NMSE ≤ Tol), the bf16 form's out bit-equal to the f32 form's rounded once (f32_to_bf16) and its resOut
/// bit-equal.
void mod_norm_check(long long rows, int d, int kind, const std::string& filter, double& worst, int& pass, int& fail)
{
    char name[96];
    std::snprintf(name, sizeof name, "modnorm kind=%d rows=%lld,D=%d", kind, rows, d);
    if (!filter.empty() && std::string(name).find(filter) == std::string::npos) return;
    const size_t n = (size_t)(rows * d);
    Gen gen{(uint64_t)(rows * 104729 + d * 13 + kind)};
    std::vector<float> x(n), gate(n), res(n), scale(n), shift(n), w(d);
    for (auto& v : x) v = (float)gen.uniform(-2, 2);
    for (auto& v : gate) v = (float)gen.uniform(-1.5, 1.5);
    for (auto& v : res) v = (float)gen.uniform(-2, 2);
    for (auto& v : scale) v = (float)gen.uniform(0.5, 1.5);
    for (auto& v : shift) v = (float)gen.uniform(-1, 1);
    for (auto& v : w) v = (float)gen.uniform(0.5, 1.5);
    const float* g = kind == 0 ? gate.data() : nullptr;
    const float* r = kind <= 1 ? res.data() : nullptr;
    const float* sc = kind <= 1 ? scale.data() : nullptr;
    const float* sh = kind <= 1 ? shift.data() : nullptr;
    std::vector<double> rOut(n), rSum(n);
    for (long long row = 0; row < rows; row++)
    {
        size_t at = (size_t)(row * d);
        double ss = 0;
        for (int j = 0; j < d; j++)
        {
            float v = x[at + j];
            if (g) v = g[at + j] * v;      // the float32 product and sum the kernel stores, as separate kernels would
            if (r) v = v + r[at + j];
            rSum[at + j] = v;
            ss += (double)v * v;
        }
        double rstd = 1.0 / std::sqrt(ss / d + Eps);
        for (int j = 0; j < d; j++)
            rOut[at + j] = rSum[at + j] * rstd * w[j] * (sc ? sc[at + j] : 1.0) + (sh ? sh[at + j] : 0.0);
    }
    const unsigned hostGrid = (unsigned)std::min<long long>(rows, 132LL * 64);
    for (unsigned grid : {hostGrid, 2u})
    {
        std::vector<float> out = nan_buffer(n), sum = nan_buffer(n), sumB = nan_buffer(n);
        std::vector<bf16> outB(std::max<size_t>(n, 1), bf16{0x7fc1});
        float* resOut = kind <= 1 ? sum.data() : nullptr;
        float* resOutB = kind <= 1 ? sumB.data() : nullptr;
        emu::launch(dim3(grid), dim3(row_threads(d)), 0, mod_add_rms_norm_f32, (const float*)x.data(), g, r, (const float*)w.data(), (float)Eps, sc,
                    sh, d, (i64)rows, out.data(), resOut);
        emu::launch(dim3(grid), dim3(row_threads(d)), 0, mod_add_rms_norm_f32_bf16, (const float*)x.data(), g, r, (const float*)w.data(), (float)Eps,
                    sc, sh, d, (i64)rows, outB.data(), resOutB);
        double e = error_of(out.data(), rOut).nmse;
        if (resOut) e = std::max(e, error_of(sum.data(), rSum).nmse);
        size_t differ = 0;
        for (size_t i = 0; i < n; i++) differ += f32_to_bf16(out[i]).bits != outB[i].bits;
        if (resOut) differ += differing(sum, sumB);
        bool ok = e <= Tol && differ == 0;
        worst = std::max(worst, e);
        std::printf("%-34s grid %-5u %s out/resOut %.1e, bf16 form %s\n", name, grid, ok ? "pass" : "FAIL", e,
                    differ == 0 ? "bit-equal to the rounded f32 form" : (std::to_string(differ) + " values differ (FAIL)").c_str());
        (ok ? pass : fail)++;
    }
}

/// One backward case on rms_norm_backward_wgrad, the warp kernel (the host's 16-byte rule, the host's chunking and chunks of
/// 13 rows: several rows a warp, a short last chunk), its scalar form and the host's choice. kind: 0 RMSNorm (no z, no
/// extra), 1 AddRmsNorm (extra), 2 gated (z). Layouts of x (and z) as in forward_case (0 contiguous, 1 aligned blocks,
/// 2 misaligned, 3 AiM-B: z = columns 0..1535 of 3352-wide rows). Checks: each run vs float64 (NMSE ≤ Tol; D = 1: dx, dz by
/// the comparison with the old kernel alone, see add_norm_check), warp vs old within DgVsFusedRel / DwVsFusedRel, dx and dz
/// of the 13-row chunking bit-equal to the host chunking's, the scalar form bit-equal to the 16-byte one, every strided
/// run bit-equal to the same kernel on contiguous rows, and the host's result bit-equal to the kernel it chose.
void warp_backward_case(long long rows, int d, int group, int kind, std::initializer_list<int> layouts, const std::string& filter, double& worst,
                        int& pass, int& fail)
{
    static const char* kinds[] = {"rms", "add", "gated"};
    char name[96];
    std::snprintf(name, sizeof name, "bwd %s rows=%lld,D=%d,seg=%d", kinds[kind], rows, d, group);
    if (!filter.empty() && std::string(name).find(filter) == std::string::npos) return;
    const size_t n = (size_t)(rows * d);
    Gen gen{(uint64_t)(rows * 15485863 + d * 29 + group + kind)};
    std::vector<float> x(n), z, dy(n), extra, w(d);
    for (auto& v : x) v = (float)gen.uniform(-2, 2);
    if (kind == 2)
    {
        z.resize(n);
        for (auto& v : z) v = (float)gen.uniform(-3, 3);
    }
    for (auto& v : dy) v = (float)gen.uniform(-1, 1);
    if (kind == 1)
    {
        extra.resize(n);
        for (auto& v : extra) v = (float)gen.uniform(-1, 1);
    }
    for (auto& v : w) v = (float)gen.uniform(0.5, 1.5);
    // float64 references and the per-element scales of the tolerance against the old kernel.
    std::vector<double> rDx(n), rDz(kind == 2 ? n : 0), rDw(d, 0.0), absDw(d, 0.0), sDx(n), sDz(kind == 2 ? n : 0);
    std::vector<double> g(d);
    for (long long r = 0; r < rows; r++)
    {
        size_t at = (size_t)(r * d);
        for (int s0 = 0; s0 < d; s0 += group)
        {
            double ss = 0, dot = 0, m = 0;
            for (int j = s0; j < s0 + group; j++)
            {
                double zv = kind == 2 ? z[at + j] : 0;
                g[j] = kind == 2 ? (double)x[at + j] * zv / (1 + std::exp(-zv)) : (double)x[at + j];
                ss += g[j] * g[j];
            }
            double rstd = 1.0 / std::sqrt(ss / group + Eps);
            for (int j = s0; j < s0 + group; j++)
            {
                dot += (double)dy[at + j] * w[j] * g[j] * rstd;
                m += std::fabs((double)dy[at + j] * w[j] * g[j] * rstd);
            }
            double mean = dot / group;
            m /= group;
            for (int j = s0; j < s0 + group; j++)
            {
                double xh = g[j] * rstd, dg = rstd * ((double)dy[at + j] * w[j] - xh * mean);
                double scale = rstd * (std::fabs((double)dy[at + j] * w[j]) + std::fabs(xh) * m);
                rDw[j] += (double)dy[at + j] * xh;
                absDw[j] += std::fabs((double)dy[at + j] * xh);
                if (kind == 2)
                {
                    double zv = z[at + j], sg = 1 / (1 + std::exp(-zv)), fz = x[at + j] * sg * (1 + zv * (1 - sg));
                    rDx[at + j] = dg * zv * sg;
                    rDz[at + j] = dg * fz;
                    sDx[at + j] = scale * std::fabs(zv * sg);
                    sDz[at + j] = scale * std::fabs(fz);
                }
                else
                {
                    rDx[at + j] = kind == 1 ? dg + extra[at + j] : dg;
                    sDx[at + j] = scale;
                }
            }
        }
    }
    // Elements outside the allowance of the old kernel's values.
    auto beyond = [](const std::vector<float>& a, const std::vector<float>& old, const std::vector<double>& scale, double rel, double& worstRatio)
    {
        size_t bad = 0;
        for (size_t i = 0; i < scale.size(); i++)
        {
            double allow = rel * scale[i] + 4 * std::ldexp(std::fabs((double)old[i]), -24);
            double diff = std::fabs((double)a[i] - old[i]);
            if (!std::isfinite(a[i]) || !(diff <= allow)) bad++;
            if (allow > 0) worstRatio = std::max(worstRatio, diff / allow);
        }
        return bad;
    };
    struct Run
    {
        std::vector<float> dx, dz, dw;
        std::string kernel;
    };
    Run contiguous[3];
    static const char* names[] = {"contig", "aligned", "misalign", "aim-b"};
    for (int layout : layouts)
    {
        int xw = layout == 1 ? d + 4 : layout == 2 ? d + 3 : d, xa = layout == 1 ? 4 : layout == 2 ? 1 : 0;
        int zw = layout == 1 ? d + 8 : layout == 2 ? d + 5 : layout == 3 ? 3352 : d, za = layout == 2 ? 1 : 0;
        Laid xv = lay_out(x, rows, d, xw, xa);
        Laid zv = kind == 2 ? lay_out(z, rows, d, zw, za) : Laid{};
        const float* zp = kind == 2 ? zv.at : nullptr;
        long long sz = kind == 2 ? zv.stride : d;
        const float* ep = kind == 1 ? extra.data() : nullptr;
        auto go = [&](Bwd path, long long rowsPerChunk, int warps)
        {
            Run o{nan_buffer(n), kind == 2 ? nan_buffer(n) : std::vector<float>(), nan_buffer((size_t)d), ""};
            o.kernel = backward_path(path, xv.at, xv.stride, zp, sz, w, dy, ep, rows, d, group, o.dx.data(), kind == 2 ? o.dz.data() : nullptr,
                                     o.dw.data(), rowsPerChunk, warps);
            return o;
        };
        // 0 the old kernel, 1 the team kernel, 2 its scalar form, 3 the team kernel on chunks of 13 rows, 4 on a team of one
        // warp more than the host's (K drops to 1 where 128 · warps ≥ seg; other teams a block; own row-sum order).
        const int moreWarps = bwd_rows_plan(group, rows).warps + 1;
        Run run[5] = {go(Bwd::Fused, 0, 0), go(Bwd::Warp, 0, 0), go(Bwd::WarpScalar, 0, 0), go(Bwd::Warp, 13, 0), go(Bwd::Warp, 0, moreWarps)};
        Run host = go(Bwd::Host, 0, 0);
        bool ok = true;
        double e = 0, ratio = 0;
        size_t outside = 0, diffs = 0;
        std::string notes;
        for (int p = 0; p < 5; p++)
        {
            if (run[p].kernel.empty()) continue;
            double eDx = error_of(run[p].dx.data(), rDx).nmse, eDw = error_of(run[p].dw.data(), rDw).nmse;
            double eDz = kind == 2 ? error_of(run[p].dz.data(), rDz).nmse : 0;
            double eRow = d == 1 ? eDw : std::max({eDx, eDz, eDw});
            if (!(eRow <= Tol)) ok = false, notes += " NMSE(" + std::to_string(p) + ")";
            if (group > 1) e = std::max(e, eRow);
            if (p > 0)
            {
                outside += beyond(run[p].dx, run[0].dx, sDx, DgVsFusedRel, ratio);
                if (kind == 2) outside += beyond(run[p].dz, run[0].dz, sDz, DgVsFusedRel, ratio);
                outside += beyond(run[p].dw, run[0].dw, absDw, DwVsFusedRel, ratio);
            }
        }
        auto same = [&](const Run& a, const Run& b, bool withDw)
        { return differing(a.dx, b.dx) + differing(a.dz, b.dz) + (withDw ? differing(a.dw, b.dw) : 0); };
        if (!run[1].kernel.empty() && !run[2].kernel.empty()) diffs += same(run[1], run[2], true);
        if (!run[1].kernel.empty()) diffs += same(run[1], run[3], false);
        if (diffs) notes += " scalar/chunking differ";
        size_t strided = 0;
        for (int p = 0; p < 3; p++)
        {
            if (layout == 0) contiguous[p] = run[p];
            else if (!run[p].kernel.empty() && run[p].kernel == contiguous[p].kernel) strided += same(run[p], contiguous[p], true);
        }
        if (strided) notes += " strided differs";
        const Run& chosen = host.kernel == run[0].kernel ? run[0] : run[1];
        size_t hostDiff = host.kernel == chosen.kernel ? same(host, chosen, true) : 1;
        if (hostDiff) notes += " host differs";
        if (outside) notes += " beyond old";
        // Gated: the team kernel writing dz into z's own layout (the tape's gradient slot in in_proj's gradient), NaN around
        // it: bit-equal to its contiguous dz, nothing written outside the view.
        size_t slotDiff = 0;
        if (kind == 2 && !run[1].kernel.empty() && zw != d)
        {
            std::vector<float> dzs = nan_buffer((size_t)(rows * zw + za)), dxs = nan_buffer(n), dws = nan_buffer((size_t)d);
            backward_path(Bwd::Warp, xv.at, xv.stride, zp, sz, w, dy, ep, rows, d, group, dxs.data(), dzs.data() + za, dws.data(), 0, 0, zw);
            for (long long r = 0; r < rows; r++)
                for (int c = 0; c < zw; c++)
                {
                    float v = dzs[(size_t)(r * zw + c) + za];
                    if (c < d) slotDiff += std::memcmp(&v, &run[1].dz[(size_t)(r * d + c)], sizeof v) != 0;
                    else slotDiff += !std::isnan(v);
                }
            if (slotDiff) notes += " dz-slot differs";
        }
        ok = ok && outside == 0 && diffs == 0 && strided == 0 && hostDiff == 0 && slotDiff == 0;
        worst = std::max(worst, e);
        std::printf("%-32s %-8s bwd    %s NMSE %.1e; team %s%s vs fused: worst %.2f of the allowance; host: %s%s\n", name, names[layout], ok ? "pass" : "FAIL", e,
                    run[1].kernel.empty() ? "n/a" : run[1].kernel.c_str(), run[2].kernel.empty() || run[2].kernel == run[1].kernel ? "" : " + scalar",
                    ratio, host.kernel.c_str(), notes.c_str());
        (ok ? pass : fail)++;
    }
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
        std::vector<float> contiguousWarp;
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
            static const char* names[] = {"contig", "aligned", "misalign", "aim-b"};
            if (!legacy)
            {
                std::vector<float> warpOut = forward_paths(name, names[layout], xv.at, xv.stride, nullptr, zv.at, zv.stride, w, c.rows, d, c.group, rOut,
                                                           nullptr, layout == 0 ? nullptr : &contiguousWarp, worst, pass, fail);
                if (layout == 0) contiguousWarp = warpOut;
            }
            Outputs o = run(xv, zv, w, dy, c.rows, d, c.group, legacy);
            double eOut = error_of(o.out.data(), rOut).nmse, eDx = error_of(o.dx.data(), rDx).nmse;
            double eDz = error_of(o.dz.data(), rDz).nmse, eDw = error_of(o.dw.data(), rDw).nmse;
            double e = std::max({eOut, eDx, eDz, eDw});
            const Outputs& same = contiguous[legacy ? 1 : 0];
            size_t differ = differing(o.out, same.out) + differing(o.dx, same.dx) + differing(o.dz, same.dz) + differing(o.dw, same.dw);
            bool ok = e <= (c.group == 1 ? GroupOfOneTol : Tol) && differ == 0;
            if (c.group > 1) worst = std::max(worst, e);
            std::printf("%-28s %-8s %-6s %s out %.1e dx %.1e dz %.1e dw %.1e, strided %s\n", name, names[layout], legacy ? "wide" : "fused", ok ? "pass" : "FAIL", eOut, eDx, eDz, eDw,
                        differ == 0 ? "bit-equal" : (std::to_string(differ) + " values differ (FAIL)").c_str());
            (ok ? pass : fail)++;
        }
    }
    for (long long rows : {1LL, 7LL, 74LL, 300LL})
        for (int d : {1, 7, 31, 257, 768}) worst = std::max(worst, add_norm_check(rows, d, filter, pass, fail));
    for (long long rows : {1LL, 3LL, 7LL, 74LL})
        for (int d : {1, 7, 31, 257, 768, 1536})
            for (int kind : {0, 1, 2}) mod_norm_check(rows, d, kind, filter, worst, pass, fail);
    // The warp kernel at the training's shapes (the host's choice from MinWarpSegments rows on) and its edges.
    forward_case(AimRows, 1536, 1536, 2, {0, 3, 2}, filter, worst, pass, fail);  // AiM-B's gated norm: z a column block of in_proj's output
    forward_case(AimRows, 768, 768, 1, {0}, filter, worst, pass, fail);          // AiM-B's AddRmsNorm
    forward_case(1100, 384, 384, 0, {0, 1, 2}, filter, worst, pass, fail);       // RMSNorm, K = 4 with a chunk masked
    forward_case(1200, 1536, 256, 2, {0, 1, 2}, filter, worst, pass, fail);      // 6 groups a row (weight offsets), K = 2
    forward_case(1030, 2048, 2048, 2, {0, 2}, filter, worst, pass, fail);        // the bound: K = 16
    forward_case(1030, 2000, 2000, 2, {0, 1}, filter, worst, pass, fail);        // K = 16, the last chunk partly masked
    forward_case(1030, 1000, 1000, 1, {0}, filter, worst, pass, fail);           // K = 8 with a residual
    forward_case(1100, 62, 31, 2, {0, 1}, filter, worst, pass, fail);            // seg % 4 != 0 on the host's warp path: scalar
    forward_case(1500, 7, 7, 1, {0}, filter, worst, pass, fail);
    forward_case(1500, 1, 1, 0, {0}, filter, worst, pass, fail);
    // The backward's team kernel (forced on fewer rows, the host's choice from MinWarpSegments rows on) and its edges.
    warp_backward_case(512, 1536, 1536, 2, {0, 3, 1, 2}, filter, worst, pass, fail);  // AiM-B's gated norm (z in 3352-wide rows): 6 warps, K = 2
    warp_backward_case(512, 768, 768, 1, {0, 1, 2}, filter, worst, pass, fail);       // AiM-B's AddRmsNorm with extra: 3 warps, 2 teams
    warp_backward_case(300, 768, 768, 0, {0}, filter, worst, pass, fail);             // RMSNorm / AddRmsNorm without extra
    for (int d : {1, 7, 31, 257})
    {
        warp_backward_case(37, d, d, 2, {0, 1, 2}, filter, worst, pass, fail);
        warp_backward_case(37, d, d, 1, {0, 2}, filter, worst, pass, fail);
    }
    warp_backward_case(40, 1000, 1000, 1, {0, 2}, filter, worst, pass, fail);         // 4 warps, K = 2 masked; scalar when misaligned
    warp_backward_case(45, 384, 384, 2, {0, 2}, filter, worst, pass, fail);           // 2 warps, half of K = 2 masked
    warp_backward_case(29, 1280, 1280, 2, {0, 1}, filter, worst, pass, fail);         // 5 warps: one team of 160 threads
    warp_backward_case(1030, 257, 257, 2, {0}, filter, worst, pass, fail);            // the host's team path, scalar (257 % 4 != 0)
    warp_backward_case(1100, 768, 768, 1, {0}, filter, worst, pass, fail);            // the host's team path, 16-byte
    warp_backward_case(1030, 1536, 1536, 2, {3, 2}, filter, worst, pass, fail);       // host: team, 16-byte (aim-b) and scalar (misaligned)
    warp_backward_case(1037, 130, 130, 1, {0}, filter, worst, pass, fail);            // 8 teams, 130 chunks, the last one 5 rows: idle teams
    warp_backward_case(1100, 62, 31, 2, {0}, filter, worst, pass, fail);              // groups: the host keeps the old kernel
    std::printf("gated_norm_check: %d pass, %d fail, worst NMSE %.1e over groups of more than one (tolerance %.0e)\n", pass, fail, worst, Tol);
    return fail == 0 ? 0 : 1;
}
