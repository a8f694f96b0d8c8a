// Runs MambaDecodeLayer's two CUDA mixer paths (CudaKernels.DecodeLayer.cs) under the CPU emulation (cuda_emu.hpp),
// from the same normed input u, weights and states, with the launches of the C# side (H200: 132 SMs):
//   composed: skinny_gemm_bf16 (in_proj) → conv1d_step_k<K>_f32 → ssm_step_f32 → rms_norm_f32 (gated, z read in place)
//             → skinny_gemm_bf16 (out_proj)                                   (DecodeLayerChecks.Compose's kernels)
//   fused:    skinny_gemm_conv_k<K>_bf16 → ssm_step_gated_f32 → skinny_gemm_rownorm_bf16 (the norm's weight and Σ g² in
//             out_proj's stream)
// Checks per case: the conv and SSM states after the step and in_proj's z and dt columns bit for bit (the fused
// kernels do the same arithmetic on them), and the mixer output y within NMSE 1e-10 of the composed one (only the
// gated norm's rounding differs: its rstd multiplies the dot products, and Σ g² is added in the product's order). Cases
// are built here: odd sizes (D, P, N, conv taps 2 .. 8; R = 1 .. 16, the skinny GEMM's row limit), G > 1, no conv bias /
// no D, unaligned widths (the scalar weight walk), and AiM-B's shape at 2 rows (batch 1 with CFG).
// Usage: decode_layer_check [case-name-substring]    exit 1 on any failure.
#include "cuda_emu.hpp"
#include "emu_cases.hpp"
#include "skinny_gemm.cu"
#include "conv1d.cu"
#include "ssm_step.cu"
#include "norm.cu"

#include <cstdint>
#include <cstring>

namespace
{
constexpr int SkinnyThreads = 256, SkinnyWarps = 8, StepThreads = 256;
constexpr double Tol = 1e-10;
constexpr float Eps = 1e-5f;

struct Case
{
    const char* name;
    int R, D, H, P, G, N, K;
    bool bias, skip;
};

// CudaKernels.SsmStepPlan (as ssm_step_check.cpp).
std::pair<int, int> step_plan(long long pairs, int p)
{
    const int warps = StepThreads / 32;
    int perWarp = std::max(1, (p + warps - 1) / warps);
    while (perWarp > 1 && pairs * ((p + (long long)warps * perWarp - 1) / ((long long)warps * perWarp)) < H200Multiprocessors)
        perWarp = (perWarp + 1) / 2;
    return {StepThreads, perWarp};
}

std::vector<float> random(Gen& g, size_t n, double lo, double hi)
{
    std::vector<float> v(n);
    for (auto& x : v) x = (float)g.uniform(lo, hi);
    return v;
}

std::vector<bf16> random_bf16(Gen& g, size_t n, double scale)
{
    std::vector<bf16> v(n);
    for (auto& x : v) x = f32_to_bf16((float)g.uniform(-scale, scale));
    return v;
}

size_t differing(const float* a, const float* b, size_t n)
{
    size_t d = 0;
    for (size_t i = 0; i < n; i++) d += std::memcmp(&a[i], &b[i], sizeof(float)) != 0;
    return d;
}

double nmse(const std::vector<float>& got, const std::vector<float>& want)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < want.size(); i++)
    {
        double e = (double)got[i] - want[i];
        num += std::isnan(e) ? 1e30 : e * e;
        den += (double)want[i] * want[i];
    }
    return num / std::max(den, 1e-300);
}

} // namespace

int main(int argc, char** argv)
{
    std::string filter = argc > 1 ? argv[1] : "";
    const Case cases[] = {
        {"r1_d8_h1_p1_n4_k2", 1, 8, 1, 1, 1, 4, 2, true, true},
        {"r2_d24_h3_p5_n8_k4", 2, 24, 3, 5, 1, 8, 4, true, true},
        {"r7_d17_h2_p7_n5_k3", 7, 17, 2, 7, 1, 5, 3, false, true},
        {"r16_d32_h4_p8_n16_k4_g2", 16, 32, 4, 8, 2, 16, 4, true, false},
        {"r3_d40_h6_p16_n33_k4", 3, 40, 6, 16, 3, 33, 4, true, true},
        {"r4_d16_h2_p8_n8_k8", 4, 16, 2, 8, 1, 8, 8, true, true},   // STEP_MAX_K taps
        {"aim_b_r2", 2, 768, 24, 64, 1, 128, 4, true, true},
    };
    int pass = 0, fail = 0;
    double worst = 0;
    for (const Case& c : cases)
    {
        if (!filter.empty() && std::string(c.name).find(filter) == std::string::npos) continue;
        Gen g{0x5EED0000ULL + (uint64_t)c.R * 131 + c.D};
        const int E = c.H * c.P, GN = c.G * c.N, C = E + 2 * GN, DP = E + C + c.H;
        auto u = random(g, (size_t)c.R * c.D, -1, 1);
        auto win = random_bf16(g, (size_t)DP * c.D, 1.0 / std::sqrt((double)c.D));
        auto wout = random_bf16(g, (size_t)c.D * E, 1.0 / std::sqrt((double)E));
        auto cw = random(g, (size_t)C * c.K, -0.5, 0.5);
        auto cb = random(g, C, -0.2, 0.2);
        auto dtBias = random(g, c.H, -2, 0.5);
        auto a = random(g, c.H, -2, -0.1);
        auto dskip = random(g, c.H, -1, 1);
        auto nw = random(g, E, 0.5, 1.5);
        auto conv0 = random(g, (size_t)c.R * C * c.K, -1, 1);
        auto ssm0 = random(g, (size_t)c.R * E * c.N, -1, 1);
        const float* cbias = c.bias ? cb.data() : nullptr;
        const float* dd = c.skip ? dskip.data() : nullptr;
        auto [threads, pPerWarp] = step_plan((long long)c.R * c.H, c.P);
        const int rowsPerBlock = threads / 32 * pPerWarp, pBlocks = (c.P + rowsPerBlock - 1) / rowsPerBlock;
        const unsigned stepGrid = (unsigned)(c.R * c.H * pBlocks);
        auto skinny = [](int n, int k, int& split) { split = skinny_split(n, k, SkinnyWarps); return dim3((unsigned)((n + SkinnyWarps / split - 1) / (SkinnyWarps / split))); };
        auto vec = [](int k, const void* x, const void* w, const void* gate = nullptr)
        {
            auto al = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
            return k % 8 == 0 && al(x) && al(w) && (gate == nullptr || al(gate)) ? 1 : 0;
        };
        int splitIn = 1, splitOut = 1;
        const dim3 gridIn = skinny(DP, c.D, splitIn), gridOut = skinny(c.D, E, splitOut);

        // composed
        auto convA = conv0, ssmA = ssm0;
        auto zxA = nan_buffer((size_t)c.R * DP), convOutA = nan_buffer((size_t)c.R * C), ys = nan_buffer((size_t)c.R * E),
             normed = nan_buffer((size_t)c.R * E), yA = nan_buffer((size_t)c.R * c.D);
        emu::launch(gridIn, dim3(SkinnyThreads), 0, skinny_gemm_bf16, u.data(), (i64)c.D, win.data(), (i64)c.D, zxA.data(), (i64)DP, c.R, DP,
                    c.D, 1.0f, 0.0f, vec(c.D, u.data(), win.data()), splitIn);
        decltype(&conv1d_step_k4_f32) stepKernels[] = { conv1d_step_k1_f32, conv1d_step_k2_f32, conv1d_step_k3_f32, conv1d_step_k4_f32,
                                                        conv1d_step_k5_f32, conv1d_step_k6_f32, conv1d_step_k7_f32, conv1d_step_k8_f32 };
        const bool windowVec = c.K % 4 == 0 && reinterpret_cast<uintptr_t>(convA.data()) % 16 == 0 && reinterpret_cast<uintptr_t>(cw.data()) % 16 == 0;
        launch_elementwise((long long)c.R * C, stepKernels[c.K - 1], convA.data(), zxA.data() + E, (i64)DP, cw.data(), cbias, 1, convOutA.data(),
                           c.R, C, windowVec ? 1 : 0);
        emu::launch(dim3(stepGrid), dim3(threads), 0, ssm_step_f32, ssmA.data(), convOutA.data(), (i64)C, (i64)c.P, zxA.data() + E + C, (i64)DP,
                    dtBias.data(), a.data(), convOutA.data() + E, (i64)C, (i64)c.N, convOutA.data() + E + GN, (i64)C, (i64)c.N, dd, ys.data(),
                    c.R, c.H, c.G, c.P, c.N, pPerWarp);
        emu::launch(dim3((unsigned)c.R), dim3(row_threads(E)), 0, rms_norm_f32, ys.data(), (i64)E, (const float*)nullptr, zxA.data(), (i64)DP,
                    nw.data(), Eps, E, 1, (i64)c.R, normed.data(), (float*)nullptr);
        emu::launch(gridOut, dim3(SkinnyThreads), 0, skinny_gemm_bf16, normed.data(), (i64)E, wout.data(), (i64)E, yA.data(), (i64)c.D, c.R,
                    c.D, E, 1.0f, 0.0f, vec(E, normed.data(), wout.data()), splitOut);

        // fused
        auto convB = conv0, ssmB = ssm0;
        auto zxB = nan_buffer((size_t)c.R * DP), convOutB = nan_buffer((size_t)c.R * C), gB = nan_buffer((size_t)c.R * E),
             yB = nan_buffer((size_t)c.R * c.D);
        // skinny_gemm_conv_k<K>_bf16 by K, as the host picks it by name
        decltype(&skinny_gemm_conv_k4_bf16) convKernels[] = { skinny_gemm_conv_k1_bf16, skinny_gemm_conv_k2_bf16, skinny_gemm_conv_k3_bf16,
                                                               skinny_gemm_conv_k4_bf16, skinny_gemm_conv_k5_bf16, skinny_gemm_conv_k6_bf16,
                                                               skinny_gemm_conv_k7_bf16, skinny_gemm_conv_k8_bf16 };
        emu::launch(gridIn, dim3(SkinnyThreads), 0, convKernels[c.K - 1], u.data(), (i64)c.D, win.data(), (i64)c.D, zxB.data(), (i64)DP, c.R,
                    DP, c.D, vec(c.D, u.data(), win.data()), splitIn, E, C, convB.data(), cw.data(), cbias, convOutB.data());
        emu::launch(dim3(stepGrid), dim3(threads), 0, ssm_step_gated_f32, ssmB.data(), convOutB.data(), (i64)C, (i64)c.P, zxB.data() + E + C,
                    (i64)DP, dtBias.data(), a.data(), convOutB.data() + E, (i64)C, (i64)c.N, convOutB.data() + E + GN, (i64)C, (i64)c.N, dd,
                    zxB.data(), (i64)DP, gB.data(), c.R, c.H, c.G, c.P, c.N, pPerWarp);
        emu::launch(gridOut, dim3(SkinnyThreads), 0, skinny_gemm_rownorm_bf16, gB.data(), (i64)E, wout.data(), (i64)E, yB.data(), (i64)c.D,
                    c.R, c.D, E, vec(E, gB.data(), wout.data(), nw.data()), splitOut, nw.data(), Eps);

        size_t zdtDiffer = 0;
        for (int r = 0; r < c.R; r++)
        {
            zdtDiffer += differing(&zxA[(size_t)r * DP], &zxB[(size_t)r * DP], E);
            zdtDiffer += differing(&zxA[(size_t)r * DP + E + C], &zxB[(size_t)r * DP + E + C], c.H);
        }
        size_t convDiffer = differing(convA.data(), convB.data(), convA.size()) + differing(convOutA.data(), convOutB.data(), convOutA.size());
        size_t ssmDiffer = differing(ssmA.data(), ssmB.data(), ssmA.size());
        double e = nmse(yB, yA);
        bool ok = zdtDiffer == 0 && convDiffer == 0 && ssmDiffer == 0 && e <= Tol;
        worst = std::max(worst, e);
        (ok ? pass : fail)++;
        std::printf("%-26s split in/out %d/%d, %d step blocks | %s | y NMSE %.1e vs composed; differing bits: z/dt %zu, conv %zu, ssm state %zu\n",
                    c.name, splitIn, splitOut, stepGrid, ok ? "pass" : "FAIL", e, zdtDiffer, convDiffer, ssmDiffer);
    }
    std::printf("decode_layer_check: %d pass, %d fail, worst y NMSE %.1e (tolerance %.0e)\n", pass, fail, worst, Tol);
    return fail == 0 ? 0 : 1;
}
