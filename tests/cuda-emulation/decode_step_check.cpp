// Runs decode_step.cu's conv_ssm_step_f32 (ConvSsmStep) under the CPU emulation (cuda_emu.hpp) with exactly the
// launch of src/Aim.Engine.Cuda/Kernels/CudaKernels.DecodeStep.cs (256 threads, one block per (row, head, slice of
// P), P rows per warp by the H200's 132 SMs, dynamic shared (2·N + 8·pPerWarp) floats, a zeroed counter buffer of
// max(B·G, 4096) ints) on the cases written by `Aim.Cuda.Check --emit-decode-step DIR`. Each case runs with xbc and
// dt contiguous and as strided views (xbc inside rows of C+5 at column 2, dt inside rows of H+3 at column 1, as
// OpCases.DecodeStep.cs's view cases), two launches in a row with the same xbc and dt; after each launch y, the conv
// state and the SSM state are compared with the float64 reference, and the counters must be back at zero.
// y starts as NaN so a value the kernel forgets to write shows up. Blocks run one after another here, so the
// emulation cannot show cross-block races: decode_step.cu's header argues those away.
// Usage: decode_step_check DIR [case-name-substring]    exit 1 when any output exceeds its tolerance.
#include "cuda_emu.hpp"
#include "emu_cases.hpp"
#include "decode_step.cu"

#include <chrono>
#include <fstream>
#include <limits>
#include <sstream>

namespace
{
constexpr int Threads = 256, Warps = 8, MinCounters = 4096; // CudaKernels.DecodeStep.cs, H200
constexpr double Tol = 1e-10; // NMSE vs float64, as OpCases.DecodeStep.cs

// Rows of `cols` values stored inside rows of `width` values starting at column `at`.
std::vector<float> embed(const std::vector<float>& src, size_t rows, int cols, int width, int at)
{
    std::vector<float> o(rows * width + 1, std::numeric_limits<float>::quiet_NaN());
    for (size_t r = 0; r < rows; r++)
        for (int k = 0; k < cols; k++) o[r * width + at + k] = src[r * cols + k];
    return o;
}

struct Result
{
    std::string name;
    double nmse, maxAbs;
    bool ok;
};

Result compare(const std::string& name, const std::vector<float>& got, const std::vector<double>& want)
{
    auto e = error_of(got.data(), want);
    return {name, e.nmse, e.maxAbs, e.nmse <= Tol};
}
} // namespace

int main(int argc, char** argv)
{
    if (argc < 2) { std::fprintf(stderr, "usage: decode_step_check DIR [case-name-substring]\n"); return 2; }
    std::string dir = argv[1], filter = argc > 2 ? argv[2] : "";
    std::ifstream m(dir + "/manifest.txt");
    if (!m) { std::fprintf(stderr, "no %s/manifest.txt (run Aim.Cuda.Check --emit-decode-step %s)\n", dir.c_str(), dir.c_str()); return 2; }
    std::string line;
    int pass = 0, fail = 0;
    double worst = 0;
    while (std::getline(m, line))
    {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream is(line);
        std::string name;
        int B, H, G, P, N, K, hasBias, hasD;
        is >> name >> B >> H >> G >> P >> N >> K >> hasBias >> hasD;
        if (!is) { std::fprintf(stderr, "bad manifest line: %s\n", line.c_str()); return 2; }
        if (!filter.empty() && name.find(filter) == std::string::npos) continue;
        const std::string at = dir + "/" + name + "/";
        const int C = H * P + 2 * G * N;
        const size_t convN = (size_t)B * C * K, ssmN = (size_t)B * H * P * N, yN = (size_t)B * H * P;
        auto conv0 = read_file<float>(at + "conv.f32", convN);
        auto xbc0 = read_file<float>(at + "xbc.f32", (size_t)B * C);
        auto w = read_file<float>(at + "w.f32", (size_t)C * K);
        auto bias = hasBias ? read_file<float>(at + "bias.f32", C) : std::vector<float>();
        auto ssm0 = read_file<float>(at + "ssm.f32", ssmN);
        auto dt0 = read_file<float>(at + "dt.f32", (size_t)B * H);
        auto dtBias = read_file<float>(at + "dtbias.f32", H);
        auto a = read_file<float>(at + "a.f32", H);
        auto d = hasD ? read_file<float>(at + "d.f32", H) : std::vector<float>();

        for (int view = 0; view < 2; view++)
        {
            auto t0 = std::chrono::steady_clock::now();
            // The operands as the C# passes them: xbc and dt contiguous, or column blocks of wider rows.
            int xbcWidth = view ? C + 5 : C, xbcAt = view ? 2 : 0, dtWidth = view ? H + 3 : H, dtAt = view ? 1 : 0;
            auto xbc = embed(xbc0, B, C, xbcWidth, xbcAt);
            auto dt = embed(dt0, B, H, dtWidth, dtAt);
            auto conv = conv0;
            auto ssm = ssm0;
            // CudaKernels.DecodeStep.cs
            int pPerWarp = (long long)B * H >= 2LL * H200Multiprocessors ? (P + Warps - 1) / Warps : 1;
            int rowsPerBlock = Warps * pPerWarp, pBlocks = (P + rowsPerBlock - 1) / rowsPerBlock;
            size_t shared = ((size_t)2 * N + rowsPerBlock) * sizeof(float);
            std::vector<int> counters(std::max(B * G, MinCounters), 0);
            std::vector<Result> results;
            bool countersOk = true;
            for (int step = 1; step <= 2; step++)
            {
                std::vector<float> y(yN, std::numeric_limits<float>::quiet_NaN());
                emu::launch(dim3((unsigned)((long long)B * H * pBlocks)), dim3(Threads), shared, conv_ssm_step_f32,
                            conv.data(), xbc.data() + xbcAt, (i64)xbcWidth, w.data(), hasBias ? bias.data() : nullptr,
                            ssm.data(), dt.data() + dtAt, (i64)dtWidth, dtBias.data(), a.data(), hasD ? d.data() : nullptr, y.data(),
                            counters.data(), B, H, G, P, N, K, pPerWarp);
                for (int c : counters) countersOk &= c == 0;
                std::string s = std::to_string(step);
                results.push_back(compare("y" + s, y, read_file<double>(at + "y" + s + ".f64", yN)));
                results.push_back(compare("conv" + s, conv, read_file<double>(at + "conv" + s + ".f64", convN)));
                results.push_back(compare("ssm" + s, ssm, read_file<double>(at + "ssm" + s + ".f64", ssmN)));
            }
            double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            bool ok = countersOk;
            std::string detail;
            for (auto& r : results)
            {
                ok &= r.ok;
                worst = std::max(worst, r.nmse);
                char buf[96];
                std::snprintf(buf, sizeof buf, " %s %.1e%s", r.name.c_str(), r.nmse, r.ok ? "" : "(FAIL)");
                detail += buf;
            }
            if (!countersOk) detail += " counters not reset (FAIL)";
            std::printf("%-28s %-9s pPerWarp=%d blocks=%lld %s%s (%.1fs)\n", name.c_str(), view ? "strided" : "contig", pPerWarp,
                        (long long)B * H * pBlocks, ok ? "pass" : "FAIL", detail.c_str(), secs);
            (ok ? pass : fail)++;
        }
    }
    std::printf("decode_step_check: %d pass, %d fail, worst NMSE %.1e (tolerance %.0e)\n", pass, fail, worst, Tol);
    return fail == 0 && pass > 0 ? 0 : 1;
}
