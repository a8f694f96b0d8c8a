// Runs GatedRmsNormMatMul's CUDA composition under the CPU emulation (cuda_emu.hpp) with exactly the launches of
// src/Aim.Engine.Cuda/Kernels/CudaKernels.NormLinear.cs on the cases written by `Aim.Cuda.Check --emit-norm-gemm DIR`:
// norm.cu's rms_norm_f32 (CudaKernels.Norm.cs's LaunchRmsNorm: RowThreads(group) threads, x and z read at their row
// strides) into a contiguous (M, K) buffer, then skinny_gemm.cu's skinny_gemm_bf16 (Gemm.cs's TrySkinny: 256 threads,
// ⌈N / (8 / split)⌉ blocks, split from SkinnySplit on the H200's 132 SMs). Each case runs with x and z contiguous, as
// 16-byte aligned column blocks of wider rows and as misaligned ones. Per layout it checks
//   composed: the two launches vs the float64 reference (NMSE ≤ 1e-10, as OpCases.NormLinear.cs);
//   strided: the norm on the strided views writes the same bits as on contiguous copies of them (the row strides only
//            move the reads);
//   gemm:    skinny_gemm_bf16 alone on x (strided as laid out) vs the float64 x · Wᵀ, and skinny_gemm_c4_bf16
//            (four columns a warp) the same way.
// Outputs start as NaN so a value a kernel forgets to write shows up.
// Usage: normgemm_check DIR [case-name-substring]    exit 1 when any check fails.
#include "cuda_emu.hpp"
#include "emu_cases.hpp"
#include "norm.cu"
#include "skinny_gemm.cu"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

namespace
{
constexpr int Threads = 256, Warps = 8, RowBlocksPerMultiprocessor = 64; // the C# constants, H200
constexpr double Tol = 1e-10, Eps = 1e-5; // OpCases.NormLinear.cs, NormGemmEmit.Eps

// Rows of `cols` floats stored inside rows of `width` floats starting at column `at`, in a buffer whose first row
// starts 16-byte aligned (so the column offset alone decides the alignment, as for a Narrow of an aligned tensor).
struct Laid
{
    std::vector<float> buf;
    float* base;   // the aligned start of row 0 (column 0)
    float* at;     // element (0, 0) of the view
    long long stride;
};

Laid lay_out(const std::vector<float>& src, int rows, int cols, int width, int at)
{
    Laid l;
    l.buf.assign((size_t)rows * width + 8, std::numeric_limits<float>::quiet_NaN());
    uintptr_t p = reinterpret_cast<uintptr_t>(l.buf.data());
    l.base = l.buf.data() + ((16 - p % 16) % 16) / sizeof(float);
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < cols; k++) l.base[(size_t)r * width + at + k] = src[(size_t)r * cols + k];
    l.at = l.base + at;
    l.stride = width;
    return l;
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

} // namespace

int main(int argc, char** argv)
{
    if (argc < 2) { std::fprintf(stderr, "usage: normgemm_check DIR [case-name-substring]\n"); return 2; }
    std::string dir = argv[1], filter = argc > 2 ? argv[2] : "";
    std::ifstream m(dir + "/manifest.txt");
    if (!m) { std::fprintf(stderr, "no %s/manifest.txt (run Aim.Cuda.Check --emit-norm-gemm %s)\n", dir.c_str(), dir.c_str()); return 2; }
    std::string line;
    int pass = 0, fail = 0;
    double worstComposed = 0, worstGemm = 0;
    while (std::getline(m, line))
    {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream is(line);
        std::string name;
        int M, K, N, group;
        is >> name >> M >> K >> N >> group;
        if (!is) { std::fprintf(stderr, "bad manifest line: %s\n", line.c_str()); return 2; }
        if (!filter.empty() && name.find(filter) == std::string::npos) continue;
        const std::string at = dir + "/" + name + "/";
        const size_t mk = (size_t)M * K, mn = (size_t)M * N;
        auto x0 = read_file<float>(at + "x.f32", mk);
        auto z0 = read_file<float>(at + "z.f32", mk);
        auto nw = read_file<float>(at + "nw.f32", K);
        auto wbits = read_file<uint16_t>(at + "w.bf16", (size_t)N * K);
        auto outRef = read_file<double>(at + "out.f64", mn);
        auto gemmRef = read_file<double>(at + "gemm.f64", mn);
        // The weight in a 16-byte aligned buffer, as a device allocation is.
        std::vector<uint16_t> wbuf((size_t)N * K + 8);
        uint16_t* wp = wbuf.data() + ((16 - reinterpret_cast<uintptr_t>(wbuf.data()) % 16) % 16) / sizeof(uint16_t);
        std::memcpy(wp, wbits.data(), wbits.size() * sizeof(uint16_t));
        const bf16* w = reinterpret_cast<const bf16*>(wp);
        const int split = skinny_split(N, K, Warps), columnsPerBlock = Warps / split;
        const unsigned blocks = (unsigned)((N + columnsPerBlock - 1) / columnsPerBlock);

        for (int layout = 0; layout < 3; layout++)
        {
            // 0: contiguous; 1: x inside rows of K+4 at column 4, z inside rows of K+8 at 0; 2: x at 1 of K+3, z at 1 of K+5.
            int xw = layout == 1 ? K + 4 : layout == 2 ? K + 3 : K, xa = layout == 1 ? 4 : layout == 2 ? 1 : 0;
            int zw = layout == 1 ? K + 8 : layout == 2 ? K + 5 : K, za = layout == 2 ? 1 : 0;
            Laid x = lay_out(x0, M, K, xw, xa), z = lay_out(z0, M, K, zw, za);

            // composed: CudaKernels.NormLinear.cs: rms_norm_f32 on x and z as laid out (LaunchRmsNorm), skinny_gemm_bf16 (TrySkinny)
            const long long swn = K; // the weight's row stride
            long long segments = (long long)M * (K / group);
            unsigned rowGrid = (unsigned)std::max(1LL, std::min(segments, (long long)H200Multiprocessors * RowBlocksPerMultiprocessor));
            auto norm = [&](const Laid& xv, const Laid& zv, float* out)
            {
                emu::launch(dim3(rowGrid), dim3(row_threads(group)), 0, rms_norm_f32, xv.at, (i64)xv.stride, (const float*)nullptr, zv.at,
                            (i64)zv.stride, nw.data(), (float)Eps, group, K / group, (i64)segments, out, (float*)nullptr);
            };
            Laid normed = lay_out(std::vector<float>(mk, std::numeric_limits<float>::quiet_NaN()), M, K, K, 0);
            norm(x, z, normed.at);
            std::vector<float> composed(mn, std::numeric_limits<float>::quiet_NaN());
            bool vec = K % 8 == 0 && K % 4 == 0 && swn % 8 == 0 && aligned16(normed.at) && aligned16(w); // sxm = K
            emu::launch(dim3(blocks), dim3(Threads), 0, skinny_gemm_bf16, normed.at, (i64)K, w, (i64)K, composed.data(), (i64)N,
                        M, N, K, 1.0f, 0.0f, vec ? 1 : 0, split);
            double eComposed = error_of(composed.data(), outRef).nmse;
            bool okComposed = eComposed <= Tol;

            // strided: the same norm on contiguous copies
            Laid xc = lay_out(x0, M, K, K, 0), zc = lay_out(z0, M, K, K, 0);
            Laid normedC = lay_out(std::vector<float>(mk, std::numeric_limits<float>::quiet_NaN()), M, K, K, 0);
            norm(xc, zc, normedC.at);
            size_t differ = 0;
            for (size_t i = 0; i < mk; i++) differ += std::memcmp(&normed.at[i], &normedC.at[i], sizeof(float)) != 0;

            // gemm: skinny_gemm_bf16 alone on x as laid out (TrySkinny's vec rule)
            std::vector<float> gemm(mn, std::numeric_limits<float>::quiet_NaN());
            bool vecG = K % 8 == 0 && x.stride % 4 == 0 && swn % 8 == 0 && aligned16(x.at) && aligned16(w);
            emu::launch(dim3(blocks), dim3(Threads), 0, skinny_gemm_bf16, x.at, (i64)x.stride, w, (i64)K, gemm.data(), (i64)N,
                        M, N, K, 1.0f, 0.0f, vecG ? 1 : 0, split);
            double eGemm = error_of(gemm.data(), gemmRef).nmse;
            // The same product four columns a warp (skinny_gemm_c4_bf16, Gemm.cs's split over column groups).
            {
                const int groups = (N + 3) / 4, splitC = skinny_split(groups, K, Warps);
                const unsigned blocksC = (unsigned)((groups + Warps / splitC - 1) / (Warps / splitC));
                std::vector<float> wideOut(mn, std::numeric_limits<float>::quiet_NaN());
                emu::launch(dim3(blocksC), dim3(Threads), 0, skinny_gemm_c4_bf16, x.at, (i64)x.stride, w, (i64)K, wideOut.data(), (i64)N, M, N, K,
                            1.0f, 0.0f, vecG ? 1 : 0, splitC);
                eGemm = std::max(eGemm, error_of(wideOut.data(), gemmRef).nmse);
            }
            bool okGemm = eGemm <= Tol;

            bool ok = okComposed && differ == 0 && okGemm;
            worstComposed = std::max(worstComposed, eComposed);
            worstGemm = std::max(worstGemm, eGemm);
            static const char* names[] = { "contig", "aligned", "misalign" };
            std::printf("%-22s %-8s split=%d vec=%d %s composed %.1e%s, strided norm %s, gemm %.1e%s\n", name.c_str(), names[layout], split,
                        vec ? 1 : 0, ok ? "pass" : "FAIL", eComposed, okComposed ? "" : "(FAIL)",
                        differ == 0 ? "bit-equal" : (std::to_string(differ) + " values differ (FAIL)").c_str(), eGemm, okGemm ? "" : "(FAIL)");
            (ok ? pass : fail)++;
        }
    }
    std::printf("normgemm_check: %d pass, %d fail, worst NMSE composed %.1e, skinny_gemm_bf16 %.1e (tolerance %.0e)\n", pass, fail, worstComposed,
                worstGemm, Tol);
    return fail == 0 && pass > 0 ? 0 : 1;
}
