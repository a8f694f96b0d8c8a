// Runs modulate.cu's kernels under the CPU emulation (cuda_emu.hpp) on cases built here (no emitted files): x, dOut
// (B, L, D) and the rows scale, shift (B, D) for (B, L, D) in a list of odd sizes (1, 7, 31, 257 channels and
// positions, L = 1, B = 1 and B > 1), a long L, the AiM-B training block (32, 256, 768) and D % 4 == 0 shapes with odd
// L (D = 4, 8, 12, 36, 64, 260). Each case runs
//   * modulate_f32 with and without the shift, every value bit-equal to the float32 product then sum (Mul then Add),
//   * modulate_backward_f32 (+ modulate_backward_finish_f32) with the launch of CudaKernels.Modulate.cs ModulatePlan
//     for the H200's 132 multiprocessors (mirrored below) and with forced split counts 1, 2, 3, 7: dX bit-equal to
//     float32 dOut · scale, dScale and dShift against float64 sums (NMSE ≤ 1e-10); the Gate form (dShift null) and
//     the dX-only form (no sums) leave the null outputs' buffers untouched,
//   * the kernel is the one the host picks (ModulateFourChannels, mirrored: modulate_backward4_f32 for D % 4 == 0
//     and every pointer 16-byte aligned, which every D % 4 == 0 case here is; a misaligned x keeps the scalar kernel);
//     where that is modulate_backward4_f32, the same plan, split count and form also runs on modulate_backward_f32 and
//     every output (dX, dScale, dShift, the partials workspace) must be bit-equal to it.
// Outputs and the partials workspace start as NaN, so a value a kernel forgets to write shows up.
// Usage: modulate_check [case-name-substring]    exit 1 when any run fails.
#include "cuda_emu.hpp"
#include "emu_cases.hpp"
#include "modulate.cu"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>

namespace
{
constexpr int ModulateThreads = 256;                        // CudaKernels.Modulate.cs constants
constexpr int ModulateMaxCols = 32;
constexpr int ModulateMinBlocksPerMultiprocessor = 4;
constexpr int ModulateSplitBlocksPerMultiprocessor = 8;
constexpr int ModulateMinLoadsPerThread = 8;
constexpr long long SumToMaxSplits = 1LL << 16;

long long next_pow2(long long n)
{
    long long p = 1;
    while (p < n) p *= 2;
    return p;
}

struct Plan
{
    int cols, rows;
    long long colTiles, splits, rowsPerSplit;
};

/// CudaKernels.Modulate.cs ModulatePlan; forcedSplits > 0 replaces the split count it would choose.
Plan plan_of(int images, int l, int d, int multiprocessors, long long forcedSplits = 0)
{
    int cols = (int)std::min<long long>(ModulateMaxCols, next_pow2(d));
    int rows = (int)std::min<long long>(ModulateThreads / cols, next_pow2(l));
    long long colTiles = (d + cols - 1) / cols;
    long long blocks = images * colTiles;
    long long splits = 1;
    if (blocks < (long long)multiprocessors * ModulateMinBlocksPerMultiprocessor)
    {
        long long target = (long long)multiprocessors * ModulateSplitBlocksPerMultiprocessor;
        splits = std::clamp(std::min((target + blocks - 1) / blocks, l / ((long long)rows * ModulateMinLoadsPerThread)), 1LL, SumToMaxSplits);
    }
    if (forcedSplits > 0) splits = forcedSplits;
    long long rowsPerSplit = std::max((l + splits - 1) / splits, 1LL);
    splits = std::max((l + rowsPerSplit - 1) / rowsPerSplit, 1LL);
    return {cols, rows, colTiles, splits, rowsPerSplit};
}

/// CudaKernels.Modulate.cs ModulateFourChannels: D % 4 == 0 and every present pointer 16-byte aligned.
bool vectorised_of(int d, std::initializer_list<const void*> pointers)
{
    if (d % 4 != 0) return false;
    for (const void* p : pointers)
        if (reinterpret_cast<uintptr_t>(p) % 16 != 0) return false;
    return true;
}

/// CudaKernels.Modulate.cs ModulateBackwardThreads.
int threads_of(const Plan& p, bool vectorised) { return (vectorised ? p.cols / 4 : p.cols) * p.rows; }

int failures = 0, runs = 0, vectorRuns = 0;
double worst = 0;

void fail(const std::string& what)
{
    failures++;
    std::printf("FAIL %s\n", what.c_str());
}

bool bit_equal(const std::vector<float>& a, const std::vector<float>& b)
{
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

void check_sums(const std::string& what, const std::vector<float>& got, const std::vector<double>& want)
{
    runs++;
    Error e = error_of(got.data(), want);
    worst = std::max(worst, e.nmse);
    if (!(e.nmse <= 1e-10)) fail(what + ": nmse " + std::to_string(e.nmse));
}

std::vector<float> uniform(size_t n, uint64_t& s, float lo, float hi)
{
    std::vector<float> v(std::max<size_t>(n, 1));
    for (auto& e : v)
    {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        e = lo + (hi - lo) * (float)((double)(s >> 11) / 9007199254740992.0);
    }
    return v;
}

void run_case(int b, int l, int d, uint64_t seed)
{
    char nameBuf[64];
    std::snprintf(nameBuf, sizeof nameBuf, "B=%d,L=%d,D=%d", b, l, d);
    const std::string name = nameBuf;
    const long long n = (long long)b * l * d, outputs = (long long)b * d;
    uint64_t s = seed * 6364136223846793005ULL + 1;
    auto x = uniform((size_t)n, s, -1, 1), g = uniform((size_t)n, s, -1, 1);
    auto scale = uniform((size_t)outputs, s, 0.5f, 1.5f), shift = uniform((size_t)outputs, s, -1, 1);

    // Forward: bit-equal to the product rounded, then the sum rounded.
    std::vector<float> wantU((size_t)n), wantP((size_t)n), wantDx((size_t)n);
    std::vector<double> wantS((size_t)outputs, 0.0), wantH((size_t)outputs, 0.0);
    for (long long i = 0; i < n; i++)
    {
        long long row = (i / ((long long)l * d)) * d + i % d;
        volatile float p = x[i] * scale[row];
        wantP[i] = p;
        wantU[i] = p + shift[row];
        wantDx[i] = g[i] * scale[row];
        wantS[row] += (double)g[i] * x[i];
        wantH[row] += g[i];
    }
    for (bool withShift : {true, false})
    {
        runs++;
        auto out = nan_buffer((size_t)n);
        launch_elementwise(n, modulate_f32, (const float*)x.data(), (const float*)scale.data(),
            withShift ? (const float*)shift.data() : (const float*)nullptr, out.data(), n, (long long)l, (long long)d);
        out.resize((size_t)n);
        if (!bit_equal(out, withShift ? wantU : wantP)) fail(name + (withShift ? " forward" : " forward no-shift") + ": not bit-equal");
        if (d % 4 == 0)   // the four-channel kernel the host picks for D % 4 == 0 and aligned pointers
        {
            runs++;
            auto out4 = nan_buffer((size_t)n);
            launch_elementwise(n / 4, modulate4_f32, (const float4*)x.data(), (const float*)scale.data(),
                withShift ? (const float*)shift.data() : (const float*)nullptr, (float4*)out4.data(), n / 4, (long long)l, (long long)d);
            out4.resize((size_t)n);
            if (!bit_equal(out4, withShift ? wantU : wantP)) fail(name + (withShift ? " forward4" : " forward4 no-shift") + ": not bit-equal");
        }
    }

    // Backward: planned and forced split counts; all outputs, the Gate form, dX only.
    Plan planned = plan_of(b, l, d, H200Multiprocessors);
    std::printf("%-24s plan cols=%d rows=%d colTiles=%lld splits=%lld%s\n", name.c_str(), planned.cols, planned.rows, planned.colTiles,
        planned.splits, d % 4 == 0 ? " (+ four-channel kernel)" : "");
    if (d % 4 == 0)
    {
        runs++;
        if (vectorised_of(d, {x.data() + 1, scale.data(), g.data()})) fail(name + ": the mirror vectorises a misaligned x");
        if (!vectorised_of(d, {x.data(), scale.data(), g.data(), nullptr})) fail(name + ": the mirror keeps the scalar kernel on aligned pointers");
    }
    for (long long forced : {0LL, 1LL, 2LL, 3LL, 7LL})
    {
        if (forced > std::max(l, 1)) continue;
        Plan p = plan_of(b, l, d, H200Multiprocessors, forced);
        for (int form = 0; form < 3; form++) // 0: dX, dScale, dShift; 1: dX, dScale (Gate); 2: dX only
        {
            // One backward launch (+ finish) with the kernel the host mirror picks (the scalar one when forceScalar); outputs
            // start as NaN. Returns whether it ran the four-channel kernel.
            auto backward = [&](bool forceScalar, std::vector<float>& dx, std::vector<float>& ds, std::vector<float>& dh, std::vector<float>& partial)
            {
                dx = nan_buffer((size_t)n);
                ds = nan_buffer((size_t)outputs);
                dh = nan_buffer((size_t)outputs);
                bool sums = form < 2;
                partial = sums && p.splits > 1 ? nan_buffer((size_t)(p.splits * 2 * outputs)) : std::vector<float>();
                float* pp = partial.empty() ? nullptr : partial.data();
                float* pds = form < 2 ? ds.data() : nullptr;
                float* pdh = form == 0 ? dh.data() : nullptr;
                bool vectorised = !forceScalar && vectorised_of(d, {x.data(), scale.data(), g.data(), dx.data(), pds, pdh, pp});
                dim3 grid((unsigned)(p.splits * b * p.colTiles)), block((unsigned)threads_of(p, vectorised));
                if (vectorised)
                    emu::launch(grid, block, 0, modulate_backward4_f32, (const float4*)x.data(), (const float*)scale.data(),
                        (const float4*)g.data(), (float4*)dx.data(), pds, pdh, b, (long long)l, d, p.cols, p.colTiles, p.rowsPerSplit, pp);
                else
                    emu::launch(grid, block, 0, modulate_backward_f32, (const float*)x.data(), (const float*)scale.data(),
                        (const float*)g.data(), dx.data(), pds, pdh, b, (long long)l, d, p.cols, p.colTiles, p.rowsPerSplit, pp);
                if (pp) launch_elementwise(outputs, modulate_backward_finish_f32, (const float*)pp, p.splits, outputs, pds, pdh);
                dx.resize((size_t)n);
                ds.resize((size_t)outputs);
                dh.resize((size_t)outputs);
                return vectorised;
            };
            std::vector<float> dx, ds, dh, partial;
            bool vectorised = backward(false, dx, ds, dh, partial);
            std::string tag = name + " splits=" + std::to_string(p.splits) + (form == 0 ? " all" : form == 1 ? " gate" : " dx-only");
            runs++;
            if (vectorised != (d % 4 == 0)) fail(tag + ": the host mirror picks the " + (vectorised ? "four-channel" : "scalar") + " kernel");
            if (!bit_equal(dx, wantDx)) fail(tag + " dX: not bit-equal");
            if (form < 2) check_sums(tag + " dScale", ds, wantS);
            else if (!std::all_of(ds.begin(), ds.end(), [](float v) { return std::isnan(v); })) fail(tag + " dScale written");
            if (form == 0) check_sums(tag + " dShift", dh, wantH);
            else if (!std::all_of(dh.begin(), dh.end(), [](float v) { return std::isnan(v); })) fail(tag + " dShift written");
            if (vectorised)   // the scalar kernel on the same plan and form: every output and partial bit for bit
            {
                runs++;
                vectorRuns++;
                std::vector<float> dx1, ds1, dh1, partial1;
                backward(true, dx1, ds1, dh1, partial1);
                if (!bit_equal(dx, dx1)) fail(tag + " four-channel dX: not bit-equal to the scalar kernel's");
                if (!bit_equal(ds, ds1)) fail(tag + " four-channel dScale: not bit-equal to the scalar kernel's");
                if (!bit_equal(dh, dh1)) fail(tag + " four-channel dShift: not bit-equal to the scalar kernel's");
                if (!bit_equal(partial, partial1)) fail(tag + " four-channel partials: not bit-equal to the scalar kernel's");
            }
        }
    }
}
} // namespace

int main(int argc, char** argv)
{
    std::string filter = argc > 1 ? argv[1] : "";
    const int shapes[][3] = {{1, 1, 1}, {3, 7, 1}, {2, 31, 7}, {3, 5, 31}, {2, 7, 257}, {5, 1, 33}, {1, 257, 31}, {3, 257, 7},
        {2, 3000, 40}, {2, 256, 768}, {32, 256, 768},
        {1, 1, 4}, {3, 7, 4}, {2, 31, 8}, {5, 1, 12}, {1, 257, 36}, {3, 5, 260}, {2, 17, 64}};
    uint64_t seed = 1;
    for (auto& sh : shapes)
    {
        char nameBuf[64];
        std::snprintf(nameBuf, sizeof nameBuf, "B=%d,L=%d,D=%d", sh[0], sh[1], sh[2]);
        seed++;
        if (filter.empty() || std::string(nameBuf).find(filter) != std::string::npos) run_case(sh[0], sh[1], sh[2], seed);
    }
    std::printf("modulate_check: %d failures in %d runs (%d of the four-channel backward); worst sum NMSE %.2g\n", failures, runs,
        vectorRuns, worst);
    return failures == 0 ? 0 : 1;
}
