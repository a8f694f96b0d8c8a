// Runs conv1d.cu's CausalConv1d forward and backward kernels under the CPU emulation (cuda_emu.hpp) with exactly the
// launches of src/Aim.Engine.Cuda/Kernels/CudaKernels.Ssm.cs (the forward over (batch, time run, channel tile)
// blocks; the one-pass backward conv1d_bwd_[silu_]k{K}_f32 over (batch, row block, channel tile) blocks, at the host's
// span of 32 steps a thread and at forced spans 16, 7 and 1, then the ordered sum of its dW / dbias partials) on the
// cases written by `Aim.Cuda.Check --emit-conv DIR`. Each case runs with x contiguous and as a strided view (x inside
// rows of C+3 at column 2, as the mixer's narrow of in_proj's output is). Outputs start as NaN so a value a kernel
// forgets to write shows up; y, dx, dw and dbias are compared with the float64 reference.
// Usage: conv_check DIR [case-name-substring]    exit 1 when any output exceeds its tolerance.
#include "cuda_emu.hpp"
#include "emu_cases.hpp"
#include "conv1d.cu"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace
{
constexpr int ConvBwdChannels = 32, ConvBwdGroups = 8;             // CONV_BWD_CH, CONV_BWD_GROUPS
constexpr int ConvBwdSpan = 32;                                     // CudaKernels.Ssm.cs's span (steps a thread)
constexpr int ConvRun = 16, ConvRunThreads = 128;                   // CONV_RUN, CONV_RUN_THREADS
constexpr double Tol = 1e-10;                                       // NMSE vs float64, as the harness's conv cases

using BwdKernel = void (*)(const float*, long long, long long, const float*, const float*, const float*, float*, long long, long long, float*, int, int, int);

// The host's choice of conv1d_bwd_[silu_]k{K}_f32.
BwdKernel bwd_kernel(int K, bool silu)
{
    static const BwdKernel plain[] = { conv1d_bwd_k1_f32, conv1d_bwd_k2_f32, conv1d_bwd_k3_f32, conv1d_bwd_k4_f32,
                                       conv1d_bwd_k5_f32, conv1d_bwd_k6_f32, conv1d_bwd_k7_f32, conv1d_bwd_k8_f32 };
    static const BwdKernel withSilu[] = { conv1d_bwd_silu_k1_f32, conv1d_bwd_silu_k2_f32, conv1d_bwd_silu_k3_f32, conv1d_bwd_silu_k4_f32,
                                          conv1d_bwd_silu_k5_f32, conv1d_bwd_silu_k6_f32, conv1d_bwd_silu_k7_f32, conv1d_bwd_silu_k8_f32 };
    return (silu ? withSilu : plain)[K - 1];
}

using FwdKernel = void (*)(const float*, long long, long long, const float*, const float*, float*, int, int);

// The host's choice of conv1d_fwd_[silu_]k{K}_f32.
FwdKernel fwd_kernel(int K, bool silu)
{
    static const FwdKernel plain[] = { conv1d_fwd_k1_f32, conv1d_fwd_k2_f32, conv1d_fwd_k3_f32, conv1d_fwd_k4_f32,
                                       conv1d_fwd_k5_f32, conv1d_fwd_k6_f32, conv1d_fwd_k7_f32, conv1d_fwd_k8_f32 };
    static const FwdKernel withSilu[] = { conv1d_fwd_silu_k1_f32, conv1d_fwd_silu_k2_f32, conv1d_fwd_silu_k3_f32, conv1d_fwd_silu_k4_f32,
                                          conv1d_fwd_silu_k5_f32, conv1d_fwd_silu_k6_f32, conv1d_fwd_silu_k7_f32, conv1d_fwd_silu_k8_f32 };
    return (silu ? withSilu : plain)[K - 1];
}

struct Case
{
    std::string name;
    int B, L, C, K;
    bool bias, silu;
};

bool run_case(const std::string& dir, const Case& s, bool view, int span)
{
    const std::string at = dir + "/" + s.name + "/";
    const int B = s.B, L = s.L, C = s.C, K = s.K;
    const size_t n = (size_t)B * L * C;
    auto x = read_file<float>(at + "x.f32", n);
    auto w = read_file<float>(at + "w.f32", (size_t)C * K);
    std::vector<float> bias = s.bias ? read_file<float>(at + "bias.f32", C) : std::vector<float>();
    auto dy = read_file<float>(at + "dy.f32", n);
    const float* bp = s.bias ? bias.data() : nullptr;
    // x as (B, L, C) inside rows of `width` starting at column `col`.
    const int width = view ? C + 3 : C, col = view ? 2 : 0;
    std::vector<float> xs((size_t)B * L * width + 1, std::numeric_limits<float>::quiet_NaN());
    for (size_t r = 0; r < (size_t)B * L; r++)
        for (int c = 0; c < C; c++) xs[r * width + col + c] = x[r * C + c];
    const float* xp = xs.data() + col;
    const long long sxb = (long long)L * width, sxl = width;

    // ---- CausalConv1d (CudaKernels.Ssm.cs)
    auto y = nan_buffer(n);
    const dim3 runs((unsigned)((long long)B * ((L + ConvRun - 1) / ConvRun) * ((C + ConvRunThreads - 1) / ConvRunThreads))), runThreads(ConvRunThreads);
    emu::launch(runs, runThreads, 0, fwd_kernel(K, s.silu), xp, sxb, sxl, w.data(), bp, y.data(), L, C);

    // ---- CausalConv1dBackward: the one-pass kernel of (K, silu), then the ordered sum of its partials
    // dx goes to the same layout as x (the view case: the tape's gradient slot in a wider gradient), NaN around it.
    auto dxs = nan_buffer((size_t)B * L * width + 1);
    auto dx = nan_buffer(n), dw = nan_buffer((size_t)C * K), db = nan_buffer(C);
    const int rowBlocks = (L + ConvBwdGroups * span - 1) / (ConvBwdGroups * span);
    const long long partials = (long long)B * rowBlocks, tiles = (C + ConvBwdChannels - 1) / ConvBwdChannels;
    auto part = nan_buffer((size_t)partials * (K + 1) * C);
    emu::launch(dim3((unsigned)(partials * tiles)), dim3(ConvBwdChannels * ConvBwdGroups), 0, bwd_kernel(K, s.silu), xp, sxb, sxl,
                w.data(), bp, dy.data(), dxs.data() + col, sxb, sxl, part.data(), L, C, span);
    launch_elementwise((long long)(K + 1) * C, conv1d_bwd_dw_sum_f32, part.data(), dw.data(), s.bias ? db.data() : nullptr, C, K, (int)partials);
    bool outside = false;   // a write outside the dx view's columns
    for (size_t r = 0; r < (size_t)B * L; r++)
        for (int c = 0; c < width; c++)
        {
            if (c >= col && c < col + C) dx[r * C + c - col] = dxs[r * width + c];
            else outside |= !std::isnan(dxs[r * width + c]);
        }

    bool ok = !outside;
    std::ostringstream detail;
    if (outside) detail << "    dx written outside its view  FAIL\n";
    auto check = [&](const char* what, const float* got, const std::vector<double>& want) {
        auto [e, maxAbs] = error_of(got, want);
        bool pass = e <= Tol;
        ok &= pass;
        char buf[160];
        std::snprintf(buf, sizeof buf, "    %-6s nmse %.2e  max|err| %.2e%s\n", what, e, maxAbs, pass ? "" : "  FAIL");
        detail << buf;
    };
    check("y", y.data(), read_file<double>(at + "y.f64", n));
    check("dx", dx.data(), read_file<double>(at + "dx.f64", n));
    check("dw", dw.data(), read_file<double>(at + "dw.f64", (size_t)C * K));
    if (s.bias) check("dbias", db.data(), read_file<double>(at + "dbias.f64", C));
    std::printf("%-24s %-6s span %2d | %s | dW in %lld partial(s)\n", s.name.c_str(), view ? "view" : "contig", span, ok ? "pass" : "FAIL", partials);
    std::fputs(detail.str().c_str(), stdout);
    return ok;
}
} // namespace

int main(int argc, char** argv)
{
    if (argc < 2) { std::fprintf(stderr, "usage: conv_check DIR [case-name-substring]\n"); return 2; }
    std::string dir = argv[1], filter = argc > 2 ? argv[2] : "";
    std::ifstream m(dir + "/manifest.txt");
    if (!m) { std::fprintf(stderr, "no %s/manifest.txt (run Aim.Cuda.Check --emit-conv %s)\n", dir.c_str(), dir.c_str()); return 2; }
    std::string line;
    int pass = 0, fail = 0;
    while (std::getline(m, line))
    {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream is(line);
        Case s;
        int b, silu;
        is >> s.name >> s.B >> s.L >> s.C >> s.K >> b >> silu;
        if (!is) { std::fprintf(stderr, "bad manifest line: %s\n", line.c_str()); return 2; }
        s.bias = b, s.silu = silu;
        if (!filter.empty() && s.name.find(filter) == std::string::npos) continue;
        // The host's span, then forced ones: 16 (one sub-run), 7 (a partial sub-run, stretches not multiples of 16),
        // 1 (every step its own stretch: the carried windows come only from the prologue loads).
        for (int span : {ConvBwdSpan, 16, 7, 1})
            for (bool view : {false, true}) (run_case(dir, s, view, span) ? pass : fail)++;
    }
    std::printf("conv_check: %d pass, %d fail (tolerance %.0e NMSE vs float64)\n", pass, fail, Tol);
    return fail == 0 && pass > 0 ? 0 : 1;
}
