// Runs ssd.cu's SsdScan forward and ssd_backward.cu's SsdScanBackward kernels under the CPU emulation (cuda_emu.hpp) with exactly
// the launches of src/Aim.Engine.Cuda/Kernels/CudaKernels.SsdScan.cs, for each matrix engine (FMA, 3xTF32, TF32)
// and for the chunked and the serial backward (same kernels, grids, block sizes, workspace shapes; grid-stride
// launches use the H200's 132 SMs × 32 blocks cap of CudaKernels.LaunchElementwise) on the cases written by
// `Aim.Cuda.Check --emit-ssd DIR`, and compares every output with the float64 reference. Each case runs with every
// engine on contiguous operands, with FMA and 3xTF32 on strided views (x inside (B,L,H,P+3) at column 1, b and
// c inside (B,L,G,2N) at columns 0 and N, as OpCases.Ssm.cs's view cases do), once with the serial backward, and
// with FMA and 3xTF32 as in training ("saved"): the forward at the backward's chunk (64) keeps its chunk states
// (compared with the reference's S_in), and the chunked backward reads them instead of running ssd_chunk_states
// (CudaKernels.SsdScan.cs with chunkStates); the states must come out of the backward unchanged.
// ssd_bwd_dc / ssd_bwd_db walk the heads of a head split (the host's rule, SsdHeadSplits, mirrored as head_splits);
// where a group has several heads the FMA engine also runs at forced splits 1 (one block over all of a group's heads)
// and 3 (uneven where H/G is not a multiple of 3), so dB, dC must not depend on the split beyond rounding.
// Workspaces and outputs start as NaN so a value that a kernel forgets to write shows up.
// Usage: ssd_check DIR [case-name-substring]    exit 1 when any output exceeds its tolerance.
#include "cuda_emu.hpp"
#include "emu_cases.hpp"
#include "ssd.cu"
#include "ssd_backward.cu"

#include <chrono>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

namespace
{
constexpr int SsdTile = 64, SsdThreads = 256, SsdScalarThreads = 128, SsdBwdChunk = 64; // CudaKernels.SsdScan.cs
constexpr int SsdBwdThreads = 256, SsdBwdMaxP = 64, SsdBwdMaxN = 128;                      // the serial backward
constexpr int SsdMaxHeadsPerBlock = 6;                                                      // CudaKernels.SsdScan.cs
constexpr long long SsdHeadSplitTargetBlocks = 132 * 3;

// CudaKernels.SsdScan.cs SsdHeadSplits: the head splits of ssd_bwd_dc / ssd_bwd_db.
int head_splits(long long tileBlocks, int headsPerGroup)
{
    int splits = std::max(1, (headsPerGroup + SsdMaxHeadsPerBlock - 1) / SsdMaxHeadsPerBlock);
    while (splits < headsPerGroup && tileBlocks * splits < SsdHeadSplitTargetBlocks) splits++;
    return splits;
}
// NMSE vs the float64 reference: FMA and 3xTF32 are float32-grade (BwdTol: OpCases SsdScanBackward); one TF32
// product truncates each operand to 11 significant bits, as the tensor core reads them (cuda_emu.hpp's mma; worst
// NMSE seen 5.9e-6; CudaSsdChecks.cs uses the same 1e-5).
constexpr double FwdTol = 1e-10, BwdTol = 1e-9, Tf32Tol = 1e-5;

struct Case
{
    std::string name;
    int B, L, H, G, P, N, chunk;
    bool hasD, hasInit, hasDFinal, hasBackward;
};

// An operand (rows, cols) stored inside rows of `width` values starting at column `at` (a strided view).
struct Operand
{
    std::vector<float> data;
    const float* ptr;
    long long s0, s1, s2; // strides of dims 0..2 of a 4-D (d0, d1, d2, cols) tensor
};
Operand embed(const std::vector<float>& src, int d0, int d1, int d2, int cols, int width, int at)
{
    Operand o;
    o.data.assign((size_t)d0 * d1 * d2 * width + 1, std::numeric_limits<float>::quiet_NaN());
    size_t rows = (size_t)d0 * d1 * d2;
    for (size_t r = 0; r < rows; r++)
        for (int k = 0; k < cols; k++) o.data[r * width + at + k] = src[r * cols + k];
    o.ptr = o.data.data() + at;
    o.s2 = width;
    o.s1 = (long long)d2 * width;
    o.s0 = (long long)d1 * d2 * width;
    return o;
}

struct Result
{
    std::string output;
    double nmse, maxAbs, tol;
    bool ok;
};

Result compare(const std::string& name, const float* got, const std::vector<double>& want, double tol)
{
    auto e = error_of(got, want);
    return {name, e.nmse, e.maxAbs, tol, e.nmse <= tol};
}

// The forward's chunk workspace (CudaKernels.SsdScan.cs ChunkWork) and steps 1-4 (ChunkStates).
struct ChunkWork
{
    int q, nc;
    long long bhc;
    std::vector<float> cs, w, cb, st;
    ChunkWork(const Case& s, int chunk)
    {
        q = std::max(1, std::min(chunk, s.L));
        nc = (s.L + q - 1) / q;
        bhc = (long long)s.B * s.H * nc;
        cs = nan_buffer((size_t)s.B * s.H * std::max(s.L, 1));
        w = nan_buffer((size_t)s.B * s.H * std::max(s.L, 1));
        cb = nan_buffer((size_t)s.B * s.G * std::max(nc, 1) * q * q);
        st = nan_buffer((size_t)s.B * s.H * std::max(nc, 1) * s.P * s.N);
    }
};

int tiles(int n) { return (n + SsdTile - 1) / SsdTile; }

// The tile kernel NAME compiled for engine mm (ssd_tiles.cuh's SSD_TILE_KERNELS: one kernel per engine).
#define SSD_KERNEL(NAME, mm) ((mm) == SSD_MM_FMA ? ssd_##NAME##_fma : (mm) == SSD_MM_TF32 ? ssd_##NAME##_tf32 : ssd_##NAME##_3xtf32)

// finalState null: k.st already holds the states entering each chunk (saved by the forward): steps 1-2 only.
void chunk_states(const Case& s, ChunkWork& k, const Operand& X, const std::vector<float>& dt, const std::vector<float>& a,
                  const Operand& Bm, const Operand& Cm, const float* init, float* finalState, int mm)
{
    const int B = s.B, L = s.L, H = s.H, G = s.G, P = s.P, N = s.N;
    if (k.nc > 0)
    {
        emu::launch(dim3((unsigned)((k.bhc * 32 + 127) / 128)), dim3(128), 0, ssd_cumsum_f32,   // a warp per (b, h, chunk)
            dt.data(), a.data(), k.cs.data(), k.w.data(), B, L, H, k.q, k.nc);
        int tq = tiles(k.q);
        emu::launch(dim3((unsigned)((long long)B * G * k.nc * tq * tq)), dim3(SsdThreads), 0, SSD_KERNEL(cb, mm),
                    Bm.ptr, Bm.s0, Bm.s1, Bm.s2, Cm.ptr, Cm.s0, Cm.s1, Cm.s2, k.cb.data(), B, L, G, N, k.q, k.nc);
    }
    if (!finalState) return;
    auto walker = mm == SSD_MM_FMA ? ssd_chunk_states_fma : mm == SSD_MM_TF32 ? ssd_chunk_states_tf32 : ssd_chunk_states_3xtf32;
    emu::launch(dim3((unsigned)((long long)B * H * tiles(P) * tiles(N))), dim3(SsdThreads), 0, walker,
                X.ptr, X.s0, X.s1, X.s2, Bm.ptr, Bm.s0, Bm.s1, Bm.s2, k.w.data(), k.cs.data(), init, k.st.data(), finalState,
                B, L, H, G, P, N, k.q, k.nc);
}

// mm: the matrix engine (SSD_MM_*); serial: the serial backward instead of the chunked one; saved: the forward runs
// at the backward's chunk and hands its chunk states to the chunked backward; splits: the head splits of ssd_bwd_dc /
// ssd_bwd_db (0: the host's rule, head_splits).
bool run_case(const std::string& dir, const Case& s, bool view, int mm, bool serial, bool saved = false, int splits = 0)
{
    const std::string at = dir + "/" + s.name + "/";
    const int B = s.B, L = s.L, H = s.H, G = s.G, P = s.P, N = s.N;
    const size_t nx = (size_t)B * L * H * P, nbc = (size_t)B * L * G * N, ns = (size_t)B * H * P * N;
    const double fwdTol = mm == SSD_MM_TF32 ? Tf32Tol : FwdTol, bwdTol = mm == SSD_MM_TF32 ? Tf32Tol : BwdTol;
    auto x = read_file<float>(at + "x.f32", nx);
    auto dt = read_file<float>(at + "dt.f32", (size_t)B * L * H);
    auto a = read_file<float>(at + "a.f32", H);
    auto b = read_file<float>(at + "b.f32", nbc);
    auto c = read_file<float>(at + "c.f32", nbc);
    std::vector<float> d = s.hasD ? read_file<float>(at + "d.f32", H) : std::vector<float>();
    std::vector<float> init = s.hasInit ? read_file<float>(at + "init.f32", ns) : std::vector<float>();
    auto dy = read_file<float>(at + "dy.f32", nx);
    std::vector<float> dfinal = s.hasDFinal ? read_file<float>(at + "dfinal.f32", ns) : std::vector<float>();
    const float* dp = s.hasD ? d.data() : nullptr;
    const float* ip = s.hasInit ? init.data() : nullptr;
    const float* fp = s.hasDFinal ? dfinal.data() : nullptr;

    Operand X = view ? embed(x, B, L, H, P, P + 3, 1) : embed(x, B, L, H, P, P, 0);
    Operand Bm = view ? embed(b, B, L, G, N, 2 * N, 0) : embed(b, B, L, G, N, N, 0);
    Operand Cm = view ? embed(c, B, L, G, N, 2 * N, N) : embed(c, B, L, G, N, N, 0);

    std::vector<Result> results;
    auto t0 = std::chrono::steady_clock::now();

    // ---- SsdScan (CudaKernels.SsdScan.cs)
    auto y = nan_buffer(nx), finalState = nan_buffer(ns);
    std::vector<float> savedStates;
    {
        ChunkWork k(s, saved ? SsdBwdChunk : s.chunk);
        chunk_states(s, k, X, dt, a, Bm, Cm, ip, finalState.data(), mm);
        if (k.nc > 0)
            emu::launch(dim3((unsigned)(k.bhc * tiles(k.q) * tiles(P))), dim3(SsdThreads), 0, SSD_KERNEL(chunk_scan, mm),
                        X.ptr, X.s0, X.s1, X.s2, dt.data(), Cm.ptr, Cm.s0, Cm.s1, Cm.s2, dp, k.cb.data(), k.cs.data(), k.st.data(),
                        s.hasInit ? 1 : 0, y.data(), B, L, H, G, P, N, k.q, k.nc);
        if (saved)
        {
            savedStates = k.st;
            results.push_back(compare("S_in", savedStates.data(), read_file<double>(at + "states64.f64", savedStates.size()), fwdTol));
        }
    }
    const std::vector<float> savedCopy = savedStates;
    results.push_back(compare("y", y.data(), read_file<double>(at + "y.f64", nx), fwdTol));
    results.push_back(compare("final", finalState.data(), read_file<double>(at + "final.f64", ns), fwdTol));

    // ---- SsdScanBackward (CudaKernels.SsdScan.cs); dD and dInitialState requested, as OpCases.Ssm.cs does
    if (s.hasBackward)
    {
        auto dx = nan_buffer(nx), ddt = nan_buffer((size_t)B * L * H), da = nan_buffer(H), db = nan_buffer(nbc), dc = nan_buffer(nbc);
        auto dd = nan_buffer(H), dinit = nan_buffer(ns);
        std::vector<double> partDa, partDd;
        int partRows;
        if (serial || B == 0 || L == 0 || P == 0 || N == 0)
        {
            bool direct = H == G;
            auto dbh = nan_buffer(direct ? 0 : (size_t)B * std::max(L, 1) * H * N), dch = nan_buffer(direct ? 0 : (size_t)B * std::max(L, 1) * H * N);
            float* dbOut = direct ? db.data() : dbh.data();
            float* dcOut = direct ? dc.data() : dch.data();
            if (P > SsdBwdMaxP || N > SsdBwdMaxN) { std::fprintf(stderr, "%s: serial backward needs P <= 64, N <= 128\n", s.name.c_str()); std::exit(2); }
            partRows = B;
            partDa.assign((size_t)std::max(B, 1) * H, std::numeric_limits<double>::quiet_NaN());
            partDd = partDa;
            if (B > 0)
                emu::launch(dim3((unsigned)((long long)B * H)), dim3(SsdBwdThreads), 0, ssd_bwd_f32,
                            X.ptr, X.s0, X.s1, X.s2, dt.data(), a.data(), Bm.ptr, Bm.s0, Bm.s1, Bm.s2, Cm.ptr, Cm.s0, Cm.s1, Cm.s2,
                            dp, ip, dy.data(), fp, dx.data(), ddt.data(), dbOut, dcOut, partDa.data(), partDd.data(), dinit.data(),
                            B, L, H, G, P, N);
            if (!direct)   // the per-head parts (B, L, H, N): H/G parts a group, N apart
                launch_elementwise((long long)B * L * G * N, ssd_bwd_part_sum_f32, dbh.data(), dch.data(), db.data(), (long long)L * G * N,
                                   (long long)G * N, (long long)N, dc.data(), (long long)L * G * N, (long long)G * N, (long long)N,
                                   (long long)B * L, L, G, N, H / G, (long long)N, (long long)H * N, (long long)(H / G) * N);
        }
        else
        {
            ChunkWork k(s, SsdBwdChunk);
            int q = k.q, nc = k.nc, tq = tiles(q), tp = tiles(P), tn = tiles(N);
            long long tileBlocks = (long long)B * G * nc * tq * tn;
            if (splits == 0) splits = head_splits(tileBlocks, H / G);
            const size_t nb = (size_t)B * L * G * N;
            // With view, dX, dB and dC are views laid out as x, b and c are (the tape's gradient slots in the conv output's
            // gradient), NaN around them; the host then always takes the partials (direct only for dense dB, dC).
            const bool direct = splits == 1 && !view;
            const long long xw = view ? P + 3 : P, bw = view ? 2 * N : N;
            auto dxs = nan_buffer((size_t)(B * L * H * xw + 1)), dbs = nan_buffer((size_t)(B * L * G * bw + 1)), dcs = nan_buffer(dbs.size());
            float* dxv = dxs.data() + (view ? 1 : 0);
            float* dbv = dbs.data();
            float* dcv = dcs.data() + (view ? N : 0);
            auto dbp = nan_buffer(direct ? 0 : splits * nb), dcp = nan_buffer(direct ? 0 : splits * nb);
            float* dbOut = direct ? dbv : dbp.data();
            float* dcOut = direct ? dcv : dcp.data();
            auto fin = nan_buffer(ns);
            if (saved) k.st.swap(savedStates);   // the forward's states: ssd_chunk_states skipped
            chunk_states(s, k, X, dt, a, Bm, Cm, ip, saved ? nullptr : fin.data(), mm);
            auto gst = nan_buffer((size_t)B * H * nc * P * N), dmd = nan_buffer((size_t)B * H * nc * q * q);
            auto partI = nan_buffer((size_t)B * H * L * tn), partV = nan_buffer((size_t)B * H * L * tn);
            auto partRow = nan_buffer((size_t)B * H * L * tq), partCol = nan_buffer((size_t)B * H * L * tq);
            partRows = B * nc;
            partDa.assign((size_t)partRows * H, std::numeric_limits<double>::quiet_NaN());
            partDd = partDa;
            const int rparts = tp * tn * SSD_WALK_WARPS;
            std::vector<double> rpart((size_t)B * H * nc * rparts, std::numeric_limits<double>::quiet_NaN());
            auto walker = mm == SSD_MM_FMA ? ssd_bwd_states_fma : mm == SSD_MM_TF32 ? ssd_bwd_states_tf32 : ssd_bwd_states_3xtf32;
            emu::launch(dim3((unsigned)((long long)B * H * tp * tn)), dim3(SsdThreads), 0, walker,
                        dy.data(), Cm.ptr, Cm.s0, Cm.s1, Cm.s2, k.cs.data(), k.st.data(), fp, gst.data(), dinit.data(), rpart.data(),
                        B, L, H, G, P, N, q, nc);
            emu::launch(dim3((unsigned)(k.bhc * tq * tq)), dim3(SsdThreads), 0, SSD_KERNEL(bwd_dm, mm),
                        dy.data(), X.ptr, X.s0, X.s1, X.s2, k.cs.data(), dt.data(), k.cb.data(), dmd.data(), partRow.data(), partCol.data(),
                        B, L, H, G, P, q, nc);
            emu::launch(dim3((unsigned)(k.bhc * tq * tp)), dim3(SsdThreads), 0, SSD_KERNEL(bwd_dx, mm),
                        dy.data(), X.ptr, X.s0, X.s1, X.s2, dt.data(), Bm.ptr, Bm.s0, Bm.s1, Bm.s2, dp, k.cb.data(), k.cs.data(), k.w.data(),
                        gst.data(), s.hasDFinal ? 1 : 0, dxv, (long long)L * H * xw, (long long)H * xw, xw, B, L, H, G, P, N, q, nc);
            emu::launch(dim3((unsigned)(tileBlocks * splits)), dim3(SsdThreads), 0, SSD_KERNEL(bwd_dc, mm),
                        dy.data(), dt.data(), Bm.ptr, Bm.s0, Bm.s1, Bm.s2, Cm.ptr, Cm.s0, Cm.s1, Cm.s2, k.cs.data(), k.st.data(),
                        s.hasInit ? 1 : 0, dmd.data(), dcOut, partI.data(), B, L, H, G, P, N, q, nc, splits);
            emu::launch(dim3((unsigned)(tileBlocks * splits)), dim3(SsdThreads), 0, SSD_KERNEL(bwd_db, mm),
                        X.ptr, X.s0, X.s1, X.s2, dt.data(), Cm.ptr, Cm.s0, Cm.s1, Cm.s2, Bm.ptr, Bm.s0, Bm.s1, Bm.s2, k.cs.data(), gst.data(),
                        s.hasDFinal ? 1 : 0, dmd.data(), dbOut, partV.data(), B, L, H, G, P, N, q, nc, splits);
            emu::launch(dim3((unsigned)k.bhc), dim3(SsdScalarThreads), (size_t)(q + 2 * SsdScalarThreads / 32) * sizeof(double), ssd_bwd_scalars_f32,
                        dt.data(), a.data(), k.cs.data(), dmd.data(), partRow.data(), partCol.data(), partI.data(), partV.data(), rpart.data(), ddt.data(),
                        partDa.data(), partDd.data(), B, L, H, G, N, q, nc, rparts);
            if (!direct)   // the split partials (splits, B, L, G, N), added in split order, written at dB's and dC's strides
                launch_elementwise((long long)nb, ssd_bwd_part_sum_f32, dbp.data(), dcp.data(), dbv, (long long)L * G * bw, (long long)G * bw, bw,
                                   dcv, (long long)L * G * bw, (long long)G * bw, bw, (long long)B * L, L, G, N, splits, (long long)nb,
                                   (long long)G * N, (long long)N);
            // The views back to dense (B, L, ·, ·) rows; anything written outside them fails "outside".
            bool outside = false;
            auto gather = [&](const std::vector<float>& from, long long width, long long off, long long inner, long long rows, float* to) {
                for (long long r = 0; r < rows; r++)
                    for (long long j = 0; j < width; j++)
                    {
                        float v = from[(size_t)(r * width + j)];
                        if (j >= off && j < off + inner) to[r * inner + j - off] = v;
                        else outside |= !std::isnan(v);
                    }
            };
            gather(dxs, xw, view ? 1 : 0, P, (long long)B * L * H, dx.data());
            gather(dbs, bw, 0, N, (long long)B * L * G, db.data());
            gather(dcs, bw, view ? N : 0, N, (long long)B * L * G, dc.data());
            results.push_back({"outside", 0, 0, 0, !outside});
            if (saved)
            {
                bool same = k.st.size() == savedCopy.size() && std::memcmp(k.st.data(), savedCopy.data(), savedCopy.size() * sizeof(float)) == 0;
                results.push_back({"S_kept", 0, 0, 0, same});   // the backward only reads the saved states
            }
        }
        emu::launch(dim3((unsigned)H), dim3(32), 0, ssd_bwd_head_sum_f32, partDa.data(), partDd.data(), da.data(), dd.data(), partRows, H);   // a warp per head
        results.push_back(compare("dx", dx.data(), read_file<double>(at + "dx.f64", nx), bwdTol));
        results.push_back(compare("ddt", ddt.data(), read_file<double>(at + "ddt.f64", (size_t)B * L * H), bwdTol));
        results.push_back(compare("da", da.data(), read_file<double>(at + "da.f64", H), bwdTol));
        results.push_back(compare("db", db.data(), read_file<double>(at + "db.f64", nbc), bwdTol));
        results.push_back(compare("dc", dc.data(), read_file<double>(at + "dc.f64", nbc), bwdTol));
        results.push_back(compare("dd", dd.data(), read_file<double>(at + "dd.f64", H), bwdTol));
        results.push_back(compare("dinit", dinit.data(), read_file<double>(at + "dinit.f64", ns), bwdTol));
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    bool ok = true;
    double worst = 0;
    std::ostringstream detail;
    for (const auto& r : results)
    {
        ok &= r.ok;
        worst = std::max(worst, r.nmse);
        char buf[160];
        std::snprintf(buf, sizeof buf, "    %-6s nmse %.2e  max|err| %.2e  (tol %.0e)%s\n", r.output.c_str(), r.nmse, r.maxAbs, r.tol, r.ok ? "" : "  FAIL");
        detail << buf;
    }
    const char* engineName = serial ? "serial" : saved ? (mm == SSD_MM_FMA ? "fma-saved" : "3xtf32-saved") : mm == SSD_MM_FMA ? "fma" : mm == SSD_MM_TF32 ? "tf32" : "3xtf32";
    char engine[48];
    if (serial || !s.hasBackward) std::snprintf(engine, sizeof engine, "%s", engineName);
    else std::snprintf(engine, sizeof engine, "%s/s%d", engineName, splits);
    std::printf("%-28s %-6s %-16s | %s | worst nmse %.2e | %.1f s\n", s.name.c_str(), view ? "view" : "contig", engine, ok ? "pass" : "FAIL", worst, secs);
    std::fputs(detail.str().c_str(), stdout);
    std::fflush(stdout);
    return ok;
}
} // namespace

int main(int argc, char** argv)
{
    if (argc < 2) { std::fprintf(stderr, "usage: ssd_check DIR [case-name-substring]\n"); return 2; }
    std::string dir = argv[1], filter = argc > 2 ? argv[2] : "";
    std::ifstream m(dir + "/manifest.txt");
    if (!m) { std::fprintf(stderr, "no %s/manifest.txt (run Aim.Cuda.Check --emit-ssd %s)\n", dir.c_str(), dir.c_str()); return 2; }
    std::string line;
    int pass = 0, fail = 0;
    while (std::getline(m, line))
    {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream is(line);
        Case s;
        int d, i, f, bw;
        is >> s.name >> s.B >> s.L >> s.H >> s.G >> s.P >> s.N >> s.chunk >> d >> i >> f >> bw;
        if (!is) { std::fprintf(stderr, "bad manifest line: %s\n", line.c_str()); return 2; }
        s.hasD = d, s.hasInit = i, s.hasDFinal = f, s.hasBackward = bw;
        if (!filter.empty() && s.name.find(filter) == std::string::npos) continue;
        // Every engine on contiguous operands, FMA and 3xTF32 on strided views, the serial backward once.
        for (int mm : {SSD_MM_FMA, SSD_MM_3XTF32, SSD_MM_TF32}) (run_case(dir, s, false, mm, false) ? pass : fail)++;
        for (int mm : {SSD_MM_FMA, SSD_MM_3XTF32}) (run_case(dir, s, true, mm, false) ? pass : fail)++;
        if (s.P <= SsdBwdMaxP && s.N <= SsdBwdMaxN) (run_case(dir, s, false, SSD_MM_FMA, true) ? pass : fail)++;
        // Training: the forward's chunk states handed to the chunked backward.
        if (s.hasBackward)
            for (int mm : {SSD_MM_FMA, SSD_MM_3XTF32}) (run_case(dir, s, false, mm, false, true) ? pass : fail)++;
        // dB, dC at head splits other than the rule's (one block walking every head of its group, and an uneven split).
        const int hpg = s.H / s.G;
        if (s.hasBackward && hpg > 1)
            for (int sp : {1, std::min(3, hpg)})
                (run_case(dir, s, false, SSD_MM_FMA, false, false, sp) ? pass : fail)++;
    }
    const auto& st = emu::stats();
    std::printf("ssd_check: %d pass, %d fail (forward tol %.0e, backward tol %.0e NMSE vs float64); emulated %llu blocks, %llu threads, %llu block barriers, %llu warp barriers\n",
                pass, fail, FwdTol, BwdTol, st.blocks, st.threads, st.block_barriers, st.warp_barriers);
    return fail == 0 && pass > 0 ? 0 : 1;
}
