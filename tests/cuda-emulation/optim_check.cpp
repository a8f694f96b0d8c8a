// Runs optim.cu's list kernels under the CPU emulation (cuda_emu.hpp) on cases built here (no emitted files), with
// the launches of src/Aim.Engine.Cuda/Kernels/CudaKernels.Optim.cs (mirrored below: groups of OPTIM_MANY_ADAMW /
// OPTIM_MANY_NORM tensors, the block-start prefix tables, OPTIM_ADAMW_TILE elements per AdamW block, 256 threads), and
// compares them bit for bit with the single-tensor kernels launched per tensor as the C# single ops launch them:
//   adamw_many_f32 vs adamw_f32 (grid min(⌈n/256⌉, 132·32)): parameters, m and v, with every tensor's scalars different,
//     without and with the device gradient scale (entries' scale 1, single kernel given the scale itself);
//   squared_norm_partials_many_f32 vs squared_norm_partials_f32 (grid min(k, 132·32)) into slices of one buffer, and
//     the partials' total against a float64 sum of squares (NMSE ≤ 1e-10);
//   grad_clip_scale_f32 vs the host formula GradClip.Scale evaluated in double (exact).
// Lists: mixed sizes (1, 7, 31, 257, 93, 70001, 40000), 100 tensors of 1..300 elements with an empty one (three AdamW
// and one norm launch), 300 tensors of up to 5000 elements (seven AdamW and three norm launches). Partial counts cycle
// through 1, 3, 7, 128, 2 (more partials than elements for the small tensors: empty chunks). The emulation builds with
// -ffp-contract=off, so this checks the mapping of blocks to tensors, tiles and chunks, not the GPU compiler's
// contraction (the harness's bit-identical cases check that on the device).
// Usage: optim_check [case-name-substring]    exit 1 when any check fails.
#include "cuda_emu.hpp"
#include "emu_cases.hpp"
#include "optim.cu"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace
{
constexpr int Threads = 256, Sms = 132, BlocksPerSm = 32; // CudaKernels.cs ElementwiseThreads, BlocksPerMultiprocessor

struct Hyper
{
    double lr, b1, b2, eps, wd, scale;
    long long step;
};

Hyper hyper_of(int i, bool unit_scale)
{
    return {1e-3 * (1 + i % 5), 0.9 - 0.02 * (i % 3), 0.95 + 0.01 * (i % 4), 1e-8 * (1 + i % 2), i % 2 == 0 ? 0.05 * (1 + i % 3) : 0,
        unit_scale ? 1.0 : 0.5 + 0.125 * (i % 4), 1 + 3LL * i};
}

/// The float32 scalars CudaKernels.Optim.cs derives from a hyper (AdamWStep and AdamWStepMany alike).
struct Scalars
{
    float scale, b1, c1, b2, c2, eps, decay, step_size, inv_sqrt_bc2;
};

Scalars scalars_of(const Hyper& h, double scale)
{
    double bc1 = 1 - std::pow(h.b1, (double)h.step), bc2 = 1 - std::pow(h.b2, (double)h.step);
    return {(float)scale, (float)h.b1, (float)(1 - h.b1), (float)h.b2, (float)(1 - h.b2), (float)h.eps, (float)(1 - h.lr * h.wd),
        (float)(h.lr / bc1), (float)(1 / std::sqrt(bc2))};
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b, const char* what, const std::string& name)
{
    if (a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0) return true;
    size_t i = 0;
    while (i < a.size() && i < b.size() && std::memcmp(&a[i], &b[i], sizeof(float)) == 0) i++;
    std::printf("FAIL %s: %s differs at %zu (%.9g vs %.9g)\n", name.c_str(), what, i, i < a.size() ? a[i] : 0.0f, i < b.size() ? b[i] : 0.0f);
    return false;
}

/// adamw_many_f32 launches (CudaKernels.AdamWStepMany) vs adamw_f32 per tensor.
bool check_adamw(const std::string& name, const std::vector<long long>& sizes, bool device_scale)
{
    const float s = 0.37f;
    size_t n = sizes.size();
    Gen gen{n * 7919 + (device_scale ? 1 : 0)};
    std::vector<std::vector<float>> g(n), p(n), m(n), v(n);
    for (size_t i = 0; i < n; i++)
    {
        for (long long e = 0; e < sizes[i]; e++)
        {
            g[i].push_back((float)gen.uniform(-1, 1));
            p[i].push_back((float)gen.uniform(-1, 1));
            m[i].push_back((float)gen.uniform(-0.1, 0.1));
            v[i].push_back((float)gen.uniform(0, 0.02));
        }
    }
    auto p1 = p, m1 = m, v1 = v, p2 = p, m2 = m, v2 = v;
    for (size_t i = 0; i < n; i++)
    {
        Hyper h = hyper_of((int)i, device_scale);
        Scalars c = scalars_of(h, device_scale ? h.scale * s : h.scale);
        long long cnt = sizes[i];
        if (cnt == 0) continue;
        unsigned grid = (unsigned)std::min<long long>((cnt + Threads - 1) / Threads, (long long)Sms * BlocksPerSm);
        emu::launch(dim3(grid), dim3(Threads), 0, adamw_f32, g[i].data(), p1[i].data(), m1[i].data(), v1[i].data(), c.scale, c.b1, c.c1,
            c.b2, c.c2, c.eps, c.decay, c.step_size, c.inv_sqrt_bc2, cnt);
    }
    int launches = 0;
    for (size_t first = 0; first < n; first += OPTIM_MANY_ADAMW)
    {
        int count = (int)std::min<size_t>(OPTIM_MANY_ADAMW, n - first);
        AdamWTable table{};
        table.count = count;
        long long blocks = 0;
        for (int t = 0; t < count; t++)
        {
            size_t i = first + t;
            Hyper h = hyper_of((int)i, device_scale);
            Scalars c = scalars_of(h, h.scale);
            table.block_start[t] = (int)blocks;
            table.t[t] = {g[i].data(), p2[i].data(), m2[i].data(), v2[i].data(), sizes[i], c.scale, c.b1, c.c1, c.b2, c.c2, c.eps, c.decay,
                c.step_size, c.inv_sqrt_bc2};
            blocks += (sizes[i] + OPTIM_ADAMW_TILE - 1) / OPTIM_ADAMW_TILE;
        }
        table.block_start[count] = (int)blocks;
        if (blocks == 0) continue;
        emu::launch(dim3((unsigned)blocks), dim3(Threads), 0, adamw_many_f32, table, device_scale ? &s : (const float*)nullptr);
        launches++;
    }
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++)
    {
        std::string at = name + " tensor " + std::to_string(i);
        ok = same_bits(p1[i], p2[i], "param", at) && same_bits(m1[i], m2[i], "m", at) && same_bits(v1[i], v2[i], "v", at);
    }
    std::printf("%s %s adamw device-scale=%d: %zu tensors, %d launches\n", ok ? "ok  " : "FAIL", name.c_str(), (int)device_scale, n, launches);
    return ok;
}

/// squared_norm_partials_many_f32 launches (CudaKernels.SquaredNormPartialsMany) vs squared_norm_partials_f32 per tensor.
bool check_norm(const std::string& name, const std::vector<long long>& sizes)
{
    const int ks[] = {1, 3, 7, 128, 2};
    size_t n = sizes.size();
    Gen gen{n * 104729};
    std::vector<std::vector<float>> x(n);
    std::vector<int> counts(n);
    double exact = 0;
    long long total = 0;
    for (size_t i = 0; i < n; i++)
    {
        for (long long e = 0; e < sizes[i]; e++)
        {
            float f = (float)gen.uniform(-2, 2);
            x[i].push_back(f);
            exact += (double)f * f;
        }
        counts[i] = ks[i % 5];
        total += counts[i];
    }
    std::vector<float> single((size_t)total, NAN), many((size_t)total, NAN);
    long long at = 0;
    for (size_t i = 0; i < n; i++)
    {
        long long k = counts[i], cnt = sizes[i];
        long long chunk = std::max(1LL, (cnt + k - 1) / k);
        unsigned grid = (unsigned)std::min<long long>(k, (long long)Sms * BlocksPerSm);
        emu::launch(dim3(grid), dim3(Threads), 0, squared_norm_partials_f32, (const float*)x[i].data(), single.data() + at, cnt, chunk, k);
        at += k;
    }
    int launches = 0;
    float* out = many.data();
    for (size_t first = 0; first < n; first += OPTIM_MANY_NORM)
    {
        int count = (int)std::min<size_t>(OPTIM_MANY_NORM, n - first);
        NormTable table{};
        table.count = count;
        int blocks = 0;
        for (int t = 0; t < count; t++)
        {
            table.x[t] = x[first + t].data();
            table.n[t] = sizes[first + t];
            table.start[t] = blocks;
            blocks += counts[first + t];
        }
        table.start[count] = blocks;
        emu::launch(dim3((unsigned)blocks), dim3(Threads), 0, squared_norm_partials_many_f32, table, out);
        out += blocks;
        launches++;
    }
    bool ok = same_bits(single, many, "partials", name);
    double sum = 0;
    for (float f : many) sum += f;
    double nmse = exact == 0 ? sum * sum : (sum - exact) * (sum - exact) / (exact * exact);
    if (!(nmse <= 1e-10))
    {
        std::printf("FAIL %s: total %.17g vs float64 %.17g (nmse %.2e)\n", name.c_str(), sum, exact, nmse);
        ok = false;
    }
    std::printf("%s %s norm: %zu tensors, %lld partials, %d launches, total nmse %.1e\n", ok ? "ok  " : "FAIL", name.c_str(), n, total, launches, nmse);
    return ok;
}

/// grad_clip_scale_f32 vs GradClip.Scale in double.
bool check_clip()
{
    bool ok = true;
    const float sums[] = {25.0f, 25.0f, 3.7f, 0.0f, 1234.5f, INFINITY};
    const double scales[] = {1.0, 0.5, 0.25, 1.0, 1.0 / 3, 1.0}, maxes[] = {0.0, 1.0, 100.0, 1.0, 1.0, 1.0};
    for (int c = 0; c < 6; c++)
    {
        double norm = std::sqrt((double)sums[c]) * std::fabs(scales[c]);
        double coef = 1;
        if (maxes[c] > 0)
        {
            coef = maxes[c] / (norm + 1e-6);
            if (!(coef < 1)) coef = std::isfinite(coef) ? 1 : coef;
        }
        float want = (float)(scales[c] * coef), got = NAN;
        emu::launch(dim3(1), dim3(1), 0, grad_clip_scale_f32, &sums[c], &got, scales[c], maxes[c]);
        if (std::memcmp(&want, &got, sizeof(float)) != 0)
        {
            std::printf("FAIL clip case %d: %.9g vs %.9g\n", c, got, want);
            ok = false;
        }
    }
    std::printf("%s grad_clip_scale: 6 cases\n", ok ? "ok  " : "FAIL");
    return ok;
}
} // namespace

int main(int argc, char** argv)
{
    std::string filter = argc > 1 ? argv[1] : "";
    std::vector<std::pair<std::string, std::vector<long long>>> lists;
    lists.push_back({"mixed", {1, 7, 31, 257, 93, 70001, 40000}});
    std::vector<long long> hundred, three_hundred;
    for (int i = 0; i < 100; i++) hundred.push_back(i == 50 ? 0 : 1 + i * 37 % 300);
    for (int i = 0; i < 300; i++) three_hundred.push_back(1 + (long long)i * 7919 % 5000);
    lists.push_back({"100-tensors", hundred});
    lists.push_back({"300-tensors", three_hundred});
    int pass = 0, fail = 0;
    for (auto& [name, sizes] : lists)
    {
        if (!filter.empty() && name.find(filter) == std::string::npos) continue;
        for (bool ds : {false, true}) (check_adamw(name, sizes, ds) ? pass : fail)++;
        (check_norm(name, sizes) ? pass : fail)++;
    }
    (check_clip() ? pass : fail)++;
    std::printf("optim_check: %d/%d pass\n", pass, pass + fail);
    return fail == 0 ? 0 : 1;
}
