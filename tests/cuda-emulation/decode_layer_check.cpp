// Runs decode_layer.cu's mamba_decode_layer_bf16 (MambaDecodeLayer's persistent kernel) under the CPU emulation
// (cuda_emu.hpp) with emu::launch_cooperative and the arguments of src/Aim.Engine.Cuda/Kernels/CudaKernels.DecodeLayer.cs
// (256 threads; in_proj / out_proj column splits from Gemm.cs's SkinnySplit and P rows per warp from the H200's 132
// SMs; RowThreads(d) and RowThreads(groupSize) reduction widths; dynamic shared memory (160 + max(R·max(d, E),
// 2N + 8·pPerWarp)) floats; two zeroed barrier words) on the cases of `Aim.Cuda.Check --emit-decode-layer DIR`.
// The kernel's loops stride by gridDim.x, so any grid is valid: each case runs with grids of 1, 5 and (at most) 12
// blocks (the GPU's is min(resident blocks, work items), far more fibers than the emulation wants), under both
// cooperative schedules, two launches in a row with the same inputs and the states carried; after each launch y,
// residualOut and both states are compared with the float64 reference and the barrier count must be back at zero.
// y and residualOut start as NaN so a value the kernel forgets to write shows up.
// Usage: decode_layer_check DIR [case-name-substring]    exit 1 when any output exceeds its tolerance.
#include "cuda_emu.hpp"
#include "emu_cases.hpp"
#include "decode_layer.cu"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <limits>
#include <sstream>

namespace
{
constexpr int Threads = 256, Warps = 8; // CudaKernels.DecodeLayer.cs, H200
constexpr double Tol = 1e-10;                                       // NMSE vs float64, as OpCases.DecodeLayer.cs

struct Result
{
    std::string name;
    double nmse;
    bool ok;
};

Result compare(const std::string& name, const std::vector<float>& got, const std::vector<double>& want)
{
    double e = error_of(got.data(), want).nmse;
    return {name, e, e <= Tol};
}

// A buffer whose data starts 16-byte aligned (the device allocator's blocks are at least that).
struct Aligned
{
    std::vector<float4> store;
    float* at;
    explicit Aligned(size_t n, float fill) : store(n / 4 + 1)
    {
        at = reinterpret_cast<float*>(store.data());
        std::fill(at, at + n, fill);
    }
};
} // namespace

int main(int argc, char** argv)
{
    if (argc < 2) { std::fprintf(stderr, "usage: decode_layer_check DIR [case-name-substring]\n"); return 2; }
    std::string dir = argv[1], filter = argc > 2 ? argv[2] : "";
    std::ifstream m(dir + "/manifest.txt");
    if (!m) { std::fprintf(stderr, "no %s/manifest.txt (run Aim.Cuda.Check --emit-decode-layer %s)\n", dir.c_str(), dir.c_str()); return 2; }
    std::string line;
    int pass = 0, fail = 0;
    double worst = 0;
    while (std::getline(m, line))
    {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream is(line);
        std::string name;
        int R, D, H, G, P, N, K, first, hasBias, hasD;
        is >> name >> R >> D >> H >> G >> P >> N >> K >> first >> hasBias >> hasD;
        if (!is) { std::fprintf(stderr, "bad manifest line: %s\n", line.c_str()); return 2; }
        if (!filter.empty() && name.find(filter) == std::string::npos) continue;
        const std::string at = dir + "/" + name + "/";
        const int E = H * P, C = E + 2 * G * N, Dp = E + C + H;
        const size_t rd = (size_t)R * D, convN = (size_t)R * C * K, ssmN = (size_t)R * H * P * N;
        auto hidden = read_file<float>(at + "hidden.f32", rd);
        auto gate = first ? std::vector<float>() : read_file<float>(at + "gate.f32", rd);
        auto res = first ? std::vector<float>() : read_file<float>(at + "res.f32", rd);
        auto nw = read_file<float>(at + "nw.f32", D);
        auto s1p = read_file<float>(at + "s1p.f32", rd);
        auto shift = read_file<float>(at + "shift.f32", rd);
        auto conv0 = read_file<float>(at + "conv.f32", convN);
        auto cw = read_file<float>(at + "cw.f32", (size_t)C * K);
        auto cb = hasBias ? read_file<float>(at + "cb.f32", C) : std::vector<float>();
        auto ssm0 = read_file<float>(at + "ssm.f32", ssmN);
        auto dtBias = read_file<float>(at + "dtbias.f32", H);
        auto a = read_file<float>(at + "a.f32", H);
        auto d = hasD ? read_file<float>(at + "d.f32", H) : std::vector<float>();
        auto gnw = read_file<float>(at + "gnw.f32", E);
        auto winBits = read_file<uint16_t>(at + "win.bf16", (size_t)Dp * D);
        auto woutBits = read_file<uint16_t>(at + "wout.bf16", (size_t)D * E);
        // 16-byte aligned copies of the weights (the vec paths read uint4 chunks).
        std::vector<uint4> winStore((winBits.size() * 2) / 16 + 1), woutStore((woutBits.size() * 2) / 16 + 1);
        std::memcpy(winStore.data(), winBits.data(), winBits.size() * 2);
        std::memcpy(woutStore.data(), woutBits.data(), woutBits.size() * 2);
        const bf16* win = reinterpret_cast<const bf16*>(winStore.data());
        const bf16* wout = reinterpret_cast<const bf16*>(woutStore.data());

        // CudaKernels.DecodeLayer.cs
        int pPerWarp = (long long)R * H >= 2LL * H200Multiprocessors ? (P + Warps - 1) / Warps : 1;
        size_t rowFloats = std::max((size_t)R * std::max(D, E), (size_t)2 * N + (size_t)Warps * pPerWarp);
        size_t shared = (160 + rowFloats) * sizeof(float);
        int splitIn = skinny_split(Dp, D, SKINNY_WARPS), splitOut = skinny_split(D, E, SKINNY_WARPS);
        int vecIn = D % 8 == 0, vecOut = E % 8 == 0, nvec = E % 4 == 0 && Dp % 4 == 0;
        int pBlocks = (P + Warps * pPerWarp - 1) / (Warps * pPerWarp);
        long long work = std::max({ (long long)(Dp + SKINNY_WARPS / splitIn - 1) / (SKINNY_WARPS / splitIn), (long long)R * H * pBlocks,
                                    (long long)(D + SKINNY_WARPS / splitOut - 1) / (SKINNY_WARPS / splitOut) });
        for (int grid : { 1, 5, 12 })
            for (auto schedule : { emu::Schedule::RunAhead, emu::Schedule::PreemptAtAtomics })
            {
                if (grid > work) continue;
                emu::cooperative_schedule() = schedule;
                auto t0 = std::chrono::steady_clock::now();
                auto conv = conv0;
                auto ssm = ssm0;
                Aligned zx((size_t)R * Dp, std::numeric_limits<float>::quiet_NaN()), ys((size_t)R * E, std::numeric_limits<float>::quiet_NaN());
                unsigned barrier[16] = {};
                std::vector<Result> results;
                bool ok = true;
                std::string detail;
                for (int step = 1; step <= 2 && ok; step++)
                {
                    std::vector<float> y(rd, std::numeric_limits<float>::quiet_NaN()), resOut(rd, std::numeric_limits<float>::quiet_NaN());
                    bool ran = emu::launch_cooperative(dim3(grid), dim3(Threads), shared, mamba_decode_layer_bf16,
                        hidden.data(), first ? nullptr : gate.data(), first ? nullptr : res.data(), nw.data(), 1e-5f, s1p.data(), shift.data(),
                        row_threads(D), win, conv.data(), cw.data(), hasBias ? cb.data() : nullptr, ssm.data(), dtBias.data(), a.data(),
                        hasD ? d.data() : nullptr, gnw.data(), 1e-5f, E / G, row_threads(E / G), wout, y.data(), resOut.data(), zx.at, ys.at,
                        barrier, R, D, H, G, P, N, K, pPerWarp, vecIn, splitIn, vecOut, splitOut, nvec);
                    if (!ran)
                    {
                        ok = false;
                        detail += " deadlock: " + emu::last_error();
                        break;
                    }
                    if (barrier[0] != 0) { ok = false; detail += " barrier count not reset (FAIL)"; }
                    std::string s = std::to_string(step);
                    results.push_back(compare("y" + s, y, read_file<double>(at + "y" + s + ".f64", rd)));
                    results.push_back(compare("res" + s, resOut, read_file<double>(at + "res" + s + ".f64", rd)));
                    results.push_back(compare("conv" + s, conv, read_file<double>(at + "conv" + s + ".f64", convN)));
                    results.push_back(compare("ssm" + s, ssm, read_file<double>(at + "ssm" + s + ".f64", ssmN)));
                }
                double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                for (auto& r : results)
                {
                    ok &= r.ok;
                    worst = std::max(worst, r.nmse);
                    char buf[96];
                    std::snprintf(buf, sizeof buf, " %s %.1e%s", r.name.c_str(), r.nmse, r.ok ? "" : "(FAIL)");
                    detail += buf;
                }
                std::printf("%-24s grid=%-2d %-10s split=%d/%d pPerWarp=%d %s%s (%.1fs)\n", name.c_str(), grid,
                            schedule == emu::Schedule::RunAhead ? "run-ahead" : "preempt", splitIn, splitOut, pPerWarp, ok ? "pass" : "FAIL",
                            detail.c_str(), secs);
                (ok ? pass : fail)++;
            }
    }
    std::printf("decode_layer_check: %d pass, %d fail, worst NMSE %.1e (tolerance %.0e)\n", pass, fail, worst, Tol);
    return fail == 0 && pass > 0 ? 0 : 1;
}
