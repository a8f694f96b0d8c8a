// Runs sample.cu's sample_tokens under the CPU emulation (cuda_emu.hpp) with the launch of
// src/Aim.Engine.Cuda/Kernels/CudaKernels.Sample.cs (one 1024-thread block per image, a shared tile of
// min(2^ceil(log2 V), 4096) keys, a global scratch of B·2^ceil(log2 V) keys when top-p is on and V exceeds the
// tile) on the cases written by `Aim.Cuda.Check --emit-sample DIR`, and compares tokens, steps, positions and
// history EXACTLY with ReferenceKernels.SampleTokens (as OpCases.Sample.cs does, MaxNmse 0).
// Usage: sample_check DIR [case-name-substring]    exit 1 on any difference.
#include "cuda_emu.hpp"
#include "emu_cases.hpp"
#include "sample.cu"

#include <chrono>
#include <fstream>
#include <sstream>

namespace
{
constexpr int SampleThreads = 1024, SampleTileCap = 4096;
constexpr size_t SampleStaticShared = 6 * 1024; // sample_tokens' static shared memory (5136 bytes), rounded up

int differences(const char* what, const std::vector<i64>& got, const std::vector<i64>& want, std::string& detail)
{
    int n = 0;
    for (size_t i = 0; i < want.size(); i++)
        if (got[i] != want[i])
        {
            if (n++ < 4) detail += "    " + std::string(what) + "[" + std::to_string(i) + "] = " + std::to_string(got[i]) + ", want " + std::to_string(want[i]) + "\n";
        }
    return n;
}
} // namespace

int main(int argc, char** argv)
{
    if (argc < 2) { std::fprintf(stderr, "usage: sample_check DIR [case-name-substring]\n"); return 2; }
    std::string dir = argv[1], filter = argc > 2 ? argv[2] : "";
    std::ifstream m(dir + "/manifest.txt");
    if (!m) { std::fprintf(stderr, "no %s/manifest.txt (run Aim.Cuda.Check --emit-sample %s)\n", dir.c_str(), dir.c_str()); return 2; }
    std::string line;
    int pass = 0, fail = 0;
    while (std::getline(m, line))
    {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream is(line);
        std::string name;
        int B, V, T, topK, shift;
        double cfg, topP, temperature;
        unsigned long long seed, counterBase;
        is >> name >> B >> V >> T >> cfg >> topK >> topP >> temperature >> seed >> counterBase >> shift;
        if (!is) { std::fprintf(stderr, "bad manifest line: %s\n", line.c_str()); return 2; }
        if (!filter.empty() && name.find(filter) == std::string::npos) continue;
        const std::string at = dir + "/" + name + "/";
        auto logits = read_file<float>(at + "logits.f32", (size_t)2 * B * V);
        auto steps = read_file<i64>(at + "steps.i64", (size_t)2 * B);
        auto history = read_file<i64>(at + "history.i64", (size_t)B * T);
        std::vector<i64> tokens(2 * B, -7), positions(2 * B, -7);

        // CudaKernels.Sample.cs: the guided row kept in shared memory after the tile where it fits (the host's rule,
        // with the kernel's ~5 KiB of static shared memory), else recomputed in every pass; both forms run, each from
        // the case's inputs, and each must match the reference.
        unsigned span = 1;
        while (span < (unsigned)V) span <<= 1;
        int tileCap = (int)std::min<unsigned>(span, SampleTileCap);
        bool useScratch = topP < 1 && (int)span > tileCap;
        const size_t tileBytes = (size_t)tileCap * sizeof(u64), rowBytes = (size_t)V * sizeof(float);
        const bool fits = SampleStaticShared + tileBytes + rowBytes <= EMU_MAX_DYNAMIC_SHARED;
        struct Outputs
        {
            std::vector<i64> steps, history, tokens, positions;
            bool operator==(const Outputs&) const = default;
        };
        // One launch of the given form on fresh copies of the case's inputs.
        const auto run = [&](int cache)
        {
            Outputs o{steps, history, std::vector<i64>(2 * B, -7), std::vector<i64>(2 * B, -7)};
            std::vector<u64> scratch(useScratch ? (size_t)B * span : 0, ~0ULL);
            emu::launch(dim3((unsigned)B), dim3(SampleThreads), tileBytes + (cache ? rowBytes : 0), sample_tokens, logits.data(), o.steps.data(),
                        o.tokens.data(), o.positions.data(), o.history.data(), B, V, T, (float)cfg, temperature, topK, topP, (u64)seed,
                        (u64)counterBase, shift, tileCap, useScratch ? scratch.data() : nullptr, useScratch ? (i64)span : (i64)0, cache);
            return o;
        };
        auto t0 = std::chrono::steady_clock::now();
        const Outputs got = run(fits ? 1 : 0);
        if (fits && !(run(0) == got))
        {
            std::printf("%-28s | FAIL | the recomputing form differs from the caching form\n", name.c_str());
            fail++;
        }
        steps = got.steps, history = got.history, tokens = got.tokens, positions = got.positions;
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

        std::string detail;
        int diff = differences("tokens", tokens, read_file<i64>(at + "tokens.i64", (size_t)2 * B), detail)
                 + differences("steps", steps, read_file<i64>(at + "steps_out.i64", (size_t)2 * B), detail)
                 + differences("positions", positions, read_file<i64>(at + "positions.i64", (size_t)2 * B), detail)
                 + differences("history", history, read_file<i64>(at + "history_out.i64", (size_t)B * T), detail);
        std::printf("%-28s | %s | %d differing values | tokens", name.c_str(), diff == 0 ? "pass" : "FAIL", diff);
        for (int b = 0; b < B; b++) std::printf(" %lld", (long long)tokens[b]);
        std::printf(" | %.1f s%s%s\n%s", secs, useScratch ? " (global scratch allocated)" : "", fits ? " (cached guided row; the recomputing form equal)" : "",
                    detail.c_str());
        std::fflush(stdout);
        (diff == 0 ? pass : fail)++;
    }
    std::printf("sample_check: %d pass, %d fail (exact comparison with ReferenceKernels.SampleTokens)\n", pass, fail);
    return fail == 0 && pass > 0 ? 0 : 1;
}
