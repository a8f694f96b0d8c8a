// Runs ssm_step.cu's ssm_step_f32 (SsmStep, one decode step of the SSM: decode_step.cuh's step_ssm_rows) under the CPU
// emulation (cuda_emu.hpp) with the launch of src/Aim.Engine.Cuda/Kernels/CudaKernels.Ssm.cs (SsmStepPlan mirrored,
// the H200's 132 SMs) and with forced plans (block sizes 32-256 threads, 1-64 rows per warp: every grouping of rows
// into SSM_STEP_GROUP, partial groups, a warp count that does not divide P). Cases are built here (no emitted files):
// odd sizes, N a multiple of 4 (the vector path) and not (the scalar path), N > 128 (a lane takes two float4s), G < H,
// with and without dt_bias and d, b misaligned by one float (the scalar path at N = 128), and AiM-B's shape at 2 and
// 32 rows (rows of 16-byte multiples); each with contiguous inputs and with x, b, c, dt as column views of one (B, E + 2GN + H) buffer, the way
// ConvSsmStep passes the conv output (the odd cases' rows are not 16-byte multiples: some batch rows take the
// vector path, others the scalar one).
// Checks, per launch: y and the state vs a float64 reference (NMSE <= 1e-10), and vs a float32 mirror of the
// kernel's per-row arithmetic (per element fmaf(α, S, (b·dt)·x); per lane an fmaf chain over n = 4·lane + 128·i ...
// (vector path) or n = lane + 32·i (scalar path); the 32 lane sums through the xor butterfly 16, 8, 4, 2, 1;
// fmaf(d, x, y)) bit for bit: the plan must not change a bit. y starts as NaN.
// Usage: ssm_step_check [case-name-substring]    exit 1 on any failure.
#include "cuda_emu.hpp"
#include "emu_cases.hpp"
#include "ssm_step.cu"

#include <chrono>
#include <cstdint>
#include <cstring>

namespace
{
constexpr int MaxThreads = 256; // SsmStepThreads
constexpr double Tol = 1e-10;

// CudaKernels.SsmStepPlan.
std::pair<int, int> plan_of(long long pairs, int p, int multiprocessors)
{
    const int warps = MaxThreads / 32;
    int perWarp = std::max(1, (p + warps - 1) / warps);
    while (perWarp > 1 && pairs * ((p + (long long)warps * perWarp - 1) / ((long long)warps * perWarp)) < multiprocessors)
        perWarp = (perWarp + 1) / 2;
    return {MaxThreads, perWarp};
}

struct Rand
{
    uint64_t s;
    float next() // uniform in [-1, 1)
    {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        return (float)((double)(s >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
    }
};

struct Case
{
    const char* name;
    int B, H, G, P, N;
    bool bias, skip, strided, misalignB;
};

uint32_t bits(float f)
{
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

int run_case(const Case& k, const std::string& filter, int& pass, int& fail)
{
    const int B = k.B, H = k.H, G = k.G, P = k.P, N = k.N, E = H * P;
    Rand r{0x55AA1234ULL + (uint64_t)B * 131 + (uint64_t)H * 17 + (uint64_t)P * 7 + (uint64_t)N + (k.strided ? 1000 : 0) + (k.misalignB ? 77 : 0)};
    // The column buffer of a step: x (E) | b (G·N) | c (G·N) | dt (H) per row; misalignB shifts b and c by one float.
    const int shiftBc = k.misalignB ? 1 : 0;
    // AiM's rows are 16-byte multiples (every row on the vector path); the odd cases' rows are not, so their strided views
    // take the vector path on some batch rows and the scalar path on others.
    const int width = k.name[0] == 'a' ? (E + 2 * G * N + H + 3) / 4 * 4 : E + 2 * G * N + H + shiftBc + 3;
    std::vector<float4> colStore((size_t)B * width / 4 + 2);
    float* cols = reinterpret_cast<float*>(colStore.data());
    for (size_t i = 0; i < (size_t)B * width; i++) cols[i] = r.next();
    std::vector<float> a(H), dtBias(H), dSkip(H);
    for (int h = 0; h < H; h++)
    {
        a[h] = -std::exp(r.next());
        dtBias[h] = r.next() - 1.0f;
        dSkip[h] = r.next();
    }
    // Some step sizes above the softplus pass-through (20).
    for (int b = 0; b < B; b++) cols[(size_t)b * width + E + 2 * G * N + shiftBc] = b % 3 == 2 ? 25.0f : cols[(size_t)b * width + E + 2 * G * N + shiftBc];
    std::vector<float4> stateStore((size_t)B * H * P * N / 4 + 1);
    float* state0 = reinterpret_cast<float*>(stateStore.data());
    for (size_t i = 0; i < (size_t)B * H * P * N; i++) state0[i] = 0.5f * r.next();

    // Kernel inputs: views of cols, or contiguous copies.
    std::vector<float4> xs((size_t)B * E / 4 + 1), bs((size_t)B * G * N / 4 + 2), cs((size_t)B * G * N / 4 + 2), dts((size_t)B * H / 4 + 1);
    const float *x, *bm, *cm, *dt;
    long long sxb, sxh, sbb, sbg, scb, scg, sdtb;
    if (k.strided)
    {
        x = cols;
        bm = cols + E + shiftBc;
        cm = cols + E + G * N + shiftBc;
        dt = cols + E + 2 * G * N + shiftBc;
        sxb = sbb = scb = sdtb = width;
    }
    else
    {
        float* xc = reinterpret_cast<float*>(xs.data());
        float* bc = reinterpret_cast<float*>(bs.data()) + shiftBc;
        float* cc = reinterpret_cast<float*>(cs.data()) + shiftBc;
        float* dc = reinterpret_cast<float*>(dts.data());
        for (int b = 0; b < B; b++)
        {
            std::memcpy(xc + (size_t)b * E, cols + (size_t)b * width, sizeof(float) * E);
            std::memcpy(bc + (size_t)b * G * N, cols + (size_t)b * width + E + shiftBc, sizeof(float) * G * N);
            std::memcpy(cc + (size_t)b * G * N, cols + (size_t)b * width + E + G * N + shiftBc, sizeof(float) * G * N);
            std::memcpy(dc + (size_t)b * H, cols + (size_t)b * width + E + 2 * G * N + shiftBc, sizeof(float) * H);
        }
        x = xc;
        bm = bc;
        cm = cc;
        dt = dc;
        sxb = E;
        sbb = scb = (long long)G * N;
        sdtb = H;
    }
    sxh = P;
    sbg = scg = N;

    // References: float64, and the float32 mirror of the kernel's arithmetic (bit-exact).
    long long vecHeads = 0, scalarHeads = 0;
    std::vector<double> wantY((size_t)B * H * P), wantS((size_t)B * H * P * N);
    std::vector<float> mirrorY((size_t)B * H * P), mirrorS(state0, state0 + (size_t)B * H * P * N);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
        {
            const int g = h / (H / G);
            const float raw = dt[(size_t)b * sdtb + h];
            const double v64 = (double)raw + dtBias[h];
            const double dt64 = k.bias ? (v64 > 20 ? v64 : std::log1p(std::exp(v64))) : raw;
            const double al64 = std::exp(dt64 * a[h]);
            const float dt32 = k.bias ? step_dt(raw, dtBias[h]) : raw, al32 = expf(dt32 * a[h]);
            const float d32 = k.skip ? dSkip[h] : 0.0f;
            const float* bv = bm + (size_t)b * sbb + (size_t)g * sbg;
            const float* cv = cm + (size_t)b * scb + (size_t)g * scg;
            const bool vec = N % 4 == 0 && ((reinterpret_cast<uintptr_t>(bv) | reinterpret_cast<uintptr_t>(cv)) & 15) == 0;
            (vec ? vecHeads : scalarHeads)++;            for (int p = 0; p < P; p++)
            {
                const size_t row = (((size_t)b * H + h) * P + p) * N, yi = ((size_t)b * H + h) * P + p;
                const float xp = x[(size_t)b * sxb + (size_t)h * sxh + p];
                double y64 = 0;
                float lanes[32] = {};
                for (int n = 0; n < N; n++)
                {
                    double s64 = al64 * state0[row + n] + (double)bv[n] * dt64 * xp;
                    wantS[row + n] = s64;
                    y64 += s64 * cv[n];
                }
                wantY[yi] = y64 + (k.skip ? (double)dSkip[h] * xp : 0.0);
                // mirror: lane l's values in the order the kernel visits them
                for (int l = 0; l < 32; l++)
                {
                    auto visit = [&](int n) {
                        float s = fmaf(al32, mirrorS[row + n], (bv[n] * dt32) * xp);
                        mirrorS[row + n] = s;
                        lanes[l] = fmaf(s, cv[n], lanes[l]);
                    };
                    if (vec)
                        for (int q = l; q < N / 4; q += 32)
                            for (int e = 0; e < 4; e++) visit(4 * q + e);
                    else
                        for (int n = l; n < N; n += 32) visit(n);
                }
                for (int o = 16; o > 0; o >>= 1)
                {
                    float next[32];
                    for (int l = 0; l < 32; l++) next[l] = lanes[l] + lanes[l ^ o];
                    std::memcpy(lanes, next, sizeof lanes);
                }
                mirrorY[yi] = fmaf(d32, xp, lanes[0]);
            }
        }

    auto chosen = plan_of((long long)B * H, P, H200Multiprocessors);
    std::vector<std::pair<int, int>> plans{chosen, {256, 1}, {256, 2}, {256, 3}, {256, 8}, {128, 4}, {96, 5}, {64, 8}, {32, 64}};
    std::string tag = std::string(k.name) + (k.strided ? "/strided" : "/contiguous");
    if (!filter.empty() && tag.find(filter) == std::string::npos) return 0;
    for (size_t pi = 0; pi < plans.size(); pi++)
    {
        const auto [threads, pPerWarp] = plans[pi];
        std::vector<float4> st((size_t)B * H * P * N / 4 + 1);
        float* state = reinterpret_cast<float*>(st.data());
        std::memcpy(state, state0, sizeof(float) * (size_t)B * H * P * N);
        auto y = nan_buffer((size_t)B * H * P);
        const long long rowsPerBlock = (long long)(threads / 32) * pPerWarp, pBlocks = (P + rowsPerBlock - 1) / rowsPerBlock;
        auto t0 = std::chrono::steady_clock::now();
        emu::launch(dim3((unsigned)(B * H * pBlocks)), dim3(threads), 0, ssm_step_f32, state, x, (i64)sxb, (i64)sxh, dt, (i64)sdtb,
                    k.bias ? dtBias.data() : nullptr, a.data(), bm, (i64)sbb, (i64)sbg, cm, (i64)scb, (i64)scg,
                    k.skip ? dSkip.data() : nullptr, y.data(), B, H, G, P, N, pPerWarp);
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const Error ey = error_of(y.data(), wantY), es = error_of(state, wantS);
        size_t diffY = 0, diffS = 0;
        for (size_t i = 0; i < y.size() && i < mirrorY.size(); i++) diffY += bits(y[i]) != bits(mirrorY[i]);
        for (size_t i = 0; i < mirrorS.size(); i++) diffS += bits(state[i]) != bits(mirrorS[i]);
        const bool ok = ey.nmse <= Tol && es.nmse <= Tol && diffY == 0 && diffS == 0;
        std::printf("%-34s %s plan %3d thr x %2d rows/warp%s: y %.1e state %.1e, bits differing from the mirror: y %zu state %zu  %s (%.1fs)\n",
                    tag.c_str(), scalarHeads == 0 ? "vec   " : vecHeads == 0 ? "scalar" : "mixed ", threads, pPerWarp, pi == 0 ? " (host's)" : "         ", ey.nmse, es.nmse, diffY, diffS,
                    ok ? "pass" : "FAIL", secs);
        std::fflush(stdout);
        (ok ? pass : fail)++;
    }
    return 0;
}
} // namespace

int main(int argc, char** argv)
{
    std::string filter = argc > 1 ? argv[1] : "";
    const Case cases[] = {
        {"b3_h6_g3_p7_n12", 3, 6, 3, 7, 12, true, true, false, false},
        {"b2_h3_g1_p9_n13_scalar", 2, 3, 1, 9, 13, true, true, false, false},
        {"b1_h2_g2_p65_n132", 1, 2, 2, 65, 132, true, false, false, false},
        {"b2_h4_g2_p33_n16_nobias_nod", 2, 4, 2, 33, 16, false, false, false, false},
        {"b2_h2_g1_p31_n128_misaligned_b", 2, 2, 1, 31, 128, true, true, false, true},
        {"aim_b_r2", 2, 24, 1, 64, 128, true, true, false, false},
        {"aim_b_r32", 32, 24, 1, 64, 128, true, true, false, false},
    };
    int pass = 0, fail = 0;
    for (const Case& c : cases)
        for (bool strided : {false, true})
        {
            Case k = c;
            k.strided = strided;
            run_case(k, filter, pass, fail);
        }
    std::printf("ssm_step_check: %d pass, %d fail (float64 NMSE <= %.0e and bit-equal to the float32 mirror)\n", pass, fail, Tol);
    return fail == 0 && pass > 0 ? 0 : 1;
}
